"""The MLP GAN of PyTorch-GAN's `implementations/gan/gan.py`, written by us after its design.

Design (eriklindernoren/PyTorch-GAN, gan.py, its defaults): z of 100 ~ N(0, 1); G: Linear
100 -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), BatchNorm1d(out, 0.8) after every
hidden layer but the first (the 0.8 is BatchNorm's eps, as written there), tanh out; D:
Linear 784 -> 512 -> 256 -> 1, LeakyReLU(0.2), sigmoid; BCE; Adam lr 2e-4, betas (0.5, 0.999)
for both; batch 64; each iteration G's step first (labels 1), then D's step on the real batch
and the same fakes detached, D's loss the mean of the two; PyTorch's default initialisation.
Adapted only as the benchmark needs: MNIST held in memory and shuffled each epoch (its
DataLoader, shuffle=True), images scaled to [-1, 1] as its Normalize([0.5], [0.5]) does.
Samples come from G in training mode, as the script saves them, 64 at a time.

    .venv/bin/python benchmarks/peers/pytorch_gan_mlp.py --budget 600 --out OUT
"""

from __future__ import annotations

import torch
from harness import Clock, in_batches, mnist_images, parse_args
from torch import nn

LATENT, LR, B1, B2, BATCH = 100, 2e-4, 0.5, 0.999, 64
IMG_SHAPE = (1, 28, 28)


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(in_feat: int, out_feat: int, normalize: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(LATENT, 128, normalize=False), *block(128, 256), *block(256, 512),
            *block(512, 1024), nn.Linear(1024, 784), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.size(0), *IMG_SHAPE)  # (B, 1, 28, 28)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(784, 512), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1), nn.Sigmoid(),
        )

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.view(img.size(0), -1))  # (B, 1)


def main() -> None:
    a = parse_args(__doc__.splitlines()[0])
    data = mnist_images()  # (60000, 1, 28, 28)
    generator, discriminator = Generator(), Discriminator()
    adversarial_loss = nn.BCELoss()
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=(B1, B2))
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=(B1, B2))

    def sample(n: int) -> torch.Tensor:
        return in_batches(lambda b: generator(torch.randn(b, LATENT)), n, BATCH)

    clock = Clock(a.budget, a.marks, a.out)
    epoch, iteration, going = 0, 0, True
    while going:
        epoch += 1
        for idx in torch.randperm(len(data)).split(BATCH):
            real_imgs = data[idx]
            b = real_imgs.size(0)
            valid, fake = torch.ones(b, 1), torch.zeros(b, 1)
            # Train Generator
            optimizer_g.zero_grad()
            gen_imgs = generator(torch.randn(b, LATENT))
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_g.step()
            # Train Discriminator
            optimizer_d.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_d.step()
            iteration += 1
            going = clock.tick(sample, epoch, iteration)
            if not going:
                break
    print(f"pytorch-gan-mlp: {iteration} iterations ({epoch} epochs begun) in "
          f"{clock.seconds():.0f} s of training")


if __name__ == "__main__":
    main()
