"""The README's examples run as written, in order, on small settings.

`examples()` reads every ```sh and ```python block of README.md in order. The shell lines run
one by one and the Python blocks as scripts, all in one temporary folder, so a later example
finds what an earlier one wrote (runs/first, ...). `make demo` / `make test` are skipped
(they are the whole demo and the whole suite). Training budgets shrink through REWRITES, a
table of exact substitutions: each must match its block exactly once, so a README edit that
changes an example also has to change its small twin here. README.zh.md must hold the same
code (comments aside), so running the English blocks runs both.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.M | re.S)
SKIP = ("make demo", "make test")

# (exact text in the README, what the test runs instead): budgets only, never the command.
REWRITES: list[tuple[str, str]] = [
    ("gankit lesson saturation --out saturation.png",
     "gankit lesson saturation --seeds 2 --d-steps 40 --out saturation.png"),
    ("gankit compare --data ring2d --seeds 20 --out runs/cmp",
     "gankit compare --data ring2d --seeds 2 --epochs 1 --out runs/cmp"),
    ("gankit train --loss maximum-likelihood --epochs 3 --out runs/ml",
     "gankit train --preset smoke --loss maximum-likelihood --epochs 1 --out runs/ml"),
    ("gankit train --epochs 3 --out runs/first",
     "gankit train --preset smoke --epochs 1 --out runs/first"),
    ("gankit train --out runs/first --resume --epochs 12",
     "gankit train --out runs/first --resume --epochs 2"),
    ("gankit eval runs/first", "gankit eval runs/first --n 500"),
    ('gankit.train("toy", epochs=20, dataset="grid2d", out="runs/py-grid")',
     'gankit.train("toy", epochs=2, dataset="grid2d", out="runs/py-grid")'),
    ('gankit.train("toy-grid-noise", loss="minimax", out="runs/py-noise")',
     'gankit.train("toy-grid-noise", loss="minimax", epochs=2, out="runs/py-noise")'),
    ("gankit.evaluate(g, n=10_000)", "gankit.evaluate(g, n=500)"),
]


def examples(path: Path) -> list[tuple[str, str]]:
    """(language, code) of every ```sh / ```python block of `path`, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


def _code(text: str) -> str:
    """The code without comments and trailing blanks (what two translations share)."""
    lines = (re.sub(r"\s+#.*$|^#.*$", "", line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def shrink(blocks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The blocks with REWRITES applied; each rewrite must match exactly once in all."""
    out = []
    used = dict.fromkeys(range(len(REWRITES)), 0)
    for lang, code in blocks:
        for i, (old, new) in enumerate(REWRITES):
            used[i] += code.count(old)
            code = code.replace(old, new)
        out.append((lang, code))
    stale = [REWRITES[i][0] for i, n in used.items() if n != 1]
    assert not stale, f"rewrites that no longer match the README exactly once: {stale}"
    return out


def test_the_readme_has_its_examples_and_every_rewrite_matches() -> None:
    blocks = examples(ROOT / "README.md")
    langs = [lang for lang, _ in blocks]
    assert langs.count("python") >= 1 and langs.count("sh") >= 4
    shrink(blocks)  # raises on a stale rewrite
    commands = [line for lang, code in blocks if lang == "sh" for line in _code(code).splitlines()]
    assert commands[:2] == list(SKIP)
    assert all(c.startswith(".venv/bin/gankit ") for c in commands[2:]), commands


def test_the_chinese_readme_holds_the_same_code() -> None:
    en = [(lang, _code(code)) for lang, code in examples(ROOT / "README.md")]
    zh = [(lang, _code(code)) for lang, code in examples(ROOT / "README.zh.md")]
    assert zh == en


def test_the_code_of_a_block_ignores_comments_only() -> None:
    text = "a --x 1   # what it does\n# a comment line\nb = f(2)  # 说明\n"
    assert _code(text) == "a --x 1\nb = f(2)"


@pytest.mark.network  # MNIST from the cache, else fetched from PyPI once
@pytest.mark.slow
def test_the_readme_examples_run_in_order(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    for lang, code in shrink(examples(ROOT / "README.md")):
        if lang == "python":
            done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{code}\n{done.stderr[-3000:]}"
            continue
        for line in _code(code).splitlines():
            if line in SKIP:
                continue
            argv = shlex.split(line)
            argv[0] = str(bin_dir / Path(argv[0]).name)
            done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    assert (tmp_path / "grid.png").is_file() and (tmp_path / "runs" / "first").is_dir()
