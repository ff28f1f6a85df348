"""The population driver: P networks of one shape trained by one compiled program.

- ``train_population``: one network per seed, each with its own hyperparameters, data stream
  and divergence flag (members never interact), trained ``steps_per_call`` iterations per call.
- ``init_population``: the stacked initial networks and data keys, both derived from the seeds.
- ``PopulationResult``: the trained networks and their training record.
- Members are stacked along a leading axis, ``lax.scan``-ed over iterations and split over every
  local JAX device with ``pmap``; the objective and one member's update are in
  ``paperlib.training.objective``, the settings in ``paperlib.training.config``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array
from tqdm import tqdm

from paperlib._io import atomic_write
from paperlib.models.rnn import RNN, make_rnn
from paperlib.tasks import Task
from paperlib.training.config import MATMUL_PRECISION, Hyperparameters, StepSettings, TrainConfig
from paperlib.training.objective import FAILURES, HyperArrays, MemberState, make_optimizer, member_step

__all__ = ["Hyperparameters", "TrainConfig", "PopulationResult", "init_population", "train_population"]


@dataclasses.dataclass
class PopulationResult:
    """Trained networks (stacked along axis 0) and their training record.

    ``losses[i, t]`` is member i's MSE at iteration t (NaN after it diverged); ``diverged_at[i]``
    is the iteration at which member i diverged, or -1, and ``failures[i]`` why (one of
    ``FAILURES``: ``"nan"`` loss, ``"nonfinite-weights"``, loss ``"explosion"``; ``""`` if it did not).
    ``retries[i]`` counts member i's roll-backs (``TrainConfig.retries``), each of which halved its
    learning rate; the losses of a rolled-back call stay as recorded. ``seconds`` is the wall time
    of the training loop (compilation included), across the runs a checkpoint joined.
    """

    models: RNN
    losses: np.ndarray
    diverged_at: np.ndarray
    failures: tuple[str, ...]
    retries: np.ndarray
    seeds: tuple[int, ...]
    hyperparameters: tuple[Hyperparameters, ...]
    seconds: float

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


def init_population(
    task: Task, architecture: str, activation: str, n_units: int, seeds: Sequence[int]
) -> tuple[RNN, Array]:
    """Stacked freshly initialised networks and per-member data keys (members × 2), both derived from the seeds.

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


def _chunk(
    static: RNN,
    task: Task,
    settings: StepSettings,
    n_steps: int,
    vectorise: bool,
    states: MemberState,
    hps: HyperArrays,
    keys: Array,  # one data key per member
    start,
):
    """``n_steps`` iterations of the members on one device, from iteration ``start``.

    The members are either vmapped (``vectorise``: fast on GPUs) or run one after another with
    ``lax.map`` (CPU: no slower there, and each member's arithmetic is then exactly that of
    training it alone).
    """

    def one_member(state, hp, key):
        def body(s, step):
            return member_step(s, step, hp, key, static, task, settings)

        return jax.lax.scan(body, state, start + jnp.arange(n_steps))

    with jax.default_matmul_precision(MATMUL_PRECISION[settings.matmul]):
        if vectorise:
            return jax.vmap(one_member)(states, hps, keys)
        return jax.lax.map(lambda a: one_member(*a), (states, hps, keys))


# One pmapped ``_chunk`` per tuple of devices (in practice one); jax.pmap then keeps one compiled
# program per value of the static arguments (the network's non-array part, the task, the step
# settings, ``n_steps``, ``vectorise``) and per array shape: a population of the same shape
# trained again, or resumed, reuses it.
_PROGRAMS: dict[tuple[jax.Device, ...], Callable] = {}


def _chunk_program(devices: tuple[jax.Device, ...]) -> Callable:
    """``_chunk`` on every device at once, for a population laid out (devices, members, ...).

    ``pmap`` rather than ``shard_map``, rechecked with the pinned JAX 0.10.2 on this 2-core CPU
    (two single-threaded host devices, 16 GRU-64 flip-flop networks): both run the two devices
    at once (1.62× and 1.61× the network-iterations per second of one device, same run; an
    earlier JAX ran shard_map's partitions one after the other), but ``jit`` of ``shard_map``
    compiles each program about 1 s slower (tiny CDI units: 2.4 s against 1.5 s), which the
    test suite and a sweep of many small units pay for every configuration.
    """
    if devices not in _PROGRAMS:
        in_axes = (None, None, None, None, None, 0, 0, 0, None)
        _PROGRAMS[devices] = jax.pmap(
            _chunk, in_axes=in_axes, static_broadcasted_argnums=(0, 1, 2, 3, 4), devices=list(devices)
        )
    return _PROGRAMS[devices]


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
    checkpoint: Path | str | None = None,
    checkpoint_every: float = 300.0,
) -> PopulationResult:
    """Train one network per seed (with the matching hyperparameters) in one compiled program.

    **Arguments:**

    - ``task``: what the networks learn (``paperlib.tasks``).
    - ``architecture``, ``activation``, ``n_units``: the networks' shape (``paperlib.models.cells``).
    - ``seeds``: one network per seed; a seed sets its initial weights and its stream of batches,
      whatever population it is trained in.
    - ``hyperparameters``: one ``Hyperparameters`` for all members, or one per seed.
    - ``config``: what every member shares (iterations, batch, optimiser, divergence rule).
    - ``devices``: default every local device; at most one per member is used, and the population
      is padded to a multiple of their number.
    - ``vectorise``: vmap the members on each device (default: on accelerators, not on CPUs).
    - ``initial``: stacked networks (one per seed) to continue from instead of a fresh
      initialisation, e.g. for a curriculum; the seeds still set the data streams.
    - ``progress``: show a tqdm bar (a string sets its description).
    - ``checkpoint``: a file where the training state is saved every ``checkpoint_every`` seconds
      (at the end of a compiled call) and when training ends; a run started with a checkpoint
      written by the same population, settings and layout continues from it and gives the weights,
      bit for bit, of a run never stopped. A checkpoint of anything else is ignored and replaced.

    **Returns:** a ``PopulationResult``: ``models`` stacked along axis 0 (``result.member(i)`` is
    one network), ``losses`` of shape ``(seeds, n_iterations)``, and who diverged, when and why.

    ```python
    from paperlib.tasks import FlipFlop
    from paperlib.training.train import Hyperparameters, TrainConfig, train_population
    config = TrainConfig(n_iterations=20)
    result = train_population(FlipFlop(n_time=30), "gru", "tanh", 8, [0, 1], Hyperparameters(), config)
    ```
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
    devices = devices[: len(seeds)]  # a device with no member of its own would train a padding copy
    if vectorise is None:
        vectorise = devices[0].platform != "cpu"
    if config.matmul == "tensorfloat32" and devices[0].platform != "gpu":
        raise ValueError(f"matmul='tensorfloat32' needs an NVIDIA GPU (Ampere or later), not {devices[0].platform}")
    n_dev = len(devices)
    per_device = -(-len(seeds) // n_dev)
    n_pad = per_device * n_dev - len(seeds)

    def layout(a):  # pad with copies of member 0, then (devices, members, ...)
        a = jnp.concatenate([a, jnp.repeat(a[:1], n_pad, axis=0)]) if n_pad else a
        return a.reshape(n_dev, per_device, *a.shape[1:])

    decay_steps = config.decay_steps or config.n_iterations
    hp_arrays = jax.tree_util.tree_map(layout, HyperArrays.stack(hps, decay_steps))
    data_keys = layout(data_keys)
    params = jax.tree_util.tree_map(layout, params)
    init = lambda p, hp: make_optimizer(hp, config.optimizer).init(p)  # noqa: E731
    opt_state = jax.vmap(jax.vmap(init))(params, hp_arrays)
    shape = (n_dev, per_device)
    states = MemberState.fresh(params, opt_state, shape)
    program = _chunk_program(devices)

    losses, retries, done, elapsed = [], np.zeros(shape, int), 0, 0.0
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        fingerprint = _fingerprint(task, architecture, activation, n_units, seeds, hps, config, devices, initial)
        saved = _load_checkpoint(checkpoint, fingerprint, states, hp_arrays)
        if saved is not None:
            states, hp_arrays, retries, done, losses, elapsed = saved
    start = last_save = time.monotonic()
    desc = progress if isinstance(progress, str) else f"{task.name} {architecture}-{activation}"
    with tqdm(total=config.n_iterations, desc=desc, disable=not progress, unit="it", leave=False) as bar:
        bar.update(done)
        while done < config.n_iterations:
            n_steps = min(config.steps_per_call, config.n_iterations - done)
            before = states
            states, chunk = program(
                static, task, config.step, n_steps, vectorise, states, hp_arrays, data_keys, jnp.int32(done)
            )
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
            if checkpoint is not None and (
                done == config.n_iterations or time.monotonic() - last_save >= checkpoint_every
            ):
                seconds = elapsed + time.monotonic() - start
                _save_checkpoint(checkpoint, fingerprint, states, hp_arrays, retries, done, losses, seconds)
                last_save = time.monotonic()

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
        seconds=elapsed + time.monotonic() - start,
    )


def _fingerprint(task, architecture, activation, n_units, seeds, hps, config, devices, initial) -> str:
    """What a checkpoint must have been written by to be continued (everything the run depends on)."""
    parts = [repr(task), architecture, activation, n_units, seeds, [dataclasses.astuple(h) for h in hps]]
    parts += [repr(config), [d.platform for d in devices], len(devices)]
    text = repr(parts).encode()
    if initial is not None:
        leaves = jax.tree_util.tree_leaves(eqx.filter(initial, eqx.is_array))
        text += b"".join(np.asarray(a).tobytes() for a in leaves)
    return hashlib.sha256(text).hexdigest()


def _save_checkpoint(path: Path, fingerprint: str, states, hp_arrays, retries, done: int, losses, seconds) -> None:
    leaves = jax.tree_util.tree_leaves((states, hp_arrays))
    arrays = {f"leaf_{i}": np.asarray(a) for i, a in enumerate(leaves)}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        fingerprint=np.asarray(fingerprint),
        done=np.asarray(done),
        seconds=np.asarray(seconds),
        retries=retries,
        losses=np.concatenate(losses, axis=1) if losses else np.zeros((0, 0), np.float32),
        **arrays,
    )
    atomic_write(path, buffer.getvalue())


def _load_checkpoint(path: Path, fingerprint: str, states, hp_arrays):
    """``(states, hp_arrays, retries, done, losses, seconds)`` saved at ``path`` by this very run, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["fingerprint"]) != fingerprint:
                return None
            leaves, treedef = jax.tree_util.tree_flatten((states, hp_arrays))
            saved = [data[f"leaf_{i}"] for i in range(len(leaves))]
            if any(a.shape != b.shape or a.dtype != b.dtype for a, b in zip(saved, leaves)):
                return None
            states, hp_arrays = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in saved])
            done, losses = int(data["done"]), data["losses"]
            return states, hp_arrays, data["retries"], done, [losses] if done else [], float(data["seconds"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing or unreadable: start afresh
        return None


def _roll_back(
    before: MemberState, after: MemberState, hp: HyperArrays, mask: Array
) -> tuple[MemberState, HyperArrays]:
    """Members in ``mask`` (devices × members) go back to ``before`` with their learning rate halved."""

    def pick(a, b):
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim)), a, b)

    halved = jnp.where(mask, hp.learning_rate * 0.5, hp.learning_rate)
    return jax.tree_util.tree_map(pick, before, after), hp._replace(learning_rate=halved)


def _broadcast_hyperparameters(hyperparameters, n: int) -> list[Hyperparameters]:
    if isinstance(hyperparameters, Hyperparameters):
        return [hyperparameters] * n
    hps = list(hyperparameters)
    if len(hps) != n or not all(isinstance(h, Hyperparameters) for h in hps):
        raise ValueError(f"hyperparameters must be one Hyperparameters or one per seed ({n}), got {len(hps)} items")
    return hps


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**32:
            raise ValueError(f"seeds must be integers in [0, 2**32), got {s!r}")
    return [int(s) for s in seeds]
