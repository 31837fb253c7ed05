# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or refresh) .venv, install the CPU torch first (an unpinned torch would
# pull a multi-GB CUDA build), then this package with its extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.l2r-installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check l2r_cli tests
	$(BIN)/ruff format --check l2r_cli tests

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo_out
