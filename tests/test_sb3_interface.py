"""docs/sb3.md's "Coming from Stable-Baselines3" block, run line by line (at tiny sizes and steps),
and what it promises: learn(n) trains n more env steps, reset_num_timesteps=False reads n as the
total, a callback returning False stops training with a checkpoint."""

import re

from helpers import REPO, TINY

from slac.common.checkpoint import list_checkpoints

README = REPO / "docs" / "sb3.md"
# The block's env-step counts, scaled down; its preset replaced by the tests' tiny networks.
SCALE = {"20_000": "60", "10_000": "40", "40_000": "160", "55_000": "210"}


def sb3_block() -> str:
    text = README.read_text()
    section = text[text.index("# Coming from Stable-Baselines3"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_sb3_block_runs_and_learn_counts_as_promised(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = sb3_block()
    tiny = ", ".join(f"{k}={v!r}" for k, v in TINY.items() if k != "task")
    # each substitution must find its text: a block edited away from them would otherwise run at full size
    assert code.count('preset="small", seed=0') == 1, "the block no longer builds SLAC(..., preset=\"small\", seed=0)"
    code = code.replace('preset="small", seed=0', f"seed=0, {tiny}")
    for number, small in SCALE.items():
        code, found = re.subn(rf"\b{number}\b", small, code)
        assert found, f"the block no longer names {number} env steps"
    assert not re.search(r"\b\d{1,3}_000\b", code), "an env-step count in the block is not scaled down"
    calls = []
    namespace = {}
    original = None

    def record_learn(self, total_env_steps=None, *args, **kwargs):
        before = self.counters["env_steps"]
        result = original(self, total_env_steps, *args, **kwargs)
        calls.append((before, self.counters["env_steps"], self.stopped_by_callback, self.interrupted))
        return result

    from slac.run.trainer import SLAC

    original = SLAC.learn
    monkeypatch.setattr(SLAC, "learn", record_learn)
    exec(compile(code, str(README), "exec"), namespace)

    first, more, until, stopped = calls
    assert first[1] == 60 or first[2]  # 60 env steps, unless the return threshold stopped it first
    assert more[1] - more[0] == 40  # n more
    assert until[1] == 160  # up to the total
    assert stopped == (160, 210, True, False)  # the callback stopped it at 210 of 220, cleanly
    assert list_checkpoints(namespace["model"].run_dir)[-1].name == "step_000000210.pt"
    assert re.search(r"^200 -?\d", capsys.readouterr().out, re.M)  # Log.on_evaluation printed the evaluation at 200
    assert namespace["action"].shape == (2,) and len(namespace["returns"]) == 10
    assert namespace["model"].counters["env_steps"] == 210  # SLAC.load continued from the checkpoint


def test_stop_on_return_stops_at_the_first_evaluation_that_reaches_it_and_bad_callbacks_are_refused(tmp_path):
    import pytest

    from slac.run.callbacks import StopOnReturn
    from slac.run.trainer import SLAC

    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.learn(200, progress=False, callback=StopOnReturn(-1e9))  # any return reaches it
    assert run.stopped_by_callback and not run.interrupted and run.counters["env_steps"] == 0
    assert list_checkpoints(run.run_dir)[-1].name == "step_000000000.pt"
    with pytest.raises(TypeError, match="a callback is a callable"):
        run.learn(10, progress=False, callback=42)
    run.close()
