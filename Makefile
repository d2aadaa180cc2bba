# `make quickstart`: set up .venv (if missing) and train AdaptSign on synthetic data.
# `make test`:       set up .venv (if missing), install the Debian tools the tests need
#                    (`make test-tools`), lint, run the tests except the long learning runs
#                    (marked `slow`).
# `make test-all`:   the same with the slow tests too (what CI runs).
PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.mmsign-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup quickstart test test-all lint sclite test-tools

$(SETUP_STAMP): setup.py requirements/runtime.txt requirements/tests.txt \
		requirements/optional.txt requirements/mmcv.txt requirements/constraints.txt
	[ -x $(PY) ] || $(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install -e ".[mmcv-lite,tests,optional]" -c requirements/constraints.txt
	touch $@

setup: $(SETUP_STAMP)

# Debian packages the tests need, as `program:package`: sclite (the WER oracle), chromium
# and its driver (the web demo's browser test). Only the missing ones are installed.
SCLITE_TOOL := /usr/lib/sctk/bin/sclite:sctk
BROWSER_TOOLS := /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver
apt_install_missing = missing=$$(for t in $(1); do [ -x "$${t%%:*}" ] || echo "$${t\#*:}"; \
	done); [ -z "$$missing" ] || { echo "installing Debian packages:" $$missing; \
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; }

sclite:
	@$(call apt_install_missing,$(SCLITE_TOOL))

test-tools:
	@$(call apt_install_missing,$(SCLITE_TOOL) $(BROWSER_TOOLS))

quickstart: setup
	$(PY) tools/train.py configs/adaptsign_synthetic.py

lint: setup
	$(VENV)/bin/ruff check .

test: setup test-tools lint
	$(PY) -m pytest -m "not slow"

test-all: setup test-tools lint
	$(PY) -m pytest
