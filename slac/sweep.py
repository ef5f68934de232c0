"""`slac sweep`: a grid of runs (tasks x seeds) on Ray, locally or on a cluster.

Each run is a Ray task that trains in its own run directory under `<out>/runs/`, resuming from
the directory's latest checkpoint when there is one: a worker that dies (preemption, OOM kill)
is retried by Ray and continues from its last checkpoint, and re-running the same `slac sweep`
command continues an interrupted sweep. `<out>/sweep.json` records the grid and the state of
every run; `slac sweep --status <out>` reads it with each run's progress. On a cluster, `<out>`
must be on storage every node sees.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from slac.config import Config
from slac.errors import SlacError

SWEEP_FILE = "sweep.json"
WORKER_LOG = "sweep_worker.jsonl"  # one line per attempt of a run: host, pid, env step it started from


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
            name = f"{task.replace('/', '_')}-{config.model}-s{seed}"
            runs.append({"name": name, "run_dir": str(out / "runs" / name), "config": config.to_dict()})
    return runs


def _train_one(config: dict, run_dir: str) -> dict:
    """One run, inside a Ray worker: continue from the latest checkpoint, or start."""
    from slac.checkpoint import list_checkpoints
    from slac.trainer import SLAC

    if list_checkpoints(run_dir):
        run = SLAC.load(run_dir, steps=config["steps"])
    else:
        run = SLAC(config=Config.from_dict(config), run_dir=run_dir)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(run_dir) / WORKER_LOG, "a") as log:
        log.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(),
                              "resumed_from": run.counters["env_steps"]}) + "\n")
    run.learn(progress=False)
    run.close()
    return {"env_steps": run.counters["env_steps"], "last_eval": run.last_eval}


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
    """Run the grid on Ray; returns the final sweep record (also in `<out>/sweep.json`)."""
    out = Path(out)
    runs = plan(tasks, seeds, out, preset, overrides, cpus_per_run, gpus_per_run)
    out.mkdir(parents=True, exist_ok=True)
    record = {"tasks": tasks, "seeds": seeds, "preset": preset, "overrides": overrides or {}, "address": address,
              "runs": {r["name"]: {"run_dir": r["run_dir"], "steps": r["config"]["steps"], "state": "pending"}
                       for r in runs}}
    _write(out, record)
    ray = _init_ray(address)
    try:
        remote = ray.remote(_train_one).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run,
                                                max_retries=max_retries, retry_exceptions=True)
        pending = {remote.remote(r["config"], r["run_dir"]): r["name"] for r in runs}
        for name in pending.values():
            record["runs"][name]["state"] = "running"
        _write(out, record)
        echo(f"sweep: {len(runs)} runs on Ray ({ray.cluster_resources().get('CPU', 0):.0f} CPUs); status: "
             f"slac sweep --status {out}")
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            name = pending.pop(done[0])
            try:
                result = ray.get(done[0])
                record["runs"][name].update(state="done", env_steps=result["env_steps"], last_eval=result["last_eval"])
                echo(f"  done   {name}: env step {result['env_steps']}, eval return "
                     f"{result['last_eval'].get('return_stochastic', float('nan')):.2f}")
            except Exception as error:  # the task failed after its retries
                cause = getattr(error, "cause", None) or error  # a RayTaskError wraps the run's own exception
                record["runs"][name].update(state="failed", error=f"{type(cause).__name__}: {cause}".splitlines()[0])
                echo(f"  failed {name}: {record['runs'][name]['error']}")
            _write(out, record)
    finally:
        ray.shutdown()
    return record


def status(out: str | Path) -> list[dict]:
    """Each run of a sweep: its state, env steps done (from eval.csv) out of its total, last eval return."""
    from slac.logging import read_csv

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
    tmp = out / (SWEEP_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, out / SWEEP_FILE)
