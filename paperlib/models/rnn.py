"""A recurrent network: one cell plus a linear readout, run over time with ``lax.scan``."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray

from paperlib._checks import check_int
from paperlib.models.cells import AbstractCell, make_cell


class RNN(eqx.Module):
    """``h_t = cell(h_{t-1}, x_t)``, ``y_t = W_out h_t + b_out`` (the LSTM reads out ``h`` only).

    The readout is initialised ``N(0, 1 / n_units)`` with zero bias.
    """

    cell: AbstractCell
    W_out: Float[Array, "n_out n"]
    b_out: Float[Array, " n_out"]

    def __init__(self, cell: AbstractCell, n_outputs: int, *, key: PRNGKeyArray):
        check_int("n_outputs", n_outputs)
        self.cell = cell
        self.W_out = jax.random.normal(key, (n_outputs, cell.n_units)) / cell.n_units**0.5
        self.b_out = jnp.zeros(n_outputs)

    def step(self, h: Float[Array, " state"], x: Float[Array, " m"]) -> Float[Array, " state"]:
        """The recurrent map ``F(h, x)``, the object the dynamics analyses study."""
        return self.cell(h, x)

    def readout(self, state: Float[Array, "*batch state"]) -> Float[Array, "*batch n_out"]:
        """Network output for a state (or a batch of states)."""
        return self.cell.hidden(state) @ self.W_out.T + self.b_out


def make_rnn(architecture: str, activation: str, n_units: int, n_inputs: int, n_outputs: int, key: PRNGKeyArray) -> RNN:
    """Build an RNN with a freshly initialised cell and readout from one key."""
    k_cell, k_out = jax.random.split(key)
    return RNN(make_cell(architecture, activation, n_units, n_inputs, k_cell), n_outputs, key=k_out)


def run(
    model: RNN, inputs: Float[ArrayLike, "time m"], h0: Float[ArrayLike, " state"] | None = None, unroll: int = 1
) -> tuple[Float[Array, "time state"], Float[Array, "time n_out"]]:
    """Run one trial from ``h0`` (zeros by default); return the states after each step and the outputs.

    ``unroll`` time steps run per iteration of the compiled loop (``lax.scan``): the same values,
    fewer loop iterations (on GPUs each costs a fixed few microseconds). For a batch of trials,
    ``jax.vmap(run, in_axes=(None, 0))(model, inputs)``.
    """
    h0 = model.cell.initial_state() if h0 is None else h0

    def body(h, x):
        h = model.step(h, x)
        return h, h

    _, states = jax.lax.scan(body, h0, inputs, unroll=unroll)
    return states, model.readout(states)


def run_batch(
    model: RNN, inputs: Float[ArrayLike, "batch time m"], unroll: int = 1
) -> tuple[Float[Array, "batch time state"], Float[Array, "batch time n_out"]]:
    """Run a batch of trials from the zero state (``unroll``: as in ``run``)."""
    return jax.vmap(run, in_axes=(None, 0, None, None))(model, inputs, None, unroll)
