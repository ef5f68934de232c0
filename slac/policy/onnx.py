"""A trained policy as one ONNX graph, for acting without PyTorch (ONNX Runtime and numpy only).

The graph wraps the modules the agent acts with (its encoder, `actor_input`, the actor's
`with_noise` or `distribution`), on a history built as slac.policy.history builds it: uint8 frames ->
[0, 1] -> encoder -> features of the history (with the history's actions, for SLAC) -> actor MLP
-> the Gaussian's mean and log-std (clipped as in training) -> actions. Inputs and outputs:

| name | SLAC | sac-pixels | sac-state |
| --- | --- | --- | --- |
| `frames` | (N, 8, 3, 64, 64) uint8: x_1..x_8 | (N, 4, 3, 64, 64) uint8 | - |
| `state` | - | - | (N, S) float32 |
| `actions` | (N, 7, A) float32: a_1..a_7 | - | - |
| `noise` | (N, A) float32 standard normal | as SLAC | as SLAC |
| outputs | `action_deterministic` tanh(mean), `action_stochastic` tanh(mean + std * noise), `mean`, `log_std` |

A discrete agent's graph has no `noise` input (its `actions` are one-hot) and outputs
`action_deterministic`, the most probable action's index (int64), and `probs`, the policy's
probabilities to sample from.

N is dynamic. The graph computes in float32 whatever the run's `precision` (a bf16 run's ONNX
actions differ from its PyTorch ones by bf16 rounding). The metadata (`onnx_metadata`) records the
task, agent, action bounds, action repeat, image size, history lengths, and the run's env step and
last evaluation return. `act_onnx.py` in examples/ is the torch-free acting loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slac.agents.base import ActorCriticAgent, actor_input
from slac.errors import SlacError

OUTPUTS = ["action_deterministic", "action_stochastic", "mean", "log_std"]
DISCRETE_OUTPUTS = ["action_deterministic", "probs"]  # the most probable action (int64), the probabilities
DEFAULT_OPSET = 18


class ActingGraph(nn.Module):
    """The agent's encoder and actor as one module of tensors in, tensors out (what is exported).
    `acting_graph(agent)` picks the subclass whose `forward` takes that agent's inputs."""

    def __init__(self, agent: ActorCriticAgent) -> None:
        super().__init__()
        self.encoder = agent.model.encoder if agent.has_model else getattr(agent, "encoder", None)
        self.actor = agent.actor

    def _act(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The tanh-Gaussian actor on input x with given noise: both actions, mean and log std."""
        return self.actor.with_noise(x, noise)

    def _choose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A categorical actor on input x: the most probable action's index (int64) and the probabilities."""
        probs, _ = self.actor.distribution(x)
        return probs.argmax(-1), probs

    def _encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, L, 3, H, W) uint8 -> (N, L, F): the encoder of `encode_frames` on [0, 1] images, in float32
        (the graph has no chunking or mixed precision)."""
        n, length = frames.shape[0], frames.shape[1]
        images = frames.reshape(n * length, *frames.shape[2:]).float() / 255.0
        return self.encoder(images).reshape(n, length, -1)

    def _history(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """SLAC's actor input: the features of x_1..x_8 and the actions a_1..a_7 (`actor_input`)."""
        return actor_input(self._encode(frames), actions)


class SlacActingGraph(ActingGraph):
    def forward(self, frames: torch.Tensor, actions: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._act(self._history(frames, actions), noise)


class PixelsActingGraph(ActingGraph):
    def forward(self, frames: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._act(self._encode(frames).flatten(1), noise)


class StateActingGraph(ActingGraph):
    def forward(self, state: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._act(state, noise)


class SlacDiscreteActingGraph(ActingGraph):
    def forward(self, frames: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """actions: one-hot (N, 7, n)."""
        return self._choose(self._history(frames, actions))


class PixelsDiscreteActingGraph(ActingGraph):
    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._choose(self._encode(frames).flatten(1))


class StateDiscreteActingGraph(ActingGraph):
    def forward(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._choose(state)


GRAPHS = {("slac", False): SlacActingGraph, ("sac-pixels", False): PixelsActingGraph,
          ("sac-state", False): StateActingGraph, ("slac", True): SlacDiscreteActingGraph,
          ("sac-pixels", True): PixelsDiscreteActingGraph, ("sac-state", True): StateDiscreteActingGraph}


def acting_graph(agent: ActorCriticAgent) -> ActingGraph:
    config = agent.config
    if config.agent == "slac" and config.actor_input != "history":
        raise SlacError("ONNX export covers the paper's actor on histories (actor_input=history); this run's "
                        f"actor acts on {config.actor_input} samples, whose filter draws noise at every step")
    return GRAPHS[config.agent, agent.discrete](agent)


def output_names(agent: ActorCriticAgent) -> list[str]:
    return DISCRETE_OUTPUTS if agent.discrete else OUTPUTS


def example_inputs(agent: ActorCriticAgent, batch: int = 2) -> dict[str, torch.Tensor]:
    """Named inputs of the right shapes and types (zeros), for tracing and checks."""
    a, length = agent.action_dim, agent.seq_len
    if agent.config.agent == "sac-state":
        inputs = {"state": torch.zeros(batch, *agent.observation_shape)}
    else:
        inputs = {"frames": torch.zeros(batch, length, *agent.observation_shape, dtype=torch.uint8)}
        if agent.config.agent == "slac":
            inputs["actions"] = torch.zeros(batch, length - 1, a)
    if not agent.discrete:
        inputs["noise"] = torch.zeros(batch, a)
    return inputs


def write_onnx(agent: ActorCriticAgent, path: str | Path, metadata: dict[str, Any], opset: int = DEFAULT_OPSET) -> Path:
    """Write the acting graph of `agent` to `path` (dynamic batch size) with `metadata` as the model's
    metadata properties (values JSON-encoded), then check it with `onnx.checker`."""
    try:
        import onnx
    except ImportError:
        raise SlacError("ONNX export needs the onnx and onnxscript packages: pip install 'slac[export]'") from None
    path = Path(path)
    graph = acting_graph(agent).to("cpu").eval()
    inputs = example_inputs(agent)
    batch = torch.export.Dim("batch", min=1, max=65536)
    dynamic = {name: {0: batch} for name in inputs}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with torch.no_grad(), _quiet_exporter():
            program = torch.onnx.export(graph, tuple(inputs.values()), input_names=list(inputs), output_names=output_names(agent),
                                        dynamic_shapes=tuple(dynamic.values()), opset_version=opset, dynamo=True,
                                        verbose=False)
    except Exception as error:  # the exporter's own errors are long; keep the first line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SlacError(f"ONNX export (opset {opset}) failed: {first}") from error
    model = program.model_proto
    written = {entry.domain: entry.version for entry in model.opset_import}.get("", None)
    if written != opset:  # the exporter fell back to its own opset rather than fail
        raise SlacError(f"the installed ONNX exporter cannot write opset {opset} for this graph (it wrote {written}); "
                        f"use --opset {DEFAULT_OPSET} or newer")
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, tmp)
    tmp.replace(path)
    return path


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's notes (torchvision ops it skips, deprecations of its own internals) kept from users."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata `write_onnx` wrote, decoded."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {entry.key: json.loads(entry.value) for entry in model.metadata_props}


def check_onnx(agent: ActorCriticAgent, path: str | Path, batch: int = 4, seed: int = 0) -> float:
    """Run the exported graph in ONNX Runtime on random inputs and return the largest difference
    from the same graph in PyTorch over all outputs."""
    try:
        import onnxruntime
    except ImportError:
        raise SlacError("checking an ONNX export needs onnxruntime: pip install 'slac[export]'") from None
    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    for name, like in example_inputs(agent, batch).items():
        if like.dtype == torch.uint8:
            inputs[name] = torch.randint(0, 256, like.shape, dtype=torch.uint8, generator=generator)
        else:
            inputs[name] = torch.randn(like.shape, generator=generator).clamp(-3, 3)
            if name == "actions":  # actions as the agent takes them: in [-1, 1], or one-hot
                inputs[name] = (torch.nn.functional.one_hot(inputs[name].argmax(-1), like.shape[-1]).float()
                                if agent.discrete else torch.tanh(inputs[name]))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(output_names(agent), {name: value.numpy() for name, value in inputs.items()})
    with torch.no_grad():
        expected = acting_graph(agent).to("cpu").eval()(*inputs.values())
    return max(float(abs(g - e.numpy()).max()) for g, e in zip(got, expected))
