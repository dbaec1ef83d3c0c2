"""Training throughput of the notes' MLP GAN: gankit's loop against a tutorial loop.

Run:  python benchmarks/throughput.py            (CPU, batch 256, fp32 and bf16)
      python benchmarks/throughput.py --device cuda
      python benchmarks/throughput.py --help

Not part of the test suite. What it prints, all measured in this one run:
- FLOP count per iteration (see `matmuls_per_iteration` for the exact list);
- the machine's matmul rate on the GAN's own layer shapes, fp32 and bf16;
- images/s of each loop (median over rounds; the loops alternate round by round, so a
  busy machine slows them alike), its ratio to the reference loop, and the fraction of
  the matmul rate it reaches;
- peak memory of each loop (a short run in a fresh process; CUDA: max allocated).

FLOP count. A Linear layer in -> out costs 2*in*out FLOP per sample forward (multiply-add),
and its backward two such matmuls: the weight gradient and the input gradient. One
iteration at batch B:
  D step: G forward on B noise vectors (no grad), D forward and backward on 2B images
          (real and fake together); D's first layer needs no input gradient (its input
          is data).
  G step: G forward on B, D forward on B, D backward for input gradients only (D is
          frozen: its weight gradients are not needed), G backward (weights, and input
          gradients for all but the first layer: z needs none).
The simple count (every backward = 2x forward, except D's in the G step = 1x) is printed
too: 9.01 GFLOP at batch 256 for the notes' widths; the exact useful count, which
drops the two first-layer input gradients, is 8.17 GFLOP. Fractions of the matmul rate use
the exact count over the rate measured on exactly those matmuls, so a fraction is
"time the matmuls alone would take / time one iteration takes".

The reference loop is written the way tutorials write it: a DataLoader over a
TensorDataset with shuffle=True, D ending in a sigmoid with nn.BCELoss, D's step as two
backward passes (real, then fake), the fakes made with autograd on and detached, the G
step on fresh noise with D's weight gradients computed (D is not frozen), loss.item()
for logging; the same models and weights, built from torch's own modules (nn.Dropout,
out-of-place nn.LeakyReLU, where gankit uses its faster Dropout and in-place LeakyReLU),
the same Adam settings (PyTorch's default, unfused Adam).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gankit.config import build_config  # noqa: E402
from gankit.core.models import build_models  # noqa: E402
from gankit.core.trainer import Trainer  # noqa: E402

PIXELS = 784
IMAGE_SHAPE = (1, 28, 28)


# ---------------------------------------------------------------------------- FLOPs
def layer_dims(widths: list[int]) -> list[tuple[int, int]]:
    """[a, b, c] -> [(a, b), (b, c)]."""
    return list(zip(widths[:-1], widths[1:], strict=True))


def matmuls_per_iteration(cfg, b: int) -> list[tuple[str, int, int, int]]:  # noqa: ANN001
    """The useful matmuls of one iteration as (kind, M, in, out); kind fwd/dx/dw.

    fwd: (M, in) @ (in, out); dx: (M, out) @ (out, in); dw: (out, M) @ (M, in).
    """
    z = cfg.model.z_dim
    g = layer_dims([z, *cfg.model.g_hidden, PIXELS])
    d = layer_dims([PIXELS, *cfg.model.d_hidden, 1])
    out: list[tuple[str, int, int, int]] = []
    # D step
    out += [("fwd", b, i, o) for i, o in g]
    out += [("fwd", 2 * b, i, o) for i, o in d]
    out += [("dw", 2 * b, i, o) for i, o in d]
    out += [("dx", 2 * b, i, o) for i, o in d[1:]]
    # G step
    out += [("fwd", b, i, o) for i, o in g]
    out += [("fwd", b, i, o) for i, o in d]
    out += [("dx", b, i, o) for i, o in d]
    out += [("dw", b, i, o) for i, o in g]
    out += [("dx", b, i, o) for i, o in g[1:]]
    return out


def flops(mms: list[tuple[str, int, int, int]]) -> int:
    return sum(2 * m * i * o for _, m, i, o in mms)


def simple_flops(cfg, b: int) -> int:  # noqa: ANN001
    """Every Linear: 2*in*out forward per sample, backward 2x; D in the G step 1x."""
    g = sum(i * o for i, o in layer_dims([cfg.model.z_dim, *cfg.model.g_hidden, PIXELS]))
    d = sum(i * o for i, o in layer_dims([PIXELS, *cfg.model.d_hidden, 1]))
    d_step = 2 * b * g + 2 * (2 * b) * d * 3
    g_step = 2 * b * g * 3 + 2 * b * d * 2
    return d_step + g_step


# ---------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class MatmulLoop:
    """One iteration's useful matmuls alone, in their autograd layouts: the rate to beat.

    Timed in the same alternating rounds as the training loops, so a busy machine slows
    it alike and "fraction of the matmul rate" compares like with like.
    """

    def __init__(self, mms, dtype: torch.dtype, device: torch.device) -> None:  # noqa: ANN001
        self.device = device
        self.ops = []
        for kind, m, i, o in mms:
            w = torch.randn(o, i, device=device, dtype=dtype)
            if kind == "fwd":
                self.ops.append((torch.randn(m, i, device=device, dtype=dtype), w.t()))
            elif kind == "dx":
                self.ops.append((torch.randn(m, o, device=device, dtype=dtype), w))
            else:
                self.ops.append((torch.randn(m, o, device=device, dtype=dtype).t(),
                                 torch.randn(m, i, device=device, dtype=dtype)))

    def run(self, n: int) -> None:
        for _ in range(n):
            for a, c in self.ops:
                torch.mm(a, c)
        sync(self.device)


# ---------------------------------------------------------------------------- loops
def synthetic_images(n: int, device: torch.device) -> torch.Tensor:
    """MNIST-shaped float32 images in [-1, 1] (throughput does not depend on content)."""
    gen = torch.Generator().manual_seed(0)
    return torch.empty(n, *IMAGE_SHAPE).uniform_(-1, 1, generator=gen).to(device)


class ReferenceLoop:
    """The tutorial loop (see the module docstring)."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        from torch.utils.data import DataLoader, TensorDataset

        torch.manual_seed(0)
        t = cfg.train
        self.device = device
        self.b = t.batch_size
        self.z_dim = cfg.model.z_dim
        g, d = build_models(cfg.model, IMAGE_SHAPE)  # the trainer's models and init
        self.g = tutorial_modules(g)
        self.d = nn.Sequential(tutorial_modules(d), nn.Sigmoid())
        self.g.to(device)
        self.d.to(device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=t.lr_g, betas=(t.beta1_g, t.beta2))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2))
        self.loss = nn.BCELoss()
        self.loader = DataLoader(TensorDataset(data), batch_size=self.b, shuffle=True,
                                 drop_last=True)
        self.it = iter(self.loader)
        self.real_label = cfg.loss.real_label

    def next_batch(self) -> torch.Tensor:
        try:
            (x,) = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            (x,) = next(self.it)
        return x

    def run(self, n: int) -> None:
        dev, b = self.device, self.b
        self.losses = []
        for _ in range(n):
            real = self.next_batch().to(dev)
            # D step: real then fake, two backward passes
            self.opt_d.zero_grad()
            out = self.d(real).view(-1)
            loss_real = self.loss(out, torch.full((b,), self.real_label, device=dev))
            loss_real.backward()
            fake = self.g(torch.randn(b, self.z_dim, device=dev))
            out = self.d(fake.detach()).view(-1)
            loss_fake = self.loss(out, torch.zeros(b, device=dev))
            loss_fake.backward()
            self.opt_d.step()
            # G step: fresh noise, through D (whose weight gradients get computed)
            self.opt_g.zero_grad()
            fake = self.g(torch.randn(b, self.z_dim, device=dev))
            out = self.d(fake).view(-1)
            loss_g = self.loss(out, torch.ones(b, device=dev))
            loss_g.backward()
            self.opt_g.step()
            self.losses.append(((loss_real + loss_fake).item(), loss_g.item()))
        sync(dev)


class GankitLoop:
    """gankit's Trainer: each round is one epoch over a data set of n batches."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        self.cfg = cfg
        self.trainer = Trainer(cfg, data, device)
        self.device = device

    def run(self, n: int) -> None:
        b = self.cfg.train.batch_size
        full = self.trainer.data
        if full.shape[0] != n * b:
            # one epoch = exactly n iterations
            self.trainer.data = full[: n * b] if full.shape[0] > n * b else full.repeat(
                (n * b + full.shape[0] - 1) // full.shape[0], 1, 1, 1)[: n * b]
        self.trainer.train_epoch()
        self.trainer.data = full
        sync(self.device)


class EagerLoop(GankitLoop):
    """Ablation (GPU): gankit's loop launching every kernel from Python (no CUDA graphs)."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        cfg.train.cuda_graphs = False
        super().__init__(cfg, data, device)


class PlainAdamLoop(GankitLoop):
    """Ablation: gankit's loop with PyTorch's default (unfused) Adam."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        super().__init__(cfg, data, device)
        t, tr = cfg.train, self.trainer
        tr.opt_g = torch.optim.Adam(tr.g.parameters(), lr=t.lr_g, betas=(t.beta1_g, t.beta2))
        tr.opt_d = torch.optim.Adam(tr.d.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2))


def tutorial_modules(net: nn.Module) -> nn.Module:
    """torch's own nn.Dropout and out-of-place LeakyReLU in place of gankit's faster ones."""
    for name, m in net.named_children():
        if isinstance(m, nn.Dropout):
            setattr(net, name, nn.Dropout(m.p))
        elif isinstance(m, nn.LeakyReLU):
            setattr(net, name, nn.LeakyReLU(m.negative_slope))
        else:
            tutorial_modules(m)
    return net


class RandDropout(nn.Dropout):
    """gankit's former Dropout: x * (torch.rand(...) >= p) * (1 / (1 - p))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class Bits32Dropout(nn.Dropout):
    """gankit's Dropout with its former keep mask: 32 random bits per entry."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        n = x.numel()
        threshold = round(self.p * 2**32) - 2**31
        bits = torch.empty((n + 1) // 2, dtype=torch.int64, device=x.device).random_(-(2**63), None)
        keep = bits.view(torch.int32)[:n].view(x.shape) >= threshold
        scale = 1.0 / (1.0 - self.p)
        if x.dtype == torch.float32:
            return x * torch.where(keep, scale, 0.0)
        return x * keep * scale


def _swap_dropout(net: nn.Module, cls: type[nn.Dropout]) -> None:
    for name, m in net.named_children():
        if isinstance(m, nn.Dropout):
            setattr(net, name, cls(m.p))
        else:
            _swap_dropout(m, cls)


class Bits32DropoutLoop(GankitLoop):
    """Ablation: gankit's loop with 32 random bits per dropout entry (its former mask)."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        super().__init__(cfg, data, device)
        _swap_dropout(self.trainer.d, Bits32Dropout)


class RandDropoutLoop(GankitLoop):
    """Ablation: gankit's loop with its former Dropout (torch.rand floats, bool mask)."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        super().__init__(cfg, data, device)
        _swap_dropout(self.trainer.d, RandDropout)


class TorchModulesLoop(GankitLoop):
    """Ablation: gankit's loop with nn.Dropout and out-of-place LeakyReLU."""

    def __init__(self, cfg, data: torch.Tensor, device: torch.device) -> None:  # noqa: ANN001
        super().__init__(cfg, data, device)
        tutorial_modules(self.trainer.g)
        tutorial_modules(self.trainer.d)


def make_cfg(args: argparse.Namespace, precision: str, compile_: bool = False):  # noqa: ANN201
    overrides = {"train.batch_size": args.batch, "train.device": args.device,
                 "train.precision": precision, "train.progress": False}
    if compile_:
        overrides["train.compile"] = True
    return build_config("seed", None, overrides)


LOOPS = {
    "reference": ("fp32", ReferenceLoop, False),
    "gankit-fp32": ("fp32", GankitLoop, False),
    "gankit-bf16": ("bf16", GankitLoop, False),
    "gankit-fp32-compile": ("fp32", GankitLoop, True),
    "gankit-fp32-eager": ("fp32", EagerLoop, False),
    "gankit-bf16-eager": ("bf16", EagerLoop, False),
    "gankit-fp32-plain-adam": ("fp32", PlainAdamLoop, False),
    "gankit-fp32-torch-modules": ("fp32", TorchModulesLoop, False),
    "gankit-bf16-torch-modules": ("bf16", TorchModulesLoop, False),
    "gankit-bf16-compile": ("bf16", GankitLoop, True),
    "gankit-fp32-rand-dropout": ("fp32", RandDropoutLoop, False),
    "gankit-bf16-rand-dropout": ("bf16", RandDropoutLoop, False),
    "gankit-fp32-32bit-dropout": ("fp32", Bits32DropoutLoop, False),
    "gankit-bf16-32bit-dropout": ("bf16", Bits32DropoutLoop, False),
}


class Threads:
    """Run a loop with its own torch thread count (name suffix @tN), restoring after."""

    def __init__(self, loop, n: int) -> None:  # noqa: ANN001
        self.loop, self.n = loop, n

    def run(self, iters: int) -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(self.n)
        try:
            self.loop.run(iters)
        finally:
            torch.set_num_threads(before)


def split_name(name: str) -> tuple[str, int]:
    """'gankit-bf16@t1' -> ('gankit-bf16', 1); no suffix -> (name, 0)."""
    base, _, threads = name.partition("@t")
    return base, int(threads) if threads else 0


def build_loop(name: str, args: argparse.Namespace, data: torch.Tensor):  # noqa: ANN201
    base, threads = split_name(name)
    precision, cls, comp = LOOPS[base]
    loop = cls(make_cfg(args, precision, comp), data, torch.device(args.device))
    return Threads(loop, threads) if threads else loop


# ---------------------------------------------------------------------------- memory
def maxrss_mib() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux: VmHWM of /proc/self/status (ru_maxrss would carry over the parent's peak
    across fork + exec); elsewhere getrusage's ru_maxrss (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def memory_probe(args: argparse.Namespace) -> dict[str, float]:
    """Run in a fresh process: peak memory of one loop over a full MNIST-sized tensor."""
    device = torch.device(args.device)
    data = synthetic_images(60_000, device)
    after_data = maxrss_mib()
    loop = build_loop(args.memory_probe, args, data)
    base = maxrss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    loop.run(args.warmup + 2)
    out = {"maxrss_mib": maxrss_mib(), "after_data_mib": after_data,
           "above_setup_mib": maxrss_mib() - base, "setup_mib": base - after_data}
    if device.type == "cuda":
        out["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def measure_memory(name: str, args: argparse.Namespace) -> dict[str, float] | None:
    cmd = [sys.executable, __file__, "--memory-probe", name, "--device", args.device,
           "--batch", str(args.batch), "--warmup", str(args.warmup)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        print(f"  (memory probe of {name} failed: {res.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--iters", type=int, default=20, help="iterations per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5, help="iterations before timing")
    p.add_argument("--loops", default="reference,gankit-fp32,gankit-bf16",
                   help=f"comma-separated, from: {', '.join(LOOPS)}; a suffix @tN runs "
                   "that loop with N threads (e.g. gankit-bf16@t1)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--memory-probe", metavar="LOOP", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(json.dumps(memory_probe(args)))
        return 0

    device = torch.device(args.device)
    names = [n.strip() for n in args.loops.split(",") if n.strip()]
    unknown = [n for n in names if split_name(n)[0] not in LOOPS]
    if unknown:
        p.error(f"unknown loop(s) {unknown}; choose from {', '.join(LOOPS)}")
    cfg = make_cfg(args, "fp32")
    b = args.batch
    mms = matmuls_per_iteration(cfg, b)
    exact, simple = flops(mms), simple_flops(cfg, b)
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
             f" ({os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
             f"{torch.backends.cpu.get_cpu_capability()})"))
    if device.type == "cpu":
        from gankit.runtime.cpu import cpu_summary, has_native_bf16

        print(f"CPU: {cpu_summary()}; bf16 matmuls "
              f"{'native' if has_native_bf16() else 'EMULATED (several times slower than fp32)'}")
    print(f"model: G {[cfg.model.z_dim, *cfg.model.g_hidden, PIXELS]}, "
          f"D {[PIXELS, *cfg.model.d_hidden, 1]}, dropout {cfg.model.dropout}, batch {b}")
    print(f"FLOP per iteration: {exact / 1e9:.3f} G exact useful matmuls "
          f"({simple / 1e9:.3f} G by the simple count)")

    data = synthetic_images(args.iters * b, device)
    loops = {"matmul-fp32": MatmulLoop(mms, torch.float32, device),
             "matmul-bf16": MatmulLoop(mms, torch.bfloat16, device)}
    loops["matmul-fp32"].run(2)
    loops["matmul-bf16"].run(2)
    for n in names:
        t = time.perf_counter()
        loops[n] = build_loop(n, args, data)
        loops[n].run(args.warmup)
        setup = time.perf_counter() - t
        if "compile" in n:
            print(f"{n}: setup + compile + {args.warmup} warm-up iterations: {setup:.1f} s")
    times: dict[str, list[float]] = {n: [] for n in loops}
    for r in range(args.rounds):
        order = list(loops) if r % 2 == 0 else list(loops)[::-1]
        for n in order:
            t = time.perf_counter()
            loops[n].run(args.iters)
            times[n].append(time.perf_counter() - t)

    rates = {}
    for dt_name in ("fp32", "bf16"):
        med = statistics.median(times[f"matmul-{dt_name}"])
        rates[dt_name] = exact * args.iters / med
        print(f"matmul rate on the GAN's shapes, {dt_name}: {rates[dt_name] / 1e9:.1f} GFLOP/s"
              f" ({med / args.iters * 1e3:.1f} ms per iteration's matmuls)")
    results = {"device": str(device), "batch": b, "flops_exact": exact, "flops_simple": simple,
               "matmul_rate": rates, "matmul_round_seconds": {
                   k: times[k] for k in ("matmul-fp32", "matmul-bf16")}, "loops": {}}
    ref = statistics.median(times[names[0]])
    print(f"\n{args.rounds} rounds x {args.iters} iterations, median (min..max) images/s; "
          f"ratios to {names[0]}:")
    for n in names:
        med = statistics.median(times[n])
        ips = args.iters * b / med
        its = args.iters / med
        prec = LOOPS[split_name(n)[0]][0]
        frac = exact * its / rates[prec]
        frac32 = exact * its / rates["fp32"]
        lo, hi = args.iters * b / max(times[n]), args.iters * b / min(times[n])
        line = (f"  {n:22s} {ips:8.0f} img/s ({lo:.0f}..{hi:.0f})  {its:6.2f} it/s  "
                f"x{ref / med:4.2f}  {frac * 100:5.1f}% of {prec} matmul rate")
        if prec != "fp32":
            line += f" ({frac32 * 100:.0f}% of fp32's)"
        print(line)
        results["loops"][n] = {"images_per_s": ips, "it_per_s": its, "ratio": ref / med,
                               "fraction_of_matmul_rate": frac, "round_seconds": times[n]}
    if not args.no_memory:
        print("\npeak memory (fresh process, 60000 images on the device):")
        for n in names:
            mem = measure_memory(n, args)
            if mem is None:
                continue
            results["loops"][n]["memory"] = mem
            extra = (f", CUDA max allocated {mem['cuda_max_allocated_mib']:.0f} MiB"
                     if "cuda_max_allocated_mib" in mem else "")
            print(f"  {n:22s} max RSS {mem['maxrss_mib']:.0f} MiB: {mem['after_data_mib']:.0f} "
                  f"after torch + data, +{mem['setup_mib']:.0f} loop setup, "
                  f"+{mem['above_setup_mib']:.0f} training{extra}")
    if "gankit-fp32" in results["loops"]:
        its = results["loops"]["gankit-fp32"]["it_per_s"]
        print(f"\nseed preset (400 epochs x 234 iterations) projected at gankit-fp32's rate: "
              f"{400 * 234 / its / 3600:.1f} h")
    if "gankit-bf16" in results["loops"]:
        its = results["loops"]["gankit-bf16"]["it_per_s"]
        print(f"seed preset projected at gankit-bf16's rate: {400 * 234 / its / 3600:.1f} h")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
