# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or refresh) .venv, install the CPU torch first (an unpinned torch would
# pull a multi-GB CUDA build), then this package with its extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.l2r-installed

.PHONY: demo test lint install clean system-deps

# open3d's Linux wheel links libusb-1.0 (Debian package libusb-1.0-0); installed when missing,
# as root or through sudo.
system-deps:
	@if [ "$$(uname -s)" = Linux ] && ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libusb-1.0.so.0'; then \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "installing libusb-1.0-0 (needed by open3d)"; \
	  $$SUDO apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q libusb-1.0-0 >/dev/null; }; \
	fi

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
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
