# Two commands on a fresh machine with Python 3.11+:
#   make demo   set up .venv and run the demo (synthetic library -> train -> rank)
#   make test   set up .venv and run lint + the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench experiments realmusic clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pers-rec demo

lint: $(STAMP)
	$(BIN)/ruff check pers_rec synth experiments tests setup.py

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m experiments.bench_features
	$(BIN)/python -m experiments.bench_synth
	$(BIN)/python -m experiments.bench_scoring

realmusic: $(STAMP)
	$(BIN)/python -m experiments.realmusic

experiments: $(STAMP)
	$(BIN)/python -m experiments all

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
