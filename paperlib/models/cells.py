"""The four recurrent cells of the paper (:ref:`methods-cells`) as Equinox modules.

- Every cell maps one state and one input to the next state, ``cell(h, x) -> h'``: a plain
  ``step`` the analyses take; batches go through ``jax.vmap``.
- Weights are stacked by block in the order each cell's docstring gives: ``W`` (recurrent,
  ``blocks · n × n``), ``B`` (input, ``blocks · n × m``), ``b`` (bias): one matrix product per
  step serves all gates; ``block(name)`` returns one block's ``(W, B, b)``.
- Initialisation (documented choice, measured to train all three tasks;
  :ref:`methods-initialisation`): recurrent ``N(0, (0.9 / √n)²)``, input ``N(0, 1 / m)``,
  biases 0 except the LSTM forget gate (+1).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar, Literal, final

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from paperlib._checks import check_choice, check_int

Activation = Literal["tanh", "relu"]

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"tanh": jnp.tanh, "relu": jax.nn.relu}
RECURRENT_GAIN = 0.9


def initial_weights(
    blocks: int, n_units: int, n_inputs: int, activation: str, key: PRNGKeyArray
) -> tuple[Array, Array, Array, str]:
    """``(W, B, b, activation)`` of a freshly initialised cell with ``blocks`` stacked blocks: recurrent
    ``N(0, (0.9 / √n)²)``, input ``N(0, 1 / m)``, biases 0; every argument checked first."""
    check_int("n_units", n_units)
    check_int("n_inputs", n_inputs)
    activation = check_choice("activation", activation, ACTIVATIONS)
    k_rec, k_in = jax.random.split(key)
    rows = blocks * n_units
    W = jax.random.normal(k_rec, (rows, n_units)) * (RECURRENT_GAIN / n_units**0.5)
    B = jax.random.normal(k_in, (rows, n_inputs)) / n_inputs**0.5
    return W, B, jnp.zeros(rows), activation


class AbstractCell(eqx.Module):
    """A recurrent cell ``cell(h, x) -> h'`` with weights stacked by block and a nonlinearity.

    The abstract/final pattern of Equinox: this class declares what every cell has (abstract
    attributes and ``__call__``) and the helpers they share; each concrete cell is final and
    defines its own fields and ``__init__``.
    """

    W: eqx.AbstractVar[Float[Array, "blocks_n n"]]
    B: eqx.AbstractVar[Float[Array, "blocks_n m"]]
    b: eqx.AbstractVar[Float[Array, " blocks_n"]]
    activation: eqx.AbstractVar[str]
    BLOCKS: eqx.AbstractClassVar[tuple[str, ...]]
    STATE_MULTIPLE: eqx.AbstractClassVar[int]

    @abc.abstractmethod
    def __call__(self, state: Float[Array, " state"], x: Float[Array, " m"]) -> Float[Array, " state"]:
        """The next state."""

    @property
    def n_units(self) -> int:
        return self.W.shape[-1]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[-1]

    @property
    def state_size(self) -> int:
        """Length of the state vector: ``n_units``, or ``2 n_units`` for the LSTM's ``[h; c]``."""
        return self.STATE_MULTIPLE * self.n_units

    def f(self, z: Array) -> Array:
        """The swappable pointwise nonlinearity (gates always use the sigmoid)."""
        return ACTIVATIONS[self.activation](z)

    def initial_state(self) -> Float[Array, " state"]:
        """The state every trial starts from: zeros (documented choice)."""
        return jnp.zeros(self.state_size, self.W.dtype)

    def hidden(self, state: Float[Array, "*batch state"]) -> Float[Array, "*batch n"]:
        """The part of the state the readout sees (``h``; for the LSTM, the first half)."""
        return state[..., : self.n_units]

    def block(self, name: str) -> tuple[Array, Array, Array]:
        """The recurrent, input and bias weights of one named block (e.g. ``"u"`` of the GRU)."""
        i = self.BLOCKS.index(name)
        rows = slice(i * self.n_units, (i + 1) * self.n_units)
        return self.W[rows], self.B[rows], self.b[rows]

    def _preactivations(self, h: Array, x: Array) -> list[Array]:
        z = self.W @ h + self.B @ x + self.b
        return jnp.split(z, len(self.BLOCKS))


#: The former name of ``AbstractCell``.
Cell = AbstractCell


@final
class Vanilla(AbstractCell):
    """``h' = f(W h + B x + b)``. Blocks: (``"h"``,)."""

    W: Float[Array, "blocks_n n"]
    B: Float[Array, "blocks_n m"]
    b: Float[Array, " blocks_n"]
    activation: str = eqx.field(static=True)
    BLOCKS: ClassVar[tuple[str, ...]] = ("h",)
    STATE_MULTIPLE: ClassVar[int] = 1

    def __init__(self, n_units: int, n_inputs: int, activation: str, *, key: PRNGKeyArray):
        self.W, self.B, self.b, self.activation = initial_weights(len(self.BLOCKS), n_units, n_inputs, activation, key)

    def __call__(self, h: Float[Array, " n"], x: Float[Array, " m"]) -> Float[Array, " n"]:
        (z,) = self._preactivations(h, x)
        return self.f(z)


@final
class UGRNN(AbstractCell):
    """Update-gate RNN (Collins et al. 2017). Blocks: gate ``g``, candidate ``c``.

    ``g = σ(W_g h + B_g x + b_g)``, ``c = f(W_c h + B_c x + b_c)``, ``h' = g ⊙ h + (1 − g) ⊙ c``.
    """

    W: Float[Array, "blocks_n n"]
    B: Float[Array, "blocks_n m"]
    b: Float[Array, " blocks_n"]
    activation: str = eqx.field(static=True)
    BLOCKS: ClassVar[tuple[str, ...]] = ("g", "c")
    STATE_MULTIPLE: ClassVar[int] = 1

    def __init__(self, n_units: int, n_inputs: int, activation: str, *, key: PRNGKeyArray):
        self.W, self.B, self.b, self.activation = initial_weights(len(self.BLOCKS), n_units, n_inputs, activation, key)

    def __call__(self, h: Float[Array, " n"], x: Float[Array, " m"]) -> Float[Array, " n"]:
        zg, zc = self._preactivations(h, x)
        g = jax.nn.sigmoid(zg)
        return g * h + (1.0 - g) * self.f(zc)


@final
class GRU(AbstractCell):
    """Gated recurrent unit (Cho et al. 2014). Blocks: update ``u``, reset ``r``, candidate ``c``.

    ``c = f(W_c (r ⊙ h) + B_c x + b_c)``, ``h' = u ⊙ h + (1 − u) ⊙ c``.
    """

    W: Float[Array, "blocks_n n"]
    B: Float[Array, "blocks_n m"]
    b: Float[Array, " blocks_n"]
    activation: str = eqx.field(static=True)
    BLOCKS: ClassVar[tuple[str, ...]] = ("u", "r", "c")
    STATE_MULTIPLE: ClassVar[int] = 1

    def __init__(self, n_units: int, n_inputs: int, activation: str, *, key: PRNGKeyArray):
        self.W, self.B, self.b, self.activation = initial_weights(len(self.BLOCKS), n_units, n_inputs, activation, key)

    def __call__(self, h: Float[Array, " n"], x: Float[Array, " m"]) -> Float[Array, " n"]:
        n = self.n_units
        zx = self.B @ x + self.b
        zur = self.W[: 2 * n] @ h + zx[: 2 * n]
        u, r = jnp.split(jax.nn.sigmoid(zur), 2)
        c = self.f(self.W[2 * n :] @ (r * h) + zx[2 * n :])
        return u * h + (1.0 - u) * c


@final
class TorchGRU(AbstractCell):
    """PyTorch's ``nn.GRU`` cell: the reset gate acts *after* the recurrent product of the candidate.

    ``c = f(B_c x + b_c + r ⊙ (W_c h + b_hc))``, gates ``u``, ``r`` and ``h' = u ⊙ h + (1 − u) ⊙ c``
    as in ``GRU``. Blocks: ``u``, ``r``, ``c``, plus the candidate's recurrent bias ``b_hc``, which
    sits inside the reset. It is a different map from the paper's GRU (reset before ``W_c``), so
    imported PyTorch GRUs use this cell (``paperlib.models.interop.load_torch``) rather than an
    approximation; the paper's populations never do.
    """

    W: Float[Array, "blocks_n n"]
    B: Float[Array, "blocks_n m"]
    b: Float[Array, " blocks_n"]
    activation: str = eqx.field(static=True)
    b_hc: Float[Array, " n"]
    BLOCKS: ClassVar[tuple[str, ...]] = ("u", "r", "c")
    STATE_MULTIPLE: ClassVar[int] = 1

    def __init__(self, n_units: int, n_inputs: int, activation: str, *, key: PRNGKeyArray):
        self.W, self.B, self.b, self.activation = initial_weights(len(self.BLOCKS), n_units, n_inputs, activation, key)
        self.b_hc = jnp.zeros(n_units)

    def __call__(self, h: Float[Array, " n"], x: Float[Array, " m"]) -> Float[Array, " n"]:
        n = self.n_units
        zx = self.B @ x + self.b
        zh = self.W @ h
        u, r = jnp.split(jax.nn.sigmoid(zh[: 2 * n] + zx[: 2 * n]), 2)
        c = self.f(zx[2 * n :] + r * (zh[2 * n :] + self.b_hc))
        return u * h + (1.0 - u) * c


@final
class LSTM(AbstractCell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997); the state is ``[h; c]``.

    Blocks: input gate ``i``, forget gate ``f``, output gate ``o``, candidate ``g``:
    ``c' = σ(z_f) ⊙ c + σ(z_i) ⊙ f(z_g)``, ``h' = σ(z_o) ⊙ f(c')``, every ``z`` computed from ``h``.
    The forget-gate bias starts at +1.
    """

    W: Float[Array, "blocks_n n"]
    B: Float[Array, "blocks_n m"]
    b: Float[Array, " blocks_n"]
    activation: str = eqx.field(static=True)
    BLOCKS: ClassVar[tuple[str, ...]] = ("i", "f", "o", "g")
    STATE_MULTIPLE: ClassVar[int] = 2

    def __init__(self, n_units: int, n_inputs: int, activation: str, *, key: PRNGKeyArray):
        W, B, b, self.activation = initial_weights(len(self.BLOCKS), n_units, n_inputs, activation, key)
        self.W, self.B, self.b = W, B, b.at[n_units : 2 * n_units].set(1.0)

    def __call__(self, state: Float[Array, " two_n"], x: Float[Array, " m"]) -> Float[Array, " two_n"]:
        h, c = jnp.split(state, 2)
        zi, zf, zo, zg = self._preactivations(h, x)
        c_new = jax.nn.sigmoid(zf) * c + jax.nn.sigmoid(zi) * self.f(zg)
        h_new = jax.nn.sigmoid(zo) * self.f(c_new)
        return jnp.concatenate([h_new, c_new])


CELLS: dict[str, type[AbstractCell]] = {"vanilla": Vanilla, "ugrnn": UGRNN, "gru": GRU, "lstm": LSTM}
ARCHITECTURES: tuple[str, ...] = tuple(CELLS)


def make_cell(name: str, activation: str, n_units: int, n_inputs: int, key: PRNGKeyArray) -> AbstractCell:
    """Build a cell by name (``vanilla``, ``ugrnn``, ``gru``, ``lstm``; case-insensitive)."""
    return CELLS[check_choice("architecture", name, CELLS)](n_units, n_inputs, activation, key=key)
