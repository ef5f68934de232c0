"""The authors' protocol: random collection counted in env steps, DMC pretraining length, Keras-style
initialisation of every layer."""

import math

import pytest
import torch
from helpers import TINY, tiny_config
from torch import nn

from slac.agents.slac import SLACAgent
from slac.config import TASK_PRESETS, Config
from slac.run.trainer import SLAC


@pytest.mark.parametrize("repeat", [1, 4])
def test_random_collection_counts_env_steps(tmp_path, repeat):
    init, total = 40, 80
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "action_repeat": repeat, "init_steps": init, "eval_episodes": 0})
    policy_actions = []
    act = run.policy_state.act
    run.policy_state.act = lambda *a, **k: policy_actions.append(run.counters["env_steps"]) or act(*a, **k)
    run.learn(total, progress=False)
    assert total <= run.counters["env_steps"] < total + repeat
    # The policy acts once `init` env steps of random actions are collected (init / repeat agent
    # steps; an episode's last step may be cut short by the time limit), at either repeat.
    assert init <= policy_actions[0] < init + repeat
    assert run.counters["pretrain_updates"] == TINY["pretrain_steps"]
    assert run.counters["updates"] == len(policy_actions) >= (total - init) // repeat - 1
    run.close()


def test_dmc_presets_pretrain_50k_and_gym_keeps_100k():
    for task in TASK_PRESETS:
        expected = 50_000 if task.startswith("dmc/") else 100_000
        assert Config.build(task=task).pretrain_steps == expected, task
    assert Config.build(task="dmc/cheetah-run", overrides=["pretrain_steps=100000"]).pretrain_steps == 100_000
    assert Config().init_steps == 10_000  # env steps: 2,500 agent steps at action repeat 4


def _layers(module):
    return [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("model", ["slac", "planet"])
def test_every_layer_is_glorot_uniform_with_zero_bias(model):
    torch.manual_seed(0)
    agent = SLACAgent(3, tiny_config(model=model, encoder_depth=8, hidden_dim=64, ac_hidden_dim=64, feature_dim=64))
    layers = _layers(agent.model) + _layers(agent.actor) + _layers(agent.critic)
    assert len(layers) > 20
    for layer in layers:
        w = layer.weight.detach()
        receptive = w[0, 0].numel()
        fan_sum = (w.shape[0] + w.shape[1]) * receptive
        limit = math.sqrt(6.0 / fan_sum)  # Glorot-uniform: U(-limit, limit), std limit / sqrt(3)
        assert torch.all(w.abs() <= limit + 1e-7), layer
        assert abs(w.std().item() - limit / math.sqrt(3)) < 0.15 * limit, layer
        assert layer.bias is None or torch.all(layer.bias == 0), layer
    # The target critics start as copies of the initialised critics.
    for p, q in zip(agent.critic.parameters(), agent.critic_target.parameters()):
        assert torch.equal(p, q)


def test_torch_init_is_a_named_option():
    torch.manual_seed(0)
    agent = SLACAgent(3, tiny_config(init="torch"))
    biases = [m.bias for m in _layers(agent.actor) + _layers(agent.critic)]
    assert all(torch.any(b != 0) for b in biases)  # PyTorch's defaults: non-zero biases
    assert Config.build(preset="quickstart").init == "torch" and Config().init == "authors"
