# The two commands of the README: `make run` and `make test` (each installs what is missing).
SHELL := /bin/bash
VENV := .venv/bin
HOME_DIR ?= $(CURDIR)/data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint typecheck unit samples bench clean

setup:
	@scripts/bootstrap.sh

# Loads the demo index and charts, prints demo logins, then serves the review app until Ctrl+C.
run: setup
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate mpi import samples/existing_patients.csv --by demo
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate ingest samples/charts || \
	 echo "(some sample charts failed: see 'chartmigrate documents')"
	@echo; echo "Data folder: $(HOME_DIR)"; echo
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate user demo
	@echo; echo "Open http://$(HOST):$(PORT) and sign in with one of the logins above."
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate serve --host $(HOST) --port $(PORT)

lint: setup
	$(VENV)/ruff check migrate review_ui tests benchmarks samples
	$(VENV)/ruff format --check migrate review_ui tests benchmarks samples

typecheck: setup
	$(VENV)/mypy migrate review_ui

# The whole suite twice: on SQLite (embedded mode) and on PostgreSQL; both with Redis for the queue tests.
unit: setup
	@eval "$$(scripts/services.sh start)" && \
	 echo "== tests on SQLite" && CM_TEST_BACKEND=sqlite $(VENV)/pytest -q && \
	 echo "== tests on PostgreSQL" && CM_TEST_BACKEND=postgresql $(VENV)/pytest -q

test: lint typecheck unit

samples: setup
	$(VENV)/python samples/generate.py --out samples/charts --truth-out samples/truth --seed 7 --count 6

bench: setup
	$(VENV)/python benchmarks/ocr_bench.py

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
