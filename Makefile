# csops: `make demo` runs the whole pipeline on generated data; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project

.PHONY: install demo test chaos ui evaluate bench dbt-parse clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	touch $@

# Dagster loads dbt models from the manifest; prepare it here, never at import time.
dbt-parse: install
	$(BIN)/python -c "from orchestration.lib.dbt_project import prepare_manifest; prepare_manifest()"

demo: dbt-parse
	$(BIN)/csops demo

# The import contracts first (seconds), then the suite.
test: dbt-parse
	$(BIN)/lint-imports
	$(BIN)/pytest

# Poison values, bad CSVs, stray files, late data, kill -9 during ingest and dbt, BI readers (docs/reliability.md).
chaos: dbt-parse
	$(BIN)/pytest -n 0 -m chaos tests/test_chaos.py

ui: dbt-parse
	$(BIN)/csops ui

# Model quality on a fresh generated set (3,000 accounts x 24 months by default; ARGS="--accounts 500" for less).
evaluate: install
	$(BIN)/csops evaluate $(ARGS)

# Every stage measured against physical baselines, one report per run (docs/benchmarks.md); ARGS="--size medium".
bench: dbt-parse
	$(BIN)/csops bench $(ARGS)

clean:
	rm -rf data dbt_project/target dbt_project/logs
