# The two commands of the README, and the checks CI runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: quickstart test unit lint typecheck bench clean system-deps ui ui-unit

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the embedded control plane, the example repo and the controller; Ctrl-C stops all.
quickstart: $(STAMP) ui
	$(BIN)/driftless devcluster build
	$(BIN)/driftless quickstart

## Everything: lint, types, import layers, unit and integration tests.
test: $(STAMP) system-deps ui ui-unit lint typecheck
	$(BIN)/driftless devcluster build
	$(BIN)/pytest -q -ra

system-deps:
	scripts/system-deps.sh

## The web UI (web/, TypeScript + Vite), built into the package: src/driftless/server/static/.
## Node.js is needed only here, never at run time; `npm ci` installs exactly web/package-lock.json.
UI_INDEX := src/driftless/server/static/index.html
UI_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/package.json

ui: $(UI_INDEX)

web/node_modules/.installed: web/package-lock.json
	@command -v npm >/dev/null || { echo "building the UI needs Node.js >= 20.19 and npm" >&2; exit 2; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_INDEX): web/node_modules/.installed $(UI_SOURCES)
	cd web && npm run --silent build

## The UI's pure modules (web/test/, node's own test runner).
ui-unit: web/node_modules/.installed
	cd web && npm test --silent

unit: $(STAMP) ui-unit
	$(BIN)/pytest -q -ra tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP) ui system-deps
	$(BIN)/driftless devcluster build
	$(BIN)/python bench/devcluster_up.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/operations_bench.py
	$(BIN)/python bench/server_bench.py
	$(BIN)/python bench/ui_bench.py
	$(BIN)/python bench/notify_bench.py
	$(BIN)/python bench/monorepo_bench.py --controller
	$(BIN)/python bench/scale_bench.py

clean:
	rm -rf $(VENV) build *.egg-info web/node_modules src/driftless/server/static
