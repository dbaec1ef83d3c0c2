"""The runtime beside the training algorithm: device and precision, random draws, CUDA
graphs, distributed processes, the non-finite guard. Nothing here knows the GAN."""
