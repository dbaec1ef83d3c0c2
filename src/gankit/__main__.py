"""`python -m gankit`: the same entry point as the `gankit` console script."""

from gankit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
