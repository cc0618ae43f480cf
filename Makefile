# LAKSA — developer entry points. `make run` and `make test` are the two in the README.
#
#   make run              venv + `laksa init --demo` + serve on http://127.0.0.1:5000
#   make test             ruff, ruff format --check, mypy, pytest on every core (pytest-xdist;
#                         PYTEST_WORKERS=0 runs in one process; PYTEST_ARGS="-k foo -x")
#   make services         private PostgreSQL + Redis for the tests; prints the env exports:
#                         eval "$$(make -s services)" && make test

PYTHON      ?= python3
VENV        ?= .venv
HOST        ?= 127.0.0.1
PORT        ?= 5000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= auto

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv assets translations messages run test lint fmt clean bench services migration

help:
	@echo "make run       set up (venv, database, workflows, demo data) and serve on http://$(HOST):$(PORT)"
	@echo "make test      lint + type check + pytest   (PYTEST_ARGS='...' passes arguments on)"
	@echo "make messages  extract the pages' strings into web/translations (then translate them)"
	@echo "make lint      ruff check, ruff format --check, mypy"
	@echo "make fmt       ruff format + ruff check --fix"
	@echo "make services  start test PostgreSQL/Redis; prints exports: eval \"\$$(make -s services)\""
	@echo "make bench     run the benchmarks in bench/"
	@echo "make clean     remove $(VENV), instance/ and caches"

# The virtualenv is rebuilt only when the package metadata changes.
venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

# Front-end packages from web/package-lock.json, copied into web/static/vendor (no CDN).
ASSETS := web/static/vendor/.built
assets: $(ASSETS)

$(ASSETS): web/package.json web/package-lock.json web/build-assets.mjs $(wildcard web/designer-src/*)
	@command -v npm >/dev/null || { echo "make: npm is missing (Node.js 18+ and npm build the web assets: apt-get install npm)"; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	node web/build-assets.mjs

# Message catalogs (web/translations/*/messages.po) compiled for Flask-Babel.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))
translations: $(CATALOGS)

web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel -q compile -d web/translations -l $* -i $< -o $@

# Extract the strings of web/ and merge them into every catalog (then translate the new ones).
messages: venv
	$(BIN)/pybabel -q extract -F web/babel.cfg -k _l -o web/translations/messages.pot web
	$(BIN)/pybabel -q update -N -i web/translations/messages.pot -d web/translations

run: venv assets translations
	$(BIN)/laksa init --demo
	$(BIN)/laksa serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Tests needing PostgreSQL/Redis read LAKSA_TEST_POSTGRES_URL / LAKSA_TEST_REDIS_URL and skip
# when they are unset (see `make services`).
test: lint assets translations
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/reads.py

services:
	@bash .ci/services.sh

clean:
	rm -rf $(VENV) instance web/node_modules web/static/vendor .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# A new Alembic revision from the difference between engine/models.py and the migrations.
migration: venv
	@test -n "$(MSG)" || (echo 'usage: make migration MSG="what changed"' && exit 2)
	rm -f $(VENV)/.migration.db
	$(BIN)/python -c 'from engine.migrate import upgrade; upgrade("sqlite:///$(VENV)/.migration.db")'
	$(BIN)/python -c 'from alembic import command; from engine.migrate import alembic_config; \
	    command.revision(alembic_config("sqlite:///$(VENV)/.migration.db"), message="$(MSG)", autogenerate=True)'
	rm -f $(VENV)/.migration.db
