"""The training objective and one network's update, readable and testable without the driver.

- ``mse``, ``l2_penalty``: the loss of :ref:`methods-loss`, MSE of the readout + L2 × Σ(weight²) over the
  weight matrices (biases excluded).
- ``make_optimizer``: clip by global norm, then SGD with momentum (or Adam) and a rate that
  decays exponentially, ``lr(t) = lr0 · decay_rate^(t / decay_steps)`` (paper, §2.1).
- ``member_step``: one training iteration of one network, which freezes and flags a member
  that diverges instead of applying its step.
- ``errors``: every member's MSE and normalised MSE on one fresh batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from paperlib.models.rnn import RNN, run_batch
from paperlib.tasks import Task
from paperlib.training.config import MATMUL_PRECISION, Hyperparameters, StepSettings

# Why a member was stopped, by the code ``member_step`` records (0: it was not).
FAILURES = ("", "nan", "nonfinite-weights", "explosion")


class HyperArrays(NamedTuple):
    """Hyperparameters as arrays, one entry per member (a pytree that vmaps)."""

    learning_rate: Array
    decay_rate: Array
    momentum: Array
    clip: Array
    l2: Array
    decay_steps: Array

    @classmethod
    def stack(cls, hps: Sequence[Hyperparameters], decay_steps: int) -> HyperArrays:
        values = [[getattr(h, f) for h in hps] for f in cls._fields[:-1]] + [[decay_steps] * len(hps)]
        return cls(*(jnp.asarray(v, jnp.float32) for v in values))


class MemberState(NamedTuple):
    """One member's training state (``member_step`` reads and returns it)."""

    params: RNN  # array leaves only
    opt_state: optax.OptState
    alive: Array  # bool
    diverged_at: Array  # int32, -1 while alive
    failure: Array  # int32 index into FAILURES, 0 while alive
    above: Array  # int32, iterations in a row with the loss above divergence_loss

    @classmethod
    def fresh(cls, params: RNN, opt_state: optax.OptState, shape: tuple[int, ...] = ()) -> MemberState:
        """Members (of ``shape``) that have not trained yet: alive, no failure, no loss above the threshold."""
        zeros = jnp.zeros(shape, jnp.int32)
        return cls(params, opt_state, jnp.ones(shape, bool), jnp.full(shape, -1, jnp.int32), zeros, zeros)


def l2_penalty(model: RNN) -> Array:
    """Σ of squared weight-matrix entries (recurrent, input, readout); biases are not penalised."""
    return sum(jnp.sum(w**2) for w in (model.cell.W, model.cell.B, model.W_out))


def mse(model: RNN, inputs: Float[Array, "b t m"], targets: Float[Array, "b t o"], unroll: int = 1) -> Array:
    """Mean squared error of the readout over a batch (``unroll``: as in ``paperlib.models.rnn.run``)."""
    _, outputs = run_batch(model, inputs, unroll)
    return jnp.mean((outputs - targets) ** 2)


def make_optimizer(hp: HyperArrays, optimizer: str) -> optax.GradientTransformation:
    """Clip by global norm, then SGD-momentum (or Adam) with an exponentially decaying rate."""

    def schedule(count):
        return hp.learning_rate * hp.decay_rate ** (count / hp.decay_steps)

    if optimizer == "adam":
        step = optax.adam(schedule)
    else:
        step = optax.sgd(schedule, momentum=hp.momentum)
    return optax.chain(optax.clip_by_global_norm(hp.clip), step)


def member_step(
    state: MemberState,
    step: Int[Array, ""],
    hp: HyperArrays,
    data_key: PRNGKeyArray,
    static: RNN,
    task: Task,
    settings: StepSettings,
) -> tuple[MemberState, Array]:
    """One training iteration of one network.

    **Arguments:**

    - ``state``: the member's parameters, optimiser state and divergence record.
    - ``step``: the iteration number; the batch is drawn from ``fold_in(data_key, step)``.
    - ``hp``: this member's hyperparameters (one entry of ``HyperArrays``).
    - ``static``: the non-array part of the network (``eqx.partition``).
    - ``task``, ``settings``: what is trained, and how (batch size, optimiser, divergence rule).

    **Returns:** the new state and this batch's MSE (NaN once the member has diverged).

    A step whose loss or new parameters are not finite, or whose loss has exceeded
    ``settings.divergence_loss`` for more than ``settings.divergence_patience`` iterations in a
    row, is not applied: the member is frozen and flagged, with the iteration and the reason (an
    index into ``FAILURES``), instead.
    """
    inputs, targets = task.sample(jax.random.fold_in(data_key, step), settings.batch_size)

    def loss_fn(params):
        model = eqx.combine(params, static)
        data_loss = mse(model, inputs, targets, settings.unroll)
        return data_loss + hp.l2 * l2_penalty(model), data_loss

    (total, data_loss), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = make_optimizer(hp, settings.optimizer).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)

    above = jnp.where(data_loss < settings.divergence_loss, 0, state.above + 1).astype(jnp.int32)
    reason = jnp.select(
        [~jnp.isfinite(total), ~_all_finite(params), above > settings.divergence_patience], [1, 2, 3], 0
    )
    ok = state.alive & (reason == 0)

    def keep(new, old):
        return jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)

    new_state = MemberState(
        params=keep(params, state.params),
        opt_state=keep(opt_state, state.opt_state),
        alive=ok,
        diverged_at=jnp.where(state.alive & ~ok, step, state.diverged_at).astype(jnp.int32),
        failure=jnp.where(state.alive & ~ok, reason, state.failure).astype(jnp.int32),
        above=jnp.where(ok, above, state.above),
    )
    return new_state, jnp.where(state.alive, data_loss, jnp.nan)


def errors(models: RNN, task: Task, key: PRNGKeyArray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Every member's error on one fresh batch of ``task``.

    **Arguments:**

    - ``models``: stacked networks (leading axis: members), e.g. ``PopulationResult.models``.
    - ``key``: the batch's key; the same key gives every member the same batch.

    **Returns:** ``(mse, normalised)``, each of shape ``(members,)``; ``normalised`` is the MSE
    divided by the variance of the batch's targets.
    """
    inputs, targets = task.sample(key, batch)
    with jax.default_matmul_precision(MATMUL_PRECISION["float32"]):  # on GPUs too, whatever training used
        values = np.asarray(eqx.filter_vmap(mse, in_axes=(0, None, None))(models, inputs, targets))
    return values, values / float(jnp.var(targets))


def _all_finite(tree) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(tree)]))
