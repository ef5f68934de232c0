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

test: system-deps lint  # lint: the package, its tests, benchmarks and studies
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q  # the site: a broken link, page or docstring fails here
	$(PY) -m pytest -n 2 --dist worksteal --durations=15  # two workers on the 2 cores (tests/conftest.py: one thread each); the 15 longest tests listed

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# The functions behind the reported numbers (mutmut's names): statistics, the authors' reference,
# the returns and aggregate tables, slac compare's tables and ranks (not its drawing), the drift
# probe, the model card and the ONNX check.
MUTANTS := 'slac.tools.stats.*' 'slac.tools.reference.*' 'slac.run.drift.*' \
	$(foreach f,read_run independent_runs reference_curve compare inside_range rank_among mann_whitney_u \
	  _k _stopped _status run_table rank_summary summary_table report,'slac.tools.compare.x_$(f)__mutmut_*') \
	$(foreach f,read_config variant_of group_runs runs_of_seeds metric_source seed_curves common_values \
	  seed_values seed_tails band _paper _at _cell _milestone_cell returns_table aggregate_table write_tables,'slac.tools.plot.x_$(f)__mutmut_*') \
	'slac.run.deploy.x_write_model_card__mutmut_*' 'slac.run.deploy.x__how_to_act__mutmut_*' \
	'slac.policy.export.x_check_onnx_export__mutmut_*'

mutate: $(VENV)/.installed  # mutation testing of the code behind the reported numbers (docs/testing.md); not part of make test
	$(PY) -m pip install -q -c constraints.txt -e '.[mutate]'
	rm -rf mutants/.fixtures && mkdir -p mutants  # the runs the tests read, built again by this code
	$(VENV)/bin/mutmut run --max-children 2 $(MUTANTS) > mutants/run.log 2>&1 || { tail -n 40 mutants/run.log; exit 1; }
	tr '\r' '\n' < mutants/run.log | grep -a '/[0-9]*  🎉' | tail -n 1  # tried, killed, no tests, timeout, ..., survived
	$(VENV)/bin/mutmut results | grep -v ": not checked" || true  # the survivors (docs/testing.md: the equivalent ones)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check -q slac tests benchmarks scripts examples

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_env.py
	$(PY) benchmarks/bench_replay.py

clean:
	rm -rf $(VENV) build *.egg-info
