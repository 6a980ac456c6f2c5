# The README's two commands: `make run` and `make test` (plus `make bench`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/skilllink

.PHONY: run test test-fast bench lint format openapi migrate seed assets venv clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# This machine's pip config lists index folders that may be absent; hide only those warnings.
	set -o pipefail; $(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

venv: $(BIN)/.installed
assets: node_modules/.package-lock.json

# Development server: SQLite and the in-memory channel layer unless DATABASE_URL /
# REDIS_URL say otherwise. The sweep loop runs inside the server process.
run: venv assets
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py seed_demo
	@echo "SkillLink on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m skilllink.serve

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

# Benchmarks print tables (never part of `make test`); see bench/results.md.
bench: venv assets
	DEBUG=1 $(BIN)/python -m bench
	DEBUG=1 $(BIN)/python -m bench.chat
	DEBUG=1 $(BIN)/python -m bench.room_connect
	DEBUG=1 $(BIN)/python -m bench.assistant

clean:
	rm -rf $(VENV) node_modules staticfiles test-db.sqlite3
