# Two commands on a fresh machine with Python 3.11+:
#   make demo   set up .venv and run the demo (synthetic library -> train -> rank)
#   make test   set up .venv and run lint + the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint browser servers bench experiments realmusic clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	# the teacher's weights (musicnn's checkpoints; its own pins are for TF1, so none of its dependencies)
	$(BIN)/python -m pip install --quiet --no-deps musicnn==0.1.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pers-rec demo

lint: $(STAMP)
	$(BIN)/ruff check pers_rec synth experiments tests setup.py

# Two test processes (pytest-xdist), each test handed to whichever is free: the suite is part waiting (servers,
# subprocesses, a browser), so two processes use 2 cores better than one.
test: lint browser servers
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

# The development loop: everything but the end-to-end (slow) and browser tests. CI runs `make test`.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not slow and not browser"

# The map page is tested in a real headless browser: Debian's chromium (Playwright drives it; it downloads nothing).
# Installed here when missing and we may (root with apt-get); otherwise that test is skipped, and fails under CI.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	      echo "warning: could not install chromium: the map's browser test will not run"; \
	  else echo "note: no chromium (apt-get install chromium): the map's browser test is skipped"; fi

# The player integrations are tested against real servers the tests start on the loopback interface: Debian's
# supysonic (a Subsonic API server, run by waitress) and mpd. Installed here like chromium; skipped (failed under
# CI) when they cannot be.
servers:
	@if command -v supysonic-server >/dev/null 2>&1 && command -v mpd >/dev/null 2>&1 && \
	    /usr/bin/python3 -c "import waitress" 2>/dev/null; then :; \
	  elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq supysonic python3-waitress mpd \
	      >/dev/null) || echo "warning: could not install supysonic and mpd: the player tests will not run"; \
	  else echo "note: no supysonic/mpd (apt-get install supysonic python3-waitress mpd): player tests are skipped"; fi

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
