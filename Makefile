# The two commands of the README:
#   make demo   - install everything (Debian packages + Python stack) and run the default
#                 funnel on the examples (a few minutes on 2 cores: MLIP CI-NEB on the 2
#                 lowest BVSE barriers, 240 s each at most; DFT waits for pseudopotentials)
#   make test   - install everything and run the whole test suite (slow tests included)
PYTHON ?= python3
VENV ?= .venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA_DIR ?= sseflow-data

.PHONY: demo install system-packages test test-fast lint

demo: install
	$(VENV)/bin/sseflow screen examples/structures --data-dir $(DATA_DIR) \
	  --neb-top 2 --mlip-walltime 240

install: system-packages $(VENV)/.installed

# Quantum ESPRESSO (pw.x, neb.x; OpenMPI) for the CI-NEB tier; python3-venv for the venv.
system-packages:
	@command -v pw.x >/dev/null && $(PYTHON) -c "import venv, ensurepip" 2>/dev/null || \
	  ($(SUDO) apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq quantum-espresso python3-venv)

# torch is installed first and pinned to the CPU wheel, so nothing pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[all]"
	touch $@

test: install
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(VENV)/bin/python -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
