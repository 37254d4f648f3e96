# Two commands matter: `make run` and `make test`. Both create .venv on first use and
# reinstall only when pyproject.toml changed (the stamp file records the last install).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format sandbox screenshots bench-reference clean

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

# Akinon's reference channel app in a virtual environment of its own, for
# `python -m tests.benchmarks.versus_reference` (redis, python-dotenv and celery are
# imported by it without being declared).
bench-reference:
	test -x .venv-reference/bin/python || $(PYTHON) -m venv .venv-reference
	.venv-reference/bin/python -m pip install --quiet channel-app==0.0.155 omnisdk==0.0.103 \
		redis==8.1.0 python-dotenv==1.2.4 celery==5.7.0

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
