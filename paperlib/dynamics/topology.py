"""The topology of a network's fixed points, and distances between topologies.

- ``transition_graph``: which fixed point a run settles at after a small kick from each one.
- ``readout_order``: points sorted by readout, so that graphs of networks compare entry by entry.
- ``graph_distance``, ``matched_graph_distance``: the paper's distance between two graphs, and one
  that matches points by readout when the networks have different numbers of points.
- ``flipflop_memories``, ``modal_count_mask``: what a flip-flop network's stable points hold, and
  which networks have the population's most common number of points.
- ``line_attractor_graph``, ``central_fixed_point``: the CDI's line graph and the sine's centre.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import minimum_spanning_tree

from paperlib.dynamics.fixed_points import FixedPoints, cast, precision


def transition_graph(
    step: Callable[[Array, Array], Array],
    fps: FixedPoints,
    *,
    n_samples: int = 100,
    radius: float | None = None,
    settle_distance: float | None = None,
    max_steps: int = 1000,
    seed: int = 0,
    x64: bool = True,
) -> Float[np.ndarray, "k k"]:
    """Probabilities of settling at fixed point j after starting ``radius`` away from fixed point i.

    **Arguments:**

    - ``step``: the map ``(h, x) -> h'`` whose points ``fps`` are (found at ``fps.x_star``).
    - ``fps``: K points from ``find_fixed_points``.
    - ``n_samples``: runs started from each point, each in a random direction.
    - ``radius``, ``settle_distance``: how far from a point a run starts, and how near a stable
      point it must come to have settled there (defaults below).
    - ``max_steps``: a run that has not settled after this many steps is *unsettled*.
    - ``seed``, ``x64``: the random directions; run in float64.

    **Returns:** (K, K) matrix; row i holds the fractions of runs from point i that settled at
    each point j (stable points only; ``1 − row sum`` is row i's unsettled fraction).

    Each start follows the autonomous dynamics until it comes within ``settle_distance`` of a
    stable point of ``fps`` (a run may pass near a saddle, but cannot stay there), or for at most
    ``max_steps`` steps: such a run is *unsettled* and counts for no point, so its row sums to less
    than 1 (``1 − row sum`` is the unsettled fraction). ``radius`` defaults to a tenth of the
    smallest distance between two points (0.01 with one point); ``settle_distance`` to half that
    smallest distance (the analysis passes 1% of the network's state scale,
    :ref:`methods-transition-graph`).
    """
    K = len(fps)
    if K == 0:
        return np.zeros((0, 0))
    states = np.asarray(fps.states, np.float64)
    gaps = np.linalg.norm(states[:, None] - states[None], axis=-1) + np.diag(np.full(K, np.inf))
    smallest = float(gaps.min()) if K > 1 else 0.1
    radius = 0.1 * smallest if radius is None else radius
    settle_distance = 0.5 * smallest if settle_distance is None else settle_distance
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(K, n_samples, states.shape[1]))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    starts = (states[:, None] + radius * directions).reshape(K * n_samples, -1)
    stable = np.flatnonzero(fps.stable)
    reached = settle(step, fps.x_star, starts, states[stable], settle_distance, max_steps, x64=x64)
    graph = np.zeros((K, K))
    origin = np.repeat(np.arange(K), n_samples)
    ok = reached >= 0
    np.add.at(graph, (origin[ok], stable[reached[ok]]), 1.0)
    return graph / n_samples


_SETTLE_CHUNK = 20  # steps between checks for settled runs


def settle(
    step: Callable[[Array, Array], Array],
    x_star,
    starts: Float[np.ndarray, "n state"],
    targets: Float[np.ndarray, "k state"],
    settle_distance: float,
    max_steps: int,
    *,
    x64: bool = True,
) -> np.ndarray:
    """Run ``h ← step(h, x*)`` from every start until it is within ``settle_distance`` of a target;
    return the index of the target each run settled at, −1 for runs still unsettled after ``max_steps``.

    Runs are checked every 20 steps; settled ones are dropped from the batch.
    """
    dtype, context = precision(x64)
    result = np.full(len(starts), -1)
    if len(targets) == 0 or len(starts) == 0:
        return result
    targets = np.asarray(targets, np.float64)
    with context:
        step = cast(step, dtype)
        x_star = jnp.asarray(x_star, dtype)
        h = np.asarray(starts, dtype)
        lanes = np.arange(len(h))
        for done_steps in range(0, max_steps, _SETTLE_CHUNK):
            n = min(_SETTLE_CHUNK, max_steps - done_steps)
            size = max(8, 1 << int(np.ceil(np.log2(len(h)))))  # few batch shapes, few compilations
            padded = np.concatenate([h, np.repeat(h[:1], size - len(h), axis=0)])
            h = np.asarray(_run(step, x_star, jnp.asarray(padded), n))[: len(h)]
            distance = np.linalg.norm(h[:, None].astype(np.float64) - targets[None], axis=-1)
            nearest = np.argmin(distance, axis=1)
            finite = np.isfinite(h).all(axis=1)
            hit = (distance[np.arange(len(h)), nearest] <= settle_distance) & finite
            result[lanes[hit]] = nearest[hit]
            h, lanes = h[~hit & finite], lanes[~hit & finite]
            if len(h) == 0:
                break
    return result


@eqx.filter_jit
def _run(step, x_star, starts, n_steps: int):
    """Run the autonomous dynamics ``n_steps`` from every start."""
    run = lambda h: jax.lax.fori_loop(0, n_steps, lambda _, s: step(s, x_star), h)  # noqa: E731
    return jax.vmap(run)(starts)


def readout_order(readouts: Float[np.ndarray, "k o"], decimals: int = 1) -> np.ndarray:
    """Indices sorting fixed points lexicographically by their readout (rounded to ``decimals``)."""
    r = np.round(np.asarray(readouts, np.float64), decimals)
    return np.lexsort(r.T[::-1]) if len(r) else np.zeros(0, int)


def modal_count_mask(counts) -> np.ndarray:
    """True for the networks whose fixed-point count equals the most common count (the mode)."""
    counts = np.asarray(counts)
    values, freq = np.unique(counts, return_counts=True)
    return counts == values[np.argmax(freq)]


class FlipFlopMemories(NamedTuple):
    """What a flip-flop network's stable points remember.

    - ``corners``: distinct sign patterns among stable points whose every output is beyond
      ``±level`` (2**outputs at most; the paper's 8 memories).
    - ``zero_memories``: stable points with some output within ``±level`` (a channel remembered
      as 0, as before its first pulse).
    """

    corners: int
    zero_memories: int


def flipflop_memories(
    readouts: Float[np.ndarray, "k o"], n_unstable: np.ndarray, level: float = 0.5
) -> FlipFlopMemories:
    """Count a flip-flop network's stable fixed points by what their readout holds (``FlipFlopMemories``)."""
    readouts, n_unstable = np.asarray(readouts), np.asarray(n_unstable)
    if readouts.ndim != 2 or len(readouts) != len(n_unstable):
        raise ValueError(
            f"readouts must be (k, outputs) with one n_unstable per point, got {readouts.shape} and {n_unstable.shape}"
        )
    stable = readouts[n_unstable == 0]
    corner = np.all(np.abs(stable) > level, axis=1)
    patterns = {tuple(np.sign(r).astype(int)) for r in stable[corner]}
    return FlipFlopMemories(corners=len(patterns), zero_memories=int(np.sum(~corner)))


def graph_distance(a, b) -> float:
    """Euclidean (Frobenius) distance between two transition graphs of equal size."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"graphs must have the same shape, got {a.shape} and {b.shape}; use matched_graph_distance")
    return float(np.linalg.norm(a - b))


def matched_graph_distance(graph_a, readout_a, graph_b, readout_b, unstable_a=None, unstable_b=None) -> float:
    """Distance between topologies with possibly different numbers of fixed points (beyond the paper,
    which must set aside networks whose numbers differ).

    Points of the two networks are matched by readout with an optimal assignment, only to points
    of the same stability (number of unstable dimensions) when ``unstable_a`` and ``unstable_b``
    are given; both graphs are padded with empty rows and columns for the unmatched points and
    compared after reordering. It equals ``graph_distance`` when both networks have the same
    points in the same readout order, and grows with every unmatched point.
    """
    ga, gb = np.asarray(graph_a, np.float64), np.asarray(graph_b, np.float64)
    ra, rb = np.atleast_2d(np.asarray(readout_a, np.float64)), np.atleast_2d(np.asarray(readout_b, np.float64))
    if ga.shape != (len(ra), len(ra)) or gb.shape != (len(rb), len(rb)):
        raise ValueError("each graph must be (K × K) with one readout row per fixed point")
    ua = np.zeros(len(ra), int) if unstable_a is None else np.asarray(unstable_a, int)
    ub = np.zeros(len(rb), int) if unstable_b is None else np.asarray(unstable_b, int)
    if ua.shape != (len(ra),) or ub.shape != (len(rb),):
        raise ValueError("unstable_a and unstable_b need one entry per fixed point")
    rows, cols = [], []
    for kind in np.intersect1d(ua, ub):  # optimal assignment within each stability class
        ia, ib = np.flatnonzero(ua == kind), np.flatnonzero(ub == kind)
        r, c = linear_sum_assignment(np.linalg.norm(ra[ia][:, None] - rb[ib][None], axis=-1))
        rows += ia[r].tolist()
        cols += ib[c].tolist()
    rows, cols = np.asarray(rows, int), np.asarray(cols, int)
    m = len(rows)
    only_a = np.setdiff1d(np.arange(len(ra)), rows)
    only_b = np.setdiff1d(np.arange(len(rb)), cols)
    # slots: matched pairs first, then a's unmatched points, then b's
    slot_a = np.empty(len(ra), int)
    slot_a[rows], slot_a[only_a] = np.arange(m), m + np.arange(len(only_a))
    slot_b = np.empty(len(rb), int)
    slot_b[cols], slot_b[only_b] = np.arange(m), m + len(only_a) + np.arange(len(only_b))
    size = m + len(only_a) + len(only_b)
    pa, pb = np.zeros((size, size)), np.zeros((size, size))
    pa[np.ix_(slot_a, slot_a)] = ga
    pb[np.ix_(slot_b, slot_b)] = gb
    return float(np.linalg.norm(pa - pb))


def line_attractor_graph(
    states: Float[np.ndarray, "k n"], readouts: Float[np.ndarray, " k"], n_points: int = 20
) -> Float[np.ndarray, "m m"]:
    """Nearest-neighbour graph of ``n_points`` fixed points spread evenly along a line attractor.

    The points are picked at evenly spaced quantiles of the readout and ordered by it; the graph
    is their Euclidean minimum spanning tree (it holds every point's nearest-neighbour link and
    connects them all), as a symmetric 0/1 matrix. Points along a line, evenly spaced or not,
    give a chain in readout order; folds and branches show as other links.
    """
    states, readouts = np.asarray(states, np.float64), np.asarray(readouts, np.float64).ravel()
    if len(states) < 2 or len(states) != len(readouts):
        raise ValueError(f"need at least 2 fixed points with one readout each, got {len(states)} and {len(readouts)}")
    order = np.argsort(readouts)
    pick = order[np.unique(np.round(np.linspace(0, len(order) - 1, min(n_points, len(order)))).astype(int))]
    pts = states[pick]
    tree = minimum_spanning_tree(np.linalg.norm(pts[:, None] - pts[None], axis=-1) + 1e-300).toarray()
    graph = ((tree + tree.T) > 0).astype(float)
    if len(pts) < n_points:  # pad so that graphs of different networks have one size
        graph = np.pad(graph, (0, n_points - len(pts)))
    return graph


def central_fixed_point(fps: FixedPoints, trajectory: Float[np.ndarray, "t n"]) -> int:
    """Index of the fixed point nearest the centre of a trajectory (the one a cued oscillation circles)."""
    if len(fps) == 0:
        raise ValueError("there are no fixed points to choose from")
    centre = np.asarray(trajectory, np.float64).mean(axis=0)
    return int(np.argmin(np.linalg.norm(fps.states - centre, axis=1)))
