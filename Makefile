# The README's two commands: `make run` and `make test` (plus `make bench`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/skilllink
PEER := bench/peers/socketio
CLUSTER_PORT ?= 8080
WORKERS ?= 2

.PHONY: run test test-fast bench bench-quick bench-peer cluster lint format openapi migrate seed assets venv clean

# Each install step says what it does (pip lists each package as it goes).
$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || { echo "== Creating the virtual environment $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "== Installing Python packages (pip install -r requirements-dev.txt)"
	@# This machine's pip config lists index folders that may be absent; hide only those warnings.
	@set -o pipefail; $(BIN)/pip install --progress-bar off --disable-pip-version-check -r requirements-dev.txt 2>&1 \
		| { grep -v -e "is ignored: it is neither a file nor a directory" -e "^Requirement already satisfied" || true; }
	@touch $@
	@echo "== Python packages installed"

node_modules/.package-lock.json: package.json package-lock.json
	@echo "== Installing front-end packages (npm ci, as package-lock.json pins them)"
	npm ci --no-audit --no-fund --loglevel=error
	@echo "== Front-end packages installed"

# The benchmark's Socket.IO peer (bench/compare.py): its own pinned npm packages.
$(PEER)/node_modules/.package-lock.json: $(PEER)/package.json $(PEER)/package-lock.json
	cd $(PEER) && npm ci --no-audit --no-fund --loglevel=error

venv: $(BIN)/.installed
assets: node_modules/.package-lock.json
bench-peer: $(PEER)/node_modules/.package-lock.json

# Development server: SQLite and the in-memory channel layer unless DATABASE_URL /
# REDIS_URL say otherwise. The sweep loop runs inside the server process.
# The address is printed by the server once it answers (--announce polls /healthz/);
# Ctrl-C or SIGTERM stop it without a traceback.
run: venv assets
	@echo "== Applying database migrations"
	@DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	@echo "== Loading the demo data"
	@DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	@echo "== Starting the server on $(HOST):$(PORT) (its address follows once it answers)"
	@DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m skilllink.serve --announce

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Lint, then the suite on SQLite; under CI=true again on PostgreSQL.
test: venv assets lint
	DEBUG=1 $(BIN)/pytest
	@if [ "$$CI" = "true" ] || [ -n "$$TEST_POSTGRES" ]; then \
		echo "== again on PostgreSQL ($(PG_TEST_URL))"; \
		DEBUG=1 DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest; \
	fi

# The committed API schema (docs/openapi.yaml); a test fails while it is stale.
openapi: venv
	DEBUG=1 $(BIN)/python manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

# The quick loop while coding: lint and every test that starts no server, browser or Redis.
test-fast: venv assets lint
	DEBUG=1 $(BIN)/pytest -m "not slow"

# Benchmarks (never part of `make test`): one report, bench/README.md + bench/results.json.
# Run `make bench` on a quiet machine (about 12 min); `make bench-quick` (< 2 min) fails on a
# lost message, an error or a double booking and prints the ratios to the Socket.IO peer.
bench: venv assets bench-peer
	DEBUG=1 $(BIN)/python -m bench.report

bench-quick: venv assets bench-peer
	DEBUG=1 $(BIN)/python -m bench.report --quick

# The production layout on this machine: WORKERS (2) behind nginx on CLUSTER_PORT (8080), the sweep
# loop, PostgreSQL and Redis (see deploy/README.md). Ctrl-C stops it.
cluster: venv assets
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		echo "nginx is missing: installing Debian's package"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
	$(BIN)/python -m deploy.cluster --workers $(WORKERS) --port $(CLUSTER_PORT)

clean:
	rm -rf $(VENV) node_modules staticfiles test-db*.sqlite3*
