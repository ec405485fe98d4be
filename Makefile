# The two commands of the README: `make run` and `make test` (each installs what is missing).
SHELL := /bin/bash
VENV := .venv/bin
HOME_DIR ?= $(CURDIR)/data

.PHONY: setup run test lint typecheck unit samples bench clean

setup:
	@scripts/bootstrap.sh

run: setup
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate mpi import samples/existing_patients.csv --by demo
	@CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate ingest samples/charts; status=$$?; \
	 echo; echo "Data folder: $(HOME_DIR)"; \
	 echo "Next: CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate documents"; \
	 echo "      CHARTMIGRATE_HOME=$(HOME_DIR) $(VENV)/chartmigrate export drafts --format jsonl"; \
	 exit $$status

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
