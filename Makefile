# Two entry points: `make demo` and `make test`. Both bootstrap a fresh clone:
# a .venv with the pinned Python packages (the tests need the cluster extra: Ray) and
# node_modules with the pinned node tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: bootstrap demo test test-fast lint bench clean

bootstrap: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,cluster]'
	# an editable install writes no bytecode (pip does for a regular one); without it every
	# process recompiles each module it imports (~0.1-0.2 s of a CLI command's start-up)
	$(BIN)/python -m compileall -q prover circuits rollup > /dev/null
	touch $@

# Node tools are needed by the interop tests and benchmarks against snarkjs/ffjavascript.
# `npm ci` installs exactly what package-lock.json records.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: bootstrap
	$(BIN)/rollup demo

# pytest-xdist workers: one per core of a CI machine (2); WORKERS=0 runs in one process
WORKERS ?= 2

# lint and the layer contracts first (seconds), then the suite
test: bootstrap lint
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -n $(WORKERS)

# everything but the slow end-to-end and node-interop tests: the inner loop
test-fast: bootstrap
	$(BIN)/python -m pytest -q -n $(WORKERS) -m "not slow and not node"

lint: bootstrap
	$(BIN)/ruff check prover circuits rollup benchmarks tests examples

bench: bootstrap
	$(BIN)/python -m benchmarks field

clean:
	rm -rf $(VENV) node_modules .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
