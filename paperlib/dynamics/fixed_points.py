"""Fixed points of any recurrent map ``step(h, x) -> h'`` with the input held at ``x*``.

- ``find_fixed_points``: stable and unstable fixed points (and slow points) by damped Newton
  steps on ``q(h) = ½‖step(h, x*) − h‖²`` from many initial states at once, in float64.
- ``slow_points``: points sampled along an approximate line attractor, by letting the dynamics
  settle until slow.
- ``FixedPoints``: the points with their Jacobians, eigenvalues and eigenvectors.
- ``initial_states``, ``state_scale``, ``slow_speed``: where searches start and the slow-point rule
  (:ref:`methods-slow-points`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Inexact, PyTree

from paperlib._io import atomic_write

Step = Callable[[Array, Array], Array]


@dataclasses.dataclass(frozen=True)
class FixedPointOptions:
    """Settings of ``find_fixed_points``.

    **Arguments:**

    - ``tol_q``: a state whose ``q`` falls below this has converged (fixed-point-finder's 1e-12).
    - ``keep_q``: states that end with ``q`` above this are reported (count and ``q``), never
      returned (default 1e-8: slow points of speed ``‖F(h) − h‖`` below ~1.4e-4 count, as in the paper).
    - ``max_iters``, ``patience``: at most this many Newton iterations; a state whose ``q`` has not
      improved for ``patience`` of them has converged to a local minimum of ``q``.
    - ``tol_unique``: points closer than this are one point (fixed-point-finder's 1e-3).
    - ``outlier_scale``: points farther from the initial states' centroid than this × their mean
      distance from it are dropped (fixed-point-finder's rule).
    - ``initial_damping``: the Levenberg–Marquardt damping every state starts with.
    - ``stability_tol``: an eigenvalue with ``|λ| > 1 + stability_tol`` is an unstable dimension.
    - ``n_between``, ``between_noise``: a second round of searches from this many states seeded
      between the first round's stable points (means of pairs, fours and all), plus this much
      noise relative to the initial states' spread: saddles lie there, where trajectories rarely pass.
    - ``x64``: search and linearise in float64 (float32 rounding of a saturated gate puts
      eigenvalues at 1 ± 1e-7 and stops Newton short of ``tol_q``).

    Against fixed-point-finder (Golub & Sussillo 2018: Adam, up to 5,000 iterations): the same
    ``tol_q``, ``tol_unique`` and outlier rule, so the two report the same points; Newton steps
    converge in tens rather than thousands of iterations and give the Jacobians the analyses use.
    """

    tol_q: float = 1e-12
    keep_q: float = 1e-8
    max_iters: int = 200
    patience: int = 8
    tol_unique: float = 1e-3
    outlier_scale: float = 10.0
    initial_damping: float = 1e-3
    stability_tol: float = 1e-3
    n_between: int = 0
    between_noise: float = 0.01
    x64: bool = True

    def __post_init__(self):
        if not isinstance(self.x64, bool):
            raise ValueError(f"x64 must be True or False, got {self.x64!r}")
        for name in ("stability_tol", "between_noise"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if isinstance(self.n_between, bool) or not isinstance(self.n_between, int) or self.n_between < 0:
            raise ValueError(f"n_between must be a non-negative integer, got {self.n_between!r}")
        for name in ("tol_q", "keep_q", "tol_unique", "outlier_scale", "initial_damping"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name in ("max_iters", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.keep_q < self.tol_q:
            raise ValueError(f"keep_q ({self.keep_q}) must be at least tol_q ({self.tol_q})")


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """Fixed points of one map at one static input, with their linearisations.

    ``states`` (K, N); ``q`` (K,); ``jacobians`` (K, N, N) = ∂F/∂h; ``eigenvalues`` (K, N), complex,
    sorted by |λ| descending; ``right_eigenvectors`` (K, N, N) as columns; ``left_eigenvectors``
    (K, N, N) as rows, with ``L R = I``; ``n_unstable`` (K,) = number of |λ| > 1 + ``stability_tol``.
    ``n_initial`` states were searched from (both rounds); ``unconverged_q`` holds the final ``q``
    of those that are not points (not converged, or converged above ``keep_q``); ``n_capped`` of
    them were still improving at the iteration cap (a plateau, not a point).
    """

    states: np.ndarray
    q: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    right_eigenvectors: np.ndarray
    left_eigenvectors: np.ndarray
    n_unstable: np.ndarray
    x_star: np.ndarray
    n_initial: int = 0
    unconverged_q: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    n_iterations: int = 0
    n_capped: int = 0

    _PER_POINT = ("states", "q", "jacobians", "eigenvalues", "right_eigenvectors", "left_eigenvectors", "n_unstable")

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, index) -> FixedPoints:
        index = np.arange(len(self))[index]
        index = np.atleast_1d(index)
        return dataclasses.replace(self, **{f: getattr(self, f)[index] for f in self._PER_POINT})

    @property
    def n_unconverged(self) -> int:
        return len(self.unconverged_q)

    @property
    def stable(self) -> np.ndarray:
        return self.n_unstable == 0

    @property
    def speed(self) -> np.ndarray:
        """‖F(h) − h‖ at each point: √(2q)."""
        return np.sqrt(2.0 * np.asarray(self.q, np.float64))

    def slower_than(self, max_speed: float) -> FixedPoints:
        """The points whose speed ‖F(h) − h‖ is at most ``max_speed``."""
        return self[np.flatnonzero(self.speed <= max_speed)]

    def summary(self) -> str:
        counts = np.bincount(self.n_unstable.astype(int), minlength=1) if len(self) else np.zeros(1, int)
        kinds = ", ".join(f"{c} with {k} unstable" for k, c in enumerate(counts) if c)
        lines = [
            f"{len(self)} fixed points from {self.n_initial} initial states ({kinds or 'none'})",
            (f"q: max {self.q.max():.1e}" if len(self) else "q: -") + f"; {self.n_iterations} iterations",
            f"{self.n_unconverged} states are not points ({self.n_capped} still improving at the iteration cap)"
            + (
                f" (q from {self.unconverged_q.min():.1e} to {self.unconverged_q.max():.1e})"
                if self.n_unconverged
                else ""
            ),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"FixedPoints(K={len(self)}, N={self.states.shape[-1]}, n_unstable={self.n_unstable.tolist()})"

    def without_linearisation(self) -> FixedPoints:
        """The same points keeping their eigenvalues but no Jacobians or eigenvectors (for hundreds
        of line points, whose (K × N × N) arrays would dominate what is stored)."""
        k = len(self)
        return dataclasses.replace(
            self,
            jacobians=np.zeros((k, 0, 0)),
            right_eigenvectors=np.zeros((k, 0, 0), complex),
            left_eigenvectors=np.zeros((k, 0, 0), complex),
        )

    def save(self, path: Path | str) -> None:
        """Write to ``path`` (``.npz``) atomically. The eigenvectors are not written: ``load``
        recomputes them from the Jacobians (the same arrays: ``decompose`` is deterministic)."""
        buffer = io.BytesIO()
        skip = ("right_eigenvectors", "left_eigenvectors")
        np.savez(
            buffer,
            **{f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in skip},
        )
        atomic_write(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: Path | str) -> FixedPoints:
        try:
            with np.load(path) as data:
                fields = {
                    f.name: data[f.name]
                    for f in dataclasses.fields(cls)
                    if f.name in data.files or (f.default is dataclasses.MISSING and "eigenvectors" not in f.name)
                }
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path} is not a readable FixedPoints file: {err}") from None
        for name in ("n_initial", "n_iterations", "n_capped"):
            if name in fields:
                fields[name] = int(fields[name])
        if "right_eigenvectors" not in fields:
            jacobians = fields["jacobians"]
            if jacobians.shape[-1] and len(jacobians):
                values, fields["right_eigenvectors"], fields["left_eigenvectors"] = decompose(jacobians)
            else:
                fields["right_eigenvectors"] = np.zeros(jacobians.shape, complex)
                fields["left_eigenvectors"] = np.zeros(jacobians.shape, complex)
        return cls(**fields)


class _Search(NamedTuple):
    """The state of a search, one entry per lane (initial state)."""

    h: Array
    q: Array
    mu: Array  # damping
    stall: Array  # iterations without real progress
    done: Array


def _residual(step: Step, x_star: Array, h: Array) -> Array:
    return step(h, x_star) - h


def _q(step: Step, x_star: Array, h: Array) -> Array:
    r = _residual(step, x_star, h)
    return 0.5 * jnp.dot(r, r)


def _start(step: Step, x_star: Array, h0: Array, options: FixedPointOptions) -> _Search:
    q0 = jax.vmap(lambda h: _q(step, x_star, h))(h0)
    m = h0.shape[0]
    return _Search(h0, q0, jnp.full(m, options.initial_damping, h0.dtype), jnp.zeros(m, jnp.int32), q0 < options.tol_q)


def _advance(step: Step, x_star: Array, search: _Search, options: FixedPointOptions, n_iters: Array):
    """Up to ``n_iters`` damped Newton iterations of every lane, fewer if every lane is done."""
    eye = jnp.eye(search.h.shape[-1], dtype=search.h.dtype)

    def newton(h, q, mu, stall, done):
        r = _residual(step, x_star, h)
        A = jax.jacfwd(lambda v: _residual(step, x_star, v))(h)
        delta = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(A.T @ A + mu * eye), -(A.T @ r))
        h_new = h + delta
        q_new = _q(step, x_star, h_new)
        better = (q_new < q) & jnp.isfinite(q_new) & ~done
        progress = better & (q_new < q * (1.0 - 1e-3))
        h = jnp.where(better, h_new, h)
        q = jnp.where(better, q_new, q)
        mu = jnp.where(better, mu / 3.0, mu * 2.0)
        stall = jnp.where(progress, 0, stall + 1)
        done = done | (q < options.tol_q) | (stall >= options.patience)
        return _Search(h, q, mu, stall, done)

    def body(carry):
        search, it = carry
        return jax.vmap(newton)(*search), it + 1

    def cond(carry):
        search, it = carry
        return ~jnp.all(search.done) & (it < n_iters)

    return jax.lax.while_loop(cond, body, (search, jnp.int32(0)))


_start_jit = eqx.filter_jit(_start)
_advance_jit = eqx.filter_jit(_advance)
_CHUNK = 8  # iterations between checks for lanes to drop
_MIN_LANES = 8


def _solve(step: Step, x_star: Array, h0: np.ndarray, options: FixedPointOptions, device):
    """Damped Newton from every row of ``h0``; returns final states, their ``q``, whether each
    converged (stopped before the cap) and the iterations run.

    Every ``_CHUNK`` iterations the lanes still searching are counted; when they are at most a
    quarter of the batch, they are moved to a batch of the next power of two (at least
    ``_MIN_LANES``), so that a few slow searches do not keep the whole batch computing.
    """
    put = functools.partial(jax.device_put, device=device)
    x_star = put(x_star)
    states, q = h0.copy(), np.full(len(h0), np.inf)
    converged = np.zeros(len(h0), bool)
    lanes = np.arange(len(h0))  # the initial state each lane holds; -1 for padding
    search = _start_jit(step, x_star, put(h0), options)
    iterations = 0
    while True:
        search, ran = _advance_jit(
            step, x_star, search, options, jnp.int32(min(_CHUNK, options.max_iters - iterations))
        )
        iterations += int(ran)
        h, q_lanes, done = (np.asarray(a) for a in (search.h, search.q, search.done))
        real = lanes >= 0
        states[lanes[real]], q[lanes[real]], converged[lanes[real]] = h[real], q_lanes[real], done[real]
        active = real & ~done
        if not active.any() or iterations >= options.max_iters:
            return states, q, converged, iterations
        if 4 * active.sum() <= len(lanes) and len(lanes) > _MIN_LANES:
            keep = np.flatnonzero(active)
            size = max(_MIN_LANES, 1 << int(np.ceil(np.log2(len(keep)))))
            take = np.concatenate([keep, np.full(size - len(keep), np.flatnonzero(~active)[0])])
            lanes = np.concatenate([lanes[keep], np.full(size - len(keep), -1)])
            search = jax.tree_util.tree_map(lambda a: put(np.asarray(a)[take]), search)
            search = search._replace(done=put(np.arange(size) >= len(keep)) | search.done)


def _solve_batch(step: Step, x_star: Array, h0: Array, options: FixedPointOptions):
    """All lanes to the end in one compiled loop (the vmapped population search)."""
    search = _start(step, x_star, h0, options)
    search, iterations = _advance(step, x_star, search, options, jnp.int32(options.max_iters))
    return search.h, search.q, search.done, iterations


@eqx.filter_jit
def _solve_population(models, x_star, h0s, options):
    return eqx.filter_vmap(lambda m, h0: _solve_batch(m.step, x_star, h0, options))(models, h0s)


@eqx.filter_jit
def _jacobians(step: Step, x_star, states):
    return jax.vmap(jax.jacfwd(step), in_axes=(0, None))(states, x_star)


def relinearise(
    step: Step, x_star: Float[ArrayLike, " m"], states: Float[np.ndarray, "k state"]
) -> tuple[Float[np.ndarray, "k state state"], Inexact[np.ndarray, "k state"]]:
    """The Jacobians and eigenvalues that ``find_fixed_points`` stores at its points ``states``,
    computed again as it computes them (in float64): the same arrays, from the points alone."""
    with jax.enable_x64(True):
        jacobians = np.asarray(_jacobians(cast(step, np.float64), jnp.asarray(x_star, np.float64), jnp.asarray(states)))
    return jacobians, decompose(jacobians)[0]


def decompose(jacobians: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues sorted by |λ| descending, right eigenvectors (columns) and left ones (rows, L = R⁻¹).

    A defective Jacobian (e.g. a relu network's silent units give a repeated eigenvalue 0 without
    independent eigenvectors) has a singular R; its L is then the pseudo-inverse.
    """
    values, right = np.linalg.eig(np.asarray(jacobians, np.float64))
    order = np.argsort(-np.abs(values), axis=-1, kind="stable")
    values = np.take_along_axis(values, order, axis=-1)
    right = np.take_along_axis(right, order[..., None, :], axis=-1)
    try:
        left = np.linalg.inv(right)
    except np.linalg.LinAlgError:
        flat = right.reshape(-1, *right.shape[-2:])
        left = np.stack([_inverse(r) for r in flat]).reshape(right.shape)
    return values, right, left


def _inverse(matrix: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)


def _unique(states: np.ndarray, q: np.ndarray, tol: float) -> np.ndarray:
    """Indices of states at least ``tol`` apart, keeping the lowest ``q`` of each cluster."""
    kept: list[int] = []
    for i in np.argsort(q, kind="stable"):
        if not kept or np.min(np.linalg.norm(states[kept] - states[i], axis=1)) > tol:
            kept.append(int(i))
    return np.asarray(kept, int)


def precision(x64: bool):
    """The dtype and the JAX context that searches and linearisations run in (float64 when ``x64``)."""
    return (np.float64, jax.enable_x64(True)) if x64 else (np.float32, contextlib.nullcontext())


def cast(tree: PyTree, dtype) -> PyTree:
    """``tree`` (a step function, an Equinox module, a population of them) with its floating-point
    arrays cast to ``dtype``."""
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


def _check(step: Step, x_star, initial_states, dtype) -> tuple[np.ndarray, Array]:
    h0 = np.array(initial_states, dtype=dtype)  # a copy
    x_star = jnp.asarray(x_star, dtype)
    if h0.ndim != 2 or h0.shape[0] < 1:
        raise ValueError(f"initial_states must be (n_states × state_size) with n_states >= 1, got {h0.shape}")
    if not np.isfinite(h0).all():
        raise ValueError("initial_states contain NaN or infinite values")
    try:
        probe = jax.eval_shape(step, jax.ShapeDtypeStruct(h0.shape[1:], dtype), x_star)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"step(h, x_star) fails for h of shape {h0.shape[1:]} and x_star of shape {x_star.shape}: {err}"
        ) from None
    if probe.shape != h0.shape[1:]:
        raise ValueError(f"step must map a state of shape {h0.shape[1:]} to the same shape, got {probe.shape}")
    return h0, x_star


def find_fixed_points(
    step: Step,
    x_star: Float[ArrayLike, " m"],
    initial_states: Float[ArrayLike, "n state"],
    options: FixedPointOptions = FixedPointOptions(),
    *,
    device: jax.Device | None = None,
) -> FixedPoints:
    """Fixed points of ``step`` at the static input ``x_star``, searched from ``initial_states``.

    **Arguments:**

    - ``step``: any JAX-traceable ``(h, x) -> h'``, e.g. ``model.step`` of a ``paperlib.models.rnn.RNN``
      (an Equinox module's method is traced as data: networks of one shape share one compiled search).
    - ``x_star``: (m,) the input held fixed.
    - ``initial_states``: (n, state) where the searches start (``initial_states(trajectories, n)``).
    - ``options``: ``FixedPointOptions``.
    - ``device``: where the search runs (default the first local device: LAPACK calls running at
      once on two host CPU devices were seen to deadlock).

    **Returns:** ``FixedPoints`` with K distinct converged points, their ``q``, Jacobians,
    eigenvalues (sorted by |λ|) and eigenvectors; states that did not converge are counted, not returned.

    How: each state takes damped Newton steps (Levenberg–Marquardt on ``r = F(h) − h`` with
    Jacobian ``A = ∂F/∂h − I``): ``(AᵀA + μ I) δ = −Aᵀr``, solved by Cholesky, each state with its
    own damping ``μ``, divided by 3 after a step that lowers ``q`` and doubled (the step refused)
    after one that does not. Newton near a fixed point, gradient descent far from one: saddles are
    found as readily as stable points, and local minima of ``q`` (slow points) where no fixed point
    is near. A state still improving at ``max_iters`` has not converged (saturated gates make
    plateaus where ``q`` keeps falling) and is never returned. Inputs are never modified.

    ```python
    import jax.numpy as jnp, numpy as np
    from paperlib.dynamics.fixed_points import FixedPointOptions, find_fixed_points
    starts = np.random.default_rng(0).normal(size=(64, 3))  # three bistable units:
    fps = find_fixed_points(lambda h, x: jnp.tanh(2 * h), jnp.zeros(1), starts, FixedPointOptions(n_between=64))
    print(fps.summary())  # 27 fixed points: 8 stable, 12 / 6 / 1 with 1 / 2 / 3 unstable dimensions
    ```
    """
    dtype, context = precision(options.x64)
    device = device or jax.local_devices()[0]
    with context:
        step = cast(step, dtype)
        h0, x_star = _check(step, x_star, initial_states, dtype)
        states, q, converged, iterations = _solve(step, x_star, h0, options, device)
        first = _collect(step, x_star, h0, states, q, converged, iterations, options)
        seeds = between_stable_points(first, options.n_between, noise=options.between_noise * _spread(h0))
        if len(seeds) == 0:
            return first
        more = _solve(step, x_star, seeds.astype(dtype), options, device)
        states, q, converged = (np.concatenate([a, b]) for a, b in zip((states, q, converged), more[:3]))
        return _collect(
            step, x_star, h0, states, q, converged, iterations + more[3], options, n_initial=len(h0) + len(seeds)
        )


def _spread(h0: np.ndarray) -> float:
    """Mean distance of the initial states from their centroid (the outlier rule's scale)."""
    return float(np.mean(np.linalg.norm(h0 - h0.mean(axis=0), axis=1))) + 1e-12


def between_stable_points(
    fps: FixedPoints, n: int, *, noise: float = 0.0, seed: int = 0
) -> Float[np.ndarray, "n state"]:
    """``n`` states between the stable points of ``fps``, where saddles lie (empty with fewer than 2).

    About half are midpoints of random pairs, the rest means of random fours, and one the mean of
    all; each gets isotropic Gaussian noise of standard deviation ``noise`` (a distance).
    """
    stable = np.asarray(fps.states[fps.stable], np.float64)
    if n < 1 or len(stable) < 2:
        return np.zeros((0, fps.states.shape[-1]))
    rng = np.random.default_rng(seed)
    k = len(stable)
    n_pairs = n // 2

    def means(size: int, count: int) -> np.ndarray:
        picks = [rng.choice(k, size, replace=False) for _ in range(count)]
        return stable[np.stack(picks)].mean(axis=1) if picks else np.zeros((0, stable.shape[1]))

    pairs = means(2, n_pairs)
    seeds = np.concatenate([pairs, stable.mean(axis=0, keepdims=True), means(min(4, k), n - 1 - n_pairs)])[:n]
    return seeds + noise / np.sqrt(seeds.shape[1]) * rng.normal(size=seeds.shape)


def _collect(step, x_star, h0, states, q, converged, iterations, options, n_initial=None) -> FixedPoints:
    """Keep converged states below ``keep_q``, drop outliers and duplicates, linearise what is left."""
    keep = np.isfinite(q) & converged & (q < options.keep_q)
    unconverged_q, n_capped = q[~keep], int(np.sum(~converged))
    states, q = states[keep], q[keep]
    if len(states):
        centroid = h0.mean(axis=0)
        inliers = np.linalg.norm(states - centroid, axis=1) <= options.outlier_scale * _spread(h0)
        states, q = states[inliers], q[inliers]
    index = _unique(states, q, options.tol_unique) if len(states) else np.zeros(0, int)
    return _linearise(
        step,
        x_star,
        states[index],
        q[index],
        options.stability_tol,
        n_initial=n_initial or len(h0),
        unconverged_q=unconverged_q,
        n_iterations=iterations,
        n_capped=n_capped,
    )


def _linearise(step, x_star, states, q, stability_tol: float, **extra) -> FixedPoints:
    """``FixedPoints`` at ``states``: Jacobians, their eigen-decomposition, unstable dimensions."""
    n = states.shape[1]
    if len(states):
        jacobians = np.asarray(_jacobians(step, x_star, jnp.asarray(states)))
        values, right, left = decompose(jacobians)
    else:
        jacobians = np.zeros((0, n, n))
        values, right, left = np.zeros((0, n), complex), np.zeros((0, n, n), complex), np.zeros((0, n, n), complex)
    return FixedPoints(
        states=states,
        q=q,
        jacobians=jacobians,
        eigenvalues=values,
        right_eigenvectors=right,
        left_eigenvectors=left,
        n_unstable=np.sum(np.abs(values) > 1.0 + stability_tol, axis=-1),
        x_star=np.asarray(x_star),
        **extra,
    )


def slow_speed(trial_steps: int, state_scale: float, fraction: float = 0.1) -> float:
    """The speed ‖F(h) − h‖ under which a point is slow: it drifts at most ``fraction`` of the
    network's state scale ``r`` over a trial of ``trial_steps`` steps (:ref:`methods-slow-points`: s · T ≤ 0.1 · r)."""
    if not (trial_steps >= 1 and state_scale > 0 and fraction > 0):
        raise ValueError(
            f"need trial_steps >= 1, state_scale > 0 and fraction > 0, got {trial_steps}, {state_scale}, {fraction}"
        )
    return fraction * state_scale / trial_steps


def state_scale(states: Float[np.ndarray, "... state"]) -> float:
    """RMS distance of recorded states (any leading shape) from their mean: a network's ``r``."""
    states = np.asarray(states, np.float64).reshape(-1, np.shape(states)[-1])
    return float(np.sqrt(np.mean(np.sum((states - states.mean(axis=0)) ** 2, axis=1))))


@eqx.filter_jit
def _settle_until_slow(step, x_star, h0, max_speed, max_steps):
    """Run ``h ← F(h)`` for every lane until ‖F(h) − h‖ ≤ ``max_speed`` (then hold it) or ``max_steps``.

    The carry holds ``F(h)`` beside ``h``, so each iteration applies the map once.
    """
    apply = jax.vmap(step, in_axes=(0, None))

    def body(carry):
        h, f, slow, it = carry
        h = jnp.where(slow[:, None], h, f)
        f = apply(h, x_star)
        return h, f, slow | (jnp.linalg.norm(f - h, axis=-1) <= max_speed), it + 1

    def cond(carry):
        _, _, slow, it = carry
        return ~jnp.all(slow) & (it < max_steps)

    f0 = apply(h0, x_star)
    start = (h0, f0, jnp.linalg.norm(f0 - h0, axis=-1) <= max_speed, jnp.int32(0))
    h, f, slow, _ = jax.lax.while_loop(cond, body, start)
    return h, slow, jnp.linalg.norm(f - h, axis=-1)


def slow_points(
    step: Step,
    x_star: Float[ArrayLike, " m"],
    initial_states: Float[ArrayLike, "n state"],
    *,
    trial_steps: int,
    state_scale: float,
    fraction: float = 0.1,
    spacing: float = 0.01,
    max_steps: int | None = None,
    stability_tol: float = 1e-3,
    x64: bool = True,
) -> FixedPoints:
    """Slow points of ``step`` at ``x_star``, sampled where the dynamics slow down (a line attractor).

    **Arguments:**

    - ``step``, ``x_star``, ``initial_states``: as for ``find_fixed_points``.
    - ``trial_steps``, ``state_scale``, ``fraction``: a state counts as slow once its speed is at
      most ``fraction · state_scale / trial_steps``: it drifts at most ``fraction · r`` over a trial
      (:ref:`methods-slow-points`).
    - ``spacing``: points closer than ``spacing · state_scale`` are merged.
    - ``max_steps``: give up on a state after this many steps (default ``10 · trial_steps``).
    - ``stability_tol``, ``x64``: as in ``FixedPointOptions``.

    **Returns:** ``FixedPoints`` of the slow states, linearised; states never slow are counted.

    Each initial state follows the network's own autonomous dynamics ``h ← F(h, x*)`` and stops at
    the first state whose speed ``‖F(h) − h‖`` is at most ``slow_speed(trial_steps, state_scale,
    fraction)``; states still faster after ``max_steps`` (default ``10 · trial_steps``) are
    reported, not returned. Points closer than ``spacing · state_scale`` are merged (lowest ``q``
    kept). Letting the dynamics settle, rather than descending ``q``, is chosen because the fast
    directions of a line attractor decay within a few steps while the slow one keeps each state
    near where it entered the line, so the points spread along the line as the probe states do;
    it needs no learning rate and no Jacobian until the end. Newton's method to ``q → 0`` would
    instead collapse a leaky line to its one exact fixed point.
    """
    dtype, context = precision(x64)
    max_speed = slow_speed(trial_steps, state_scale, fraction)
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    max_steps = 10 * trial_steps if max_steps is None else max_steps
    with context:
        step = cast(step, dtype)
        h0, x_star = _check(step, x_star, initial_states, dtype)
        h, slow, speed = (
            np.asarray(a) for a in _settle_until_slow(step, x_star, jnp.asarray(h0), max_speed, jnp.int32(max_steps))
        )
        q = 0.5 * speed.astype(np.float64) ** 2
        slow = slow & np.isfinite(q)
        index = _unique(h[slow], q[slow], spacing * state_scale) if slow.any() else np.zeros(0, int)
        return _linearise(
            step,
            x_star,
            h[slow][index],
            q[slow][index],
            stability_tol,
            n_initial=len(h0),
            unconverged_q=q[~slow],
            n_capped=int(np.sum(~slow)),
        )


def initial_states(
    trajectories: Float[np.ndarray, "... state"], n: int, *, noise: float = 0.1, seed: int = 0
) -> Float[np.ndarray, "n state"]:
    """``n`` states drawn from recorded trajectories (any leading shape), plus Gaussian noise.

    The noise standard deviation is ``noise`` × the per-dimension standard deviation of the states.
    """
    states = np.asarray(trajectories, np.float64).reshape(-1, np.shape(trajectories)[-1])
    if len(states) == 0 or n < 1:
        raise ValueError(f"need at least one trajectory state and n >= 1, got {len(states)} states and n={n}")
    rng = np.random.default_rng(seed)
    picked = states[rng.integers(0, len(states), n)]
    return picked + noise * states.std(axis=0) * rng.normal(size=picked.shape)


def find_fixed_points_population(
    models, x_star, initial_states: Float[np.ndarray, "p n state"], options: FixedPointOptions = FixedPointOptions()
) -> list[FixedPoints]:
    """Fixed points of every network of a population (stacked Equinox models with a ``step`` method).

    One compiled search, vmapped over the stacked parameters, on the first local device (see
    ``find_fixed_points`` on devices); every lane runs until all are done (no compaction). One
    round only: ``options.n_between`` must be 0 (the second round is ``find_fixed_points``'s).
    """
    if options.n_between:
        raise ValueError(
            f"find_fixed_points_population searches one round; options.n_between must be 0, got {options.n_between} "
            "(use find_fixed_points per network for the second round between stable points)"
        )
    dtype, context = precision(options.x64)
    with context:
        models = cast(models, dtype)
        params = eqx.filter(models, eqx.is_array)
        n_models = jax.tree_util.tree_leaves(params)[0].shape[0]
        h0s = np.array(initial_states, dtype=dtype)
        if h0s.ndim != 3 or len(h0s) != n_models:
            raise ValueError(
                f"initial_states must be (networks × states × state_size) with {n_models} networks, got {h0s.shape}"
            )
        x_star = jnp.asarray(x_star, dtype)
        states, q, converged, iterations = (
            np.asarray(a) for a in _solve_population(models, x_star, jnp.asarray(h0s), options)
        )
        results = []
        for i in range(n_models):
            model = jax.tree_util.tree_map(lambda a: a[i] if eqx.is_array(a) else a, models)
            results.append(
                _collect(model.step, x_star, h0s[i], states[i], q[i], converged[i], int(iterations[i]), options)
            )
        return results
