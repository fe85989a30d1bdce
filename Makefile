# Two commands set everything up on a fresh machine:
#   make run   - install into .venv and serve the demo instance (SQLite) with credentials printed
#   make test  - install the test dependencies and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
DB ?= demo.db
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

run: install
	$(BIN)/tansiq --database $(DB) demo --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -n 2 -q tests
	$(BIN)/ruff check tansiq tests bench
	$(BIN)/mypy

lint: install-test
	$(BIN)/ruff check tansiq tests bench
	$(BIN)/ruff format --check tansiq tests bench
	$(BIN)/mypy

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
