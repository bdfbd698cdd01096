# rnnkit: `make test` and `make train` set up everything they need from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of this torch lies on the build machines' disk; install it before
# anything else so no dependency pulls a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: test train install clean

# `make train`: a character-level LSTM on the bundled Shakespeare for about 2 minutes
# (--overwrite: a second `make train` replaces the first run's checkpoints instead of refusing).
# One thread: on the shared 2-core build machine a step took 123 ms with one thread, 1426 ms with two.
TRAIN_OUT   ?= runs/shakespeare-char
TRAIN_FLAGS ?= --task lm --tokens char --cell lstm --hidden-size 256 --lr 0.003 \
               --max-minutes 2 --steps 1000000 --threads 1 --no-tensorboard --overwrite

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# The fused CPU kernels compile once per machine into torch's extension cache (about a
# minute each, two at a time on 2 cores); building them here keeps that out of the first test or training step.
KERNELS := $(wildcard src/rnnkit/kernels/fused/*.cpp src/rnnkit/kernels/fused/*.h)
$(VENV)/.kernels: $(VENV)/.installed $(KERNELS)
	$(PY) -m rnnkit.kernels.fused
	touch $@

install: $(VENV)/.kernels

test: $(VENV)/.kernels
	$(PY) -m pytest -n 2 tests

train: $(VENV)/.kernels
	$(PY) -m rnnkit train $(TRAIN_FLAGS) --out $(TRAIN_OUT)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
