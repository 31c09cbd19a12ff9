# Legato: the two commands are `make run` and `make test`. Both build their own
# virtual environment (.venv) from pyproject.toml; nothing installed by hand is used.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

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
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

## bench: every performance figure, as a ratio to the raw floor
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
