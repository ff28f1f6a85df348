"""The measurements of book/methods/ (fixed points, topology, claims) on systems whose answers are
known: saddles between stable points, plateaus, stability tolerance, slow points along a leaky line,
the oscillating pair, and the clustering test."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from paperlib.dynamics.fixed_points import FixedPointOptions, find_fixed_points, slow_points, slow_speed, state_scale
from paperlib.dynamics.linear import oscillation_frequency, oscillatory_mode
from paperlib.similarity import cluster_test

W = 2.0
H_STAR = brentq(lambda h: np.tanh(W * h) - h, 0.5, 1.5)


def bistable(h, x):
    return jnp.tanh(W * h + x)


def test_second_round_between_stable_points_finds_the_saddles():
    # starts near the 8 corners only: one round finds just the corners
    rng = np.random.default_rng(0)
    corners = H_STAR * np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)])
    h0 = corners[rng.integers(0, 8, 256)] + 0.05 * rng.normal(size=(256, 3))
    one = find_fixed_points(bistable, jnp.zeros(3), h0)
    assert len(one) == 8 and one.stable.all()
    # seeded between them (midpoints hold a 0 on the bits they differ in), the 19 saddles appear
    two = find_fixed_points(bistable, jnp.zeros(3), h0, FixedPointOptions(n_between=256))
    assert len(two) == 27 and two.n_initial == 512
    assert np.bincount(two.n_unstable).tolist() == [8, 12, 6, 1]


def test_search_runs_in_float64_by_default():
    starts = np.linspace(0.8, 1.0, 12).reshape(4, 3)
    fps = find_fixed_points(bistable, jnp.zeros(3), starts)
    assert len(fps) == 1 and fps.states.dtype == np.float64 and fps.jacobians.dtype == np.float64
    assert fps.q.max() < 1e-16  # below what float32 rounding of h (~6e-8) allows
    single = find_fixed_points(bistable, jnp.zeros(3), starts, FixedPointOptions(x64=False))
    assert single.states.dtype == np.float32


def test_a_state_stopped_by_the_iteration_cap_on_a_plateau_is_not_a_point():
    # F(h) = h + 0.1 / (1 + h): q falls forever as h grows (no fixed point), every state is slowish
    plateau = lambda h, x: h + 0.1 / (1.0 + jnp.abs(h))  # noqa: E731
    fps = find_fixed_points(
        plateau, jnp.zeros(1), np.linspace(0, 1, 16)[:, None], FixedPointOptions(max_iters=6, keep_q=1.0, tol_q=1e-30)
    )
    assert len(fps) == 0 and fps.n_capped == 16 and fps.n_unconverged == 16
    assert "16 still improving at the iteration cap" in fps.summary()


def test_unstable_means_modulus_above_one_plus_the_tolerance():
    a = np.diag([1.0 + 5e-4, 1.0 + 5e-3, 0.5])
    starts = np.random.default_rng(0).normal(size=(4, 3))
    fps = find_fixed_points(lambda h, x: jnp.asarray(a) @ h, jnp.zeros(1), starts, FixedPointOptions(tol_unique=0.05))
    assert len(fps) == 1 and fps.n_unstable.tolist() == [1]  # only the 1.005 direction
    strict = find_fixed_points(
        lambda h, x: jnp.asarray(a) @ h, jnp.zeros(1), starts, FixedPointOptions(stability_tol=0.0, tol_unique=0.05)
    )
    assert strict.n_unstable.tolist() == [2]


def _leaky_line(n=6, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    a = q @ np.diag([0.999, 0.5, 0.45, 0.4, 0.3, 0.2][:n]) @ q.T
    return jnp.asarray(a), q[:, 0]


def test_slow_points_cover_a_leaky_line_where_newton_finds_one_point():
    a, u = _leaky_line()
    rng = np.random.default_rng(1)
    c = np.linspace(-1, 1, 300)
    h0 = c[:, None] * u + 0.05 * rng.normal(size=(300, 6))  # probe-like states spread along the line
    r = state_scale(h0)
    step = lambda h, x: a @ h  # noqa: E731
    line = slow_points(step, jnp.zeros(1), h0, trial_steps=30, state_scale=r)
    along = line.states @ u
    assert along.max() - along.min() > 0.8 * 2.0  # most of the spread of the starts (from −1 to 1)
    assert len(line) > 50
    assert np.all(line.speed <= slow_speed(30, r) + 1e-12)
    assert np.allclose(np.abs(line.eigenvalues[:, 0]), 0.999)  # the line's mode at every point
    spacing = np.linalg.norm(line.states[:, None] - line.states[None], axis=-1) + np.eye(len(line)) * 9
    assert spacing.min() > 0.01 * r  # deduplicated at 1% of r
    newton = find_fixed_points(step, jnp.zeros(1), h0, FixedPointOptions(tol_unique=0.01 * r))
    assert len(newton) == 1 and np.linalg.norm(newton.states[0]) < 0.01 * r


def test_slow_points_reports_states_that_never_slow_down():
    # a pure rotation far from its centre never slows: nothing is returned, everything reported
    theta = 0.3
    rot = jnp.asarray([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    fps = slow_points(lambda h, x: rot @ h, jnp.zeros(1), np.ones((8, 2)), trial_steps=10, state_scale=1.0)
    assert len(fps) == 0 and fps.n_capped == 8
    with pytest.raises(ValueError, match="trial_steps"):
        slow_points(lambda h, x: rot @ h, jnp.zeros(1), np.ones((8, 2)), trial_steps=0, state_scale=1.0)


def test_oscillatory_mode_is_the_pair_in_the_trajectory_plane_not_the_largest():
    dt, f_osc, f_other = 0.01, 3.0, 7.0

    def pair(modulus, f):
        t = 2 * np.pi * f * dt
        return modulus * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])

    J = np.zeros((6, 6))
    J[:2, :2], J[2:4, 2:4], J[4:, 4:] = pair(1.02, f_osc), pair(1.3, f_other), np.diag([0.5, 0.2])
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(6, 6)))
    J = q @ J @ q.T
    values, right = np.linalg.eig(J)
    order = np.argsort(-np.abs(values))
    values, right = values[order], right[:, order]
    t = np.arange(200)
    trajectory = np.stack([np.cos(2 * np.pi * f_osc * dt * t), np.sin(2 * np.pi * f_osc * dt * t)], 1) @ q[:, :2].T
    trajectory += 0.01 * np.random.default_rng(3).normal(size=trajectory.shape)
    frequency, modulus, index = oscillatory_mode(values, right, trajectory, dt)
    assert frequency == pytest.approx(f_osc, rel=1e-9) and modulus == pytest.approx(1.02, rel=1e-9)
    assert abs(values[index]) == pytest.approx(1.02)
    assert oscillation_frequency(values, dt) == pytest.approx(f_other)  # the largest |λ| is the other pair
    assert np.isnan(oscillatory_mode(np.array([0.5, 0.2]), np.eye(2), np.ones((5, 2)), dt)[0])


def _points_distances(points):
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


def test_cluster_test_on_separated_clusters_gives_the_smallest_p():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 8)
    centres = {"a": [0, 0], "b": [10, 0], "c": [0, 10]}
    points = np.array([centres[label] for label in labels]) + rng.normal(size=(24, 2))
    result = cluster_test(_points_distances(points), labels)
    assert result.accuracy == 1.0 and result.p_value == pytest.approx(1e-4) and result.clusters()
    assert result.chance == pytest.approx(7 / 23) and result.silhouette > 0.7 and result.n == 24


def test_cluster_test_is_calibrated_when_distances_ignore_the_labels():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2, 3], 6)
    p = np.array(
        [
            cluster_test(_points_distances(rng.normal(size=(24, 3))), labels, n_permutations=999, seed=i).p_value
            for i in range(200)
        ]
    )
    assert 0.01 <= np.mean(p < 0.05) <= 0.09  # about 5%: the test is valid, not anti-conservative
    assert 0.35 <= np.median(p) <= 0.75  # roughly uniform
    with pytest.raises(ValueError, match="two distinct"):
        cluster_test(_points_distances(rng.normal(size=(5, 2))), np.zeros(5))


def test_a_defective_jacobian_still_decomposes():
    # a nilpotent block (relu units that feed each other but are silent): eigenvalue 0 twice, one eigenvector
    from paperlib.dynamics.fixed_points import decompose

    J = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.5]], np.diag([0.9, 0.2, 0.1])])
    values, right, left = decompose(J)
    assert np.allclose(np.abs(values[0]), [0.5, 0, 0]) and np.allclose(left[1] @ right[1], np.eye(3))
    assert np.isfinite(left).all()
