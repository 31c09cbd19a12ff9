# Legato: the two commands are `make run` and `make test`. Both build their own
# virtual environment (.venv) from pyproject.toml; nothing installed by hand is used.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: set up, migrate, load the demo data, print an API key, serve on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/legato demo
	$(BIN)/legato serve

## test: lint, type-check, layer contracts, then the whole suite (SQLite always;
## PostgreSQL too when LEGATO_TEST_POSTGRES_URL is set, as .ci/run does)
test: $(STAMP) lint chromium
	$(BIN)/pytest

## chromium: the browser tests drive Debian's Chromium (never a browser a tool downloads);
## installed with apt when it is missing (as root, or through sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

## bench: every performance figure, as a ratio to the raw floor
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
