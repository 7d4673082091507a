# Tether: `make run` serves the demos on http://127.0.0.1:8000; `make test` checks everything.
# Both install what is missing first: the Python venv, Debian packages, the browser app.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` needs the package and what it imports; tests, lint and the bench
# also need the [dev] extras (pytest, mypy, ruff, httpx, playwright) and [ray] (the Ray
# executor's tests start a local Ray head).
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FRONTEND_SOURCES := $(shell [ -d frontend ] && find frontend/src frontend/index.html frontend/package.json frontend/package-lock.json frontend/vite.config.ts frontend/tsconfig.json -type f 2>/dev/null)
NODE_MODULES := frontend/node_modules/.installed
# The local OpenID provider the login tests start (tests/support/oidc, oidc-provider).
OIDC_MODULES := tests/support/oidc/node_modules/.installed

.PHONY: run test lint typecheck pytest frontend-test bench mutation system-deps frontend clean help

help:
	@echo "make run    - serve the demo tasks on http://127.0.0.1:8000 (TETHER_REDIS_URL for Redis)"
	@echo "make test   - ruff, mypy --strict and every test (installs what is missing)"
	@echo "make bench  - throughput (10 tabs and 1), replay, answer round trip, memory per socket, many sessions, starts, answers under load, beside the peers"
	@echo "make mutation - mutation testing of the replay core, leases, stores and fan-out (slow)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): backend/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e backend
	@touch $@

$(STAMP): backend/pyproject.toml $(RUN_STAMP)
	$(BIN)/pip install --quiet -e "backend[dev,ray]"
	@touch $@

system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v caddy >/dev/null || missing="$$missing caddy"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The browser app's packages, exactly as package-lock.json pins them.
$(NODE_MODULES): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(OIDC_MODULES): tests/support/oidc/package-lock.json
	cd tests/support/oidc && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser app's production build, rebuilt when a source file is newer than it.
frontend/dist/index.html: $(NODE_MODULES) $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

frontend: $(if $(wildcard frontend/package.json),frontend/dist/index.html,)

# The app's unit tests (vitest), and the check that src/protocol/generated.ts matches
# the hub's message models.
frontend-test: $(STAMP) $(NODE_MODULES)
	cd frontend && npm test --silent

run: $(RUN_STAMP) frontend
	$(BIN)/tether serve --host "$${TETHER_HOST:-127.0.0.1}" --port "$${TETHER_PORT:-8000}"

lint: $(STAMP)
	$(BIN)/ruff check backend tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps frontend $(OIDC_MODULES)
	$(BIN)/pytest -q

test: lint typecheck frontend-test pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

# Mutation testing of the durable core (slow: tens of minutes; not part of `make test`).
# MODULES picks configs from .ci/mutation/*.toml; docs/MUTATION.md has the figures.
MODULES ?= replay leases memory fanout
mutation: $(STAMP) system-deps
	$(BIN)/pip install --quiet -e "backend[mutation]"
	for m in $(MODULES); do bash .ci/mutation/run.sh $$m || exit 1; done

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist tests/support/oidc/node_modules
