# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create (or refresh) .venv, install torch first, then this package with its extras.
# TORCH: the torch requirement (pinned: an unpinned torch takes whatever the index has newest).
# TORCH_INDEX: a wheel index for it, e.g. https://download.pytorch.org/whl/cpu for the CPU
# build (about 200 MB). Empty (default): pip's configured index; on the public PyPI on Linux
# that is the CUDA build (several GB with its nvidia-* packages), where a machine's own index
# may serve the CPU build (docs/dependencies.md).
PYTHON ?= python3
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
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
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) '$(TORCH)'
	$(BIN)/python -m pip install -q -e '.[dev]'
	# MTCNN's weights (the default face detector, l2r_cli/mtcnn.py): only their files are read;
	# the package's own pins (numpy<2, torch<2.3) do not fit, hence --no-deps
	$(BIN)/python -m pip install -q --no-deps 'facenet-pytorch==2.6.0'
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
