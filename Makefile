# Tether: `make run` serves the demos on http://127.0.0.1:8000; `make test` checks everything.
# Both install what is missing first: the Python venv, Debian packages, the browser app.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FRONTEND_SOURCES := $(shell [ -d frontend ] && find frontend/src frontend/index.html frontend/package.json frontend/package-lock.json frontend/vite.config.ts frontend/tsconfig.json -type f 2>/dev/null)
NODE_MODULES := frontend/node_modules/.installed

.PHONY: run test lint typecheck pytest frontend-test bench mutation system-deps frontend clean help

help:
	@echo "make run    - serve the demo tasks on http://127.0.0.1:8000 (TETHER_REDIS_URL for Redis)"
	@echo "make test   - ruff, mypy --strict and every test (installs what is missing)"
	@echo "make bench  - throughput, replay latency and memory per socket, beside the peers"
	@echo "make mutation - cosmic-ray over leases, fan-out and the memory store (slow; not in make test)"

$(STAMP): backend/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e "backend[dev]"
	@touch $@

system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The browser app's packages, exactly as package-lock.json pins them.
$(NODE_MODULES): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
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

run: $(STAMP) frontend
	$(BIN)/tether serve --host "$${TETHER_HOST:-127.0.0.1}" --port "$${TETHER_PORT:-8000}"

lint: $(STAMP)
	$(BIN)/ruff check backend tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps frontend
	$(BIN)/pytest -q

test: lint typecheck frontend-test pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

# Mutation testing (docs/MUTATION.md): one module at a time, MODULES="leases" for one.
# Slow (about 10-25 minutes a module on two cores) and not part of `make test`.
MODULES ?= leases fanout memory
mutation: $(STAMP) system-deps
	$(BIN)/pip install --quiet "cosmic-ray==8.7.0"
	@for m in $(MODULES); do .ci/mutation/run.sh $$m || exit 1; done

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist
