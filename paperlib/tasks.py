"""The paper's three tasks (:ref:`methods-tasks`) as frozen, validated dataclasses.

Every task offers the same small interface:

- ``sample(key, batch) -> (inputs, targets)``, both shaped (batch, time, channels);
- ``target(inputs)``: the target is a pure function of the inputs (the noise lives in the inputs);
- ``probe_inputs()``: the fixed probe set on which every network of the task is compared;
- ``static_inputs()``: the input conditions held static for fixed-point search, one per row.

Sampling is written in JAX so that the trainer draws fresh batches inside its compiled loop.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar, final

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray

from paperlib._checks import check_choice, check_int, check_number

PROBE_SEED = 20190101  # fixed key of the probe sets, shared by every network of a task


class AbstractTask(abc.ABC):
    """A task: how it draws trials, its targets, its fixed probe set and its static conditions.

    The abstract/final pattern: this class declares what every task has and the behaviour they
    share; each concrete task is a final, frozen dataclass.
    """

    name: ClassVar[str]
    n_inputs: ClassVar[int]
    n_outputs: ClassVar[int]
    condition_channels: ClassVar[tuple[int, ...]] = ()  # inputs held static by a condition
    n_time: int

    def condition_trials(self, inputs: np.ndarray, condition: np.ndarray) -> np.ndarray:
        """Indices of the trials of ``inputs`` run under a static condition (a row of ``static_inputs``)."""
        ch = list(self.condition_channels)
        if not ch:
            return np.arange(len(inputs))
        return np.flatnonzero(np.all(np.isclose(inputs[:, 0, ch], np.asarray(condition)[ch]), axis=1))

    @abc.abstractmethod
    def _inputs(self, key: PRNGKeyArray, batch: int) -> Array:
        """``batch`` trials of inputs (trials × time × channels)."""

    @abc.abstractmethod
    def target(self, inputs: Float[ArrayLike, "batch time m"]) -> Float[Array, "batch time n_out"]:
        """The target of each trial."""

    def sample(
        self, key: PRNGKeyArray, batch: int
    ) -> tuple[Float[Array, "batch time m"], Float[Array, "batch time n_out"]]:
        """Draw ``batch`` trials; return ``(inputs, targets)``."""
        check_int("batch", batch, 1)
        inputs = self._inputs(key, batch)
        return inputs, self.target(inputs)

    def probe_inputs(self) -> np.ndarray:
        """The fixed probe set (trials × time × channels) every network of this task is run on."""
        return np.asarray(self._inputs(jax.random.PRNGKey(PROBE_SEED), 64))

    @abc.abstractmethod
    def static_inputs(self) -> np.ndarray:
        """Input conditions for fixed-point search (conditions × channels)."""

    def static_labels(self) -> list[str]:
        """A short label per row of ``static_inputs()``."""
        return [f"condition {i}" for i in range(len(self.static_inputs()))]


#: The former name of ``AbstractTask``.
Task = AbstractTask


@final
@dataclasses.dataclass(frozen=True)
class FlipFlop(AbstractTask):
    """3-bit flip-flop (Sussillo & Barak 2013).

    Every channel gets a ±1 pulse (random sign) at t = 0, as the flip-flop generator of the
    paper's authors does (fixed-point-finder's ``FlipFlopData``), so that every output is defined
    from the first step; later, each channel is 0 or a ±1 pulse (probability ``p_pulse`` per
    channel per step, sign equally likely). Output channel k holds the sign of the last pulse on
    input k: never 0.

    **Arguments** (the paper's defaults):

    - ``n_bits``: input and output channels (3).
    - ``n_time``: steps per trial (100).
    - ``p_pulse``: probability of a pulse per channel per step after the first (0.05).

    ``sample(key, batch)`` returns ``(inputs, targets)``, each (batch, n_time, n_bits).

    ```python
    import jax
    from paperlib.tasks import FlipFlop
    inputs, targets = FlipFlop().sample(jax.random.PRNGKey(0), 64)  # (64, 100, 3) each
    ```
    """

    n_bits: int = 3
    n_time: int = 100
    p_pulse: float = 0.05

    name: ClassVar[str] = "flipflop"

    def __post_init__(self):
        check_int("n_bits", self.n_bits, 1)
        check_int("n_time", self.n_time, 1)
        check_number("p_pulse", self.p_pulse, 0.0, 1.0)

    @property
    def n_inputs(self) -> int:  # type: ignore[override]
        return self.n_bits

    @property
    def n_outputs(self) -> int:  # type: ignore[override]
        return self.n_bits

    def _inputs(self, key, batch):
        k_when, k_sign = jax.random.split(key)
        shape = (batch, self.n_time, self.n_bits)
        pulse = jax.random.bernoulli(k_when, self.p_pulse, shape).at[:, 0].set(True)
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, shape), 1.0, -1.0)
        return jnp.where(pulse, sign, 0.0)

    def target(self, inputs):
        inputs = jnp.asarray(inputs)
        t = jnp.arange(inputs.shape[1])[None, :, None]
        last = jax.lax.cummax(jnp.where(inputs != 0, t, -1), axis=1)
        held = jnp.take_along_axis(inputs, jnp.maximum(last, 0), axis=1)
        return jnp.where(last >= 0, held, 0.0)

    def static_inputs(self) -> np.ndarray:
        return np.zeros((1, self.n_bits), np.float32)

    def static_labels(self) -> list[str]:
        return ["no input"]


@final
@dataclasses.dataclass(frozen=True)
class SineWave(AbstractTask):
    """Frequency-cued sine wave (Sussillo & Barak 2013).

    One static input channel holds the cue ``x ∈ [0, 1]``; the target is ``sin(2π f t)`` with
    ``f = f_min + (f_max − f_min) x`` Hz and ``t = k dt`` for steps ``k = 0 … n_time − 1``.
    **Arguments** (the paper's defaults):

    - ``n_time``, ``dt``: 500 steps of 0.01 s (5 s).
    - ``f_min``, ``f_max``: the cued frequencies, 1 to 5 Hz (below the Nyquist frequency).
    - ``n_probe``: 51 evenly spaced probe cues.
    - ``train_cues``: ``None`` draws the cue uniformly from [0, 1]; an integer k draws it from k
      evenly spaced values instead.

    ``sample(key, batch)`` returns ``(inputs, targets)``, (batch, n_time, 1) each.
    """

    n_time: int = 500
    dt: float = 0.01
    f_min: float = 1.0
    f_max: float = 5.0
    n_probe: int = 51
    train_cues: int | None = None

    name: ClassVar[str] = "sine"
    n_inputs: ClassVar[int] = 1
    n_outputs: ClassVar[int] = 1
    condition_channels: ClassVar[tuple[int, ...]] = (0,)

    def __post_init__(self):
        check_int("n_time", self.n_time, 1)
        check_number("dt", self.dt, 0.0, low_open=True)
        check_number("f_min", self.f_min, 0.0, low_open=True)
        check_number("f_max", self.f_max, self.f_min)
        check_int("n_probe", self.n_probe, 2)
        if self.train_cues is not None:
            check_int("train_cues", self.train_cues, 2)
        if self.f_max * self.dt >= 0.5:
            raise ValueError(f"f_max * dt must be below 0.5 (Nyquist), got {self.f_max * self.dt}")

    def frequency(self, cue: ArrayLike) -> ArrayLike:
        """Cued frequency in Hz for a cue in [0, 1]."""
        return self.f_min + (self.f_max - self.f_min) * cue

    def cues(self) -> np.ndarray:
        """The probe cues: ``n_probe`` evenly spaced values in [0, 1]."""
        return np.linspace(0.0, 1.0, self.n_probe, dtype=np.float32)

    def _constant(self, cue: Array) -> Array:
        return jnp.broadcast_to(cue[:, None, None], (cue.shape[0], self.n_time, 1))

    def _inputs(self, key, batch):
        if self.train_cues is None:
            cue = jax.random.uniform(key, (batch,))
        else:
            cue = jax.random.randint(key, (batch,), 0, self.train_cues) / (self.train_cues - 1)
        return self._constant(cue)

    def target(self, inputs):
        inputs = jnp.asarray(inputs)
        t = jnp.arange(inputs.shape[1]) * self.dt
        f = self.frequency(inputs[:, :1, :])
        return jnp.sin(2 * jnp.pi * f * t[None, :, None])

    def probe_inputs(self) -> np.ndarray:
        return np.asarray(self._constant(jnp.asarray(self.cues())))

    def static_inputs(self) -> np.ndarray:
        return self.cues()[:, None]

    def static_labels(self) -> list[str]:
        return [f"{f:.2f} Hz" for f in np.asarray(self.frequency(self.cues()))]


@final
@dataclasses.dataclass(frozen=True)
class ContextIntegration(AbstractTask):
    """Context-dependent integration (Mante et al. 2013).

    Inputs: two one-hot context channels, then two noise streams; stream k at each step is
    ``N(μ_k, noise_std²)`` with ``μ_k ~ U(−mean_range, mean_range)`` fixed per trial. The target
    is the running sum of the cued stream times ``target_scale`` (documented choice, 0.1, which
    keeps the target O(1) over 30 steps).

    **Arguments:**

    - ``n_time``: steps per trial (30).
    - ``noise_std``, ``mean_range``: each stream's noise and the range of its trial mean (1, 1).
    - ``target_scale``: the target's factor on the running sum (0.1).

    ``sample(key, batch)`` returns ``(inputs, targets)``, (batch, n_time, 4) and (batch, n_time, 1).
    """

    n_time: int = 30
    noise_std: float = 1.0
    mean_range: float = 1.0
    target_scale: float = 0.1

    name: ClassVar[str] = "cdi"
    n_inputs: ClassVar[int] = 4
    n_outputs: ClassVar[int] = 1
    condition_channels: ClassVar[tuple[int, ...]] = (0, 1)

    def __post_init__(self):
        check_int("n_time", self.n_time, 1)
        check_number("noise_std", self.noise_std, 0.0)
        check_number("mean_range", self.mean_range, 0.0)
        check_number("target_scale", self.target_scale, 0.0, low_open=True)

    def _inputs(self, key, batch):
        k_ctx, k_mu, k_noise = jax.random.split(key, 3)
        context = jax.nn.one_hot(jax.random.randint(k_ctx, (batch,), 0, 2), 2)
        mu = jax.random.uniform(k_mu, (batch, 1, 2), minval=-self.mean_range, maxval=self.mean_range)
        streams = mu + self.noise_std * jax.random.normal(k_noise, (batch, self.n_time, 2))
        context = jnp.broadcast_to(context[:, None, :], (batch, self.n_time, 2))
        return jnp.concatenate([context, streams], axis=-1)

    def target(self, inputs):
        inputs = jnp.asarray(inputs)
        cued = jnp.sum(inputs[..., :2] * inputs[..., 2:], axis=-1, keepdims=True)
        return self.target_scale * jnp.cumsum(cued, axis=1)

    def static_inputs(self) -> np.ndarray:
        return np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32)

    def static_labels(self) -> list[str]:
        return ["context 1", "context 2"]


TASKS: dict[str, type[AbstractTask]] = {"flipflop": FlipFlop, "sine": SineWave, "cdi": ContextIntegration}


def make_task(name: str, **overrides) -> AbstractTask:
    """Build a task by name (``flipflop``, ``sine``, ``cdi``), with optional parameter overrides."""
    return TASKS[check_choice("task", name, TASKS)](**overrides)
