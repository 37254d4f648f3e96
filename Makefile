# Two commands matter: `make run` and `make test`. Both create .venv on first use and
# reinstall only when pyproject.toml changed (the stamp file records the last install).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format sandbox screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

sandbox: $(STAMP)
	$(BIN)/python main.py sandbox

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

screenshots: $(STAMP)
	xvfb-run -a $(BIN)/python -m tests.screenshots docs/screenshots
	xvfb-run -a $(BIN)/python -m tests.screenshots docs/screenshots/dark --theme dark

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
