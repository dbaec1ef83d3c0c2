"""The notes' Example 2 on one page: their Keras MNIST GAN, line by line, in plain PyTorch.

Each block is commented with the Keras line of the notes it stands for. Only MNIST comes
from gankit (its verified loader, `gankit data fetch`); the rest is torch and matplotlib.

    python examples/notes_gan.py --epochs 1 --out runs/notes-gan    # one epoch, its grid
    python examples/notes_gan.py --out runs/notes-gan               # the notes' training(400, 256)

An epoch (234 iterations) took about 50 s on one thread of a shared AMD EPYC (AVX-512 BF16),
so the notes' 400 epochs take hours. Expect grey noise at epoch 1 and digits by epoch 50.

Kept as written: the stacked model is compiled with Keras's default 'adam' (lr 0.001,
beta_1 0.9), so G trains with those, not with adam_optimizer(); `--intended-optimizer` gives
G adam_optimizer() as well, as gankit's `seed` preset does.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gankit.data.mnist import load_mnist  # noqa: E402


def load_data() -> torch.Tensor:
    # x_train = (x_train.astype(np.float32) - 127.5)/127.5; x_train.reshape(60000, 784)
    x_train, _ = load_mnist("train")
    return torch.from_numpy((x_train.astype(np.float32) - 127.5) / 127.5).reshape(-1, 784)


def dense(units_in: int, units: int) -> nn.Linear:
    # Dense(units=...): Keras initialises the kernel glorot_uniform and the bias with zeros
    layer = nn.Linear(units_in, units)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def create_generator() -> nn.Sequential:
    return nn.Sequential(
        dense(100, 256), nn.LeakyReLU(0.2),  # Dense(units=256, input_dim=100); LeakyReLU(0.2)
        dense(256, 512), nn.LeakyReLU(0.2),  # Dense(units=512); LeakyReLU(0.2)
        dense(512, 1024), nn.LeakyReLU(0.2),  # Dense(units=1024); LeakyReLU(0.2)
        dense(1024, 784), nn.Tanh(),  # Dense(units=784, activation='tanh')
    )


def create_discriminator() -> nn.Sequential:
    return nn.Sequential(
        dense(784, 1024), nn.LeakyReLU(0.2), nn.Dropout(0.3),  # Dense(1024, input_dim=784) ...
        dense(1024, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),  # Dense(512); LeakyReLU; Dropout(0.3)
        dense(512, 256), nn.LeakyReLU(0.2),  # Dense(units=256); LeakyReLU(0.2)
        dense(256, 1),  # Dense(units=1, activation='sigmoid'): the sigmoid is inside the loss
    )


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # loss='binary_crossentropy' on a sigmoid output, computed from the logit (stable)
    return F.binary_cross_entropy_with_logits(logits.squeeze(1), target)


def plot_generated_images(epoch: int, generator: nn.Module, out: Path) -> Path:
    # plot_generated_images(e, generator): 100 samples, 10 x 10 subplots, savefig
    with torch.no_grad():
        images = generator(torch.randn(100, 100)).reshape(100, 28, 28).numpy()  # .predict
    plt.figure(figsize=(10, 10))
    for i in range(100):
        plt.subplot(10, 10, i + 1)
        plt.imshow(images[i], interpolation="nearest")
        plt.axis("off")
    plt.tight_layout()
    path = out / f"gan_generated_image {epoch}.png"  # plt.savefig('gan_generated_image %d.png')
    plt.savefig(path)
    plt.close()
    return path


def training(epochs: int = 1, batch_size: int = 128, out: Path = Path("."),
             intended_optimizer: bool = False, iterations: int | None = None) -> nn.Module:
    x_train = load_data()  # (X_train, y_train, X_test, y_test) = load_data()
    batch_count = int(x_train.shape[0] / batch_size)  # batch_count = X_train.shape[0] / batch_size
    generator, discriminator = create_generator(), create_discriminator()
    # discriminator.compile(loss='binary_crossentropy', optimizer=adam_optimizer()), where
    # adam_optimizer() = Adam(lr=0.0002, beta_1=0.5) (Keras's epsilon is 1e-7)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999), eps=1e-7)
    # gan = create_gan(discriminator, generator): gan.compile(loss='binary_crossentropy',
    # optimizer='adam') trains the stacked model's trainable weights, G's only, since
    # create_gan set discriminator.trainable=False first. 'adam' = Adam(lr=0.001, beta_1=0.9).
    lr_g, beta_g = (0.0002, 0.5) if intended_optimizer else (0.001, 0.9)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=(beta_g, 0.999), eps=1e-7)
    for e in range(1, epochs + 1):  # for e in range(1, epochs+1):
        print(f"Epoch {e}")
        for _ in tqdm(range(iterations or batch_count)):  # for _ in tqdm(range(int(batch_count))):
            # (1) D: noise = np.random.normal(0, 1, [batch_size, 100])
            noise = torch.randn(batch_size, 100)
            with torch.no_grad():
                generated_images = generator(noise)  # generator.predict(noise)
            # image_batch = X_train[np.random.randint(0, X_train.shape[0], size=batch_size)]
            image_batch = x_train[torch.randint(0, x_train.shape[0], (batch_size,))]
            x = torch.cat([image_batch, generated_images])  # np.concatenate([...])
            y_dis = torch.zeros(2 * batch_size)  # y_dis = np.zeros(2*batch_size)
            y_dis[:batch_size] = 0.9  # y_dis[:batch_size] = 0.9: one-sided label smoothing
            discriminator.requires_grad_(True)  # discriminator.trainable = True
            loss_d = bce(discriminator(x), y_dis)  # discriminator.train_on_batch(X, y_dis)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            # (2) G through the stacked model: noise = np.random.normal(...); y_gen = np.ones
            noise = torch.randn(batch_size, 100)
            y_gen = torch.ones(batch_size)
            discriminator.requires_grad_(False)  # discriminator.trainable = False
            # gan.train_on_batch(noise, y_gen): BCE with target 1 is -log D(G(z)), the
            # non-saturating game; Dropout stays on in D, as in Keras's training call
            loss_g = bce(discriminator(generator(noise)), y_gen)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        if e == 1 or e % 50 == 0:  # if e == 1 or e % 50 == 0: plot_generated_images(e, generator)
            print("wrote", plot_generated_images(e, generator, out))
    return generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=400)  # training(400, 256)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=Path("."), help="folder for the grids")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--intended-optimizer", action="store_true", help="G with Adam(2e-4, 0.5)")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    training(a.epochs, a.batch_size, a.out, a.intended_optimizer)


if __name__ == "__main__":
    main()
