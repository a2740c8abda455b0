# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The dashboard's own address (OAuth callback, webhook URLs, the sandbox, the login URL) follows
# HOST and PORT, unless SITE_URL is set in the environment, on the command line or in .env.
# A wildcard listen address is reached at 127.0.0.1.
SITE_HOST = $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
ifeq ($(origin SITE_URL),undefined)
ifeq ($(shell grep -s -E '^[[:space:]]*(export[[:space:]]+)?SITE_URL[[:space:]]*=' .env),)
SITE_URL := http://$(SITE_HOST):$(PORT)
endif
endif
SITE_ENV = $(if $(SITE_URL),SITE_URL='$(SITE_URL)' )

.DEFAULT_GOAL := help
.PHONY: help run test test-postgres lint format bench install install-dev clean

## List the targets and the variables they read
help:
	@echo "Targets:"
	@awk '/^## /{doc=substr($$0,4); next} /^[a-z-]+:/{if(doc){split($$0,t,":"); printf "  make %-14s %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)
	@echo "Variables (make run HOST=0.0.0.0 PORT=8123):"
	@echo "  HOST        address runserver listens on (default 127.0.0.1; 0.0.0.0 for all interfaces)"
	@echo "  PORT        port (default 8000)"
	@echo "  SITE_URL    the dashboard's address; default http://HOST:PORT (now: $(or $(SITE_URL),from .env))"
	@echo "  PYTEST_ARGS extra pytest arguments for make test, e.g. PYTEST_ARGS='tests/test_payload.py -n 0'"
	@echo "  DATABASE_URL  e.g. postgres://user@host:5432/name (default: SQLite db.sqlite3)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

## Create .venv with the project
install: $(VENV)/.installed
## Create .venv with the project and the test tools
install-dev: $(VENV)/.installed-dev

## Serve the whole product (dashboard + sandbox) at http://HOST:PORT, with a task worker, the forwarder and the scheduler
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(SITE_ENV)$(BIN)/python manage.py ensure_operator
	@# The Procfile's processes (web, worker, forwarder, scheduler) run together; one Ctrl-C stops them all,
	@# quietly (honcho then exits 130: the operator's choice, not an error).
	$(SITE_ENV)PATH="$(abspath $(BIN)):$$PATH" HOST='$(HOST)' PORT='$(PORT)' $(BIN)/honcho start \
		|| { status=$$?; [ $$status -eq 130 ] || exit $$status; }

## Run the whole test suite (unit, integration over HTTP, browser)
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The same suite against the local PostgreSQL server
test-postgres: $(VENV)/.installed-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ce_dashboard} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks on PostgreSQL (small → large data, load run with wrk): printed, not pass/fail
bench: $(VENV)/.installed-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ce_dashboard_bench} \
		BENCH=1 BENCH_SCALE=$${BENCH_SCALE:-1} $(BIN)/python -m pytest tests/benchmarks -p no:xdist -o addopts="" -q -s

## Check style (ruff)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Format and fix style (ruff)
format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Remove the virtualenv, databases and caches
clean:
	rm -rf $(VENV) db.sqlite3* test-db*.sqlite3* staticfiles .pytest_cache .ruff_cache
