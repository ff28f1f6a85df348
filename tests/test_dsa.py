"""Dynamical Similarity Analysis on systems whose answer is known by hand (the reference
implementation is compared in ``benchmarks/dsa.py``, outside the suite)."""

import numpy as np
import pytest

from paperlib.similarity import pairwise as similarity_pairwise
from paperlib.similarity.dsa import DSAOptions, delay_embedding, distance, fit, pairwise

FAST = DSAOptions(n_delays=1, rank=2, iters=600, lr=2e-2)


def rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def trajectories(M: np.ndarray, trials: int = 64, steps: int = 40, seed: int = 0, init=None) -> np.ndarray:
    """(trials, steps, n) of x_{t+1} = M x_t from random starts (or the given ones)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(trials, len(M))) if init is None else init
    out = []
    for _ in range(steps):
        out.append(x)
        x = x @ M.T
    return np.stack(out, axis=1)


def on_circle(trials: int, seed: int = 0) -> np.ndarray:
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, trials)
    return np.stack([np.cos(phase), np.sin(phase)], axis=1)


def test_the_delay_embedding_puts_the_newest_copy_first():
    x = np.arange(12.0).reshape(1, 6, 2)  # x_t = (2t, 2t + 1)
    H = delay_embedding(x, n_delays=3, interval=2)
    assert H.shape == (1, 2, 6)
    np.testing.assert_array_equal(H[0, 0], [8, 9, 4, 5, 0, 1])  # (x_4, x_2, x_0)
    np.testing.assert_array_equal(H[0, 1], [10, 11, 6, 7, 2, 3])


def test_the_fit_of_a_linear_system_has_its_eigenvalues():
    M = np.array([[0.9, 0.3, 0.0], [-0.3, 0.9, 0.0], [0.0, 0.0, 0.5]])
    A = fit(trajectories(M, steps=30), DSAOptions(n_delays=1, rank=3))
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(A)), np.sort_complex(np.linalg.eigvals(M)), atol=1e-6)


def test_a_rotated_copy_of_a_system_is_at_distance_zero():
    M = np.array([[0.95, 0.2, 0.0, 0.0], [-0.2, 0.95, 0.0, 0.0], [0.0, 0.0, 0.8, 0.1], [0.0, 0.0, 0.0, 0.6]])
    X = trajectories(M)
    R, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    options = DSAOptions(n_delays=2, rank=4, iters=1500, lr=1e-2)  # the Hankel matrix has rank 4
    assert distance(fit(X, options), fit(X @ R.T, options), options) < 0.02


def test_two_rotations_are_as_far_apart_as_their_angles():
    """Whitened coordinates of circular trajectories turn by θ per step: the distance is |θ₁ − θ₂|."""
    A = fit(trajectories(rotation(0.2), init=on_circle(64)), FAST)
    B = fit(trajectories(rotation(0.5), init=on_circle(64, seed=1)), FAST)
    assert distance(A, B, FAST) == pytest.approx(0.3, abs=0.01)
    assert distance(A, A, FAST) < 1e-3


def test_a_line_attractor_and_a_point_attractor():
    """diag(1, ½) against ½·I from uncorrelated starts: the fitted operators are those diagonals, and
    ½·I commutes with every C, so the angle is arccos(1.5 / (√1.25 · √2)) = 0.3218."""
    line = fit(trajectories(np.diag([1.0, 0.5]), trials=400), FAST)
    point = fit(trajectories(np.diag([0.5, 0.5]), trials=400, seed=1), FAST)
    expected = np.arccos(1.5 / (np.sqrt(1.25) * np.sqrt(2.0)))
    assert distance(line, point, FAST) == pytest.approx(expected, abs=0.01)
    euclidean = DSAOptions(n_delays=1, rank=2, iters=600, lr=2e-2, score="euclidean")
    assert distance(line, point, euclidean) == pytest.approx(np.sqrt(2 - 2 * np.cos(expected)), abs=0.01)


def test_symmetric_operators_reach_the_bound_of_their_sorted_eigenvalues():
    """For symmetric A, B: max over orthogonal C of ⟨A, C B Cᵀ⟩ = Σ sorted λ_A · sorted λ_B (a known
    trace inequality), so the optimiser's angle must be arccos of that over ‖A‖‖B‖; the batch of
    pairs runs in one program."""
    rng = np.random.default_rng(3)
    mats = []
    for _ in range(4):
        S = rng.normal(size=(5, 5))
        mats.append(S + S.T)
    options = DSAOptions(rank=5, iters=3000, lr=1e-2, tol=0.0)
    for a, b in [(0, 1), (2, 3), (1, 3)]:
        la, lb = np.linalg.eigvalsh(mats[a]), np.linalg.eigvalsh(mats[b])
        best = np.arccos(la @ lb / (np.linalg.norm(la) * np.linalg.norm(lb)))
        assert distance(mats[a], mats[b], options) == pytest.approx(best, abs=2e-3)


def test_pairwise_is_the_per_pair_distance():
    systems = [trajectories(rotation(theta), init=on_circle(32, seed=i)) for i, theta in enumerate([0.1, 0.3, 0.6])]
    D = pairwise(systems, FAST, progress=False)
    assert D.shape == (3, 3) and np.allclose(D, D.T) and np.all(np.diag(D) == 0)
    np.testing.assert_allclose(D[np.triu_indices(3, 1)], [0.2, 0.5, 0.3], atol=0.01)


def test_the_sample_metrics_refuse_trajectories_naming_dsa(library_checks_only):
    systems = [trajectories(rotation(theta), init=on_circle(32, seed=i)) for i, theta in enumerate([0.1, 0.3])]
    with pytest.raises(ValueError, match="paperlib.similarity.dsa.pairwise"):
        similarity_pairwise(systems, "dsa", progress=False)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: DSAOptions(rank=0), "rank must be an integer >= 1"),
        (lambda: DSAOptions(score="cosine"), "score must be one of"),
        (lambda: fit(np.zeros((5, 3)), DSAOptions(n_delays=5)), "5 delays 1 steps apart need more than 5 time steps"),
        (lambda: fit(np.ones((2, 20, 3)), DSAOptions(n_delays=1, rank=4)), "rank 4 exceeds"),
        (lambda: fit(np.full((20, 3), np.nan)), "non-finite"),
        (lambda: distance(np.eye(3), np.eye(4)), "one shape"),
        (lambda: pairwise([np.zeros((20, 3))]), "at least 2 systems"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
