"""Fixed points, linearisation and topology on systems whose answers are derived by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from paperlib.dynamics.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    find_fixed_points,
    find_fixed_points_population,
    initial_states,
)
from paperlib.dynamics.linear import mode_truncated_response, oscillation_frequency
from paperlib.dynamics.topology import (
    FlipFlopMemories,
    flipflop_memories,
    graph_distance,
    line_attractor_graph,
    matched_graph_distance,
    modal_count_mask,
    readout_order,
    transition_graph,
)
from paperlib.tasks import FlipFlop
from paperlib.training.train import init_population

W = 2.0  # h' = tanh(W h) per unit: fixed points 0 (slope 2, unstable) and ±h* (stable)
H_STAR = brentq(lambda h: np.tanh(W * h) - h, 0.5, 1.5)


def bistable(h, x):
    return jnp.tanh(W * h + x)


@pytest.fixture(scope="module")
def three_bits():
    rng = np.random.default_rng(0)
    h0 = rng.uniform(-1.3, 1.3, size=(1500, 3))
    h0_before = h0.copy()
    fps = find_fixed_points(bistable, jnp.zeros(3), h0)
    np.testing.assert_array_equal(h0, h0_before)  # inputs are never modified
    return fps


def test_decoupled_bistable_units_have_27_fixed_points_with_the_right_stability(three_bits):
    fps = three_bits
    assert len(fps) == 27
    # every coordinate is 0 or ±h*, and all 27 combinations appear
    levels = np.round(fps.states / H_STAR).astype(int)
    np.testing.assert_allclose(fps.states, levels * H_STAR, atol=1e-5)
    assert len({tuple(r) for r in levels}) == 27
    # unstable dimensions = number of coordinates at 0; eigenvalues W(1 - h²) on the diagonal
    assert np.array_equal(fps.n_unstable, np.sum(levels == 0, axis=1))
    assert np.bincount(fps.n_unstable).tolist() == [8, 12, 6, 1]
    for state, values in zip(fps.states, fps.eigenvalues):
        expected = np.sort(W * (1 - np.tanh(W * state) ** 2))[::-1]
        np.testing.assert_allclose(np.abs(values), expected, atol=1e-5)
    assert fps.q.max() < 1e-8
    # a start can land on a stationary point of q that is no fixed point (where tanh's slope is 1):
    # reported, never returned
    assert fps.n_unconverged <= 15 and (fps.unconverged_q > 1e-3).all()
    assert fps.n_iterations < 50  # stopped when converged, not at max_iters


def test_eigenvectors_left_times_right_is_identity(three_bits):
    fps = three_bits
    for J, values, R, L in zip(fps.jacobians, fps.eigenvalues, fps.right_eigenvectors, fps.left_eigenvectors):
        np.testing.assert_allclose(L @ R, np.eye(3), atol=1e-10)
        np.testing.assert_allclose(J @ R, R * values, atol=1e-5)
        assert np.all(np.diff(np.abs(values)) <= 1e-12)


def test_rotation_has_one_fixed_point_with_known_eigenvalues_and_frequency():
    theta, rho, dt = 0.2, 1.02, 0.01
    A = rho * jnp.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    fps = find_fixed_points(lambda h, x: A @ h + x, jnp.zeros(2), np.random.default_rng(1).normal(size=(64, 2)))
    assert len(fps) == 1
    np.testing.assert_allclose(fps.states[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(np.sort(fps.eigenvalues[0].imag), [-rho * np.sin(theta), rho * np.sin(theta)], atol=1e-6)
    assert fps.n_unstable[0] == 2
    assert oscillation_frequency(fps.eigenvalues[0], dt) == pytest.approx(theta / (2 * np.pi * dt), rel=1e-5)
    assert np.isnan(oscillation_frequency([0.5, 0.9], dt))


def test_line_attractor_points_lie_on_the_line_with_eigenvalue_one():
    v = np.array([1.0, 2.0, -1.0]) / np.sqrt(6)
    A = jnp.asarray(0.5 * np.eye(3) + 0.5 * np.outer(v, v))  # eigenvalue 1 along v, 0.5 across
    h0 = np.random.default_rng(2).normal(size=(200, 3))
    fps = find_fixed_points(lambda h, x: A @ h, jnp.zeros(1), h0, FixedPointOptions(tol_unique=0.05))
    assert len(fps) > 10
    off_line = fps.states - np.outer(fps.states @ v, v)
    assert np.abs(off_line).max() < 1e-5
    np.testing.assert_allclose(np.abs(fps.eigenvalues[:, 0]), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.abs(fps.eigenvalues[:, 1:]), 0.5, atol=1e-5)
    # a unit pulse along v is integrated and held; keeping only the top mode already carries it all
    response = mode_truncated_response(
        fps.eigenvalues[0], fps.right_eigenvectors[0], fps.left_eigenvectors[0], v, v, 50
    )
    assert response[0] == pytest.approx(1.0, abs=1e-6) and response[-1] == pytest.approx(1.0, abs=1e-6)
    graph = line_attractor_graph(fps.states, fps.states @ v, n_points=8)
    chain = np.eye(8, k=1) + np.eye(8, k=-1)
    np.testing.assert_array_equal(graph, chain)
    uneven = np.outer(np.array([0.0, 0.1, 0.15, 0.9, 1.0, 2.5]), v)  # spacing that breaks a 1-NN chain
    np.testing.assert_array_equal(
        line_attractor_graph(uneven, uneven @ v, n_points=6), np.eye(6, k=1) + np.eye(6, k=-1)
    )


def test_a_map_without_fixed_points_reports_every_state_unconverged():
    fps = find_fixed_points(lambda h, x: h + 0.1, jnp.zeros(1), np.zeros((16, 4)))
    assert len(fps) == 0 and fps.n_unconverged == 16
    np.testing.assert_allclose(fps.unconverged_q, 0.5 * 4 * 0.01, rtol=1e-5)
    assert "16 states are not points" in fps.summary()


def test_indexing_selects_points(three_bits):
    stable = three_bits[three_bits.stable]
    assert len(stable) == 8 and (stable.n_unstable == 0).all()
    assert len(three_bits[:3]) == 3 and len(three_bits[5]) == 1


def test_save_then_load_gives_the_same_points(three_bits, tmp_path):
    three_bits.save(tmp_path / "fps.npz")
    back = FixedPoints.load(tmp_path / "fps.npz")
    for name in ("states", "q", "eigenvalues", "left_eigenvectors", "n_unstable", "unconverged_q"):
        np.testing.assert_array_equal(getattr(back, name), getattr(three_bits, name))
    assert back.n_initial == three_bits.n_initial


def test_a_damaged_points_file_is_named(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="bad.npz"):
        FixedPoints.load(tmp_path / "bad.npz")


def test_summary_counts_points_by_stability(three_bits):
    assert "27 fixed points from 1500 initial states (8 with 0 unstable, 12 with 1 unstable" in three_bits.summary()


def test_transition_graph_of_bistable_units(three_bits):
    fps = three_bits
    G = transition_graph(bistable, fps, n_samples=60)
    np.testing.assert_allclose(G.sum(axis=1), 1.0)
    stable = np.flatnonzero(fps.stable)
    np.testing.assert_allclose(G[stable, stable], 1.0)  # stable points only self-loop
    # a 1-saddle (one coordinate at 0) flows to the two stable points that differ in that bit
    saddle = np.flatnonzero(fps.n_unstable == 1)[0]
    targets = np.flatnonzero(G[saddle] > 0)
    assert set(targets) <= set(stable) and len(targets) == 2
    assert G[saddle, targets].min() > 0.2
    order = readout_order(fps.states)  # the identity readout: sorted lexicographically
    sorted_levels = np.round(fps.states[order] / H_STAR)
    assert [tuple(r) for r in sorted_levels] == sorted(tuple(r) for r in sorted_levels)
    Gs = G[np.ix_(order, order)]
    assert graph_distance(Gs, Gs) == 0.0
    assert matched_graph_distance(Gs, fps.states[order], Gs, fps.states[order]) == 0.0
    # one network lacks a saddle: the matched distance counts its row, the plain one cannot compare
    saddle_slot = int(np.flatnonzero(fps.n_unstable[order] == 1)[0])
    keep = np.setdiff1d(np.arange(27), [order[saddle_slot]])
    G_small = transition_graph(bistable, fps[keep], n_samples=60)
    d = matched_graph_distance(Gs, fps.states[order], G_small, fps.states[keep])
    assert d >= np.linalg.norm(Gs[saddle_slot]) - 1e-9 and d > 0.5
    with pytest.raises(ValueError, match="same shape"):
        graph_distance(Gs, G_small)


def test_flipflop_memories_of_bistable_units(three_bits):
    fps = three_bits
    readout = fps.states / H_STAR  # outputs 0 or ±1
    # the 8 corners are the stable points; every point holding a 0 is a saddle
    assert flipflop_memories(readout, fps.n_unstable) == FlipFlopMemories(corners=8, zero_memories=0)
    # were the zero-holding points stable too (the 3 x 3 x 3 lattice), 19 of them would be memories of 0
    assert flipflop_memories(readout, np.zeros(27, int)) == FlipFlopMemories(corners=8, zero_memories=19)
    # a corner found twice is one memory; a corner made unstable is none
    corner = int(np.flatnonzero(fps.n_unstable == 0)[0])
    doubled = np.concatenate([readout, readout[[corner]] * 1.01])
    assert flipflop_memories(doubled, np.append(fps.n_unstable, 0)).corners == 8
    unstable = fps.n_unstable.copy()
    unstable[corner] = 1
    assert flipflop_memories(readout, unstable).corners == 7
    with pytest.raises(ValueError, match="one n_unstable per point"):
        flipflop_memories(readout, fps.n_unstable[:3])


def test_matched_distance_equals_plain_distance_for_equal_orders():
    rng = np.random.default_rng(3)
    G1, G2 = rng.dirichlet(np.ones(4), size=4), rng.dirichlet(np.ones(4), size=4)
    readout = np.array([[-1.0], [0.0], [1.0], [2.0]])
    shuffle = np.array([2, 0, 3, 1])
    d = matched_graph_distance(G1, readout, G2[np.ix_(shuffle, shuffle)], readout[shuffle])
    assert d == pytest.approx(graph_distance(G1, G2))
    assert modal_count_mask([8, 9, 8, 8, 7]).tolist() == [True, False, True, True, False]


def test_fixed_points_of_networks_solve_the_fixed_point_equation():
    task = FlipFlop()
    models, _ = init_population(task, "gru", "tanh", 16, [0, 1, 2])
    trajectories = np.random.default_rng(4).normal(scale=0.3, size=(3, 50, 16))
    starts = np.stack([initial_states(t, 64, noise=0.5, seed=i) for i, t in enumerate(trajectories)])
    results = find_fixed_points_population(models, jnp.zeros(3), starts)
    assert len(results) == 3
    with pytest.raises(ValueError, match="n_between must be 0"):  # the second round is not silently dropped
        find_fixed_points_population(models, jnp.zeros(3), starts, FixedPointOptions(n_between=8))
    for i, fps in enumerate(results):
        model = jax.tree_util.tree_map(lambda a: a[i], models)
        alone = find_fixed_points(model.step, jnp.zeros(3), starts[i])
        np.testing.assert_allclose(fps.states, alone.states, atol=1e-5)
        for h, J in zip(fps.states, fps.jacobians):
            r = np.asarray(model.step(jnp.asarray(h), jnp.zeros(3))) - h
            assert np.linalg.norm(r) < 1.5e-4
            eps = 1e-3  # the Jacobian against central finite differences
            fd = np.stack(
                [
                    (
                        np.asarray(model.step(jnp.asarray(h + eps * e), jnp.zeros(3)))
                        - np.asarray(model.step(jnp.asarray(h - eps * e), jnp.zeros(3)))
                    )
                    / (2 * eps)
                    for e in np.eye(16)
                ],
                axis=1,
            )
            np.testing.assert_allclose(J, fd, atol=2e-3)
