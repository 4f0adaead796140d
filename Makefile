# Two commands matter: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_DB ?= sqlite+aiosqlite:///var/samkons.sqlite3

.PHONY: run test install system-deps services lint typecheck pytest bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Serve the whole product with demo data on SQLite at http://127.0.0.1:8080
run: install
	mkdir -p var
	SAMKONS_DATABASE_URL=$(RUN_DB) $(BIN)/samkons migrate
	SAMKONS_DATABASE_URL=$(RUN_DB) $(BIN)/samkons seed-demo
	SAMKONS_DATABASE_URL=$(RUN_DB) $(BIN)/samkons serve

## Install everything the tests use (system packages too), then lint, type-check and test
test: install system-deps services lint typecheck pytest

system-deps:
	bash .ci/system-deps

services:
	bash .ci/services

ESLINT := tests/js/node_modules/.bin/eslint

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@test -x $(ESLINT) || { echo "ESLint is missing: make system-deps (npm ci in tests/js)"; exit 1; }
	$(ESLINT) --max-warnings 0 --config tests/js/eslint.config.js web/static

typecheck: install
	$(BIN)/mypy

pytest: install
	PYTHONASYNCIODEBUG=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/booking.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
