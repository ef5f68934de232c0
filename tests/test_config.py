import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slac.config import PRESETS, TASK_PRESETS, Config, parse_overrides
from slac.errors import ConfigError


def test_defaults_are_the_papers_hyperparameters():
    c = Config()
    assert (c.z1_dim, c.z2_dim, c.feature_dim, c.hidden_dim, c.ac_hidden_dim) == (32, 256, 256, 256, 256)
    assert (c.model_lr, c.actor_lr, c.critic_lr, c.alpha_lr) == (1e-4, 3e-4, 3e-4, 3e-4)
    assert (c.model_batch, c.ac_batch, c.seq_len, c.gamma, c.tau) == (32, 256, 8, 0.99, 0.005)
    assert (c.replay_capacity, c.init_steps, c.pretrain_steps, c.updates_per_step) == (100_000, 10_000, 100_000, 1)
    assert (c.decoder_var, c.init_alpha, c.target_entropy, c.eval_interval, c.eval_episodes) == (0.1, 1.0, None, 10_000, 10)


def test_task_presets_apply_and_overrides_win():
    c = Config.build(task="dmc/walker-walk")
    assert c.resolved_action_repeat() == 2 and c.decoder_var == 0.4
    c = Config.build(task="dmc/walker-walk", overrides=["decoder_var=0.1", "action_repeat=4"])
    assert c.decoder_var == 0.1 and c.resolved_action_repeat() == 4
    assert Config.build(task="toy/reach").resolved_action_repeat() == 1
    assert set(TASK_PRESETS) >= {"dmc/cheetah-run", "gym/Hopper-v5"} and "quickstart" in PRESETS


def test_config_files_yaml_and_json(tmp_path):
    (tmp_path / "c.yaml").write_text("seed: 3\ndecoder_var: 0.04\n")
    (tmp_path / "c.json").write_text(json.dumps({"seed": 4, "updates_per_step": 2}))
    assert Config.build(file=tmp_path / "c.yaml").decoder_var == 0.04
    c = Config.build(file=tmp_path / "c.json", overrides={"seed": 5})
    assert c.updates_per_step == 2 and c.seed == 5


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["decoder_varr=0.4"], "did you mean 'decoder_var'"),
        (["lr=1e-3"], "did you mean one of 'model_lr', 'actor_lr', 'critic_lr', 'alpha_lr'"),
        (["ac_batch=-1"], "ac_batch must be > 0"),
        (["seq_len=0"], "seq_len must be > 0"),
        (["image_size=84"], "64x64"),
        (["model_batch=512"], "model_batch"),
        (["gamma=1.5"], "gamma"),
        (["seed=abc"], "expects int"),
        (["fast_render=maybe"], "expects bool"),
        (["model=planett"], "unknown model"),
        (["device=tpu"], "device"),
        (["novalue"], "key=value"),
    ],
)
def test_bad_values_get_clear_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Config.build(overrides=overrides)


def test_malformed_and_missing_config_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid"):
        Config.build(file=tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        Config.build(file=tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        Config.build(file=tmp_path / "nope.yaml")


def test_overrides_parse_numbers_and_booleans():
    parsed = parse_overrides(["a=1", "b=0.5", "c=true", "d=1e-4", "e=text"])
    assert parsed == {"a": 1, "b": 0.5, "c": True, "d": 1e-4, "e": "text"}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["ac_batch", "model_batch", "seq_len", "replay_capacity", "gamma", "tau",
                                        "decoder_var", "init_steps"]),
                       st.one_of(st.integers(-5, 600), st.floats(-2, 2, allow_nan=False))))
def test_any_config_either_validates_or_raises_config_error(values):
    try:
        config = Config.from_dict(values)
    except ConfigError:
        return
    assert config.model_batch <= config.ac_batch and config.seq_len > 0 and 0 <= config.gamma <= 1
    assert config.replay_capacity >= config.seq_len + 2 and config.decoder_var > 0


def test_every_train_flag_is_a_config_field_whose_help_is_its_documentation():
    from slac.cli import FLAG_NAMES, TRAIN_FLAGS, build_parser
    from slac.config import Config, field_docs

    docs = field_docs()
    assert set(TRAIN_FLAGS) <= set(Config.__dataclass_fields__)
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith("train"))
    by_dest = {action.dest: action for action in train._actions}
    for name in TRAIN_FLAGS:
        assert docs[name] and by_dest[name].help == docs[name].replace("%", "%%")
        assert by_dest[name].option_strings == ["--" + FLAG_NAMES.get(name, name).replace("_", "-")]
    assert docs["decoder_var"] == "fixed variance of p(x_t | z_t)"  # a trailing comment
    assert docs["reward_std_min"].startswith("Floor on the reward model's learned std")  # the comment above
