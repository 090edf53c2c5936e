# nbtrain: set-up, demo and tests.  Everything installs into .venv.
# TORCH is the torch requirement; the default pins the CPU build used in CI.
# On a CUDA machine:  make test TORCH="torch>=2.4"
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nbtrain-installed

.PHONY: demo test test-fast lint venv bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]" "$(TORCH)"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The main job: execute the quickstart notebook headless, print where it is and its metric table.
demo: $(STAMP)
	$(BIN)/python -m nbtrain.demo notebooks/01_quickstart.ipynb --out out

# pytest-xdist workers for the test targets (auto: one per core); conftest.py keeps what must share one together
WORKERS ?= auto

# The whole test suite: lint and format first, then unit, API, magics, kernels, browser, and every
# notebook under strict nbval (its kernels on other CPU kernels than wrote the outputs: conftest.py).
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile tests --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env

# The inner loop (a few minutes): unit and API tests; no browser, no notebooks, no kernels (-m "not slow"),
# no process-killing, soak and fuzz tests (tests/hardening) and no multi-process ranks (tests/distributed).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile -m "not slow" --ignore=tests/hardening --ignore=tests/distributed tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

# The docs site (MkDocs + Material + mkdocs-jupyter + mkdocstrings), offline, every warning an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) out test-artifacts site
