"""Typed run configuration: one dataclass per concern, presets, file loading, overrides.

`Config` composes `DataConfig`, `ModelConfig`, `LossConfig` and `TrainConfig`. A config is
built from a preset, then a file (`--config FILE`, YAML or JSON), then flag overrides, and
validated up front: every problem is collected and reported in one `ConfigError`.
Unknown keys raise. The whole config is saved as `config.yaml` in the run folder.

Hostile input is bounded: a config file over MAX_CONFIG_BYTES is refused after reading at
most that many bytes (so `--config /dev/zero` ends at once), YAML whose aliases unfold past
MAX_YAML_NODES is refused as it loads (`load_yaml`), error messages quote at most
a short prefix of a value (`gankit.errors.short`), and sizes (model widths, image size,
toy samples, threads, seed) are checked against limits and this machine's memory before
anything is allocated (gankit.validation). The presets live in gankit.preset_data. A `preset:`
key in a --config file gives the starting preset; given together with a different --preset
flag it is an error (neither silently wins).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import ConfigError, short
from gankit.preset_data import PRESET_HELP, PRESETS
from gankit.validation import ON_COLLAPSE, PRECISIONS, validate


@dataclass
class DataConfig:
    """What to train on."""

    dataset: str = "mnist"
    """Data set name: `mnist`, `idx` (any MNIST-format IDX folder given by `data_dir`, e.g.
    Fashion-MNIST), `folder` (PNG/JPEG images in `data_dir`; CLI `--data folder:PATH`), or a
    toy set `gaussian1d`, `ring2d`, `grid2d` (gankit.data.toy)."""
    data_dir: str | None = None
    """mnist: folder of IDX files to use before any download (also env GANKIT_DATA_DIR);
    idx: the folder of IDX files; folder: the folder of images (subfolders = classes)."""
    image_size: int | None = None
    """Side of the (square) training images; None = the data's own size for mnist/idx
    (28 x 28 for MNIST) and 32 for folder. Images of another size are resized to it."""
    limit: int | None = None
    """Use only the first N training images (tests and smoke runs); None = all."""
    toy_samples: int = 10_000
    """Size of a toy training set: a fixed draw (seed 0) from the toy distribution."""


@dataclass
class ModelConfig:
    """The networks (gankit.core.models)."""

    name: str = "mlp"
    """Model family: `mlp` (the notes' Example 2, images), `dcgan` (28, 32 or 64-pixel
    images) or `toy-mlp` (vectors, toy sets)."""
    z_dim: int = 100
    """Size of the latent vector z ~ N(0, I)."""
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    """Hidden widths of the MLP generator."""
    d_hidden: list[int] = field(default_factory=lambda: [1024, 512, 256])
    """Hidden widths of the MLP discriminator."""
    dropout: float = 0.3
    """Dropout after the discriminator's first two hidden layers (0 disables it)."""
    width: int = 64
    """DCGAN's base channel count w (G: ... 2w -> w -> C; D: C -> w -> 2w ...)."""
    conditional: bool = False
    """Condition G and D on the data set's class labels (G: embedding; D: projection)."""
    init: str = "default"
    """Weight initialisation: `default` (each family's own: PyTorch's for the MLPs, DCGAN's
    N(0, 0.02)) or `keras` (Glorot-uniform weights, zero biases, as the notes' Keras code)."""
    pack: int = 1
    """PacGAN packing (Lin et al. 2018): D judges `pack` samples at once, joined into one
    input, so a G that repeats itself is easier to catch (a remedy for mode collapse beyond
    the notes). 1 = off (the notes' D); `mlp` and `toy-mlp`; train.batch_size must divide."""


@dataclass
class LossConfig:
    """The game (gankit.core.losses)."""

    game: str = "non-saturating"
    """Game: `minimax`, `non-saturating` (the notes' code), `maximum-likelihood`,
    `least-squares`, `wgan-gp`, `hinge` (gankit.core.losses.GAMES)."""
    real_label: float = 0.9
    """Target for real images in D's cost: 0.9 is one-sided label smoothing (the notes), 1 off."""


@dataclass
class TrainConfig:
    """The optimisation loop (gankit.core.trainer)."""

    epochs: int = 400
    """Passes over a fresh shuffle of the whole training set."""
    batch_size: int = 256
    """Images per iteration; an epoch has floor(N / batch_size) iterations."""
    n_critic: int = 1
    """D steps per G step. Each D step takes its own real batch, so an epoch still has
    floor(N / batch_size) iterations (= D steps) and floor(that / n_critic) G steps."""
    ema: float | None = None
    """Decay of an exponential moving average of G's weights used for samples and
    evaluation, e.g. 0.999; None or 0 = off."""
    ema_warmup: float = 10.0
    """The EMA's warm-up w: after n G steps its decay is min(ema, (1 + n) / (w + n)), so
    the average weighs step k as k^(w - 2) until `ema` caps it. 10 (TensorFlow's) keeps
    about the last tenth of the run; 4 about the last half; 2 every step alike."""
    lr_d: float = 2e-4
    """Adam learning rate of D (the notes: 0.0002)."""
    lr_g: float = 2e-4
    """Adam learning rate of G (the notes' Keras code really trains G with 0.001)."""
    lr_end: float = 1.0
    """Both learning rates' factor at the run's end: they fall linearly from lr_d and lr_g
    at the first iteration to lr_end times those at the end of train.epochs (1 = constant,
    the notes; 0 = down to 0). A resume that raises train.epochs stretches what is left."""
    beta1_d: float = 0.5
    """Adam beta1 of D (the notes: 0.5)."""
    beta1_g: float = 0.5
    """Adam beta1 of G (the notes' Keras code really trains G with 0.9)."""
    beta2: float = 0.999
    """Adam beta2 of both optimisers."""
    adam_eps: float = 1e-8
    """Adam epsilon of both optimisers (PyTorch's default; Keras's is 1e-7)."""
    real_batches: str = "shuffle"
    """`shuffle`: an epoch's batches split a fresh permutation, so it sees every image once;
    `replacement`: each batch drawn at random with replacement (the notes' Keras loop)."""
    instance_noise: float = 0.0
    """Instance noise: sigma_0 of Gaussian noise added to every sample D sees (real and fake,
    in D's and G's steps), decaying linearly to 0 over the run's train.epochs (Sonderby et
    al. 2016; Arjovsky & Bottou 2017, section 4): blurred, the two distributions overlap,
    so D's gradient reaches G's samples far from the data. A remedy for mode collapse beyond
    the notes (docs/theory.md, section 6); 0 = off. In data units (images: [-1, 1]). A
    resume that raises train.epochs stretches what is left of the decay."""
    seed: int = 0
    """Seeds weights, noise, shuffles and the fixed sample latents."""
    device: str = "auto"
    """`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`."""
    precision: str = "fp32"
    """`fp32`, `bf16` autocast (fp32 master weights), or `auto`: bf16 where the hardware
    computes it natively (GPUs with bf16, CPUs with AVX-512 BF16 / AMX), else fp32."""
    compile: bool = False
    """torch.compile G and D (opt-in: compiling takes a while; see benchmarks/)."""
    cuda_graphs: bool = True
    """Replay each training iteration as a CUDA graph (single-process CUDA runs; no effect
    on the CPU, under torchrun or with compile). See gankit.runtime.graphs."""
    threads: int = 0
    """CPU threads for PyTorch (torch.set_num_threads); 0 keeps PyTorch's default. On a
    machine shared with other jobs, 1 can be several times faster than one per core."""
    sample_every: int = 50
    """Write a 10 x 10 sample grid at epoch 1, every this many epochs, and at the end."""
    checkpoint_every: int = 5
    """Write a checkpoint every this many epochs, and at the end."""
    keep_checkpoints: int = 3
    """Keep the newest this many checkpoints."""
    nan_retries: int = 3
    """Retries of an epoch whose losses or weights became NaN/inf (gankit.runs.guard); 0 = stop."""
    progress: bool = True
    """Show a tqdm progress bar per epoch."""
    eval_every: int | None = None
    """Evaluate G (`gankit eval`'s metrics) every K epochs and at the end into metrics.jsonl."""
    eval_n: int = 10000
    """Samples per evaluation during training (10,000 for reported figures)."""
    tensorboard: bool = False
    """Also log scalars and sample grids to RUN/tensorboard (needs gankit[tensorboard])."""
    on_collapse: str = "warn"
    """What a detected D win, mode collapse or stalled G does (gankit.runs.health): `warn` (a line,
    a mark in metrics.jsonl, the progress bar and the report), `stop` (the same, then a
    checkpoint and exit status 3) or `off` (no checks)."""


@dataclass
class Config:
    """A whole run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "default"
    """The preset this config started from (informational)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (YAML / JSON / checkpoint friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build from a nested dict; unknown keys and bad values raise ConfigError."""
        cfg = cls()
        apply_overrides(cfg, flatten(data))
        return cfg


__all__ = ["ON_COLLAPSE", "PRECISIONS", "PRESETS", "PRESET_HELP", "SECTIONS",
           "Config", "DataConfig", "LossConfig", "ModelConfig", "TrainConfig",
           "apply_overrides", "build_config", "config_changes", "config_value", "dump_yaml",
           "flatten", "from_preset", "read_config_file", "replace", "validate"]

SECTIONS = ("data", "model", "loss", "train")

def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'epochs': 3}} -> {'train.epochs': 3}; leaves that are lists stay whole."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Convert a value (possibly a CLI string) to the field's type, or raise ConfigError."""
    text = str(kind)
    if isinstance(value, str) and "str" not in text.split("|")[0]:
        try:
            value = load_yaml(value)
        except yaml.YAMLError:
            pass
        except ConfigError as err:
            raise ConfigError(f"{name}: {err}") from None
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{name} may not be empty; give a value")
    if text.startswith("bool"):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}={short(value)} is not true/false")
    if text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}={short(value)} is not an integer")
        return value
    if text.startswith("float"):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}={short(value)} is not a number")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ConfigError(f"{name}={short(value)} is not a finite number")
        return value
    if text.startswith("list"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{name}={short(value)} is not a list of integers, e.g. [256,512]")
        return list(value)
    if text.startswith("str"):
        if isinstance(value, (dict, list, tuple, set)):
            raise ConfigError(f"{name}={short(value)} is not a string")
        return str(value)
    raise AssertionError(f"unhandled type {kind} for {name}")  # pragma: no cover


def apply_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Set dotted keys (`train.epochs`) in place; unknown keys raise, listing the choices."""
    problems = []
    for key, value in overrides.items():
        key = str(key)
        if key == "preset":
            cfg.preset = short(value, 40) if not isinstance(value, str) else value[:100]
            continue
        if key in INFO_KEYS:
            continue
        section, _, attr = key.partition(".")
        if section not in SECTIONS:
            problems.append(f"unknown config section {short(section, 40)} in {short(key, 60)} "
                            f"(sections: {', '.join(SECTIONS)})")
            continue
        sub = getattr(cfg, section)
        known = {f.name: f for f in fields(sub)}
        if attr not in known:
            problems.append(f"unknown config key {short(key, 60)} (keys of {section}: "
                            f"{', '.join(known)})")
            continue
        try:
            setattr(sub, attr, _coerce(key, value, known[attr].type))
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


INFO_KEYS = ("run_id", "device_used", "precision_used", "trained_by")
"""Top-level keys of a run's config.yaml that are not settings (RunFolder.open writes them;
`trained_by` names the batched trainer of a compare run)."""


def config_changes(old: Config, new: Config) -> dict[str, Any]:
    """Dotted keys whose value differs from `old` in `new`, with the new values (no preset)."""
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    return {k: v for k, v in b.items() if k != "preset" and a.get(k) != v}


def config_value(cfg: Config, key: str) -> Any:
    """The value of a dotted key (`train.epochs`) or `preset` (keys as in apply_overrides)."""
    if key == "preset":
        return cfg.preset
    section, _, attr = key.partition(".")
    return getattr(getattr(cfg, section), attr)


def from_preset(name: str) -> Config:
    """A fresh config of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {short(name, 60)}; choose one of: {', '.join(PRESETS)}")
    cfg = Config(preset=name)
    return apply_overrides(cfg, PRESETS[name])


MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB); a real config is a few hundred bytes."""

MAX_YAML_NODES = 100_000
"""Most YAML nodes a document may expand to, counting each use of an alias anew; a real
config has about a hundred. Aliases of aliases (`b: {x: *a, y: *a}`, nine levels deep)
make a 600-byte file expand to billions of nodes."""


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing a document whose aliases expand it past MAX_YAML_NODES
    (counted on the node graph, before anything is built or walked).

    Raises yaml.YAMLError (as safe_load does) or ConfigError for an alias bomb.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size > MAX_YAML_NODES:
            raise ConfigError(f"the YAML expands (through its &anchors and *aliases) to more "
                              f"than {MAX_YAML_NODES:,} values; a config is a small mapping: "
                              "write the values out instead of nesting aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the tree `root` unfolds to (an alias counts its whole target each time it is
    used), computed once per distinct node without recursion; capped past MAX_YAML_NODES."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if ready or not children:
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[id(node)] = min(total, MAX_YAML_NODES + 1)
            continue
        if id(node) in open_:  # its own descendant: an alias loop, endless when unfolded
            return MAX_YAML_NODES + 1
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a nested dict, with one-line errors.

    Reads at most MAX_CONFIG_BYTES + 1 bytes, so a huge file or an endless stream
    (/dev/zero) is refused at once instead of being read until memory runs out.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(f"config file {short(str(p), 200)} is a folder; give a .yaml file")
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read config file {short(str(p), 200)}: "
                          f"{err.strerror or err}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {short(str(p), 200)} is larger than "
                          f"{MAX_CONFIG_BYTES >> 20} MiB; a config is a small YAML or JSON file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"config file {str(p)!r} is not valid YAML/JSON: "
                          f"{short(first, 200)[1:-1]}") from None
    except RecursionError:
        raise ConfigError(f"config file {str(p)!r} is nested too deeply to be a config") from None
    except ConfigError as err:  # an alias bomb (load_yaml)
        raise ConfigError(f"config file {str(p)!r}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections")
    for key, value in data.items():
        if str(key) in SECTIONS and not isinstance(value, dict):
            raise ConfigError(f"config file {str(p)!r}: section {key} must be a mapping of "
                              f"keys, not {short(value, 60)}")
    return data


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Preset, then file, then overrides; validated.

    `preset` None: the file's `preset:` key, else `default`. A preset given both ways must
    agree (a ConfigError names both), so neither silently beats the other.
    """
    data = read_config_file(config_file) if config_file is not None else {}
    named = data.get("preset")
    if named is not None and preset is not None and str(named) != preset:
        raise ConfigError(f"--preset {short(preset, 40)} conflicts with preset: "
                          f"{short(named, 40)} in {config_file}; drop one of them")
    cfg = from_preset(preset if preset is not None else
                      (named if isinstance(named, str) else "default"))
    if data:
        apply_overrides(cfg, flatten(data))
    apply_overrides(cfg, overrides or {})
    return validate(cfg)


def dump_yaml(cfg: Config) -> str:
    """The config as readable YAML, sections in order."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False)


def replace(cfg: Config, **sections: Any) -> Config:
    """A copy of cfg with some sections replaced (dataclasses.replace, deep-copied)."""
    return dataclasses.replace(Config.from_dict(cfg.to_dict()), **sections)
