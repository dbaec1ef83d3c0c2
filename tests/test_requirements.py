"""The pinned set-up (requirements/): every package pinned once, so pip can always resolve it.

`make setup` installs with `-c requirements/constraints.txt`; `make keras-venv` adds
`-c requirements/keras.txt`. A package pinned in both (or twice in one) at two versions makes
pip give up with "ResolutionImpossible", as keras.txt's old idna pin did once constraints.txt
moved on.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def pins(name: str) -> list[str]:
    """The canonical names of the packages a requirements file pins, in file order."""
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    found = [PIN.match(line) for line in text.splitlines()]
    return [re.sub(r"[-_.]+", "-", m.group(1)).lower() for m in found if m]


def test_each_file_pins_a_package_once() -> None:
    for name in ("constraints.txt", "keras.txt"):
        twice = [p for p, n in Counter(pins(name)).items() if n > 1]
        assert not twice, f"{name} pins {twice} more than once"


def test_keras_pins_nothing_constraints_pins() -> None:
    shared = set(pins("keras.txt")) & set(pins("constraints.txt"))
    assert not shared, f"pinned in both keras.txt and constraints.txt: {sorted(shared)}"


def test_every_declared_dependency_is_pinned() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra, deps in project["optional-dependencies"].items():
        declared += deps if extra != "keras" else []
    names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", d).group(0)).lower()
             for d in declared}
    assert names <= set(pins("constraints.txt")), sorted(names - set(pins("constraints.txt")))
    keras = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", d).group(0)).lower()
             for d in project["optional-dependencies"]["keras"]}
    assert keras <= set(pins("keras.txt")) | set(pins("constraints.txt"))
