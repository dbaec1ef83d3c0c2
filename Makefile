# The README's two commands: `make demo` (train on MNIST, write sample grids) and
# `make test` (lint + tests). Both set everything up on a fresh machine first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gankit-installed
ARGS ?=

.PHONY: setup demo test test-fast lint bench recipe notebook keras-venv keras-bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,tensorboard,lab]"
	touch $(STAMP)

demo: setup
	$(BIN)/gankit train --preset default $(ARGS)

lint: setup
	$(BIN)/ruff check src tests benchmarks examples

test: lint
	sh scripts/install-browser.sh
	$(BIN)/python -m pytest -q

test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow and not network"

bench: setup
	$(BIN)/python benchmarks/throughput.py $(ARGS)

# The default preset over 5 seeds x fp32/bf16: seconds, FID, classes, health alarms.
recipe: setup
	$(BIN)/python benchmarks/recipe.py $(ARGS)

# JupyterLab (the `notebook` extra, pinned like the rest) opened on docs/notebooks.
NB_STAMP := $(VENV)/.gankit-notebook-installed
$(NB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,tensorboard,lab,notebook]"
	touch $@

notebook: $(NB_STAMP)
	$(BIN)/jupyter lab docs/notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

# The notes' own Keras program (Keras 3, TensorFlow CPU) in its own environment.
KERAS_VENV ?= .venv-keras
$(KERAS_VENV)/.installed: pyproject.toml requirements/constraints.txt requirements/keras.txt
	test -x $(KERAS_VENV)/bin/python || $(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/python -m pip install --quiet -c requirements/constraints.txt \
		-c requirements/keras.txt -e ".[keras]"
	touch $@

keras-venv: $(KERAS_VENV)/.installed

# The notes' program beside gankit's seed preset, over seeds and epochs (a long run).
keras-bench: setup keras-venv
	$(BIN)/python benchmarks/keras/side_by_side.py --keras-python $(KERAS_VENV)/bin/python $(ARGS)

clean:
	rm -rf $(VENV) $(KERAS_VENV) .pytest_cache .ruff_cache
