# The two commands of the README, and the checks CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: quickstart test unit lint typecheck bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the embedded control plane, the example repo and the controller; Ctrl-C stops all.
quickstart: $(STAMP)
	$(BIN)/driftless devcluster build
	$(BIN)/driftless quickstart

## Everything: lint, types, import layers, unit and integration tests.
test: $(STAMP) system-deps lint typecheck
	$(BIN)/driftless devcluster build
	$(BIN)/pytest -q -ra

system-deps:
	scripts/system-deps.sh

unit: $(STAMP)
	$(BIN)/pytest -q -ra tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/driftless devcluster build
	$(BIN)/python bench/devcluster_up.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/operations_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
