# One command to run, one to test. Needs only Python >= 3.11 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: help install install-dev lock run serve migrate seed demo test test-postgres lint format typecheck bench bench-sweep bench-ingest bench-stats bench-cases bench-load bench-bulk vendor clean

help:
	@echo "make run            install, migrate, seed and serve on :$(PORT) (SQLite by default)"
	@echo "make demo           load a synthetic demo cohort (DEMO_PATIENTS=$(DEMO_PATIENTS)) for the dashboards"
	@echo "make test           lint, type-check and run the whole suite (SQLite by default)"
	@echo "make test-postgres  the suite against the local PostgreSQL"
	@echo "make bench          run the benchmarks and print a table"
	@echo "make vendor         refresh the offline /docs, /redoc and web-page assets from npm (needs npm)"

# serving needs only requirements/run.txt; the tests, linters and benchmarks add requirements/dev.txt.
# Both are pinned and hashed (`make lock` writes them), so a hospital installs what CI tested.
$(BIN)/.installed: pyproject.toml requirements/run.txt requirements/build.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/run.txt -r requirements/build.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(BIN)/.installed-dev
	@touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements/dev.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

install: $(BIN)/.installed

install-dev: $(BIN)/.installed-dev

# the lock files again from pyproject.toml (needs the index; commit the result)
lock: install-dev
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements/run.txt pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --extra dev -c requirements/run.txt -o requirements/dev.txt pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -c requirements/dev.txt -o requirements/build.txt requirements/build.in

migrate: install
	$(BIN)/vertebro migrate

seed: migrate
	$(BIN)/vertebro seed
	$(BIN)/vertebro stats refresh

# a clearly marked synthetic cohort (identifier system urn:vertebro:demo), never in production
DEMO_PATIENTS ?= 300
demo: migrate
	$(BIN)/vertebro demo --patients $(DEMO_PATIENTS)

run: seed
	$(BIN)/vertebro keys dev-admin
	$(BIN)/vertebro serve --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install-dev
	$(BIN)/mypy app tests bench

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres:
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(MAKE) test

bench: install-dev
	$(BIN)/python -m bench

# the imaging-trigger sweep on PostgreSQL (BENCH_SWEEP_SIZES=10000,100000,1000000 by default)
bench-sweep: install-dev
	$(BIN)/python -m bench sweep

# FHIR Bulk Data $export beside a bare dump, at BENCH_BULK_SIZES patients (bench/bulk.py)
bench-bulk: install-dev
	$(BIN)/python -m bench bulk

# event ingestion on PostgreSQL beside a bare one-INSERT endpoint (see bench/ingest.py)
bench-ingest: install-dev
	$(BIN)/python -m bench ingest

# outcome statistics on PostgreSQL at 1k, 10k and 100k patients (see bench/stats.py);
# BENCH_STATS_SIZES=1000,10000 for a quicker run
bench-stats: install-dev
	$(BIN)/python -m bench stats

# whole cases and the case list on PostgreSQL beside a bare read by primary key (bench/cases.py)
bench-cases: install-dev
	$(BIN)/python -m bench cases

# ingestion, case reads and statistics at once against uvicorn --workers 2 (bench/load.py);
# BENCH_LOAD_SECONDS (180) of load after a 15 s warm-up, then the events are counted
bench-load: install-dev
	$(BIN)/python -m bench load

# the offline assets of /docs, /redoc and the web pages from npm (tools/vendor.py pins the versions)
vendor: install
	$(BIN)/python tools/vendor.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
