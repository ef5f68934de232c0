"""Research tools around runs: learning-curve plots and tables (`plot.py`), interval estimates
(`stats.py`), the authors' published curves (`reference.py`, data in `data/`), sweeps on Ray
Tune (`sweep.py`), `slac reproduce` (`reproduce.py`), `slac bench` (`bench.py`) and `slac compare`,
runs beside the authors' ten (`compare.py`). May import
run and everything below it; only cli imports tools."""
