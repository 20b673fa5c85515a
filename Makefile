# One command to run the app, one to run the tests; each sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
# The development copy of FER2013 beside the checkout, when there is one (never committed).
export FER2013_PATH ?= $(wildcard $(CURDIR)/../shared/data/fer2013/fer2013_dev.csv.gz)
# Its FER+ votes, aligned row by row with that copy (Kaggle's fer2013.csv gets the shipped vendor/ferplus/ file instead).
export FERPLUS_PATH ?= $(wildcard $(CURDIR)/../shared/data/ferplus/ferplus_dev.csv.gz)

.PHONY: run test test-fast lint browser-deps clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT)

browser-deps:
	bash scripts/ensure_chromium.sh

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) browser-deps lint
	$(PY) -m pytest -q

test-fast: $(STAMP) lint
	$(PY) -m pytest -q -m "not browser and not slow"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache data/.cache test-artifacts
