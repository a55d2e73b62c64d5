# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make up    run the platform (embedded PostgreSQL when DATABASE_URL is not set)
#   make test  run the whole test suite (a fresh database per run)
#   make test-fast  the unit and integration tests alone (no end-to-end processes)
# Both install the locked dev dependencies (requirements/dev.txt: tests, lint and the
# embedded PostgreSQL, with hashes), then the project itself without resolving anything.
# `make lock` locks again after a change to pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-fast lint bench lock clean

$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
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
BENCHMARKS := bench.run bench.orders bench.lending bench.reimbursements bench.billing bench.outage

bench: $(STAMP)
	set -e; for module in $(BENCHMARKS); do $(BIN)/python -m $$module $(ARGS); done

# The lock files, for the platform the image runs on: CPython 3.11, Linux x86_64.
# prod.txt: the production dependencies (what the image installs); dev.txt: those same
# versions plus the dev and embedded extras. Both pin the build backend too, so the
# project installs with --no-build-isolation from the lock alone.
UV_VERSION := 0.13.9
COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --no-header \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	pyproject.toml requirements/build.in

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	{ printf '%s\n' \
	  '# The production dependencies of ledgerflow, locked with hashes for CPython 3.11 on' \
	  '# Linux x86_64 (what the image runs). Made by `make lock` from pyproject.toml;' \
	  '# installed with `pip install --require-hashes -r requirements/prod.txt`.'; \
	  $(COMPILE); } > requirements/prod.txt.new
	mv requirements/prod.txt.new requirements/prod.txt
	{ printf '%s\n' \
	  '# The dev dependencies of ledgerflow (tests, lint) and the embedded PostgreSQL, on the' \
	  '# production versions of requirements/prod.txt, locked with hashes for CPython 3.11 on' \
	  '# Linux x86_64. Made by `make lock`; `make up` and `make test` install it.'; \
	  $(COMPILE) --extra dev --extra embedded --constraint requirements/prod.txt; \
	} > requirements/dev.txt.new
	mv requirements/dev.txt.new requirements/dev.txt

clean:
	rm -rf $(VENV) .ledgerflow
