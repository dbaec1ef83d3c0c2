"""`gankit config show|keys`: the resolved config of a preset (+ file + overrides) as
annotated YAML, and the list of every key with its type, default and doc."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Declare `gankit config show` and `gankit config keys`."""
    p = sub.add_parser("config", help="print a preset's resolved config, or every config key",
                       description="See the configuration: `show` prints the config a "
                       "`gankit train` with the same --preset / --config / --set would use, "
                       "as YAML with the first sentence of each key's doc (save it and pass "
                       "it back with --config); `keys` lists every key with its type, "
                       "default and doc.")
    actions = p.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the resolved config as annotated YAML",
                              description="Print the resolved config as YAML with docs.")
    show.add_argument("--preset", metavar="NAME",
                      help="starting preset (default: the --config file's, else default)")
    show.add_argument("--config", metavar="FILE", help="YAML or JSON config file")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a key, e.g. --set train.epochs=3 (repeatable)")
    keys = actions.add_parser("keys", help="every config key: type, default and doc",
                              description="List every config key (dataclass defaults).")
    keys.add_argument("--full", action="store_true",
                      help="whole docs, not only their first sentences")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print what was asked for."""
    from gankit import config_docs
    from gankit.api import make_config
    from gankit.commands.train import parse_sets

    if args.config_action == "show":  # --set as `gankit train` reads it (bare keys too)
        cfg = make_config(args.preset, args.config, parse_sets(args.set))
        print(config_docs.annotated_yaml(cfg), end="")
        return 0
    import textwrap

    cut = False
    for key, kind, value, doc in config_docs.keys():
        text = doc if args.full else config_docs.one_line(doc)
        if not args.full and not config_docs.is_whole(doc):
            text, cut = text + " +", True
        wrapped = textwrap.fill(text, 96, initial_indent="    ", subsequent_indent="    ",
                                break_long_words=False, break_on_hyphens=False)
        print(f"{key}  ({kind}, default {value!r})\n{wrapped}")
    if cut:
        print(f"(first sentences; '+' marks a doc with more: `{config_docs.FULL_DOCS}` shows "
              "each whole)")
    return 0
