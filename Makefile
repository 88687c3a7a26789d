# The README's commands. Python 3.11+, Node.js 20 with npm, and make are needed: uv is bootstrapped when
# missing; npm installs the Node packages of package.json (the official livechat widget, and the JavaScript
# SDK the tests use) into node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(BIN)/uv)
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.omnihook-installed

.PHONY: run test lint typecheck pytest bench lock install clean chromium node

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@command -v uv >/dev/null 2>&1 || test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(UV) pip install -q --python $(BIN)/python -r requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# package.json pins exact versions; no lock is kept (it would record download addresses), so npm resolves
# the packages' own dependencies when node_modules is missing or package.json is newer than the last install.
$(NODE_STAMP): package.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "omnihook needs Node.js 20 and npm (the livechat widget is an npm package). Run:  sudo apt-get install -y nodejs npm   then make again." >&2; exit 1; }
	npm install --no-audit --no-fund --no-package-lock --ignore-scripts
	@touch $(NODE_STAMP)

node: $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

## Start the server on the embedded default (SQLite file ./omnihook.db) at http://127.0.0.1:3000
run: $(STAMP) $(NODE_STAMP)
	$(BIN)/omnihook serve

## Lint, type-check and run the whole suite on SQLite and on PostgreSQL (and the browser tests in Chromium)
test: $(STAMP) $(NODE_STAMP) chromium
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m tests.require_postgres
	$(BIN)/pytest -q

# The browser tests drive the system's Chromium (Playwright never downloads one): installed here when
# apt-get can (as root), otherwise the exact command to run is printed and the tests do not start.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests (apt-get install chromium)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium. Run:  sudo apt-get install -y chromium   then make test again." >&2; exit 1; \
	  fi; }

bench: $(STAMP)
	$(BIN)/python -m bench

## Re-pin the dependencies after editing pyproject.toml
lock:
	$(UV) pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11 -q

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
