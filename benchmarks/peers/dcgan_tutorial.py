"""The PyTorch DCGAN tutorial's GAN on MNIST, written by us after the tutorial's text.

Source of the design: "DCGAN Tutorial" (pytorch.org/tutorials, beginner/dcgan_faces_tutorial):
G and D of Radford et al., ngf = ndf = 64, nz = 100, N(0, 0.02) initialisation (BatchNorm
N(1, 0.02)), BCE, real label 1 and fake label 0, Adam lr 2e-4 and beta1 0.5 for both, batch
128, D's step on a real batch then a fake batch (separate forward passes), then G's step
against labels 1 on the same fakes.
Adapted only as the benchmark needs: one channel, 32 x 32 images instead of 64 x 64, so one
up-sampling layer fewer in G and one strided convolution fewer in D (MNIST padded with 2 px
of background to 32 x 32; samples cropped back to the 28 x 28 centre for scoring); MNIST held
in memory and shuffled each epoch (the tutorial's DataLoader, shuffle=True, drop_last=False).
Samples come from G in training mode, as the tutorial draws its grids, 128 at a time.

    .venv/bin/python benchmarks/peers/dcgan_tutorial.py --budget 600 --out OUT
"""

from __future__ import annotations

import torch
from harness import Clock, in_batches, mnist_images, parse_args
from torch import nn

NZ, NGF, NDF, NC = 100, 64, 64, 1
LR, BETA1, BATCH = 2e-4, 0.5, 128


class Generator(nn.Module):
    """z (B, nz, 1, 1) -> image (B, 1, 32, 32): 4 -> 8 -> 16 -> 32."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False),  # (B, 256, 4, 4)
            nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),  # (B, 128, 8, 8)
            nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),  # (B, 64, 16, 16)
            nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False),  # (B, 1, 32, 32)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """image (B, 1, 32, 32) -> P(real) (B,): 32 -> 16 -> 8 -> 4 -> 1."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def weights_init(m: nn.Module) -> None:
    """The tutorial's: conv weights N(0, 0.02); BatchNorm scale N(1, 0.02), shift 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def main() -> None:
    a = parse_args(__doc__.splitlines()[0])
    data = mnist_images(pad=2)  # (60000, 1, 32, 32)
    net_g, net_d = Generator(), Discriminator()
    net_g.apply(weights_init)
    net_d.apply(weights_init)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=LR, betas=(BETA1, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=LR, betas=(BETA1, 0.999))
    real_label, fake_label = 1.0, 0.0

    def sample(n: int) -> torch.Tensor:
        return in_batches(lambda b: net_g(torch.randn(b, NZ, 1, 1)), n, BATCH)

    clock = Clock(a.budget, a.marks, a.out)
    epoch, iteration, going = 0, 0, True
    while going:
        epoch += 1
        for idx in torch.randperm(len(data)).split(BATCH):
            real = data[idx]
            b = real.size(0)
            # (1) Update D: maximise log(D(x)) + log(1 - D(G(z)))
            net_d.zero_grad()
            label = torch.full((b,), real_label)
            err_d_real = criterion(net_d(real), label)
            err_d_real.backward()
            fake = net_g(torch.randn(b, NZ, 1, 1))
            label.fill_(fake_label)
            err_d_fake = criterion(net_d(fake.detach()), label)
            err_d_fake.backward()
            opt_d.step()
            # (2) Update G: maximise log(D(G(z)))
            net_g.zero_grad()
            label.fill_(real_label)
            err_g = criterion(net_d(fake), label)
            err_g.backward()
            opt_g.step()
            iteration += 1
            going = clock.tick(sample, epoch, iteration, crop=2)
            if not going:
                break
    print(f"dcgan-tutorial: {iteration} iterations ({epoch} epochs begun) in "
          f"{clock.seconds():.0f} s of training")


if __name__ == "__main__":
    main()
