"""A run: the `SLAC` class (`trainer.py`) and the loop of Algorithm 1 it runs (`loop.py`), evaluation episodes
(`evaluation.py`), a run's state in a checkpoint and back (`state.py`), disk and memory checks
(`checks.py`), metrics.csv / eval.csv / TensorBoard (`logging.py`), Weights & Biases
(`tracking.py`), callbacks (`callbacks.py`), the drift probe (`drift.py`), videos and model rollout
pictures (`visualize.py`), exporting a run's policy and its model card (`deploy.py`), copying a run
as it stood at a checkpoint (`fork.py`), the plan a `learn` call announces (`plan.py`) and the run's typed progress
(`progress.py`). May
import policy, agents, models, replay, envs, common, config and errors; never tools or cli."""
