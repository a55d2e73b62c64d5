# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make up    run the platform (embedded PostgreSQL when DATABASE_URL is not set)
#   make test  run the whole test suite (a fresh database per run)
#   make test-fast  the unit and integration tests alone (no end-to-end processes)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/ledgerflow up $(ARGS)

test: $(STAMP)
	$(BIN)/python -m tests.run $(ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m tests.run $(or $(ARGS),-q) tests/unit tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every benchmark, one after another (ARGS=--quick for short runs).
BENCHMARKS := bench.run bench.orders bench.lending bench.reimbursements bench.billing

bench: $(STAMP)
	set -e; for module in $(BENCHMARKS); do $(BIN)/python -m $$module $(ARGS); done

clean:
	rm -rf $(VENV) .ledgerflow
