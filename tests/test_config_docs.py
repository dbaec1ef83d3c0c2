"""gankit.config_docs: every key's doc in `config show` and `config keys`, never cut."""

from __future__ import annotations

import pytest

from gankit import cli, config_docs
from gankit.config import PRESETS


def _comments(text: str) -> dict[str, str]:
    """{key name: its comment, continuation lines joined} of `config show`'s YAML."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if not line.startswith("  "):
            continue
        body, _, comment = line.partition("  # ")
        if body.strip():
            name = body.strip().split(":")[0]
            out[name] = comment.strip()
        elif name is not None:
            out[name] += " " + comment.strip()
    return out


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_config_show_gives_each_docs_first_sentence_whole(preset, capsys) -> None:
    assert cli.main(["config", "show", "--preset", preset]) == 0
    text = capsys.readouterr().out
    assert config_docs.FULL_DOCS in text.splitlines()[0]  # where the whole docs are
    comments = _comments(text)
    for key, _, _, doc in config_docs.keys():
        first = config_docs.one_line(doc)
        more = "" if first == doc else " +"
        assert comments[key.split(".", 1)[1]] == first + more, key
    assert max(len(line) for line in text.splitlines()) <= 110


def test_config_keys_gives_first_sentences_whole_and_names_the_flag_for_all(capsys) -> None:
    assert cli.main(["config", "keys"]) == 0
    text = capsys.readouterr().out
    joined = " ".join(line.strip() for line in text.splitlines())
    for _, _, _, doc in config_docs.keys():
        assert config_docs.one_line(doc) in joined
    assert config_docs.FULL_DOCS in text.splitlines()[-1]
    assert cli.main(["config", "keys", "--full"]) == 0
    full = " ".join(line.strip() for line in capsys.readouterr().out.splitlines())
    assert all(doc in full for _, _, _, doc in config_docs.keys())


def test_one_line_ends_at_the_first_sentence_not_at_e_g() -> None:
    doc = "Data set name, e.g. `mnist`. More about it."
    assert config_docs.one_line(doc) == "Data set name, e.g. `mnist`."
    assert not config_docs.is_whole(doc) and config_docs.is_whole("One sentence.")
