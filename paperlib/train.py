"""The population trainer: P networks of one shape trained by one compiled program.

Parameters of the P networks are stacked along a leading axis; one training step of one
network (``member_step``) is ``jax.vmap``-ed over that axis, ``lax.scan``-ed over
``steps_per_call`` iterations so Python is out of the inner loop, and the population axis is
split over every local JAX device with ``pmap`` (GPUs, or the host CPU devices that
``paperlib.use_host_devices()`` creates, one per core). Members never interact: each has its own
initialisation and data stream (both from its seed), its own hyperparameters, and its own
divergence flag, so a member that blows up is frozen and flagged while the others train on
exactly as they would alone.

Optimiser (paper, §2.1): clip by global norm, then SGD with momentum and a learning rate that
decays exponentially, ``lr(t) = lr0 · decay_rate^(t / decay_steps)``; loss = MSE of the
readout + L2 × Σ(weights²) over the weight matrices (biases excluded).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal, NamedTuple, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray
from tqdm import tqdm

from paperlib._checks import check_choice, check_int, check_number
from paperlib.rnn import RNN, make_rnn, run_batch
from paperlib.tasks import Task

Optimizer = Literal["sgd", "adam"]
# Why a member was stopped, by the code ``member_step`` records (0: it was not).
FAILURES = ("", "nan", "nonfinite-weights", "explosion")


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """One member's optimiser settings (the quantities the paper's random search draws)."""

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

    ``decay_steps`` defaults to ``n_iterations``: the rate falls by ``decay_rate`` over the run.
    A member is declared diverged, frozen at its last finite parameters and flagged, when its
    loss or parameters stop being finite or its loss has exceeded ``divergence_loss`` for more
    than ``divergence_patience`` iterations in a row (0: at once; a spike that falls back within
    the patience is trained through, as clipped steps usually bring it down). With
    ``retries`` > 0 (not the paper's procedure; off by default), a member that diverges is first
    put back to where it stood at the start of that compiled call (``steps_per_call``
    iterations earlier) with its learning rate halved, up to ``retries`` times.
    """

    n_iterations: int = 20_000
    batch_size: int = 64
    steps_per_call: int = 20
    optimizer: Optimizer = "sgd"
    decay_steps: int | None = None
    divergence_loss: float = 1e4
    divergence_patience: int = 0
    retries: int = 0

    def __post_init__(self):
        for field in ("n_iterations", "batch_size", "steps_per_call"):
            check_int(field, getattr(self, field))
        if self.decay_steps is not None:
            check_int("decay_steps", self.decay_steps)
        check_choice("optimizer", self.optimizer, ("sgd", "adam"))
        check_number("divergence_loss", self.divergence_loss, 0.0, low_open=True)
        check_int("divergence_patience", self.divergence_patience, low=0)
        check_int("retries", self.retries, low=0)

    @property
    def step(self) -> "StepSettings":
        """The settings one training iteration depends on (what the compiled program is keyed by)."""
        return StepSettings(self.batch_size, self.optimizer, self.divergence_loss, self.divergence_patience)


@dataclasses.dataclass(frozen=True)
class StepSettings:
    batch_size: int
    optimizer: Optimizer
    divergence_loss: float
    divergence_patience: int = 0


class _Hyper(NamedTuple):
    """Hyperparameters as arrays, one entry per member (a pytree that vmaps)."""

    learning_rate: Array
    decay_rate: Array
    momentum: Array
    clip: Array
    l2: Array
    decay_steps: Array

    @classmethod
    def stack(cls, hps: Sequence[Hyperparameters], decay_steps: int) -> "_Hyper":
        values = [[getattr(h, f) for h in hps] for f in cls._fields[:-1]] + [[decay_steps] * len(hps)]
        return cls(*(jnp.asarray(v, jnp.float32) for v in values))


class _MemberState(NamedTuple):
    params: RNN  # array leaves only
    opt_state: optax.OptState
    alive: Array  # bool
    diverged_at: Array  # int32, -1 while alive
    failure: Array  # int32 index into FAILURES, 0 while alive
    above: Array  # int32, iterations in a row with the loss above divergence_loss

    @classmethod
    def fresh(cls, params: RNN, opt_state: optax.OptState, shape: tuple[int, ...] = ()) -> "_MemberState":
        """Members (of ``shape``) that have not trained yet: alive, no failure, no loss above the threshold."""
        zeros = jnp.zeros(shape, jnp.int32)
        return cls(params, opt_state, jnp.ones(shape, bool), jnp.full(shape, -1, jnp.int32), zeros, zeros)


@dataclasses.dataclass
class PopulationResult:
    """Trained networks (stacked along axis 0) and their training record.

    ``losses[i, t]`` is member i's MSE at iteration t (NaN after it diverged); ``diverged_at[i]``
    is the iteration at which member i diverged, or -1, and ``failures[i]`` why (one of
    ``FAILURES``: ``"nan"`` loss, ``"nonfinite-weights"``, loss ``"explosion"``; ``""`` if it did not).
    ``retries[i]`` counts member i's roll-backs (``TrainConfig.retries``), each of which halved its
    learning rate; the losses of a rolled-back call stay as recorded.
    """

    models: RNN
    losses: np.ndarray
    diverged_at: np.ndarray
    failures: tuple[str, ...]
    retries: np.ndarray
    seeds: tuple[int, ...]
    hyperparameters: tuple[Hyperparameters, ...]

    def __len__(self) -> int:
        return len(self.seeds)

    def member(self, i: int) -> RNN:
        """Member ``i`` as a single (unstacked) network."""
        return jax.tree_util.tree_map(lambda a: a[i], self.models)

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_at >= 0

    @property
    def final_loss(self) -> np.ndarray:
        """Mean training MSE over the last 1% of iterations (at least one); NaN if diverged."""
        tail = max(1, self.losses.shape[1] // 100)
        final = self.losses[:, -tail:].mean(axis=1)
        return np.where(self.diverged, np.nan, final)


def l2_penalty(model: RNN) -> Array:
    """Σ of squared weight-matrix entries (recurrent, input, readout); biases are not penalised."""
    return sum(jnp.sum(w**2) for w in (model.cell.W, model.cell.B, model.W_out))


def mse(model: RNN, inputs: Float[Array, "b t m"], targets: Float[Array, "b t o"]) -> Array:
    """Mean squared error of the readout over a batch."""
    _, outputs = run_batch(model, inputs)
    return jnp.mean((outputs - targets) ** 2)


def make_optimizer(hp: _Hyper, optimizer: Optimizer) -> optax.GradientTransformation:
    """Clip by global norm, then SGD-momentum (or Adam) with an exponentially decaying rate."""

    def schedule(count):
        return hp.learning_rate * hp.decay_rate ** (count / hp.decay_steps)

    if optimizer == "adam":
        step = optax.adam(schedule)
    else:
        step = optax.sgd(schedule, momentum=hp.momentum)
    return optax.chain(optax.clip_by_global_norm(hp.clip), step)


def init_population(
    task: Task, architecture: str, activation: str, n_units: int, seeds: Sequence[int]
) -> tuple[RNN, PRNGKeyArray]:
    """Stacked freshly initialised networks and per-member data keys, both derived from the seeds.

    The same seed always gives the same initial weights and the same stream of training batches,
    whatever population the network is trained in.
    """
    seeds = _check_seeds(seeds)
    keys = jax.vmap(lambda s: jax.random.split(jax.random.PRNGKey(s)))(jnp.asarray(seeds, jnp.uint32))
    init_keys, data_keys = keys[:, 0], keys[:, 1]

    def build(key):
        return make_rnn(architecture, activation, n_units, task.n_inputs, task.n_outputs, key)

    build(init_keys[0])  # validates names and sizes with a clear error before vmapping
    return eqx.filter_vmap(build)(init_keys), data_keys


def member_step(
    state: _MemberState,
    step: Int[Array, ""],
    hp: _Hyper,
    data_key: PRNGKeyArray,
    static: RNN,
    task: Task,
    settings: StepSettings,
) -> tuple[_MemberState, Array]:
    """One training iteration of one network; returns the new state and this batch's MSE.

    A step whose loss or new parameters are not finite, or whose loss has exceeded
    ``settings.divergence_loss`` for more than ``settings.divergence_patience`` iterations in a
    row, is not applied: the member is frozen and flagged, with the iteration and the reason (an
    index into ``FAILURES``), instead.
    """
    inputs, targets = task.sample(jax.random.fold_in(data_key, step), settings.batch_size)

    def loss_fn(params):
        model = eqx.combine(params, static)
        data_loss = mse(model, inputs, targets)
        return data_loss + hp.l2 * l2_penalty(model), data_loss

    (total, data_loss), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = make_optimizer(hp, settings.optimizer).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)

    above = jnp.where(data_loss < settings.divergence_loss, 0, state.above + 1).astype(jnp.int32)
    reason = jnp.select(
        [~jnp.isfinite(total), ~_all_finite(params), above > settings.divergence_patience], [1, 2, 3], 0
    )
    ok = state.alive & (reason == 0)
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
    new_state = _MemberState(
        params=keep(params, state.params),
        opt_state=keep(opt_state, state.opt_state),
        alive=ok,
        diverged_at=jnp.where(state.alive & ~ok, step, state.diverged_at).astype(jnp.int32),
        failure=jnp.where(state.alive & ~ok, reason, state.failure).astype(jnp.int32),
        above=jnp.where(ok, above, state.above),
    )
    return new_state, jnp.where(state.alive, data_loss, jnp.nan)


@functools.lru_cache(maxsize=32)
def _chunk_program(
    static: RNN, task: Task, settings: StepSettings, n_steps: int, devices: tuple, vectorise: bool
):
    """Compiled program for ``n_steps`` iterations of a population laid out (devices, members, ...).

    ``pmap`` runs one copy per device concurrently; on each device the members are either
    vmapped (``vectorise``: fast on GPUs) or run one after another with ``lax.map`` (CPU: no
    slower there, and each member's arithmetic is then exactly that of training it alone).
    """

    def one_member(state, hp, key, start):
        def body(s, step):
            return member_step(s, step, hp, key, static, task, settings)

        return jax.lax.scan(body, state, start + jnp.arange(n_steps))

    def on_device(states, hps, keys, start):
        if vectorise:
            return jax.vmap(one_member, in_axes=(0, 0, 0, None))(states, hps, keys, start)
        return jax.lax.map(lambda a: one_member(*a, start), (states, hps, keys))

    return jax.pmap(on_device, in_axes=(0, 0, 0, None), devices=list(devices))


def train_population(
    task: Task,
    architecture: str,
    activation: str,
    n_units: int,
    seeds: Sequence[int],
    hyperparameters: Hyperparameters | Sequence[Hyperparameters],
    config: TrainConfig = TrainConfig(),
    *,
    devices: Sequence[jax.Device] | None = None,
    vectorise: bool | None = None,
    initial: RNN | None = None,
    progress: bool | str = True,
) -> PopulationResult:
    """Train one network per seed (with the matching hyperparameters) in one compiled program.

    ``hyperparameters`` is one setting for all members or one per seed. ``devices`` defaults to
    every local device; the population is padded to a multiple of their number. ``vectorise``
    vmaps the members on each device (default: on accelerators, not on CPUs; see
    ``_chunk_program``). ``initial`` continues from these stacked networks (one per seed) instead
    of a fresh initialisation, e.g. for a curriculum; the seeds still set the data streams.
    ``progress`` shows a tqdm bar (a string sets its description).
    """
    seeds = _check_seeds(seeds)
    hps = _broadcast_hyperparameters(hyperparameters, len(seeds))
    models, data_keys = init_population(task, architecture, activation, n_units, seeds)
    if initial is not None:
        if jax.tree_util.tree_structure(initial) != jax.tree_util.tree_structure(models) or any(
            a.shape != b.shape for a, b in zip(jax.tree_util.tree_leaves(initial), jax.tree_util.tree_leaves(models))
        ):
            raise ValueError("initial must be stacked networks of the same shape, one per seed")
        models = initial
    params, static = eqx.partition(models, eqx.is_array)

    devices = tuple(devices) if devices is not None else tuple(jax.local_devices())
    if not devices:
        raise ValueError("devices must name at least one device")
    if vectorise is None:
        vectorise = devices[0].platform != "cpu"
    n_dev = len(devices)
    per_device = -(-len(seeds) // n_dev)
    n_pad = per_device * n_dev - len(seeds)

    def layout(a):  # pad with copies of member 0, then (devices, members, ...)
        a = jnp.concatenate([a, jnp.repeat(a[:1], n_pad, axis=0)]) if n_pad else a
        return a.reshape(n_dev, per_device, *a.shape[1:])

    decay_steps = config.decay_steps or config.n_iterations
    hp_arrays = jax.tree_util.tree_map(layout, _Hyper.stack(hps, decay_steps))
    data_keys = layout(data_keys)
    params = jax.tree_util.tree_map(layout, params)
    init = lambda p, hp: make_optimizer(hp, config.optimizer).init(p)  # noqa: E731
    opt_state = jax.vmap(jax.vmap(init))(params, hp_arrays)
    shape = (n_dev, per_device)
    states = _MemberState.fresh(params, opt_state, shape)

    losses, retries = [], np.zeros(shape, int)
    desc = progress if isinstance(progress, str) else f"{task.name} {architecture}-{activation}"
    with tqdm(total=config.n_iterations, desc=desc, disable=not progress, unit="it", leave=False) as bar:
        done = 0
        while done < config.n_iterations:
            n_steps = min(config.steps_per_call, config.n_iterations - done)
            program = _chunk_program(static, task, config.step, n_steps, devices, vectorise)
            before = states
            states, chunk = program(states, hp_arrays, data_keys, jnp.int32(done))
            if config.retries:
                died = np.asarray(before.alive) & ~np.asarray(states.alive) & (retries < config.retries)
                if died.any():
                    states, hp_arrays = _roll_back(before, states, hp_arrays, jnp.asarray(died))
                    retries += died
            chunk = np.asarray(chunk).reshape(n_dev * per_device, n_steps)[: len(seeds)]
            losses.append(chunk)
            done += n_steps
            bar.update(n_steps)
            if np.isfinite(chunk[:, -1]).any():
                bar.set_postfix(median_loss=f"{np.nanmedian(chunk[:, -1]):.4f}", refresh=False)

    def members(a):  # back to (members, ...) without the padding
        return np.asarray(a).reshape(n_dev * per_device, *a.shape[2:])[: len(seeds)]

    params = jax.tree_util.tree_map(lambda a: jnp.asarray(members(a)), states.params)
    return PopulationResult(
        models=eqx.combine(params, static),
        losses=np.concatenate(losses, axis=1),
        diverged_at=members(states.diverged_at),
        failures=tuple(FAILURES[c] for c in members(states.failure)),
        retries=members(retries),
        seeds=tuple(seeds),
        hyperparameters=tuple(hps),
    )


def evaluate(
    models: RNN, task: Task, key: PRNGKeyArray, batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """MSE and normalised MSE (MSE / variance of the target) of every member on one fresh batch."""
    inputs, targets = task.sample(key, batch)
    errors = eqx.filter_vmap(mse, in_axes=(0, None, None))(models, inputs, targets)
    errors = np.asarray(errors)
    return errors, errors / float(jnp.var(targets))


def _roll_back(before: _MemberState, after: _MemberState, hp: _Hyper, mask: Array) -> tuple[_MemberState, _Hyper]:
    """Members in ``mask`` (devices × members) go back to ``before`` with their learning rate halved."""

    def pick(a, b):
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)

    halved = jnp.where(mask, hp.learning_rate * 0.5, hp.learning_rate)
    return jax.tree_util.tree_map(pick, before, after), hp._replace(learning_rate=halved)


def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(tree)]))


def _broadcast_hyperparameters(hyperparameters, n: int) -> list[Hyperparameters]:
    if isinstance(hyperparameters, Hyperparameters):
        return [hyperparameters] * n
    hps = list(hyperparameters)
    if len(hps) != n or not all(isinstance(h, Hyperparameters) for h in hps):
        raise ValueError(
            f"hyperparameters must be one Hyperparameters or one per seed ({n}), got {len(hps)} items"
        )
    return hps


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**32:
            raise ValueError(f"seeds must be integers in [0, 2**32), got {s!r}")
    return [int(s) for s in seeds]
