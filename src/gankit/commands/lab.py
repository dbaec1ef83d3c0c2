"""`gankit lab [--port P] [--no-browser] [--run RUN] [--mode M]`: the live training page."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lab", help="a local web page that trains toy GANs live (the three games side by side)",
        description="Start the lab on 127.0.0.1 and open it in the browser: toy GANs trained "
        "live by gankit's trainers (D's landscape, G's warp, gradient arrows, the games' cost "
        "curves). Every request must carry the random token in the printed URL.")
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 (default 0: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, open no browser")
    p.add_argument("--run", metavar="RUN_DIR",
                   help="continue a toy run folder (its config and newest checkpoint)")
    p.add_argument("--mode", choices=("games", "seeds", "single"), default="games",
                   help="the first view: the three games side by side (default), seeds of "
                        "one game (batched), or a single run")
    p.add_argument("--runs-dir", default="runs", metavar="DIR",
                   help="where 'save as run' writes run folders (default runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve the lab until Ctrl-C."""
    import importlib.util

    from gankit.errors import GankitError, check_range

    check_range("--port", args.port, 0, 65535)
    missing = [m for m in ("starlette", "uvicorn", "websockets")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise GankitError(f"gankit lab needs {', '.join(missing)}: pip install 'gankit[lab]'")
    from gankit.lab.engine import LabSession, open_run
    from gankit.lab.server import LabServer

    if args.run:
        run_dir = Path(args.run)
        open_run(run_dir)  # a bad folder is an error now, not on the page

        def factory() -> LabSession:
            return open_run(run_dir)
    else:
        def factory() -> LabSession:
            return LabSession(mode=args.mode)

    server = LabServer(args.port, factory, Path(args.runs_dir))
    print(f"gankit lab: {server.url}\n(listening on 127.0.0.1 only; Ctrl-C stops it)",
          flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.serve_forever()
    return 0
