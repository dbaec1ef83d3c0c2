"""The GAN step is written once (gankit.core.step) and imports go one way.

Read from the source (ast), not by running anything:
- `d_step`, `g_step` and the instance noise are defined in gankit.core.step and nowhere
  else; the trainers (core/trainer.py, runs/batched.py) compute no cost, no penalty and no
  backward pass of their own (no second copy of the algorithm);
- no upward import: commands <- api <- runs <- core. core imports nothing, directly or
  through other gankit modules, from runs, commands or api; runs imports nothing from
  commands or api. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "gankit"


def _modules() -> dict[str, ast.Module]:
    """gankit's modules by dotted name -> their syntax trees."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return out


MODULES = _modules()


def _defined(tree: ast.Module, names: set[str]) -> list[str]:
    return [n.name for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names]


def _attributes(tree: ast.Module) -> set[str]:
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def _names(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
        for a in n.names}


STEP_NAMES = {"d_step", "g_step", "add_instance_noise", "blur", "instance_sigma"}


def _delegates(tree: ast.Module, name: str) -> bool:
    """Every `def name` in the tree only hands the step on: it calls `<trainer>.name(...)`
    and runs no backward pass of its own (the lab's panels drive trainers this way)."""
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]
    return all(name in _attributes(d) and "backward" not in _attributes(d) for d in defs)


def test_the_steps_are_defined_once_in_core_step():
    where = {name: [m for m, tree in MODULES.items() if name in _defined(tree, {name})
                    and not (name in ("d_step", "g_step") and m != "gankit.core.step"
                             and _delegates(tree, name))]
             for name in STEP_NAMES}
    # `blur` was the misleading name of the instance noise; the image blur of the metrics'
    # degradation ladder (gankit.metrics.degrade) is a real blur and no step
    where["blur"] = [m for m in where["blur"] if not m.startswith("gankit.metrics.")]
    assert where == {"d_step": ["gankit.core.step"], "g_step": ["gankit.core.step"],
                     "add_instance_noise": ["gankit.core.step"], "blur": [],
                     "instance_sigma": ["gankit.core.step"]}


def test_a_step_delegate_that_computes_its_own_backward_is_a_second_copy():
    copy = ast.parse("def d_step(self, x):\n    loss = self.d(x).mean()\n"
                     "    loss.backward()\n    return self.trainer.d_step(x)\n")
    thin = ast.parse("def d_step(self, x):\n    return self.trainer.d_step(x)\n")
    assert not _delegates(copy, "d_step") and _delegates(thin, "d_step")


@pytest.mark.parametrize("module", ["gankit.core.trainer", "gankit.runs.batched"])
def test_the_trainers_hold_no_copy_of_the_algorithm(module):
    """No cost, penalty, JS estimate, gradient norm or backward pass of their own."""
    tree = MODULES[module]
    algorithm = {"backward", "d_loss", "g_cost", "g_loss", "dj_dlogit", "penalty",
                 "gradient_penalty", "grad_norm", "d_means", "js_hat", "vmap", "instance_sigma"}
    assert not (_attributes(tree) | _names(tree)) & algorithm
    assert not _defined(tree, STEP_NAMES | {"_penalty", "iteration_step"})


def test_only_the_losses_module_knows_the_gradient_penalty():
    """A regularised game is one place: the trainers reach it only as `Game.penalty`."""
    users = sorted(m for m, tree in MODULES.items()
                   if {"gradient_penalty", "wgan_gp_penalty"} & (_names(tree) |
                                                                  _attributes(tree)))
    assert users == ["gankit.core.losses"]


def _imports(module: str, tree: ast.Module) -> set[str]:
    """The gankit modules `module` imports (anywhere in it)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (module in _PACKAGES)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return {m for m in found if m in MODULES}


_PACKAGES = {name for name in MODULES if (PACKAGE.parent / name.replace(".", "/")).is_dir()}
IMPORTS = {name: _imports(name, tree) for name, tree in MODULES.items()}


def _layer(module: str) -> str | None:
    for layer in ("commands", "api", "runs", "core"):
        if module == f"gankit.{layer}" or module.startswith(f"gankit.{layer}."):
            return layer
    return None


ABOVE = {"core": {"runs", "commands", "api"}, "runs": {"commands", "api"}, "api": {"commands"}}
"""What each layer must not import: the layers above it."""


@pytest.mark.parametrize("layer", ["core", "runs"])
def test_no_direct_upward_import(layer):
    bad = sorted(f"{m} imports {target}" for m, targets in IMPORTS.items()
                 if _layer(m) == layer for target in targets
                 if _layer(target) in ABOVE[layer])
    assert not bad


def test_core_reaches_nothing_above_it_through_other_modules():
    """core's whole import closure stays below runs, commands and api. The root package
    `gankit` is not followed: its re-exports of gankit.api load on first use of an API name
    (`gankit.train`), not when a module reads `gankit.__version__`."""
    seen: dict[str, str] = {}
    stack = [m for m in IMPORTS if _layer(m) == "core"]
    for m in stack:
        seen[m] = m
    while stack:
        m = stack.pop()
        for target in IMPORTS[m] - {"gankit"}:
            if target not in seen:
                seen[target] = m
                stack.append(target)
    bad = []
    for target in seen:
        if _layer(target) in ABOVE["core"]:
            chain = [target]
            while seen[chain[-1]] != chain[-1]:
                chain.append(seen[chain[-1]])
            bad.append(" <- ".join(chain))
    assert not bad


def test_the_import_reader_sees_an_upward_import():
    """The checks above can fail: an upward import in a made-up module is found."""
    tree = ast.parse("def f():\n    from gankit.runs.loop import train\n")
    assert "gankit.runs.loop" in _imports("gankit.core.made_up", tree)
    assert _layer("gankit.runs.loop") in ABOVE["core"]
