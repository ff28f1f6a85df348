"""Training settings as frozen dataclasses, importable without the trainer.

- ``Hyperparameters``: one network's optimiser settings (what the paper's random search draws).
- ``TrainConfig``: settings shared by every member of a population.
- ``StepSettings``: the part of ``TrainConfig`` one compiled training iteration depends on.
"""

from __future__ import annotations

import dataclasses

from paperlib._checks import check_choice, check_int, check_number

# Choices are plain strings, checked at construction with a message naming the field and its options.
OPTIMIZERS = ("sgd", "adam")

# How each ``TrainConfig.matmul`` is asked of XLA: true float32 (``HIGHEST``: JAX's default
# precision lets GPUs compute float32 products in TF32), or the named dot algorithm.
MATMUL_PRECISION = {"float32": "highest", "tensorfloat32": "TF32_TF32_F32", "bfloat16": "BF16_BF16_F32"}


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """One member's optimiser settings (the quantities the paper's random search draws).

    **Arguments:**

    - ``learning_rate``: initial rate ``lr0`` (> 0).
    - ``decay_rate``: the rate falls to ``lr0 · decay_rate`` over ``TrainConfig.decay_steps``, in (0, 1].
    - ``momentum``: SGD momentum in [0, 1] (unused by Adam).
    - ``clip``: gradients are clipped to this global norm (> 0).
    - ``l2``: weight of Σ(weight²) over the weight matrices in the loss (≥ 0).
    """

    learning_rate: float = 0.1
    decay_rate: float = 0.5
    momentum: float = 0.9
    clip: float = 1.0
    l2: float = 1e-4

    def __post_init__(self):
        check_number("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_number("decay_rate", self.decay_rate, 0.0, 1.0, low_open=True)
        check_number("momentum", self.momentum, 0.0, 1.0)
        check_number("clip", self.clip, 0.0, low_open=True)
        check_number("l2", self.l2, 0.0)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings shared by every member of a population.

    **Arguments:**

    - ``n_iterations``: training iterations.
    - ``batch_size``: trials per iteration.
    - ``steps_per_call``: iterations per compiled call (Python is out of the inner loop).
    - ``optimizer``: ``"sgd"`` (momentum; the paper's) or ``"adam"``.
    - ``decay_steps``: the rate falls by ``decay_rate`` over this many iterations (default: ``n_iterations``).
    - ``divergence_loss``, ``divergence_patience``: a member is declared diverged, frozen at its
      last finite parameters and flagged, when its loss or parameters stop being finite or its
      loss has exceeded ``divergence_loss`` for more than ``divergence_patience`` iterations in a
      row (0: at once; a spike that falls back within the patience is trained through).
    - ``retries``: (not the paper's procedure; off by default) a member that diverges is first put
      back to where it stood at the start of that compiled call with its learning rate halved, up
      to this many times.
    - ``matmul``: the arithmetic of training's matrix products: ``"float32"`` (the default, on every
      device), or on GPUs ``"tensorfloat32"`` (TF32 tensor cores, NVIDIA Ampere or later) or
      ``"bfloat16"`` (bf16 inputs, float32 accumulation); states, gradients and weights stay float32.
      Only training uses it: validation and every analysis keep float32 (or float64).
    - ``unroll``: time steps per iteration of the compiled loop over a trial (``paperlib.models.rnn.run``):
      1 by default; larger values save the loop's fixed cost per step on GPUs.
    """

    n_iterations: int = 20_000
    batch_size: int = 64
    steps_per_call: int = 20
    optimizer: str = "sgd"
    decay_steps: int | None = None
    divergence_loss: float = 1e4
    divergence_patience: int = 0
    matmul: str = "float32"
    unroll: int = 1
    retries: int = 0

    def __post_init__(self):
        for field in ("n_iterations", "batch_size", "steps_per_call"):
            check_int(field, getattr(self, field))
        if self.decay_steps is not None:
            check_int("decay_steps", self.decay_steps)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("divergence_loss", self.divergence_loss, 0.0, low_open=True)
        check_int("divergence_patience", self.divergence_patience, low=0)
        check_int("retries", self.retries, low=0)
        check_choice("matmul", self.matmul, tuple(MATMUL_PRECISION))
        check_int("unroll", self.unroll)

    @property
    def step(self) -> StepSettings:
        """The settings one training iteration depends on (part of the compiled program's key)."""
        return StepSettings(
            self.batch_size, self.optimizer, self.divergence_loss, self.divergence_patience, self.matmul, self.unroll
        )


@dataclasses.dataclass(frozen=True)
class StepSettings:
    """What one compiled training iteration depends on, besides the network and the task."""

    batch_size: int
    optimizer: str
    divergence_loss: float
    divergence_patience: int = 0
    matmul: str = "float32"
    unroll: int = 1
