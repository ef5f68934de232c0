"""Files written by earlier versions still load and act the same: a tiny run's checkpoint and its
exported policy, written by slac 0.1.0 before the package moved into subpackages (tests/fixtures/)."""


import numpy as np
from helpers import REPO

import slac
from slac import SLAC
from slac.policy.history import act_on_history

FIXTURE = REPO / "tests" / "fixtures" / "checkpoint-0.1.0"


def test_a_checkpoint_written_before_the_layout_change_loads_and_acts_as_it_did():
    saved = np.load(FIXTURE / "history.npz")
    run = SLAC.load(FIXTURE, replay=False, device="cpu")
    assert run.counters["env_steps"] == 60
    action = run.act(saved["frames"], saved["actions"], deterministic=True)
    np.testing.assert_allclose(action, saved["action"], atol=1e-6)


def test_a_policy_exported_before_the_layout_change_loads_and_acts_as_it_did():
    saved = np.load(FIXTURE / "history.npz")
    policy = slac.load_policy(FIXTURE / "policy.pt")
    assert policy.info["env_steps"] == 60
    action = act_on_history(policy.agent, saved["frames"], saved["actions"], deterministic=True)
    np.testing.assert_allclose(action, saved["action"], atol=1e-6)
