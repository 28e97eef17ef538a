# The two commands of the README, and the checks CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: quickstart test unit lint typecheck bench clean

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
test: $(STAMP) lint typecheck
	$(BIN)/driftless devcluster build
	$(BIN)/pytest -q -ra

unit: $(STAMP)
	$(BIN)/pytest -q -ra tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/devcluster_up.py

clean:
	rm -rf $(VENV) build *.egg-info
