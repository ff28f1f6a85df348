"""Dynamical Similarity Analysis (Ostrow, Eisen, Kozachkov and Fiete, NeurIPS 2023), over whole populations.

- ``fit``: one system's trajectories → its linear operator: delay embedding (``n_delays`` copies,
  ``delay_interval`` steps apart), SVD of the Hankel matrix, then HAVOK DMD (principal component
  regression) of rank ``rank`` on the right singular vectors with ridge ``ridge``, as the reference
  implementation (``dsa-metric``, ``DSA.dmd.DMD``) defines it. Each network is fitted once.
- ``distance``: Procrustes over vector fields, min over orthogonal C of ‖Â − C B̂ Cᵀ‖ with Â, B̂ the
  operators scaled to unit Frobenius norm; reported as the angle arccos⟨Â, C B̂ Cᵀ⟩ (``"angular"``,
  the reference's default) or the norm (``"euclidean"``).
- ``pairwise`` (of trajectories), ``pairwise_operators`` (of fitted operators): every pair of a
  population at once, all pairs' optimisations batched in one compiled program (``DSAOptions``
  documents the optimiser: Adam on a Cayley parametrisation, several starts, an iteration budget
  with a per-pair stopping tolerance).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float
from tqdm import tqdm

from paperlib._checks import check_choice, check_int, check_number

SCORES = ("angular", "euclidean")


@dataclasses.dataclass(frozen=True)
class DSAOptions:
    """How systems are fitted and compared.

    **Fit** (as ``DSA.dmd.DMD`` with ``reduced_rank_reg=False``):

    - ``n_delays``: copies of the state in the delay embedding (1: none).
    - ``delay_interval``: steps between those copies.
    - ``rank``: right singular vectors of the Hankel matrix kept; the operator is ``rank × rank``.
    - ``ridge``: ridge term of the least-squares fit (the reference's ``lamb``).

    **Comparison** (as ``DSA.simdist.SimilarityTransformDist``): C = (I + X)⁻¹(I − X) with X = W − Wᵀ
    (Cayley: every orthogonal matrix without eigenvalue −1), W optimised by Adam:

    - ``iters``: the most Adam steps per start (the reference's default for DSA: 1,500).
    - ``lr``: Adam's rate (the reference's: 5e-3).
    - ``tol``: a pair stops once its loss fell by less than ``tol`` (relative) over the last 50 steps.
    - ``starts``: C = Q C₀ with Q Cayley-parametrised from Q = I, for C₀ = I and the swap of the
      first two coordinates (the reference's two starts: determinant +1 and −1), then ``starts − 2``
      random diagonal sign matrices (a fixed seed): Q never reaches an eigenvalue −1, and two
      operators that differ by the sign of two coordinates need exactly that. The lowest loss is kept.
      Measured on 20 pairs of trained flip-flop networks (``benchmarks/dsa.py``): with the reference's
      two starts this optimiser stays in a worse minimum on 1 pair in 20; with 8, every pair is
      within 3.1% of the reference and the mean is lower. The pairs run on one device: spread over
      the two host CPU devices they were measured 2× slower (256 pairs: 34 s against 17 s).
    - ``score``: ``"angular"`` (radians, in [0, π]) or ``"euclidean"`` (of the unit-norm operators).

    The fit fixes each singular vector's sign (its largest entry positive), so a system and a rotated
    copy of it give the same operator.
    """

    n_delays: int = 4
    delay_interval: int = 1
    rank: int = 16
    ridge: float = 1e-8
    iters: int = 1500
    lr: float = 5e-3
    tol: float = 1e-6
    starts: int = 8
    score: Literal["angular", "euclidean"] = "angular"

    def __post_init__(self):
        check_int("n_delays", self.n_delays)
        check_int("delay_interval", self.delay_interval)
        check_int("rank", self.rank)
        check_number("ridge", self.ridge, 0.0)
        check_int("iters", self.iters)
        check_number("lr", self.lr, 0.0, low_open=True)
        check_number("tol", self.tol, 0.0)
        check_int("starts", self.starts)
        check_choice("score", self.score, SCORES)


def _trials(states, name: str = "states") -> np.ndarray:
    states = np.asarray(states, np.float64)
    if states.ndim == 2:
        states = states[None]
    if states.ndim != 3 or min(states.shape) < 1:
        raise ValueError(f"{name} must be (time, units) or (trials, time, units), got shape {np.shape(states)}")
    if not np.all(np.isfinite(states)):
        raise ValueError(f"{name} has non-finite values")
    return states


def delay_embedding(states: Float[np.ndarray, "trials time units"], n_delays: int, interval: int = 1) -> np.ndarray:
    """(trials, time − (n_delays − 1)·interval, units · n_delays): the newest copy first, as the reference."""
    trials, steps, units = states.shape
    kept = steps - (n_delays - 1) * interval
    if kept < 2:
        raise ValueError(f"{n_delays} delays {interval} steps apart need more than {steps} time steps")
    copies = [states[:, (n_delays - 1 - d) * interval : (n_delays - 1 - d) * interval + kept] for d in range(n_delays)]
    return np.concatenate(copies, axis=-1)


def fit(states, options: DSAOptions = DSAOptions()) -> Float[np.ndarray, "rank rank"]:
    """The DMD operator of one system's trajectories: ``(time, units)`` or ``(trials, time, units)``.

    **Returns:** the ``rank × rank`` operator A with ``v_{t+1} ≈ A v_t`` for the Hankel matrix's
    right singular vectors v (float64).
    """
    H = delay_embedding(_trials(states), options.n_delays, options.delay_interval)
    trials, steps, width = H.shape
    if options.rank > min(width, trials * steps):
        raise ValueError(f"rank {options.rank} exceeds the Hankel matrix's {min(width, trials * steps)} dimensions")
    # the reference's V (right singular vectors of Hᵀ): the left singular vectors of H, one row per sample
    V, _, _ = np.linalg.svd(H.reshape(-1, width), full_matrices=False)
    V = V[:, : options.rank]
    V = V * np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(options.rank)])  # a fixed sign per vector
    V = V.reshape(trials, steps, options.rank)
    before, after = V[:, :-1].reshape(-1, options.rank), V[:, 1:].reshape(-1, options.rank)
    gram = before.T @ before + options.ridge * np.eye(options.rank)
    return np.linalg.solve(gram, before.T @ after).T


def fit_all(systems: Sequence, options: DSAOptions = DSAOptions(), progress: bool = True) -> np.ndarray:
    """(N, rank, rank): each system fitted once."""
    return np.stack([fit(s, options) for s in tqdm(systems, desc="dsa fits", disable=not progress, leave=False)])


def _unit(A: Array) -> Array:
    return A / jnp.linalg.norm(A, axis=(-2, -1), keepdims=True)


def _cayley(W: Array) -> Array:
    X = W - W.T
    eye = jnp.eye(W.shape[-1], dtype=W.dtype)
    return jnp.linalg.solve(eye + X, eye - X)


def _loss(W: Array, A: Array, B: Array, C0: Array) -> Array:
    C = _cayley(W) @ C0
    return jnp.sum((A - C @ B @ C.T) ** 2)


@functools.partial(jax.jit, static_argnames=("iters", "lr", "tol"))
def _optimise(A: Array, B: Array, C0: Array, iters: int, lr: float, tol: float) -> tuple[Array, Array]:
    """Adam from C = C0 for a batch of pairs (P, r, r); returns each pair's C and its loss."""
    optimiser = optax.adam(lr)
    loss_and_grad = jax.vmap(jax.value_and_grad(_loss), in_axes=(0, 0, 0, None))
    window = 50
    W = jnp.zeros_like(A)
    state = jax.vmap(optimiser.init)(W)
    loss0 = jax.vmap(_loss, in_axes=(0, 0, 0, None))(W, A, B, C0)

    def cond(carry):
        i, _, _, _, _, done = carry
        return (i < iters) & ~jnp.all(done)

    def body(carry):
        i, W, state, loss, reference, done = carry
        value, grad = loss_and_grad(W, A, B, C0)
        updates, new_state = jax.vmap(optimiser.update)(grad, state, W)
        keep = done[:, None, None]
        W = jnp.where(keep, W, optax.apply_updates(W, updates))
        state = jax.tree_util.tree_map(
            lambda new, old: jnp.where(done.reshape((-1,) + (1,) * (new.ndim - 1)), old, new), new_state, state
        )
        loss = jnp.where(done, loss, value)
        checkpoint = (i + 1) % window == 0
        stalled = checkpoint & (reference - loss <= tol * jnp.maximum(reference, 1e-12))
        reference = jnp.where(checkpoint, loss, reference)
        return i + 1, W, state, loss, reference, done | stalled

    done = jnp.zeros(A.shape[0], bool)
    _, W, _, _, _, _ = jax.lax.while_loop(cond, body, (0, W, state, loss0, loss0, done))
    return jax.vmap(_cayley)(W) @ C0, jax.vmap(_loss, in_axes=(0, 0, 0, None))(W, A, B, C0)


def start_matrices(r: int, starts: int) -> np.ndarray:
    """(starts, r, r): I, the swap of the first two coordinates, then random diagonal sign matrices."""
    swap = np.eye(r)
    if r > 1:
        swap[[0, 1]] = swap[[1, 0]]
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(max(starts - 2, 0), r))
    return np.stack([np.eye(r), swap, *map(np.diag, signs)])[:starts]


def _compare(A: np.ndarray, B: np.ndarray, options: DSAOptions) -> np.ndarray:
    """Distances for a batch of operator pairs (P, r, r), every start, on the first local device."""
    device = jax.local_devices()[0]  # LAPACK calls at once on two host CPU devices were seen to deadlock
    A, B = (jax.device_put(_unit(jnp.asarray(x, jnp.float32)), device) for x in (A, B))
    best_C, best_loss = None, None
    for C0 in start_matrices(A.shape[-1], options.starts):
        C, loss = _optimise(A, B, jnp.asarray(C0, jnp.float32), options.iters, options.lr, options.tol)
        if best_C is None:
            best_C, best_loss = C, loss
        else:
            better = loss < best_loss
            best_C, best_loss = jnp.where(better[:, None, None], C, best_C), jnp.minimum(loss, best_loss)
    return np.asarray(_score(A, B, best_C, options.score), np.float64)


def _score(A: Array, B: Array, C: Array, score: str) -> Array:
    mapped = C @ B @ jnp.swapaxes(C, -1, -2)
    if score == "euclidean":
        return jnp.linalg.norm(A - mapped, axis=(-2, -1))
    return jnp.arccos(jnp.clip(jnp.sum(A * mapped, axis=(-2, -1)), -1.0, 1.0))


def distance(A: Float[np.ndarray, "r r"], B: Float[np.ndarray, "r r"], options: DSAOptions = DSAOptions()) -> float:
    """The DSA distance between two fitted operators of the same rank (see ``DSAOptions``)."""
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim != 2 or A.shape != B.shape or A.shape[0] != A.shape[1]:
        raise ValueError(f"operators must be square and of one shape, got {A.shape} and {B.shape}")
    return float(_compare(A[None], B[None], options)[0])


def pairwise(
    systems: Sequence, options: DSAOptions = DSAOptions(), *, block: int = 256, progress: bool = True
) -> Float[np.ndarray, "n n"]:
    """DSA distances between every pair of systems, each given as trajectories (see ``fit``).

    **Arguments:**

    - ``systems``: N arrays ``(time, units)`` or ``(trials, time, units)``; unit counts may differ.
    - ``options``: ``DSAOptions``.
    - ``block``: pairs optimised per compiled call (the last block is padded to this size).
    - ``progress``: show a progress bar.

    **Returns:** (N, N) symmetric distances with a zero diagonal.

    ```python
    import numpy as np
    from paperlib.similarity.dsa import DSAOptions, pairwise
    rng = np.random.default_rng(0)
    systems = [np.cumsum(rng.normal(size=(4, 60, 5)), axis=1) for _ in range(3)]
    D = pairwise(systems, DSAOptions(n_delays=2, rank=6, iters=300), progress=False)  # (3, 3)
    ```
    """
    systems = list(systems)
    if len(systems) < 2:
        raise ValueError(f"pairwise needs at least 2 systems, got {len(systems)}")
    ops = fit_all([_trials(s, f"systems[{i}]") for i, s in enumerate(systems)], options, progress)
    return pairwise_operators(ops, options, block=block, progress=progress)


def pairwise_operators(
    operators: Float[np.ndarray, "n r r"],
    options: DSAOptions = DSAOptions(),
    *,
    block: int = 256,
    progress: bool = True,
) -> Float[np.ndarray, "n n"]:
    """DSA distances between every pair of fitted operators (``fit``), ``block`` pairs per compiled call."""
    ops = np.asarray(operators)
    if ops.ndim != 3 or ops.shape[1] != ops.shape[2] or len(ops) < 2:
        raise ValueError(f"operators must be (n >= 2, r, r), got shape {ops.shape}")
    check_int("block", block)
    n = len(ops)
    rows, cols = np.triu_indices(n, 1)
    block = min(block, len(rows))
    D = np.zeros((n, n))
    for start in tqdm(range(0, len(rows), block), desc="dsa pairs", disable=not progress, leave=False):
        r, c = rows[start : start + block], cols[start : start + block]
        pad = block - len(r)
        take_r, take_c = np.concatenate([r, np.zeros(pad, int)]), np.concatenate([c, np.ones(pad, int)])
        D[r, c] = _compare(ops[take_r], ops[take_c], options)[: len(r)]
    return D + D.T
