# `make quickstart`: set up .venv (if missing) and train AdaptSign on synthetic data.
# `make test`:       set up .venv (if missing), install sclite (the WER oracle), lint, run the
#                    tests except the long learning runs (marked `slow`).
# `make test-all`:   the same with the slow tests too (what CI runs).
PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.mmsign-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup quickstart test test-all lint sclite

$(SETUP_STAMP): setup.py requirements/runtime.txt requirements/tests.txt \
		requirements/optional.txt requirements/mmcv.txt requirements/constraints.txt
	[ -x $(PY) ] || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install -e ".[mmcv-lite,tests,optional]" -c requirements/constraints.txt
	touch $@

setup: $(SETUP_STAMP)

sclite:
	@[ -x /usr/lib/sctk/bin/sclite ] || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq sctk; }

quickstart: setup
	$(PY) tools/train.py configs/adaptsign_synthetic.py

lint: setup
	$(VENV)/bin/ruff check .

test: setup sclite lint
	$(PY) -m pytest -m "not slow"

test-all: setup sclite lint
	$(PY) -m pytest
