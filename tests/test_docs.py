"""The repository holds its whole lesson: no reference to files outside a clone.

Greps every tracked file (CHANGELOG.md excepted: it is history) for references to the
team's private notes, and every tracked Markdown file for relative links to missing files.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HISTORY = {"CHANGELOG.md"}
# Spelled in pieces so that this file does not match itself.
DEAD = ("../" + "shared", "THEORY" + ".md")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = [n for n in out.decode().split("\0") if n]
    return [ROOT / n for n in names if n not in HISTORY and (ROOT / n).is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary (images, weights)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def dead_references(files: list[Path], root: Path = ROOT) -> list[str]:
    """'path:line: needle' for each line of `files` that names a file outside the repo."""
    hits = []
    for path in files:
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for needle in DEAD:
                if needle in line:
                    hits.append(f"{path.relative_to(root)}:{number}: {needle}")
    return hits


def broken_links(files: list[Path], root: Path = ROOT) -> list[str]:
    """'path:line: target' for each relative Markdown link whose target is missing."""
    hits = []
    for path in files:
        if path.suffix.lower() != ".md":
            continue
        text = _text(path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
                    continue  # a URL (http:, mailto:) or an anchor in the same page
                local = (path.parent / target.split("#", 1)[0]).resolve()
                if root not in local.parents or not local.exists():
                    hits.append(f"{path.relative_to(root)}:{number}: {target}")
    return hits


def test_no_tracked_file_names_the_private_notes():
    hits = dead_references(_tracked())
    assert not hits, "references to files a clone does not have:\n" + "\n".join(hits)


def test_markdown_links_point_to_files_in_the_repo():
    hits = broken_links(_tracked())
    assert not hits, "relative links to missing files:\n" + "\n".join(hits)


def test_the_checks_catch_what_they_look_for(tmp_path):
    root = tmp_path.resolve()
    (root / "docs").mkdir()
    (root / "docs" / "here.png").write_bytes(b"\x89PNG")
    page = root / "docs" / "guide.md"
    page.write_text(
        "ok ![a](here.png) [web](https://arxiv.org/abs/1406.2661) [top](#refs) [up](../docs)\n"
        "bad [gone](missing.png) [out](../../elsewhere/README.md)\n"
        "see " + DEAD[1] + " and " + DEAD[0] + "/seed\n"
    )
    assert dead_references([page], root) == [
        "docs/guide.md:3: " + DEAD[0],
        "docs/guide.md:3: " + DEAD[1],
    ]
    assert broken_links([page], root) == [
        "docs/guide.md:2: missing.png",
        "docs/guide.md:2: ../../elsewhere/README.md",
    ]


def test_the_guide_exists_in_both_languages_and_the_readme_links_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/theory.md", "docs/theory.zh.md"):
        assert (ROOT / name).is_file(), name
        assert f"]({name})" in readme, f"README.md does not link {name}"


def test_the_readmes_are_short_and_link_each_other():
    en = (ROOT / "README.md").read_text(encoding="utf-8")
    zh = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    assert len(en.splitlines()) <= 260, "README.md grew past 260 lines: move material to docs/"
    assert len(zh.splitlines()) <= 260, "README.zh.md grew past 260 lines"
    assert "](README.zh.md)" in en.split("\n## ", 1)[0], "README.md: link README.zh.md at the top"
    assert "](README.md)" in zh.split("\n## ", 1)[0], "README.zh.md: link README.md at the top"
    for name in ("docs/results.md", "docs/reproducing.md", "docs/cli.md", "docs/theory.zh.md"):
        assert f"]({name}" in zh, f"README.zh.md does not link {name}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip().lower())
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def broken_anchors(files: list[Path], root: Path = ROOT) -> list[str]:
    """'path:line: target' for each Markdown link to a #anchor that no heading there makes."""
    anchors: dict[Path, set[str]] = {}

    def of(page: Path) -> set[str]:
        if page not in anchors:
            text = _text(page) or ""
            fence = False
            found = set()
            for line in text.splitlines():
                fence ^= line.startswith("```")
                if not fence and line.startswith("#"):
                    found.add(slug(line.lstrip("#")))
            anchors[page] = found
        return anchors[page]

    hits = []
    for path in files:
        if path.suffix.lower() != ".md":
            continue
        for number, line in enumerate((_text(path) or "").splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or "#" not in target:
                    continue
                name, anchor = target.split("#", 1)
                page = (path.parent / name).resolve() if name else path
                if page.suffix.lower() == ".md" and page.is_file() and anchor not in of(page):
                    hits.append(f"{path.relative_to(root)}:{number}: {target}")
    return hits


def test_anchor_links_point_to_headings():
    hits = broken_anchors(_tracked())
    assert not hits, "links to anchors no heading makes:\n" + "\n".join(hits)


def test_slugs_follow_github():
    assert slug(" 6. KL's asymmetry and mode collapse") == "6-kls-asymmetry-and-mode-collapse"
    assert slug(" 4. 最大似然博弈与 KL(p_data || p_g)") == "4-最大似然博弈与-klp_data--p_g"
    assert slug(" 2. 三种生成器博弈（logit 形式）") == "2-三种生成器博弈logit-形式"


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def test_chinese_paragraphs_are_not_broken_across_lines():
    """A line break inside a Chinese sentence shows as a stray space in some renderers."""
    hits = []
    for name in ("README.zh.md", "docs/theory.zh.md"):
        lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
        fence = False
        for number, (line, after) in enumerate(zip(lines, lines[1:], strict=False), 1):
            fence ^= line.startswith("```")
            prose = not fence and line.strip() and not line.startswith(("    ", "|", "#"))
            starts_block = after.startswith(("    ", "|", "#", "- ", "```", "!"))
            if prose and after.strip() and not starts_block:
                if CJK.search(line) or CJK.search(after):
                    hits.append(f"{name}:{number}")
    assert not hits, "Chinese paragraphs broken across lines:\n" + "\n".join(hits)
