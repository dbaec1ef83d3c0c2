# The README's two commands: `make demo` (train on MNIST, write sample grids) and
# `make test` (lint + tests). Both set everything up on a fresh machine first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gankit-installed
ARGS ?=

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,tensorboard]"
	touch $(STAMP)

demo: setup
	$(BIN)/gankit train --preset default $(ARGS)

lint: setup
	$(BIN)/ruff check src tests benchmarks

test: lint
	sh scripts/install-browser.sh
	$(BIN)/python -m pytest -q

test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow and not network"

bench: setup
	$(BIN)/python benchmarks/throughput.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
