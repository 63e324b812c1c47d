# Two commands do everything on a fresh clone: `make eval` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# An unpinned torch pulls a multi-GB CUDA build; this version has a CPU wheel on our machines.
TORCH_VERSION ?= 2.13.0
PRESET ?= default
comma := ,
TASKS ?= maze,prontoqa,prosqa
# METHODS=all: every method (these three, pause, icot, coconut, softcot); ablations: the replacement modes;
# all,ablations: every method in token_assorted/methods/.
METHODS ?= sol-only,cot,random-replace

# `make bench` trains the models it lacks on this preset (quick; run times: docs/benchmarks.md); BENCH_PRESET=default
# reuses the models `make eval` trained.
BENCH_PRESET ?= quick

.PHONY: install test test-fast eval smoke bench data clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(PY) -m pytest -q

# the suite without the tests marked slow (other processes, whole pipelines): for the edit-test loop; CI runs `make test`
test-fast: install
	$(PY) -m pytest -q -m "not slow"

eval: install
	$(PY) -m token_assorted.pipeline preset=$(PRESET) 'pipeline.tasks=[$(TASKS)]' 'pipeline.methods=[$(METHODS)]'

# the whole pipeline on one task at the quick preset's sizes: checks the plumbing in minutes, not learning
smoke: install
	$(PY) -m token_assorted.pipeline preset=quick 'pipeline.tasks=[prontoqa]'

bench: install
	$(PY) -m token_assorted.bench preset=$(BENCH_PRESET)

data: install
	for task in $(subst $(comma), ,$(TASKS)); do $(PY) -m token_assorted.generate_data task=$$task preset=$(PRESET) || exit 1; done

clean:
	rm -rf outputs data/*/ .pytest_cache
