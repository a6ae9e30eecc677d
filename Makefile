# agent_runtime: two commands on a fresh machine.
#   make run    create .venv, install, run one read-only task on the embedded model
#   make test   install with the dev extras, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
TASK ?= What is this repository for? Look at its files and README, then answer in two sentences.

.PHONY: run test install install-dev system-deps bench lock clean

run: install
	@echo "== Running one read-only task on the embedded model (Gemma 3 270M: shows the real path, not a capable model)"
	@$(BIN)/agent-runtime --approval never --max-steps 4 "$(TASK)"; code=$$?; \
	  if [ $$code -eq 3 ]; then echo "(the tiny model used its 4 steps without a final answer: exit code 3, as documented)"; \
	  elif [ $$code -ne 0 ]; then exit $$code; fi

test: install-dev
	$(BIN)/python -m pytest

install: system-deps $(VENV)/.installed
install-dev: system-deps $(VENV)/.installed-dev

$(BIN)/python:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) venv --python $(PYTHON) $(VENV)

# The locks pin every package (uv pip compile); llama-cpp-python builds from source once
# (about 8 minutes on 2 cores) and uv caches the wheel.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(UV) pip install --python $(BIN)/python -r requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(UV) pip install --python $(BIN)/python -r requirements-dev.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	@touch $@ $(VENV)/.installed

# ripgrep (search tools) and bubblewrap (the command sandbox) come from the system's
# packages: the `ripgrep` PyPI package builds from crates.io and fails offline.
system-deps:
	@missing=""; command -v rg >/dev/null || missing="$$missing ripgrep"; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== Installing$$missing (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install:$$missing  (Debian/Ubuntu: sudo apt-get install$$missing; macOS: brew install ripgrep)"; \
	    command -v rg >/dev/null || exit 1; \
	  fi; \
	fi

bench: install
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script; done

# Re-resolve the pins (needs the package index).
lock:
	$(UV) pip compile pyproject.toml --python-version 3.11 -o requirements.lock
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) build *.egg-info
