"""The paper's ablation switches (Figure 5b, 5d, appendix D) run end to end on the toy task."""

import numpy as np
import pytest
import torch
from helpers import TINY, filled_replay, tiny_config

from slac.agents.base import batch_history_resets, random_shift
from slac.agents.slac import SLACAgent
from slac.cli import main
from slac.policy.history import HistoryPolicy
from slac.run.logging import read_csv
from slac.run.trainer import SLAC


@pytest.mark.parametrize("actor_input,critic_input", [("latent", "latent"), ("history", "history"), ("latent", "history")])
def test_input_switches_train_a_full_iteration(tmp_path, actor_input, critic_input):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "actor_input": actor_input, "critic_input": critic_input})
    run.learn(60, progress=False)
    assert run.counters["updates"] == 30
    rows = read_csv(tmp_path / "r" / "eval.csv")
    assert rows and all(np.isfinite(r["return_stochastic"]) for r in rows)


def test_latent_actor_and_history_critic_losses_never_reach_the_model():
    torch.manual_seed(0)
    agent = SLACAgent(2, tiny_config(actor_input="latent", critic_input="history"))
    terms = agent.compute_losses(filled_replay().sample(8))
    for name in ("critic_loss", "actor_loss"):
        agent.zero_grad(set_to_none=True)
        terms[name].backward(retain_graph=True)
        assert all(p.grad is None or torch.all(p.grad == 0) for p in agent.model.parameters()), name


def test_latent_actor_filters_only_the_real_part_of_a_padded_history():
    torch.manual_seed(0)
    agent = SLACAgent(2, tiny_config(actor_input="latent"))
    policy = HistoryPolicy(agent)
    frame = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    policy.start(frame)
    assert policy.real_frames == 1
    assert np.all(np.isfinite(policy.act()))
    # Padding and the first real frame restart the filter: the last posterior is q(z1_1 | x_1).
    resets = batch_history_resets(8, torch.tensor([policy.real_frames]))
    assert resets.all()
    features = agent.encode_frames(np.stack([frame] * 8))
    latents = agent.model.posterior(features[None], torch.zeros(1, 7, 2), resets)
    torch.testing.assert_close(latents.post_mean[0, -1], agent.model.z1_first_posterior(features[-1])[0])
    for _ in range(3):
        policy.observe(np.zeros(2, np.float32), frame)
    assert policy.real_frames == 4
    assert batch_history_resets(8, torch.tensor([4])).squeeze(0).tolist() == [True] * 5 + [False] * 3
    for _ in range(10):
        policy.observe(np.zeros(2, np.float32), frame)
    assert policy.real_frames == 8 and batch_history_resets(8, torch.tensor([8])).squeeze(0).tolist() == [True] + [False] * 7


def test_updates_per_step_and_decoder_var_flags(tmp_path):
    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]
    assert main(["train", "--task", "toy/reach", "--steps", "50", "--device", "cpu", "--run-dir", str(tmp_path / "r"),
                 "--no-progress", "--updates-per-step", "2", "--decoder-var", "0.4", "--actor-input", "latent", *args]) == 0
    config = __import__("json").loads((tmp_path / "r" / "config.json").read_text())
    assert config["updates_per_step"] == 2 and config["decoder_var"] == 0.4 and config["actor_input"] == "latent"
    run = SLAC.load(tmp_path / "r")
    assert run.counters["updates"] == 2 * (50 - TINY["init_steps"])


def test_random_shift_moves_whole_windows_by_at_most_the_pad():
    torch.manual_seed(0)
    images = torch.rand(6, 9, 3, 64, 64)
    shifted = random_shift(images, pad=4)
    assert shifted.shape == images.shape
    interior = images[..., 8:56, 8:56]
    for b in range(6):  # find each window's offset from its first frame; all frames share it
        matches = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                   if torch.equal(shifted[b, 0, :, 8 + dy:56 + dy, 8 + dx:56 + dx], interior[b, 0])]
        assert len(matches) == 1
        dy, dx = matches[0]
        assert torch.equal(shifted[b, :, :, 8 + dy:56 + dy, 8 + dx:56 + dx], interior[b])
    assert torch.equal(random_shift(images, pad=0), images)


def test_crop_augmentation_trains(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "augment": "crop"})
    run.learn(40, progress=False)
    assert run.counters["updates"] == 10
