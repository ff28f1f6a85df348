"""Distances between fixed-point topologies with different numbers of points, by optimal transport.

- ``transport_match``: the best matching of two networks' fixed points, and what each part of it
  costs.
- ``transport_graph_distance``: the distance it gives (a drop-in for ``matched_graph_distance``).
- ``pairwise_transport_distances``: the (N, N) matrix of distances over a population.

Each network is a transition graph ``G`` (k × k; row i holds the fractions of runs from point i
that settled at each stable point), a readout per point (k × o) and a number of unstable
dimensions per point (0 = stable). Network A has ``k_a`` points, B has ``k_b``. Both graphs are
padded with dummy points (zero rows and columns) to ``n = k_a + k_b`` points, so that a matching
is a permutation π of n slots: a real point sent to a dummy is *unmatched*. For a matching π,

    S(π) = Σ_ik (Ā_ik − B̄_π(i)π(k))²          (graph entries that disagree; Ā, B̄ padded)
    Σ(π) = λ Σ_{i matched} |u_i − u_π(i)|      (unstable dimensions that changed)
    U(π) = τ · (number of unmatched real points, of A and of B)
    R(π) = γ Σ_{i matched} ‖r_i − r_π(i)‖       (readout distance; used for matching only)

The matching minimises J = S + Σ + U + R: a fused Gromov–Wasserstein problem (Vayer et al. 2019)
with unit masses, structure matrices Ā, B̄ and feature cost M_ij = γ‖r_i − r_j‖ + λ|u_i − u_j|
between real points, τ between a real point and a dummy, 0 between dummies. The distance is

    d(A, B) = √(S + Σ + U) at that matching.

Readouts only decide which point corresponds to which; they are not part of the topology, as in
``matched_graph_distance``. ``matched_graph_distance`` matches points by an assignment on readout
distance within each stability class and pads the graphs the same way, so whenever the matching
found here is that one, S = matched_graph_distance², Σ = 0 and d² = matched_graph_distance² + τ·U
(U unmatched points); for networks with the same points (same count in every stability class,
all matched), d = matched_graph_distance. Unlike it, d ≥ √(τ·|k_a − k_b|) > 0 whenever the counts
differ (it also counts points with empty rows and columns), and a point whose stability changed
may stay matched at cost λ per unstable dimension instead of being dropped from both networks.

The matching is solved as follows, deterministically: the exact optimal assignment for the
feature cost M alone (the linear part of J, ``scipy.optimize.linear_sum_assignment``); if the
linearisation of J there finds a better permutation, POT's conditional-gradient solver
(``ot.gromov.fused_gromov_wasserstein``, exact line search, exact ``emd`` sub-problems) improves
it from there, its plan is rounded to a permutation, and the better of the two permutations by J
is kept. Quadratic matching is NP-hard, so this is a local search: J at the result is never worse
than at the feature assignment, but it may exceed J's global minimum (on small random networks,
checked by enumeration, it was the global minimum in 292 of 300 cases). Points are put in a
canonical order and the two networks in a canonical order before solving, so that the result does
not depend on the order of points or of arguments (d(A, B) == d(B, A) bit for bit). d is not
shown to obey the triangle inequality (nor is ``matched_graph_distance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import ot
from jaxtyping import Float, Int
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


class TopologyMatch(NamedTuple):
    """The best matching found between two networks' fixed points, and its costs.

    - ``distance``: √(structure + stability + unmatched), the topology distance.
    - ``structure``: S, the squared Frobenius distance between the padded, matched graphs.
    - ``stability``: λ · Σ |Δ unstable dimensions| over matched pairs.
    - ``unmatched``: τ · number of points of either network left without a partner.
    - ``readout``: γ · Σ ‖Δ readout‖ over matched pairs (it steers the matching only).
    - ``pairs``: (m, 2) indices (point of A, point of B) of the matched points, in the callers'
      orders, sorted by the first column.
    - ``refined``: whether the conditional-gradient step changed the feature assignment.
    """

    distance: float
    structure: float
    stability: float
    unmatched: float
    readout: float
    pairs: Int[np.ndarray, "m 2"]
    refined: bool


class _Network(NamedTuple):
    """A network's points in canonical order, with ``index`` mapping them back to the caller's."""

    graph: Float[np.ndarray, "k k"]
    readout: Float[np.ndarray, "k o"]
    unstable: Int[np.ndarray, " k"]
    index: Int[np.ndarray, " k"]
    key: tuple


def _network(graph, readout, unstable=None) -> _Network:
    """Check one network and put its points in an order that depends on the points only."""
    g = np.asarray(graph, np.float64)
    r = np.asarray(readout, np.float64)
    if g.size == 0 and r.size == 0:  # no fixed points
        g, r = np.zeros((0, 0)), np.zeros((0, r.shape[-1] if r.ndim == 2 else 1))
    k = len(g)
    r = r.reshape(k, -1) if r.ndim < 2 else r
    u = np.zeros(k, np.int64) if unstable is None else np.asarray(unstable).astype(np.int64)
    if g.shape != (k, k) or len(r) != k or r.ndim != 2 or u.shape != (k,):
        raise ValueError(
            f"need a (k, k) graph with one readout row and one unstable count per point, "
            f"got {g.shape}, {r.shape} and {u.shape}"
        )
    if not (np.isfinite(g).all() and np.isfinite(r).all()):
        raise ValueError("graph and readout must be finite")
    # readout first (unrounded, unlike readout_order), then order-free properties for exact ties
    keys = [g.sum(axis=0), g.sum(axis=1), np.diag(g), u] + [r[:, j] for j in range(r.shape[1])][::-1]
    order = np.lexsort(keys) if k else np.zeros(0, np.int64)
    g, r, u = g[np.ix_(order, order)], r[order], u[order]
    return _Network(g, r, u, order, (k, r.shape[1], r.tobytes(), u.tobytes(), g.tobytes()))


def _pad(graph: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, n))
    out[: len(graph), : len(graph)] = graph
    return out


def _costs(a: _Network, b: _Network, readout_cost: float, stability_cost: float, point_cost: float):
    """Padded graphs, and the feature costs (readout part, stability part) between all slots."""
    ka, kb = len(a.graph), len(b.graph)
    n = ka + kb
    if a.readout.shape[1] != b.readout.shape[1] and ka and kb:
        raise ValueError(f"readouts have {a.readout.shape[1]} and {b.readout.shape[1]} outputs")
    read = np.zeros((n, n))
    stab = np.zeros((n, n))
    if ka and kb:
        read[:ka, :kb] = readout_cost * cdist(a.readout, b.readout)
        stab[:ka, :kb] = stability_cost * np.abs(a.unstable[:, None] - b.unstable[None, :])
    stab[:ka, kb:] = point_cost  # a point of A left unmatched (sent to one of B's dummies)
    stab[ka:, :kb] = point_cost  # a point of B left unmatched
    return _pad(a.graph, n), _pad(b.graph, n), read, stab


def _structure(pa: np.ndarray, pb: np.ndarray, perm: np.ndarray) -> float:
    return float(np.sum((pa - pb[np.ix_(perm, perm)]) ** 2))


def _solve(a: _Network, b: _Network, readout_cost, stability_cost, point_cost, refine, max_iter):
    """Matching permutation of the padded slots (A's slot i → B's slot perm[i]), and its costs."""
    pa, pb, read, stab = _costs(a, b, readout_cost, stability_cost, point_cost)
    n = len(pa)
    feature = read + stab
    rows = np.arange(n)

    def total(perm):
        s = _structure(pa, pb, perm)
        return s + float(feature[rows, perm].sum()), s

    perm = linear_sum_assignment(feature)[1]  # exact optimum of J's linear part
    refined = False
    if refine and n:
        # gradient of J at the permutation matrix Π, up to terms equal for every permutation:
        # M − 2 (Ā Π B̄ᵀ + Āᵀ Π B̄), with Π B̄ᵀ = B̄[:, π]ᵀ and Π B̄ = B̄[π]
        grad = feature - 2.0 * (pa @ pb[:, perm].T + pa.T @ pb[perm])
        better = linear_sum_assignment(grad)[1]
        gain = grad[rows, perm].sum() - grad[rows, better].sum()
        if gain > 1e-12 * (1.0 + np.abs(grad).sum() / n):  # not a fixed point of conditional gradient
            # POT: (1 − α)⟨M', T⟩ + α Σ (C1_ik − C2_jl)² T_ij T_kl with T = Π / n, α = ½,
            # M' = n M, C = n Ā, n B̄ equals J(Π) / 2 on permutations
            mass = np.full(n, 1.0 / n)
            plan = ot.gromov.fused_gromov_wasserstein(
                n * feature,
                n * pa,
                n * pb,
                mass,
                mass,
                loss_fun="square_loss",
                symmetric=False,
                alpha=0.5,
                armijo=False,
                G0=np.eye(n)[perm] / n,
                max_iter=max_iter,
                tol_rel=1e-12,
                tol_abs=1e-12,
            )
            rounded = linear_sum_assignment(-np.asarray(plan))[1]
            if total(rounded)[0] < total(perm)[0]:
                perm, refined = rounded, True
    s = _structure(pa, pb, perm)
    ka, kb = len(a.graph), len(b.graph)
    real = (rows < ka) & (perm < kb)
    pairs = np.stack([a.index[rows[real]], b.index[perm[real]]], axis=1)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    stability = float(stab[rows[real], perm[real]].sum())
    unmatched = float(point_cost * (ka + kb - 2 * int(real.sum())))
    readout = float(read[rows, perm].sum())
    distance = float(np.sqrt(s + stability + unmatched))
    return TopologyMatch(distance, s, stability, unmatched, readout, pairs, refined)


def _check_costs(readout_cost, stability_cost, point_cost) -> None:
    if not (readout_cost >= 0 and stability_cost >= 0 and point_cost > 0):
        raise ValueError(
            f"need readout_cost ≥ 0, stability_cost ≥ 0 and point_cost > 0, "
            f"got {readout_cost}, {stability_cost} and {point_cost}"
        )


def _match(a: _Network, b: _Network, readout_cost, stability_cost, point_cost, refine, max_iter) -> TopologyMatch:
    """``_solve`` with the two networks in canonical order, so that swapping them changes nothing."""
    if a.key <= b.key:
        return _solve(a, b, readout_cost, stability_cost, point_cost, refine, max_iter)
    m = _solve(b, a, readout_cost, stability_cost, point_cost, refine, max_iter)
    pairs = m.pairs[:, ::-1]
    return m._replace(pairs=pairs[np.argsort(pairs[:, 0], kind="stable")])


def transport_match(
    graph_a: Float[np.ndarray, "ka ka"],
    readout_a: Float[np.ndarray, "ka o"],
    graph_b: Float[np.ndarray, "kb kb"],
    readout_b: Float[np.ndarray, "kb o"],
    unstable_a: Int[np.ndarray, " ka"] | None = None,
    unstable_b: Int[np.ndarray, " kb"] | None = None,
    *,
    readout_cost: float = 1.0,
    stability_cost: float = 0.5,
    point_cost: float = 1.0,
    refine: bool = True,
    max_iter: int = 100,
) -> TopologyMatch:
    """Match two networks' fixed points by readout, stability and graph, and cost the topology change.

    **Arguments:**

    - ``graph_a``, ``graph_b``: transition graphs (``transition_graph``), any point order.
    - ``readout_a``, ``readout_b``: each point's readout (k × o, or k for one output).
    - ``unstable_a``, ``unstable_b``: each point's number of unstable dimensions (0 = stable; all
      stable if not given, as in ``matched_graph_distance``).
    - ``readout_cost``: γ, cost per unit of readout distance between matched points; it decides
      which point corresponds to which and is left out of the distance.
    - ``stability_cost``: λ, cost per unstable dimension gained or lost by a matched point.
    - ``point_cost``: τ, cost of each point left unmatched (added, removed, or not matchable).
    - ``refine``: improve the feature assignment with POT's fused Gromov–Wasserstein solver
      where the graphs favour another matching (else: readout and stability alone match points).
    - ``max_iter``: conditional-gradient iterations at most.

    **Returns:** a ``TopologyMatch``: the distance √(S + Σ + U), its parts, the readout cost,
    the matched pairs. Costs are in the units of S, squared transition probability (a stable
    point's self-loop weighs 1). Deterministic; symmetric in A and B; independent of point order.
    """
    _check_costs(readout_cost, stability_cost, point_cost)
    a, b = _network(graph_a, readout_a, unstable_a), _network(graph_b, readout_b, unstable_b)
    return _match(a, b, readout_cost, stability_cost, point_cost, refine, max_iter)


def transport_graph_distance(
    graph_a: Float[np.ndarray, "ka ka"],
    readout_a: Float[np.ndarray, "ka o"],
    graph_b: Float[np.ndarray, "kb kb"],
    readout_b: Float[np.ndarray, "kb o"],
    unstable_a: Int[np.ndarray, " ka"] | None = None,
    unstable_b: Int[np.ndarray, " kb"] | None = None,
    **costs,
) -> float:
    """Topology distance between two networks with any numbers of fixed points.

    **Arguments:** as ``transport_match`` (same order as ``matched_graph_distance``).

    **Returns:** d = √(S + Σ + U) ≥ 0: 0 for the same graph (any point order, any readouts);
    at least √(τ·|k_a − k_b|) for different numbers of points; √(matched_graph_distance² + τ·U)
    when the matching it finds is the one ``matched_graph_distance`` makes (readout assignment
    within stability classes, U points left over), so equal to it for networks with the same points.
    """
    return transport_match(graph_a, readout_a, graph_b, readout_b, unstable_a, unstable_b, **costs).distance


def pairwise_transport_distances(
    graphs: Sequence[Float[np.ndarray, "_k _k"]],
    readouts: Sequence[Float[np.ndarray, "_k o"]],
    unstable: Sequence[Int[np.ndarray, " _k"]] | None = None,
    **costs,
) -> Float[np.ndarray, "n n"]:
    """``transport_graph_distance`` between every two networks of a population.

    **Arguments:**

    - ``graphs``, ``readouts``, ``unstable``: one entry per network (counts may differ).
    - ``costs``: ``readout_cost``, ``stability_cost``, ``point_cost``, ``refine``, ``max_iter``.

    **Returns:** (N, N) symmetric matrix with zero diagonal, entry (i, j) equal to
    ``transport_graph_distance`` of networks i and j. Pairs are solved one after another on one
    core, 0.2–0.8 ms each for ~27-point networks (more where readouts are ambiguous and the
    conditional-gradient step runs): 80 networks take about a second, 2,880 networks (4.1 million
    pairs) 15–55 minutes.
    """
    if unstable is None:
        unstable = [None] * len(graphs)
    if not len(graphs) == len(readouts) == len(unstable):
        raise ValueError(f"got {len(graphs)} graphs, {len(readouts)} readouts and {len(unstable)} unstable counts")
    options = dict(readout_cost=1.0, stability_cost=0.5, point_cost=1.0, refine=True, max_iter=100)
    unknown = set(costs) - set(options)
    if unknown:
        raise TypeError(f"unknown arguments {sorted(unknown)}")
    options.update(costs)
    _check_costs(options["readout_cost"], options["stability_cost"], options["point_cost"])
    nets = [_network(g, r, u) for g, r, u in zip(graphs, readouts, unstable, strict=True)]
    out = np.zeros((len(nets), len(nets)))
    for i in range(len(nets)):
        for j in range(i + 1, len(nets)):
            out[i, j] = out[j, i] = _match(nets[i], nets[j], **options).distance
    return out
