"""Export a trained generator for use without gankit: TorchScript or ONNX.

The exported G takes z (B, Z) float32, and for a conditional G also labels (B,) int64,
and returns images (B, C, H, W) float32 in [-1, 1]. It is traced in eval mode (BatchNorm
uses its running statistics), with the batch size left free. `load_generator` already
gives the EMA weights when the run kept an EMA, so those are what get exported.

TorchScript needs only PyTorch. ONNX needs the `onnx` package (`pip install
'gankit[export]'`, which also brings onnxruntime to check the result); it uses PyTorch's
legacy TorchScript-based exporter (`dynamo=False`), which needs no onnxscript.
PyTorch >= 2.9 marks torch.jit and the legacy ONNX exporter deprecated; their
DeprecationWarnings are silenced here, deliberately, as both still work and are what
users without gankit can load (torch.jit.load, any ONNX runtime).
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.fileio import describe_os_error, write_atomic

FORMATS = ("torchscript", "onnx")
"""Export formats accepted by `export_generator`."""

ONNX_OPSET = 17
"""ONNX opset the legacy (TorchScript-based) exporter writes."""


class _Unconditional(nn.Module):
    """z (B, Z) -> images (B, C, H, W)."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: Tensor) -> Tensor:
        return self.g(z)


class _Conditional(nn.Module):
    """(z (B, Z), labels (B,) int64) -> images (B, C, H, W)."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.g(z, labels)


def example_inputs(g: nn.Module, batch: int = 2, seed: int = 0) -> tuple[Tensor, ...]:
    """(z,) or (z, labels) on CPU, as the exported model takes them."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, g.z_dim, generator=gen)
    n_classes = getattr(g, "n_classes", 0)
    if not n_classes:
        return (z,)
    return z, torch.randint(0, n_classes, (batch,), generator=gen)


@contextmanager
def _quiet():  # noqa: ANN202
    """Silence PyTorch's deprecation warnings of torch.jit and the legacy ONNX exporter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _wrap(g: nn.Module) -> nn.Module:
    g = g.cpu().eval()
    return (_Conditional(g) if getattr(g, "n_classes", 0) else _Unconditional(g)).eval()


def require_onnx() -> None:
    """Raise a GankitError naming the fix unless the `onnx` package is importable."""
    if importlib.util.find_spec("onnx") is None:
        raise GankitError("ONNX export needs the onnx package: pip install 'gankit[export]' "
                          "(or pip install onnx), or use --format torchscript")


def export_generator(g: nn.Module, out: str | Path, fmt: str) -> Path:
    """Write G to `out` as TorchScript (`.pt`) or ONNX (`.onnx`); returns the path."""
    if fmt not in FORMATS:
        raise GankitError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    out = Path(out)
    module = _wrap(g)
    inputs = example_inputs(module.g)
    buf = io.BytesIO()  # built in memory, then written by the one atomic writer: a full disk
    if fmt == "torchscript":  # or a bad --out is an OSError, and an old file stays whole
        with torch.no_grad(), _quiet():
            traced = torch.jit.trace(module, inputs, check_trace=False)
        torch.jit.save(traced, buf)
    else:
        require_onnx()
        names = ["z", "labels"][: len(inputs)]
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                module, inputs, buf, dynamo=False, opset_version=ONNX_OPSET,
                input_names=names, output_names=["images"],
                dynamic_axes={name: {0: "batch"} for name in [*names, "images"]},
            )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, lambda tmp: tmp.write_bytes(buf.getvalue()), durable=True)
    except OSError as err:
        raise GankitError(f"cannot write {str(out)!r}: {describe_os_error(err)}; free space "
                          "or choose another --out") from None
    return out


def run_exported(path: str | Path, fmt: str, inputs: tuple[Tensor, ...]) -> Tensor | None:
    """Run an exported G on `inputs`: TorchScript via torch.jit.load, ONNX via onnxruntime.

    Returns None for ONNX when onnxruntime is not installed (after checking the model
    with onnx's checker).
    """
    if fmt == "torchscript":
        with _quiet():
            model = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return model(*inputs)
    require_onnx()
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feed = {name: x.numpy() for name, x in zip(names, inputs, strict=True)}
    (images,) = session.run(["images"], feed)
    return torch.from_numpy(images)


def verify_export(g: nn.Module, path: str | Path, fmt: str, batch: int = 8) -> float | None:
    """Max |exported(z) - G(z)| on a fresh batch (other than the tracing batch size)."""
    module = _wrap(g)
    inputs = example_inputs(module.g, batch=batch, seed=1)
    with torch.no_grad():
        reference = module(*inputs)
    got = run_exported(path, fmt, inputs)
    if got is None:
        return None
    return float((got - reference).abs().max())
