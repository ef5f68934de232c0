"""The `slac` command: train, eval, visualize, export, fork, quickstart, reproduce, compare, plot, bench,
sweep, tasks, presets (`slac COMMAND --help` for each)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from slac.errors import SlacError, SlacWarning

_python_show_warning = warnings.showwarning


# The Config fields `slac train` takes as flags (`--init-steps N`); every other field is `key=value`. A
# flag's help is the field's own documentation (slac.config.field_docs). FLAG_NAMES: flags not named
# after their field.
TRAIN_FLAGS = ("agent", "seed", "steps", "device", "run_dir", "init_steps", "pretrain_steps", "model", "actor_input",
               "critic_input", "updates_per_step", "decoder_var", "augment", "eval_video", "wandb_project", "wandb_entity")
FLAG_NAMES = {"wandb_project": "wandb"}


def _train_parser(sub) -> None:
    from dataclasses import fields

    from slac.config import Config, field_docs

    p = sub.add_parser("train", help="train SLAC (or a SAC baseline) on a task (or continue a run with --resume)")
    p.add_argument("--task", help="suite/name, see `slac tasks` (default: the config's, dmc/cheetah-run)")
    docs, types = field_docs(), {f.name: f.type for f in fields(Config)}
    for name in TRAIN_FLAGS:
        flag = "--" + FLAG_NAMES.get(name, name).replace("_", "-")
        help_text = docs.get(name, "").replace("%", "%%")
        if types[name] in ("bool", bool):
            p.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(types[name]), str)
            p.add_argument(flag, dest=name, type=kind, help=help_text)
    p.add_argument("--preset", help="named preset: paper, small, quickstart (`slac presets`)")
    p.add_argument("--config", help="YAML or JSON file of config keys")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="--run-dir already holds a run: move it aside to RUN_DIR.replaced-<time> (never deleted)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="any Config field, e.g. decoder_var=0.4")


def _agent_argument(p) -> None:
    p.add_argument("--agent", choices=["slac", "sac-state", "sac-pixels"],
                   help="slac (default), or the paper's baselines: SAC on the true state, SAC on 4 stacked frames")


def _overrides(args) -> dict:
    """`slac train`'s flags and key=value overrides as one dict of Config fields."""
    from slac.config import parse_overrides

    values = parse_overrides(args.overrides)
    values.update({name: getattr(args, name) for name in TRAIN_FLAGS if getattr(args, name) is not None})
    return values


def cmd_train(args) -> int:
    from slac.config import Config
    from slac.run.trainer import SLAC

    overrides = _overrides(args)
    if args.resume:
        if args.task or args.config or args.preset:
            raise SlacError("--resume continues a run with its own config; give only --steps, --device or key=value")
        if args.overwrite:
            raise SlacError("--overwrite starts a new run in --run-dir; --resume continues the one in RUN_DIR: give one")
        run = SLAC.load(args.resume, **overrides)
        print(f"resuming {args.resume} at env step {run.progress.env_steps}", file=sys.stderr)
    else:
        config = Config.build(task=args.task, preset=args.preset, file=args.config, overrides=overrides)
        run = SLAC(config=config, on_existing="move" if args.overwrite else "refuse")
    print(f"run directory: {run.run_dir}", file=sys.stderr)
    _record_command(run.run_dir, args.argv)
    try:
        run.learn(progress=not args.no_progress, announce=True)
    finally:
        run.close()
    _print_eval(run)
    if run.interrupted:
        print(f"stopped; checkpoint written. Continue with: slac train --resume {run.run_dir}", file=sys.stderr)
        return 130
    return 0


def _record_command(run_dir: Path, argv: list[str]) -> None:
    """Append the command line to the run's commands.txt (what a model card says trained it)."""
    import shlex

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "commands.txt", "a") as handle:
        handle.write(shlex.join(["slac", *argv]) + "\n")


def _print_eval(run) -> None:
    """The run's last evaluation, at the env step it was made (a stopped run may have gone past it)."""
    if run.last_eval:
        e, p = run.last_eval, run.progress
        where = f"last evaluation, at env step {p.last_eval_step:,}"
        if p.env_steps != p.last_eval_step:
            where += f" (the run stopped at {p.env_steps:,})"
        print(f"{where}: return {e['return_stochastic']:.2f} +- {e['return_stochastic_std']:.2f} (stochastic), "
              f"{e['return_deterministic']:.2f} (deterministic)")


def cmd_eval(args) -> int:
    import numpy as np

    from slac.run.trainer import SLAC

    run = SLAC.load(args.run_dir, device=args.device, replay=False, checkpoint=args.checkpoint)
    if args.video and run.config.agent == "sac-state":
        raise SlacError(f"{args.run_dir} trained sac-state, which sees no frames: there is no input to record")
    frames: list | None = [] if args.video else None
    returns = run.evaluate(args.episodes, deterministic=args.deterministic, record=frames,
                           view_size=args.side_by_side or None)
    mode = "deterministic" if args.deterministic else "stochastic"
    print(json.dumps({"run": str(args.run_dir), "checkpoint": str(run.checkpoint), "env_step": run.progress.env_steps,
                      "policy": mode, "episodes": args.episodes,
                      "return_mean": float(np.mean(returns)), "return_std": float(np.std(returns)),
                      "returns": [round(float(r), 3) for r in returns]}))
    if args.video:
        from slac.run.visualize import write_video

        write_video(args.video, frames, fps=args.fps, scale=1 if args.side_by_side else 4)
        print(f"video: {args.video} ({len(frames)} frames)", file=sys.stderr)
    run.close()
    return 0


def cmd_visualize(args) -> int:
    from slac.run.trainer import SLAC
    from slac.run.visualize import save_rollouts

    if not args.out.endswith((".png", ".gif")):
        raise SlacError(f"--out {args.out}: write a .png (grid) or a .gif (animation)")
    run = SLAC.load(args.run_dir, device=args.device, replay=False, checkpoint=args.checkpoint)
    if not run.agent.has_model:
        raise SlacError(f"{args.run_dir} trained agent {run.config.agent}, which has no latent model to visualise")
    episodes = run.rollouts(args.episodes, args.steps)
    out = save_rollouts(args.out, episodes, fps=args.fps)
    run.close()
    print(f"{out}: {len(episodes)} episode(s) x {len(episodes[0][0])} frames; rows: ground truth, posterior, "
          "prior given frame 1, prior only")
    return 0


def cmd_export(args) -> int:
    from slac.policy.export import ONNX_TOLERANCE, check_onnx_export
    from slac.run.deploy import export_run
    from slac.run.trainer import SLAC

    if args.check and args.format != "onnx":
        raise SlacError("--check compares an ONNX graph with PyTorch: it goes with --format onnx")
    run = SLAC.load(args.run_dir, device="cpu", replay=False, checkpoint=args.checkpoint)
    try:
        out = export_run(run, args.out, args.format, card=args.card, opset=args.opset)
        if args.check:
            difference = check_onnx_export(run.agent, out)
            print(f"check: ONNX Runtime's actions differ from PyTorch's by at most {difference:.2g} "
                  f"(tolerance {ONNX_TOLERANCE:g})")
    finally:
        run.close()
    use = ("act with it in ONNX Runtime (examples/act_onnx.py)" if args.format == "onnx"
           else f"load it with slac.load_policy({str(out)!r})")
    print(f"{out}: policy of {args.run_dir} at env step {run.progress.env_steps} "
          f"({out.stat().st_size / 2**20:.1f} MB); {use}" + (f"; model card {out.parent / 'README.md'}" if args.card else ""))
    return 0


def cmd_fork(args) -> int:
    from slac.run.fork import fork_run

    checkpoint = fork_run(args.run_dir, args.out, args.at)
    print(f"{args.out}: {args.run_dir} as it stood at env step {args.at} ({checkpoint.name}). Continue it with: "
          f"slac train --resume {args.out} [key=value ...]  (the overrides are the fork's only difference)")
    return 0


def cmd_quickstart(args) -> int:
    """SLAC on toy/reach with small networks; compares with a random policy; writes a curve."""
    import time

    from slac.run.trainer import SLAC, random_policy_returns
    from slac.tools.plot import plot_run

    start = time.perf_counter()
    run = SLAC(preset="quickstart", seed=args.seed, run_dir=args.run_dir, device=args.device)
    # The random policy on the final evaluation's starts (each evaluation draws its own).
    random_returns = random_policy_returns(run.eval_env, run.config.eval_episodes, run.config.seed,
                                           evaluation=run.config.steps)
    print(f"quickstart: SLAC on {run.config.task}, {run.config.steps} env steps, small networks; "
          f"run directory {run.run_dir}", file=sys.stderr)
    run.learn(progress=not args.no_progress)
    run.close()
    curve = plot_run(run.run_dir, run.run_dir / "learning_curve.png", random_return=float(random_returns.mean()))
    e = run.last_eval
    print(f"final evaluation return over {run.config.eval_episodes} episodes: "
          f"{e['return_stochastic']:.2f} +- {e['return_stochastic_std']:.2f} (stochastic policy), "
          f"{e['return_deterministic']:.2f} (deterministic)")
    print(f"random policy return:                      {random_returns.mean():.2f} +- {random_returns.std():.2f}")
    print(f"learning curve: {curve}   wall time: {time.perf_counter() - start:.0f} s")
    return 0 if not run.interrupted else 130


def cmd_reproduce(args) -> int:
    from slac.config import parse_overrides
    from slac.tools.reproduce import parse_seeds, reproduce

    overrides = parse_overrides(args.overrides)
    for flag in ("device", "agent"):
        if getattr(args, flag):
            overrides[flag] = getattr(args, flag)
    if not args.tasks:
        raise SlacError("slac reproduce needs --tasks A,B")
    report = reproduce(args.tasks.split(","), parse_seeds(args.seeds), args.steps, args.out, preset=args.preset,
                       overrides=overrides, progress=not args.no_progress)
    print(f"report: {report}")
    return 0


def cmd_plot(args) -> int:
    from pathlib import Path

    from slac.tools.plot import group_runs, metric_source, plot_tasks, write_tables

    try:
        filename, x = metric_source(args.metric)
    except KeyError:
        raise SlacError(f"unknown metric {args.metric!r}: an eval.csv column (return_stochastic, "
                        "return_deterministic; aliases eval_return, eval_return_deterministic) or a metrics.csv "
                        "column (e.g. image_ll, reward_ll, kl, entropy: docs/runs.md)") from None
    missing = [d for d in args.run_dirs if not (Path(d) / filename).is_file()]
    if missing:
        raise SlacError(f"not run directories (no {filename}): {', '.join(missing)}")
    groups = group_runs([Path(d) for d in args.run_dirs])
    out = plot_tasks(groups, args.out, reference=args.reference == "paper", metric=args.metric, interval=args.interval)
    print(f"plot: {out}")
    if x == "env_step":  # the returns tables read evaluations at env-step milestones
        print(f"table: {write_tables(groups, args.table or Path(args.out).with_suffix('.md'), metric=args.metric)}")
    return 0


def cmd_compare(args) -> int:
    from pathlib import Path

    from slac.tools.compare import compare, plot_comparison, report

    comparisons = compare(args.run_dirs, metric=args.metric, reference=args.reference == "paper")
    plot = plot_comparison(comparisons, args.plot, at=args.at) if args.plot else None
    text = report(comparisons, at=args.at, plot=plot.name if plot and args.out else (str(plot) if plot else None))
    if args.out:
        Path(args.out).write_text(text)
        print(f"report: {args.out}")
    else:
        print(text, end="")
    if plot:
        print(f"plot: {plot}")
    return 0


def cmd_bench(args) -> int:
    from slac.config import Config, parse_overrides
    from slac.run.trainer import resolve_device
    from slac.tools.bench import run_benchmark

    overrides = parse_overrides(args.overrides)  # the same key=value as `slac train`; unknown keys are refused
    overrides.update({k: v for k, v in (("precision", args.precision), ("device", args.device), ("agent", args.agent))
                      if v is not None})
    if args.threads:
        import torch

        overrides["threads"] = args.threads
        torch.set_num_threads(args.threads)  # the update timings build the agent without a trainer
    config = Config.build(preset=args.preset, overrides=overrides)
    result = run_benchmark(config, resolve_device(config.device), repeats=args.repeats, action_dim=args.action_dim)
    if not args.json:
        for key, value in result.items():
            print(f"{key:24s} {value}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def cmd_sweep(args) -> int:
    from slac.config import parse_overrides
    from slac.tools.reproduce import parse_seeds
    from slac.tools.sweep import format_status, status, sweep

    if args.status:
        print(format_status(status(args.status)))
        return 0
    if not args.tasks:
        raise SlacError("slac sweep needs --tasks A,B (or --status DIR)")
    overrides = parse_overrides(args.set or [])
    for flag, key in [("steps", "steps"), ("model", "model"), ("device", "device"), ("agent", "agent")]:
        if getattr(args, flag) is not None:
            overrides[key] = getattr(args, flag)
    record = sweep(args.tasks.split(","), parse_seeds(args.seeds), args.out, preset=args.preset, overrides=overrides,
                   address=args.address, cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                   max_retries=args.max_retries, echo=lambda text: print(text, file=sys.stderr))
    print(format_status(status(args.out)))
    return 0 if all(r["state"] == "done" for r in record["runs"].values()) else 1


def cmd_tasks(args) -> int:
    from slac.envs import list_tasks

    print("\n".join(list_tasks()))
    return 0


def cmd_presets(args) -> int:
    from slac.config import FITTED_RULE, PRESETS, SUITE_PRESETS, TASK_PRESETS

    print("task presets (applied automatically for these tasks):")
    for task, values in TASK_PRESETS.items():
        print(f"  {task:24s} " + ", ".join(f"{k}={v}" for k, v in values.items()))
    for suite, values in SUITE_PRESETS.items():
        print(f"  {suite + '/*':24s} " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print("named presets (--preset NAME):")
    for name, values in PRESETS.items():
        print(f"  {name:12s} " + (", ".join(f"{k}={v}" for k, v in values.items()) or "the paper's defaults"))
    print(FITTED_RULE)
    print("init_steps counts env steps (after action repeat), default 10000: the authors' published curves are\n"
          "already above random at 20,000 env steps, which 10,000 agent steps of random actions at repeat 4\n"
          "(their released code's setting) would not allow; init_steps=40000 at repeat 4 restores that setting.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slac", description="Stochastic Latent Actor-Critic from pixels")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    p = sub.add_parser("eval", help="evaluate a run's latest checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--deterministic", action="store_true", help="the mean action instead of a sample")
    p.add_argument("--video", help="write the episodes as a video (e.g. eval.mp4)")
    p.add_argument("--side-by-side", type=int, nargs="?", const=256, default=0, metavar="SIZE",
                   help="in the video, the agent's 64x64 input beside a SIZE-pixel rendering (default 256)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--checkpoint", help="a checkpoint file instead of the run's latest")
    p.add_argument("--device", default=None)
    p = sub.add_parser("export", help="write a run's policy alone: for slac.load_policy, or as ONNX; --card: a model card")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="the policy file to write (e.g. policy.pt or policy.onnx)")
    p.add_argument("--format", default="torch", choices=["torch", "onnx"],
                   help="torch (for slac.load_policy) or onnx (encoder and actor in one graph, for ONNX Runtime)")
    p.add_argument("--card", action="store_true", help="also write README.md beside it: a model card with a GIF")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    p.add_argument("--check", action="store_true", help="run the ONNX graph in ONNX Runtime against PyTorch")
    p.add_argument("--checkpoint", help="a checkpoint file instead of the run's latest")
    p = sub.add_parser("fork", help="copy a run as it stood at one of its checkpoints, to continue it apart "
                                    "(then slac train --resume OUT key=value)")
    p.add_argument("run_dir")
    p.add_argument("--at", type=int, required=True, metavar="ENV_STEP",
                   help="env step of a kept evaluation checkpoint (keep_eval_checkpoints=true) or a regular one")
    p.add_argument("--out", required=True, help="the new run directory (must not exist, or be empty)")
    p = sub.add_parser("sweep", help="run tasks x seeds on Ray (local or a cluster); --status DIR shows progress")
    p.add_argument("--tasks", help="comma-separated task names")
    p.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,2,5")
    p.add_argument("--steps", type=int, help="env steps per run")
    p.add_argument("--model", help="latent model variant (default slac)")
    _agent_argument(p)
    p.add_argument("--preset", default=None)
    p.add_argument("--device", default=None, help="default: cuda with --gpus-per-run, else cpu")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any Config field (repeatable)")
    p.add_argument("--out", default="sweep", help="sweep directory: sweep.json and runs/ (shared storage on a cluster)")
    p.add_argument("--address", help="an existing Ray cluster (e.g. auto or ray://host:10001); default: local Ray")
    p.add_argument("--cpus-per-run", type=float, default=1)
    p.add_argument("--gpus-per-run", type=float, default=0)
    p.add_argument("--max-retries", type=int, default=3, help="restarts of a failed or preempted run (from its checkpoint)")
    p.add_argument("--status", metavar="DIR", help="show the progress of the sweep in DIR and exit")
    p = sub.add_parser("visualize", help="the model's reconstructions and predictions for evaluation episodes")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="FILE.png (a grid of frames) or FILE.gif (an animation)")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="agent steps per episode (default 2 x seq_len)")
    p.add_argument("--fps", type=int, default=4, help="for a .gif")
    p.add_argument("--checkpoint", help="a checkpoint file instead of the run's latest")
    p.add_argument("--device", default=None)
    p = sub.add_parser("quickstart", help="SLAC on the toy task with small networks (minutes on a CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("reproduce", help="run a grid of tasks x seeds and write report.md beside the paper's numbers")
    p.add_argument("--tasks", help="comma-separated task names")
    p.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,2,5")
    _agent_argument(p)
    p.add_argument("--steps", type=int, default=500_000)
    p.add_argument("--out", default="reproduction")
    p.add_argument("--preset", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p = sub.add_parser("plot", help="learning curves of runs, mean +- std over seeds per task")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--reference", choices=["paper", "none"], default="paper")
    p.add_argument("--metric", default="eval_return",
                   help="eval_return (stochastic policy, as the paper), eval_return_deterministic, an eval.csv column, "
                        "or a metrics.csv column (e.g. reward_ll, kl, entropy), drawn against updates")
    p.add_argument("--interval", choices=["std", "bootstrap"], default="std",
                   help="band: mean +- std over seeds, or a 95%% bootstrap interval of the mean")
    p.add_argument("--out", default="curves.png")
    p.add_argument("--table", help="markdown table of final, 100K and 500K returns (default: OUT with .md)")
    p = sub.add_parser("compare", help="runs beside the authors' runs: one row per seed, the authors' range at "
                       "every evaluation, ranks and a Mann-Whitney U test at one env step")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--reference", choices=["paper", "none"], default="paper")
    p.add_argument("--at", type=int, default=100_000, help="env step of the ranks and the test (default 100000)")
    p.add_argument("--metric", default="return_stochastic", help="an eval.csv column (default: the stochastic policy's return)")
    p.add_argument("--out", help="write the markdown report here (default: print it)")
    p.add_argument("--plot", help="also draw the runs over the authors' range into this image")
    p = sub.add_parser("bench", help="time the update and a training iteration at the paper's sizes (JSON last line)")
    p.add_argument("--preset", default="paper", help="network sizes: paper (default) or small")
    p.add_argument("--precision", choices=["fp32", "bf16"], help="bf16: convolutions in bfloat16 (default fp32)")
    _agent_argument(p)
    p.add_argument("--device", help="auto (default) | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--repeats", type=int, default=5, help="timed repetitions after 2 warm-up calls (median)")
    p.add_argument("--action-dim", type=int, default=6, help="for the update timings (6 = cheetah-run)")
    p.add_argument("--json", action="store_true", help="only the JSON line")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="any Config field, e.g. channels_last=true")
    sub.add_parser("tasks", help="list task names")
    sub.add_parser("presets", help="list task and named presets")
    return parser


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "quickstart": cmd_quickstart, "tasks": cmd_tasks,
            "presets": cmd_presets, "reproduce": cmd_reproduce, "plot": cmd_plot,
            "bench": cmd_bench, "visualize": cmd_visualize, "export": cmd_export,
            "sweep": cmd_sweep, "fork": cmd_fork, "compare": cmd_compare}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """slac's own warnings as one line, `slac: warning: ...` (no source path or line); others as Python shows them."""
    if issubclass(category, SlacWarning):
        print(f"slac: warning: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SlacWarning)  # every occurrence: each names another file or step
            warnings.showwarning = _show_warning
            return COMMANDS[args.command](args)
    except SlacError as error:
        print(f"slac: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slac: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


