"""The notes' Example 2, their Keras program, run under Keras 3 as a reference for gankit.

This is the study notes' MNIST MLP GAN code with only the changes Keras 3 (and this
benchmark) require; each is marked `# KERAS3:` or `# BENCH:` where it is made:

KERAS3 (the program would not run otherwise):
  1. `from keras.layers.advanced_activations import LeakyReLU` -> `from keras.layers import
     LeakyReLU` (the module is gone).
  2. `Adam(lr=...)` -> `Adam(learning_rate=...)` (`lr` is no longer accepted).
  3. `Dense(units, input_dim=n)` as a Sequential's first layer -> `Input(shape=(n,))` first
     (Keras 3 ignores `input_dim` on a layer with a warning and builds the model lazily).
  4. `discriminator.trainable`: Keras 2 read it when a model was *compiled*, so D's own
     compile (trainable) and the stacked model's (frozen, set in create_gan) fixed the
     meaning once and the loop's toggles changed nothing. Keras 3 reads it when
     `train_on_batch` is first *traced*. The notes' loop already sets `trainable = True`
     before D's step and `False` before the stacked model's step, so the first trace of each
     sees the Keras 2 meaning; we keep those toggles exactly as written.
BENCH (so the runs are comparable with gankit's and can be scored):
  5. MNIST comes from gankit's verified loader (`gankit.data.mnist`), not
     `keras.datasets.mnist.load_data()` (no download here); same 60,000 uint8 images, same
     scaling (x - 127.5) / 127.5.
  6. A seed (`keras.utils.set_random_seed`: Python, NumPy and the backend).
  7. After the listed epochs, 10,000 samples (z ~ N(0, 1)) are saved as float32 .npy in
     [-1, 1] for `gankit eval --images`, with the seconds of training so far; the notes'
     `plot_generated_images` pictures (epoch 1 and every 50) are written only with --plots.
  8. `training(epochs, batch_size)` takes them from the command line (the notes: 400, 256).
  9. The model summaries are printed once (the notes print them for a throw-away G, D and
     GAN built before training; the program built three more, the ones it trains).
 10. With `--budget S --marks t1,t2,...` (benchmarks/time_to_quality.py) training stops after
     S seconds of training, and 10,000 samples are written each time the training clock
     passes a mark (the clock stopped while they are drawn), as benchmarks/peers/harness.py
     writes them: OUT/t<seconds>.npy and a line in OUT/snapshots.jsonl.
Everything else (layers, losses, label smoothing 0.9, real batches drawn with replacement,
`generator.predict` for the fakes, the stacked model compiled with Keras's default 'adam',
i.e. lr 0.001 and beta_1 0.9 for G) is the notes' program.
`--intended-optimizer` compiles the stacked model with the notes' `adam_optimizer()` instead
(lr 0.0002, beta_1 0.5): the one deliberate deviation, to compare with gankit's `seed`
preset, which follows that intent.

Run with the `.venv-keras` environment (`make keras-venv`), e.g.
  .venv-keras/bin/python benchmarks/keras/notes_program.py --epochs 10 --seed 0 \
      --sample-epochs 1,5,10 --out runs/keras-s0
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from keras.layers import (  # noqa: E402
    Dense,
    Dropout,
    Input,
    LeakyReLU,  # noqa: E402  # KERAS3 1.
)
from keras.models import Model, Sequential  # noqa: E402
from keras.optimizers import Adam  # noqa: E402
from tqdm import tqdm  # noqa: E402

INTENDED_OPTIMIZER = False


def load_data():
    # BENCH 5.: gankit's verified MNIST (uint8 (60000, 28, 28)) instead of keras.datasets
    from gankit.data.mnist import load_mnist

    x_train, y_train = load_mnist(split="train")
    x_test, y_test = load_mnist(split="test")
    x_train = (x_train.astype(np.float32) - 127.5) / 127.5
    x_train = x_train.reshape(60000, 784)
    return (x_train, y_train, x_test, y_test)


def adam_optimizer():
    return Adam(learning_rate=0.0002, beta_1=0.5)  # KERAS3 2.


def create_generator():
    generator = Sequential()
    generator.add(Input(shape=(100,)))  # KERAS3 3.
    generator.add(Dense(units=256))
    generator.add(LeakyReLU(0.2))

    generator.add(Dense(units=512))
    generator.add(LeakyReLU(0.2))

    generator.add(Dense(units=1024))
    generator.add(LeakyReLU(0.2))

    generator.add(Dense(units=784, activation="tanh"))

    generator.compile(loss="binary_crossentropy", optimizer=adam_optimizer())
    return generator


def create_discriminator():
    discriminator = Sequential()
    discriminator.add(Input(shape=(784,)))  # KERAS3 3.
    discriminator.add(Dense(units=1024))
    discriminator.add(LeakyReLU(0.2))
    discriminator.add(Dropout(0.3))

    discriminator.add(Dense(units=512))
    discriminator.add(LeakyReLU(0.2))
    discriminator.add(Dropout(0.3))

    discriminator.add(Dense(units=256))
    discriminator.add(LeakyReLU(0.2))

    discriminator.add(Dense(units=1, activation="sigmoid"))

    discriminator.compile(loss="binary_crossentropy", optimizer=adam_optimizer())
    return discriminator


def create_gan(discriminator, generator):
    discriminator.trainable = False
    gan_input = Input(shape=(100,))
    x = generator(gan_input)
    gan_output = discriminator(x)
    gan = Model(inputs=gan_input, outputs=gan_output)
    gan.compile(loss="binary_crossentropy",
                optimizer=adam_optimizer() if INTENDED_OPTIMIZER else "adam")
    return gan


def save_samples(generator, epoch, seconds, out, n=10000):
    # BENCH 7.: samples for `gankit eval --images`, with the training seconds so far
    noise = np.random.normal(0, 1, [n, 100])
    images = generator.predict(noise, batch_size=1000, verbose=0).reshape(n, 28, 28)
    np.save(os.path.join(out, f"samples_epoch_{epoch:04d}.npy"), images.astype(np.float32))
    with open(os.path.join(out, "times.jsonl"), "a") as f:
        f.write(json.dumps({"epoch": epoch, "seconds": seconds}) + "\n")


def plot_generated_images(epoch, generator, out, examples=100, dim=(10, 10), figsize=(10, 10)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noise = np.random.normal(loc=0, scale=1, size=[examples, 100])
    generated_images = generator.predict(noise, verbose=0)
    generated_images = generated_images.reshape(100, 28, 28)
    plt.figure(figsize=figsize)
    for i in range(generated_images.shape[0]):
        plt.subplot(dim[0], dim[1], i + 1)
        plt.imshow(generated_images[i], interpolation="nearest")
        plt.axis("off")
    plt.tight_layout()
    plt.savefig(os.path.join(out, "gan_generated_image %d.png" % epoch))  # noqa: UP031 (the notes)
    plt.close()


def save_snapshot(generator, clock, epoch, iteration, out, n=10000):
    # BENCH 10.: samples at a mark of the training clock (the clock stopped meanwhile)
    noise = np.random.normal(0, 1, [n, 100])
    images = generator.predict(noise, batch_size=1000, verbose=0).reshape(n, 28, 28)
    name = f"t{clock:07.1f}.npy"
    np.save(os.path.join(out, name), images.astype(np.float32))
    with open(os.path.join(out, "snapshots.jsonl"), "a") as f:
        f.write(json.dumps({"seconds": round(clock, 2), "epoch": epoch,
                            "iteration": iteration, "file": name}) + "\n")


def training(epochs=1, batch_size=128, sample_epochs=(), out=".", plots=False,
             budget=None, marks=()):
    (X_train, y_train, X_test, y_test) = load_data()
    batch_count = X_train.shape[0] / batch_size

    generator = create_generator()
    discriminator = create_discriminator()
    gan = create_gan(discriminator, generator)
    generator.summary()  # BENCH 9.
    discriminator.summary()
    gan.summary()

    trained = 0.0
    marks = sorted(m for m in marks if budget is None or m <= budget)  # BENCH 10.
    iteration = 0
    for e in range(1, epochs + 1):
        print("Epoch %d" % e)  # noqa: UP031 (the notes)
        start = time.perf_counter()
        for _ in tqdm(range(int(batch_count)), disable=budget is not None):
            noise = np.random.normal(0, 1, [batch_size, 100])
            generated_images = generator.predict(noise, verbose=0)
            image_batch = X_train[np.random.randint(low=0, high=X_train.shape[0],
                                                    size=batch_size)]
            X = np.concatenate([image_batch, generated_images])
            y_dis = np.zeros(2 * batch_size)
            y_dis[:batch_size] = 0.9
            discriminator.trainable = True  # KERAS3 4.: kept as the notes wrote it
            discriminator.train_on_batch(X, y_dis)
            noise = np.random.normal(0, 1, [batch_size, 100])
            y_gen = np.ones(batch_size)
            discriminator.trainable = False
            gan.train_on_batch(noise, y_gen)
            if budget is not None:  # BENCH 10.
                iteration += 1
                clock = trained + time.perf_counter() - start
                while marks and clock >= marks[0]:
                    marks.pop(0)
                    save_snapshot(generator, clock, e, iteration, out)
                    trained, start = clock, time.perf_counter()
                if clock >= budget:
                    print(f"keras: {iteration} iterations in {clock:.0f} s of training")
                    return
        trained += time.perf_counter() - start
        if plots and (e == 1 or e % 50 == 0):
            plot_generated_images(e, generator, out)
        if e in sample_epochs:
            save_samples(generator, e, trained, out)


def main():
    global INTENDED_OPTIMIZER
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-epochs", default="", help="comma-separated epochs to sample at")
    p.add_argument("--out", required=True)
    p.add_argument("--plots", action="store_true", help="the notes' PNG grids too")
    p.add_argument("--budget", type=float, default=None,
                   help="stop after this many seconds of training (BENCH 10.)")
    p.add_argument("--marks", default="", help="training seconds to sample at (BENCH 10.)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: its own)")
    p.add_argument("--intended-optimizer", action="store_true",
                   help="compile the stacked model with adam_optimizer() (lr 2e-4, beta_1 0.5)")
    a = p.parse_args()
    import keras

    if a.threads:  # BENCH 10.: the thread budget the other programs get
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(a.seed)  # BENCH 6.
    INTENDED_OPTIMIZER = a.intended_optimizer
    os.makedirs(a.out, exist_ok=True)
    sample_epochs = {int(e) for e in a.sample_epochs.split(",") if e}
    marks = [float(m) for m in a.marks.split(",") if m]
    epochs = 10**6 if a.budget is not None else a.epochs  # BENCH 10.: the budget ends it
    training(epochs, a.batch_size, sample_epochs, a.out, a.plots, a.budget, marks)


if __name__ == "__main__":
    main()
