# The two commands: `make train` (set up .venv, run the quickstart) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl

.PHONY: train test docs mutate lint bench system-deps clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "slac needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,sweep,wandb,export,atari,docs]'
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

train: system-deps $(VENV)/.installed
	$(VENV)/bin/slac quickstart

test: system-deps $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q  # the site: a broken link, page or docstring fails here
	$(PY) -m pytest -n 2 --dist worksteal --durations=15  # two workers on the 2 cores (tests/conftest.py: one thread each); the 15 longest tests listed

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

mutate: $(VENV)/.installed  # mutation testing of the code behind the reported numbers (docs/testing.md); not part of make test
	$(PY) -m pip install -q -c constraints.txt -e '.[mutate]'
	cd $(CURDIR) && $(VENV)/bin/mutmut run --max-children 2; $(VENV)/bin/mutmut results

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check slac tests benchmarks scripts examples

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_env.py
	$(PY) benchmarks/bench_replay.py

clean:
	rm -rf $(VENV) build *.egg-info
