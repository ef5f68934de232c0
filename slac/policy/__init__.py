"""Acting and deployment: the batched rolling history the actor acts on (`history.py`), Stable-Baselines3's
batched `predict` (`predict.py`), and a trained policy on its own, written by `slac export` and read
by `load_policy` (`export.py`), and as an ONNX graph that acts without PyTorch (`onnx.py`). May
import agents and everything below them (models, replay, envs, common, config, errors)."""
