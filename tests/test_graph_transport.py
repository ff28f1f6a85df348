"""Tests of the optimal-transport topology distance on hand-built flip-flop graphs."""

import itertools

import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment

from paperlib.dynamics.graph_transport import (
    _costs,
    _network,
    pairwise_transport_distances,
    transport_graph_distance,
    transport_match,
)
from paperlib.dynamics.topology import matched_graph_distance

TAU, LAM = 1.0, 0.5  # the default point_cost and stability_cost


def ideal_flipflop():
    """The ideal 3-bit flip-flop: 27 points at {−1, 0, 1}³ readouts; 8 stable corners, 12/6/1
    saddles with 1/2/3 unstable dimensions (their zero coordinates); a kick from a point settles
    with equal odds at each corner that agrees with its non-zero coordinates."""
    readout = np.array(list(itertools.product([-1.0, 0.0, 1.0], repeat=3)))
    unstable = (readout == 0).sum(axis=1)
    corners = np.flatnonzero(unstable == 0)
    graph = np.zeros((27, 27))
    for i, r in enumerate(readout):
        ok = [c for c in corners if np.all((r == 0) | (readout[c] == r))]
        graph[i, ok] = 1.0 / len(ok)
    return graph, readout, unstable


def add_point(graph, readout, unstable, r, u, row):
    """The network with one more point (readout r, u unstable dims, outgoing row over old points)."""
    k = len(graph)
    g = np.zeros((k + 1, k + 1))
    g[:k, :k] = graph
    g[k, :k] = row
    if u == 0:
        g[k, k] = 1.0
    return g, np.vstack([readout, r]), np.append(unstable, u)


def permuted(graph, readout, unstable, perm):
    return graph[np.ix_(perm, perm)], readout[perm], unstable[perm]


def noisy(graph, readout, unstable, rng, scale=0.05):
    """Jittered readouts and re-weighted transition rows (same points, same stabilities)."""
    g = graph * rng.uniform(0.7, 1.3, graph.shape)
    sums = graph.sum(axis=1, keepdims=True)
    g = np.divide(g * sums, g.sum(axis=1, keepdims=True), out=np.zeros_like(g), where=sums > 0)
    return g, readout + scale * rng.normal(size=readout.shape), unstable.copy()


def d(a, b, **kw):
    return transport_graph_distance(a[0], a[1], b[0], b[1], a[2], b[2], **kw)


def mgd(a, b):
    return matched_graph_distance(a[0], a[1], b[0], b[1], a[2], b[2])


def mgd_pairs(a, b):
    """The pairs matched_graph_distance matches: readout assignment within each stability class."""
    pairs = []
    for kind in np.intersect1d(a[2], b[2]):
        ia, ib = np.flatnonzero(a[2] == kind), np.flatnonzero(b[2] == kind)
        r, c = linear_sum_assignment(np.linalg.norm(a[1][ia][:, None] - b[1][ib][None], axis=-1))
        pairs += list(zip(ia[r], ib[c]))
    return np.array(sorted(pairs)).reshape(-1, 2)


@pytest.fixture(scope="module")
def ideal():
    return ideal_flipflop()


def test_ideal_graph_is_what_the_paper_draws(ideal):
    graph, readout, unstable = ideal
    assert np.bincount(unstable).tolist() == [8, 12, 6, 1]
    assert np.allclose(graph.sum(axis=1), 1.0)
    assert np.allclose(np.diag(graph)[unstable == 0], 1.0)
    assert (graph[:, unstable > 0] == 0).all()  # runs settle at stable points only


def test_zero_for_identical_graphs(ideal):
    rng = np.random.default_rng(0)
    net = noisy(*ideal, rng)
    for a in (ideal, net):
        m = transport_match(a[0], a[1], a[0], a[1], a[2], a[2])
        assert m.distance == 0.0 and m.readout == 0.0
        assert (m.pairs == np.stack([np.arange(27)] * 2, axis=1)).all()
    # readouts steer the matching but are not topology
    moved = (net[0], net[1] + 0.05 * rng.normal(size=net[1].shape), net[2])
    assert d(net, moved) == pytest.approx(0.0, abs=1e-12)
    assert d(net, moved, refine=False) == pytest.approx(0.0, abs=1e-12)


def test_invariant_to_point_order(ideal):
    rng = np.random.default_rng(1)
    a = noisy(*ideal, rng)
    b = noisy(*add_point(*ideal, [1.0, 1.0, 0.0], 0, np.zeros(27)), rng)
    base = d(a, b)
    assert base > 0
    for _ in range(5):
        pa, pb = rng.permutation(27), rng.permutation(28)
        pa_net, pb_net = permuted(*a, pa), permuted(*b, pb)
        assert d(pa_net, a) == pytest.approx(0.0, abs=1e-12)
        assert d(pa_net, pb_net) == base  # canonical point order: bit-for-bit the same
        # the pairs refer to the caller's order
        pairs = transport_match(pa_net[0], pa_net[1], a[0], a[1], pa_net[2], a[2]).pairs
        assert (pa[pairs[:, 0]] == pairs[:, 1]).all() and len(pairs) == 27


def test_symmetric_in_its_arguments(ideal):
    rng = np.random.default_rng(2)
    nets = [
        ideal,
        noisy(*ideal, rng),
        noisy(*ideal, rng, scale=0.3),
        noisy(*add_point(*ideal, [1.0, 1.0, 0.0], 0, np.zeros(27)), rng),
        add_point(*ideal, [0.0, 0.0, 0.5], 1, np.eye(27)[0] * 0.5 + np.eye(27)[26] * 0.5),
        permuted(*add_point(*ideal, [1.0, 1.0, 0.0], 0, np.zeros(27)), rng.permutation(28)),
    ]
    for i in range(6):  # distances that float rounding could tell apart in the two orders
        net = noisy(*ideal, rng)
        if i % 2:
            net = add_point(*net, [1.0, 1.0, 0.0], 0, np.zeros(27))
        nets.append(permuted(*net, rng.permutation(len(net[0]))))
    for a, b in itertools.permutations(nets, 2):
        ab = transport_match(a[0], a[1], b[0], b[1], a[2], b[2])
        ba = transport_match(b[0], b[1], a[0], a[1], b[2], a[2])
        assert ab.distance == ba.distance  # exactly
        assert (ab.pairs == ba.pairs[np.argsort(ba.pairs[:, 1])][:, ::-1]).all()


def test_grows_as_points_are_added(ideal):
    graph, readout, unstable = ideal
    zero = np.zeros(27)
    one = add_point(graph, readout, unstable, [1.0, 1.0, 0.0], 0, zero)  # a "zero memory" stable point
    two = add_point(*one, [0.0, 1.0, 1.0], 0, np.zeros(28))
    three = add_point(*two, [0.0, 0.0, 0.5], 1, np.eye(29)[[0, 26]].sum(axis=0) / 2)
    dists = [d(ideal, net) for net in (one, two, three)]
    assert 0 < dists[0] < dists[1] < dists[2]
    for k, dist in enumerate(dists, start=1):
        assert dist**2 >= TAU * k  # every unmatched point costs point_cost
    # the added stable point has only its self-loop: S = 1, plus one unmatched point
    assert dists[0] ** 2 == pytest.approx(1.0 + TAU)


def test_an_isolated_point_counts_where_matched_graph_distance_misses_it(ideal):
    # a saddle none of whose runs settled has an empty row and column
    extra = add_point(*ideal, [0.5, 0.5, 0.5], 2, np.zeros(27))
    assert mgd(ideal, extra) == 0.0
    assert d(ideal, extra) == pytest.approx(np.sqrt(TAU))


def test_grows_as_stability_changes(ideal):
    graph, readout, unstable = ideal
    corner = 26  # readout (1, 1, 1)
    dists = []
    for u in (1, 2, 3):
        changed = unstable.copy()
        changed[corner] = u
        m = transport_match(graph, readout, graph, readout, unstable, changed)
        assert m.distance**2 == pytest.approx(LAM * u) and m.structure == 0.0 and m.unmatched == 0.0
        dists.append(m.distance)
    assert 0 < dists[0] < dists[1] < dists[2]
    # a corner that became a saddle: it lost its self-loop, its runs split between two corners
    # and no run settles at it any more
    saddle = graph.copy()
    saddle[:, corner] = 0.0
    saddle[corner] = 0.0
    saddle[corner, [8, 17]] = 0.5  # corners (−1, 1, 1) and (1, −1, 1)
    for i in np.flatnonzero(graph[:, corner] > 0):  # their runs go to the next corners instead
        if i != corner:
            row = graph[i].copy()
            row[corner] = 0.0
            saddle[i] = row / row.sum()
    changed = unstable.copy()
    changed[corner] = 1
    m = transport_match(graph, readout, saddle, readout, unstable, changed)
    assert m.distance > dists[0] and m.stability == pytest.approx(LAM)
    assert m.distance**2 == pytest.approx(m.structure + LAM)


def test_equals_matched_graph_distance_for_the_same_points(ideal):
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = noisy(*ideal, rng), noisy(*ideal, rng)
        b = permuted(*b, rng.permutation(27))
        m = transport_match(a[0], a[1], b[0], b[1], a[2], b[2])
        assert (m.pairs == mgd_pairs(a, b)).all()  # the condition for equality holds...
        assert m.distance == pytest.approx(mgd(a, b), rel=1e-12)  # ...and they are equal
        assert m.distance > 0


def test_relation_to_matched_graph_distance_for_different_counts(ideal):
    rng = np.random.default_rng(4)
    one = add_point(*ideal, [1.0, 1.0, 0.0], 0, np.zeros(27))
    two = add_point(*one, [0.0, 0.0, 0.5], 1, np.eye(28)[[0, 27]].sum(axis=0) / 2)
    for extra in (one, two):
        a, b = noisy(*ideal, rng), noisy(*extra, rng)
        m = transport_match(a[0], a[1], b[0], b[1], a[2], b[2])
        assert (m.pairs == mgd_pairs(a, b)).all()
        unmatched = len(b[0]) - len(a[0])
        assert m.distance**2 == pytest.approx(mgd(a, b) ** 2 + TAU * unmatched, rel=1e-12)


def test_graph_structure_corrects_an_ambiguous_readout_matching(ideal):
    """Two saddles at nearly the same readout whose readouts are swapped between networks:
    the readout assignment pairs them wrongly; POT's fused Gromov–Wasserstein step repairs it."""
    graph, readout, unstable = ideal
    x_row = np.zeros(27)
    x_row[[0, 2]] = 0.5
    y_row = np.zeros(27)
    y_row[[24, 26]] = 0.5
    p, eps = np.array([0.0, 0.1, 0.0]), np.array([0.0, 0.01, 0.0])
    a = add_point(*add_point(graph, readout, unstable, p + eps, 1, x_row), p - eps, 1, np.append(y_row, 0))
    b = add_point(*add_point(graph, readout, unstable, p - eps, 1, x_row), p + eps, 1, np.append(y_row, 0))
    plain = transport_match(a[0], a[1], b[0], b[1], a[2], b[2], refine=False)
    fused = transport_match(a[0], a[1], b[0], b[1], a[2], b[2])
    assert plain.distance > 1.0 and not plain.refined
    assert fused.refined and fused.distance == pytest.approx(0.0, abs=1e-12)
    assert (fused.pairs == np.stack([np.arange(29)] * 2, axis=1)).all()
    # the matching objective J = S + Σ + U + R went down
    j = lambda m: m.structure + m.stability + m.unmatched + m.readout  # noqa: E731
    assert j(fused) < j(plain)


def test_pot_objective_is_half_the_matching_cost(ideal, monkeypatch):
    """The problem handed to POT (captured from the real call): its FGW objective at T = Π/n is
    J(Π)/2 for any permutation Π of the padded slots."""
    calls = []
    solver = ot.gromov.fused_gromov_wasserstein
    monkeypatch.setattr(ot.gromov, "fused_gromov_wasserstein", lambda *a, **k: calls.append((a, k)) or solver(*a, **k))
    test_graph_structure_corrects_an_ambiguous_readout_matching(ideal)
    (M, C1, C2, p, q), kw = calls[0]
    n, alpha = len(M), kw["alpha"]
    assert kw["symmetric"] is False and kw["loss_fun"] == "square_loss" and np.allclose(p, 1 / n)
    # the same networks, independently: Ā, B̄ and the feature costs in the orientation POT got
    graph, readout, unstable = ideal
    row_x, row_y = np.zeros(27), np.zeros(27)
    row_x[[0, 2]] = row_y[[24, 26]] = 0.5
    p0, eps = np.array([0.0, 0.1, 0.0]), np.array([0.0, 0.01, 0.0])
    nets = [
        _network(*add_point(*add_point(graph, readout, unstable, p0 + e, 1, row_x), p0 - e, 1, np.append(row_y, 0)))
        for e in (eps, -eps)
    ]
    costs = [_costs(x, y, 1.0, LAM, TAU) for x, y in (nets, nets[::-1])]
    pa, pb, read, stab = next(c for c in costs if np.allclose(c[0] * n, C1) and np.allclose(c[1] * n, C2))
    rng = np.random.default_rng(5)
    for _ in range(3):
        perm = rng.permutation(n)
        plan = np.eye(n)[perm] / n
        constC, hC1, hC2 = ot.gromov.init_matrix(C1, C2, p, q, "square_loss")
        pot = (1 - alpha) * np.sum(M * plan) + alpha * ot.gromov.gwloss(constC, hC1, hC2, plan)
        j = np.sum((pa - pb[np.ix_(perm, perm)]) ** 2) + (read + stab)[np.arange(n), perm].sum()
        assert pot == pytest.approx(j / 2, rel=1e-10)


def test_empty_networks(ideal):
    empty = (np.zeros((0, 0)), np.zeros((0, 3)), np.zeros(0, int))
    assert d(empty, empty) == 0.0
    assert d(empty, ideal) == pytest.approx(np.sqrt(np.sum(ideal[0] ** 2) + 27 * TAU))


def test_pairwise_matrix(ideal):
    rng = np.random.default_rng(6)
    nets = []
    for i in range(8):
        net = noisy(*ideal, rng)
        if i % 3 == 1:
            net = add_point(*net, [1.0, 1.0, 0.0], 0, np.zeros(27))
        if i % 3 == 2:
            net = permuted(*net, rng.permutation(len(net[0])))
        nets.append(net)
    graphs, readouts, unstable = zip(*nets, strict=True)
    out = pairwise_transport_distances(graphs, readouts, unstable)
    assert out.shape == (8, 8)
    assert (out == out.T).all() and (np.diag(out) == 0).all() and (out[~np.eye(8, dtype=bool)] > 0).all()
    for i, j in itertools.combinations(range(8), 2):
        assert out[i, j] == d(nets[i], nets[j]) == d(nets[j], nets[i])
    with pytest.raises(ValueError):
        pairwise_transport_distances(graphs, readouts[:-1], unstable)
    with pytest.raises(ValueError):
        pairwise_transport_distances(graphs, readouts, unstable, point_cost=0.0)


def test_canonical_point_order(ideal):
    rng = np.random.default_rng(7)
    net = noisy(*ideal, rng)
    key = _network(*net).key
    for _ in range(3):
        assert _network(*permuted(*net, rng.permutation(27))).key == key


def _small_network(rng, k):
    """A random network of k points: stable points keep their runs, saddles spread theirs."""
    u = rng.integers(0, 3, k)
    g = np.zeros((k, k))
    stable = np.flatnonzero(u == 0)
    for i in range(k):
        if u[i] == 0:
            g[i, i] = 1.0
        elif len(stable):
            w = rng.random(len(stable))
            g[i, stable] = w / w.sum() * rng.choice([1.0, 0.8])
    return g, 0.6 * rng.normal(size=(k, 2)), u


def _cost(pairs, a, b):
    """(J, d²) of a partial matching, straight from the definitions."""
    s = np.sum(a[0] ** 2) + np.sum(b[0] ** 2)
    for (i, j), (k, m) in itertools.product(pairs, repeat=2):
        s -= 2 * a[0][i, k] * b[0][j, m]
    stability = sum(LAM * abs(a[2][i] - b[2][j]) for i, j in pairs)
    unmatched = TAU * (len(a[0]) + len(b[0]) - 2 * len(pairs))
    readout = sum(np.linalg.norm(a[1][i] - b[1][j]) for i, j in pairs)
    return s + stability + unmatched + readout, s + stability + unmatched


def test_matching_cost_against_brute_force():
    """On small networks: the reported parts are J at the reported pairs; J never exceeds the
    feature-only assignment's; and it is J's global minimum over all partial matchings in
    nearly every case (the solver is local)."""
    rng = np.random.default_rng(8)
    optimal, refined, trials = 0, 0, 120
    for _ in range(trials):
        a, b = (_small_network(rng, k) for k in rng.integers(1, 5, 2))
        m = transport_match(a[0], a[1], b[0], b[1], a[2], b[2])
        plain = transport_match(a[0], a[1], b[0], b[1], a[2], b[2], refine=False)
        j, d2 = _cost([tuple(p) for p in m.pairs], a, b)
        assert m.distance**2 == pytest.approx(d2, abs=1e-9)
        assert m.structure + m.stability + m.unmatched + m.readout == pytest.approx(j, abs=1e-9)
        assert j <= _cost([tuple(p) for p in plain.pairs], a, b)[0] + 1e-9
        matchings = (
            list(zip(ia, jb, strict=True))
            for size in range(min(len(a[0]), len(b[0])) + 1)
            for ia in itertools.combinations(range(len(a[0])), size)
            for jb in itertools.permutations(range(len(b[0])), size)
        )
        optimal += j <= min(_cost(p, a, b)[0] for p in matchings) + 1e-9
        refined += m.refined
    assert refined >= 5  # the conditional-gradient step was exercised...
    assert optimal >= 0.9 * trials  # ...and the result is J's global minimum in most cases


def test_conditional_gradient_is_skipped_only_where_it_cannot_help(ideal):
    """Where the result is the readout assignment (refined is False: the linearisation found it a
    conditional-gradient fixed point, or the solver did not improve it), running POT's solver from
    it does not lower J; elsewhere the result is better than it."""
    rng = np.random.default_rng(9)
    n_skipped = 0
    for _ in range(12):
        a, b = (_network(*noisy(*ideal, rng, scale=0.25)) for _ in range(2))
        m = transport_match(a.graph, a.readout, b.graph, b.readout, a.unstable, b.unstable)
        plain = transport_match(a.graph, a.readout, b.graph, b.readout, a.unstable, b.unstable, refine=False)
        if m.refined:
            j = lambda t: t.structure + t.stability + t.unmatched + t.readout  # noqa: E731
            assert j(m) < j(plain)
            continue
        n_skipped += 1
        pa, pb, read, stab = _costs(a, b, 1.0, LAM, TAU)
        n = len(pa)
        perm = linear_sum_assignment(read + stab)[1]
        start = np.zeros((n, n))
        start[np.arange(n), perm] = 1.0 / n
        mass = np.full(n, 1.0 / n)
        plan, log = ot.gromov.fused_gromov_wasserstein(
            n * (read + stab), n * pa, n * pb, mass, mass, symmetric=False, G0=start, log=True
        )
        assert log["loss"][-1] >= log["loss"][0] - 1e-9
        assert m.distance == plain.distance
    assert 3 <= n_skipped < 12  # both kinds of case occur


def test_pot_runs_only_where_the_linearisation_finds_a_better_matching(ideal, monkeypatch):
    calls = []
    solver = ot.gromov.fused_gromov_wasserstein
    monkeypatch.setattr(ot.gromov, "fused_gromov_wasserstein", lambda *a, **k: calls.append(1) or solver(*a, **k))
    rng = np.random.default_rng(10)
    a, b = noisy(*ideal, rng), noisy(*add_point(*ideal, [1.0, 1.0, 0.0], 0, np.zeros(27)), rng)
    for x, y in ((ideal, ideal), (a, a), (ideal, a), (a, b)):
        d(x, y)
    assert calls == []  # readout assignments that are already conditional-gradient fixed points
    test_graph_structure_corrects_an_ambiguous_readout_matching(ideal)
    assert calls == [1]
