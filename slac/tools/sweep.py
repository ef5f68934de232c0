"""`slac sweep`: a grid of runs (tasks x seeds) as Ray Tune trials, locally or on a cluster.

Each run is a trial (`tune.with_resources`: its CPUs and GPUs) that trains in its own run
directory under `<out>/runs/` and reports every evaluation to Tune (`tune.report`), so Tune's
progress table, `ExperimentAnalysis` and logger callbacks work. A trial whose worker dies
(preemption, OOM kill, SIGTERM) or whose run stops short of its steps fails and is retried up to
`--max-retries` times (`FailureConfig`), continuing from its run directory's latest checkpoint; a
`SlacError` (a bad config, a NaN loss) ends the trial at once, never retried. Tune's experiment
state lives in `<out>/tune`; running the same command again restores it
(`Tuner.restore(resume_errored=True)`): finished runs are not touched, and when every run is done
the command says so without starting Ray. `<out>` is made absolute;
on a cluster it must be on storage every node sees. Each run's output is in its `worker.log`,
and `slac sweep --status <out>` shows every run's progress.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from slac.common.files import write_text_atomic
from slac.config import Config
from slac.errors import SlacError

SWEEP_FILE = "sweep.json"
WORKER_LOG = "sweep_worker.jsonl"  # one line per attempt of a run: host, pid, env step it started from
WORKER_OUTPUT = "worker.log"  # a trial's stdout and stderr
EXPERIMENT = "tune"  # Tune's experiment folder inside <out>


def plan(tasks: list[str], seeds: list[int], out: Path, preset: str | None = None,
         overrides: dict[str, Any] | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0) -> list[dict]:
    """Every run's name, directory and validated config, before anything starts."""
    from slac.envs import check_task

    for task in tasks:
        check_task(task)
    runs = []
    for task in tasks:
        for seed in seeds:
            values = {**(overrides or {}), "seed": seed}
            if gpus_per_run and "device" not in values:
                values["device"] = "cuda"
            elif "device" not in values:
                values["device"] = "cpu"
            if "threads" not in values:
                values["threads"] = max(int(cpus_per_run), 1)  # one torch thread per reserved CPU
            config = Config.build(task=task, preset=preset, overrides=values)
            agent = config.model if config.agent == "slac" else config.agent
            name = f"{task.replace('/', '_')}-{agent}-s{seed}"
            runs.append({"name": name, "run_dir": str(out / "runs" / name), "config": config.to_dict()})
    return runs


def renderer_env(gpu_ids: list) -> dict[str, str]:
    """dm_control's EGL renders on `MUJOCO_EGL_DEVICE_ID`, not on CUDA_VISIBLE_DEVICES: point it at
    the trial's first GPU, or every run on a node would render on GPU 0."""
    return {"MUJOCO_EGL_DEVICE_ID": str(gpu_ids[0])} if gpu_ids else {}


def _trial(params: dict) -> None:
    """One run as a Tune trial: continue from its latest checkpoint, or start; report each evaluation."""
    import ray
    from ray import tune

    from slac.common.checkpoint import list_checkpoints
    from slac.run.checks import claim_run_dir

    spec = params["run"]
    run_dir = Path(spec["run_dir"])
    if not list_checkpoints(run_dir):  # a trial stopped before its first checkpoint starts again: its
        claim_run_dir(run_dir, overwrite=True)  # partial run is moved aside (never deleted), not mixed in
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(renderer_env(ray.get_gpu_ids()))
    with open(run_dir / WORKER_OUTPUT, "a", buffering=1) as output, \
            contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            result = _train(spec, run_dir, report=tune.report)
        except SlacError as error:  # not transient: fail now, no retry
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            print(message, file=output)
            tune.report({"slac_error": message})
            return
    if result["env_steps"] < spec["config"]["steps"]:  # stopped short (a signal): a failure Tune retries
        raise RuntimeError(f"{spec['name']} stopped at env step {result['env_steps']} of {spec['config']['steps']}")


def _train(spec: dict, run_dir: Path, report) -> dict:
    from slac.common.checkpoint import list_checkpoints
    from slac.run.trainer import SLAC

    steps = spec["config"]["steps"]
    if list_checkpoints(run_dir):
        run = SLAC.load(run_dir, steps=steps)
    else:
        run = SLAC(config=Config.from_dict(spec["config"]), run_dir=run_dir)
    with open(run_dir / WORKER_LOG, "a") as log:
        log.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(),
                              "resumed_from": run.progress.env_steps}) + "\n")
    try:
        if run.progress.env_steps < steps:
            run.learn(progress=False, callback=_ReportEvaluations(report))
        else:  # finished before: nothing to train
            report({"env_step": run.progress.env_steps, **run.last_eval})
    finally:
        run.close()
    return {"env_steps": run.progress.env_steps, "last_eval": run.last_eval}


class _ReportEvaluations:
    """Each evaluation's eval.csv row to Tune (`tune.report`)."""

    def __init__(self, report) -> None:
        self.report = report

    def on_evaluation(self, run, row: dict) -> None:
        self.report(dict(row))


def _finished(entry: dict, steps: int) -> bool:
    """A run the sweep record shows done at (or past) `steps` env steps: a rerun leaves it, without starting Ray."""
    return entry.get("state") == "done" and (entry.get("env_steps") or 0) >= steps


def _init_ray(address: str | None):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise SlacError("slac sweep needs Ray: pip install 'slac[sweep]' (or pip install 'ray[tune]')") from None
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    return ray


def sweep(tasks: list[str], seeds: list[int], out: str | Path, preset: str | None = None,
          overrides: dict[str, Any] | None = None, address: str | None = None, cpus_per_run: float = 1,
          gpus_per_run: float = 0, max_retries: int = 3, echo=print) -> dict:
    """Run the grid as Tune trials; returns the final sweep record (also in `<out>/sweep.json`)."""
    out = Path(out).expanduser().resolve()
    runs = plan(tasks, seeds, out, preset, overrides, cpus_per_run, gpus_per_run)
    previous = json.loads((out / SWEEP_FILE).read_text()) if (out / SWEEP_FILE).is_file() else None
    if previous and sorted(previous["runs"]) != sorted(r["name"] for r in runs):
        raise SlacError(f"{out} holds a sweep of other runs ({', '.join(sorted(previous['runs']))}); "
                        "give this grid its own --out")
    if previous and all(_finished(previous["runs"][r["name"]], r["config"]["steps"]) for r in runs):
        echo(f"sweep: all {len(runs)} runs in {out} are done; nothing to train")
        return previous
    out.mkdir(parents=True, exist_ok=True)
    record = {"tasks": tasks, "seeds": seeds, "preset": preset, "overrides": overrides or {}, "address": address,
              "runs": {r["name"]: {"run_dir": r["run_dir"], "steps": r["config"]["steps"], "state": "running"}
                       for r in runs}}
    _write(out, record)
    ray = _init_ray(address)
    try:
        from ray import tune

        trainable = tune.with_resources(_trial, {"cpu": cpus_per_run, "gpu": gpus_per_run})
        if tune.Tuner.can_restore(str(out / EXPERIMENT)):
            echo(f"sweep: continuing the sweep in {out} (finished runs are kept)")
            tuner = tune.Tuner.restore(str(out / EXPERIMENT), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space={"run": tune.grid_search(runs)},
                run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(out), verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=max_retries)))
        echo(f"sweep: {len(runs)} runs on Ray Tune ({ray.cluster_resources().get('CPU', 0):.0f} CPUs); status: "
             f"slac sweep --status {out}")
        results = tuner.fit()
    finally:
        ray.shutdown()
    for result in results:
        name = result.config["run"]["name"]
        metrics = result.metrics or {}
        error = metrics.get("slac_error") or (f"{type(result.error).__name__}: {result.error}".splitlines()[0]
                                              if result.error else None)
        entry = record["runs"][name]
        if error:
            entry.update(state="failed", error=error)
            echo(f"  failed {name}: {error}")
        else:
            last_eval = {k: metrics[k] for k in ("return_stochastic", "return_deterministic") if k in metrics}
            entry.update(state="done", env_steps=metrics.get("env_step"), last_eval=last_eval)
            echo(f"  done   {name}: env step {metrics.get('env_step')}, eval return "
                 f"{last_eval.get('return_stochastic', float('nan')):.2f}")
    _write(out, record)
    return record


def status(out: str | Path) -> list[dict]:
    """Each run of a sweep: its state, env steps done (from eval.csv) out of its total, last eval return."""
    from slac.run.logging import read_csv

    path = Path(out) / SWEEP_FILE
    if not path.is_file():
        raise SlacError(f"{out} is not a sweep directory (no {SWEEP_FILE})")
    record = json.loads(path.read_text())
    rows = []
    for name, run in record["runs"].items():
        evals = read_csv(Path(run["run_dir"]) / "eval.csv") if (Path(run["run_dir"]) / "eval.csv").is_file() else []
        log = Path(run["run_dir"]) / WORKER_LOG
        attempts = len(log.read_text().splitlines()) if log.is_file() else 0
        state = "queued" if run["state"] == "running" and attempts == 0 else run["state"]
        rows.append({"name": name, "state": state, "env_steps": int(evals[-1]["env_step"]) if evals else 0,
                     "steps": run["steps"], "return": evals[-1]["return_stochastic"] if evals else None,
                     "attempts": attempts, "error": run.get("error")})
    return rows


def format_status(rows: list[dict]) -> str:
    lines = [f"{'run':40s} {'state':8s} {'env steps':>21s} {'eval return':>12s} attempts"]
    for r in rows:
        ret = "-" if r["return"] is None else f"{r['return']:.2f}"
        progress = f"{r['env_steps']}/{r['steps']} ({100 * r['env_steps'] / r['steps']:.0f}%)"
        lines.append(f"{r['name']:40s} {r['state']:8s} {progress:>21s} {ret:>12s} {r['attempts']}"
                     + (f"  {r['error']}" if r["error"] else ""))
    done = sum(r["state"] == "done" for r in rows)
    lines.append(f"{done}/{len(rows)} runs done")
    return "\n".join(lines)


def _write(out: Path, record: dict) -> None:
    write_text_atomic(out / SWEEP_FILE, json.dumps(record, indent=2) + "\n")
