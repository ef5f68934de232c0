"""Same-run speed comparison with the popular port slac.pytorch: the port, then slac in fp32 and bf16,
one process after another on this machine, and the ratios.

    python benchmarks/compare_peer.py [--peer-script PATH] [--threads 2] [--repeats 7]

The port (vendored in ../shared/peers/, benchmark use only) is timed by its own script
(../shared/bench/peer_slac_pytorch.py): a model update on 32 windows and an actor-critic update on
256, each on its own batch, as the port does. slac is timed by `slac bench`: a model-only update on 32
windows and one full update (every loss on one batch of 256 windows, the authors' way). Both sides
time updates only (no env step), cheetah-run's 6 actions, the paper's sizes. Prints a markdown table
to stderr and one JSON line to stdout. Time on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_PEER = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peer_slac_pytorch.py"


def _last_json(command: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"compare_peer: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-script", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not args.peer_script.is_file():
        sys.exit(f"compare_peer: no peer benchmark at {args.peer_script} (pass --peer-script)")
    env = {**os.environ, "THREADS": str(args.threads)}
    peer = _last_json([sys.executable, str(args.peer_script), str(args.repeats)], env)
    ours = {
        precision: _last_json([sys.executable, "-m", "slac.cli", "bench", "--json", "--precision", precision,
                               "--threads", str(args.threads), "--repeats", str(args.repeats), "--device", "cpu"], env)
        for precision in ("fp32", "bf16")
    }
    rows = [("model update (32 x 9 images)", peer["latent_update_s"], "model_update_s"),
            ("whole update (model + actor-critic)", peer["iteration_s"], "full_update_s")]
    result = {"benchmark": "compare_peer", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{os.cpu_count()} x {platform.machine()} {platform.processor()}".strip(),
              "threads": args.threads, "peer": peer, "slac_fp32": ours["fp32"], "slac_bf16": ours["bf16"]}
    lines = ["| | slac.pytorch | slac fp32 | slac bf16 | ratio fp32 | ratio bf16 |", "| --- | --- | --- | --- | --- | --- |"]
    for label, peer_s, key in rows:
        fp32, bf16 = ours["fp32"][key], ours["bf16"][key]
        result[f"speedup_fp32_{key}"] = round(peer_s / fp32, 2)
        result[f"speedup_bf16_{key}"] = round(peer_s / bf16, 2)
        lines.append(f"| {label} | {peer_s:.3f} s | {fp32:.3f} s | {bf16:.3f} s | {peer_s / fp32:.2f}x | {peer_s / bf16:.2f}x |")
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
