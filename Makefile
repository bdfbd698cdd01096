# rnnkit: `make test` and (later) `make train` set up everything they need from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of this torch lies on the build machines' disk; install it before
# anything else so no dependency pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: test install clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 tests

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
