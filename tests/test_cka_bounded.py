"""pairwise_linear_cka against per-pair exact CKA: every entry within its bound and the tolerance."""

import numpy as np
import pytest

from paperlib.similarity import cka, fit, pairwise
from paperlib.similarity.cka_bounded import choose_ranks, pairwise_linear_cka

SAMPLES = 400


def orthonormal(rng, n, k):
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def decaying(rng, tau, units=32, basis=None, noise=0.0):
    """Singular values ∝ exp(−j/τ); left vectors random, or mostly inside ``basis`` (a shared subspace)."""
    U = orthonormal(rng, SAMPLES, units) if basis is None else basis @ orthonormal(rng, basis.shape[1], units)
    U = np.linalg.qr(U + noise * rng.standard_normal(U.shape))[0]
    return (U * np.exp(-np.arange(units) / tau)) @ orthonormal(rng, units, units).T


def exact(reps):
    n = len(reps)
    return np.array([[0.0 if i == j else 1.0 - cka(reps[i], reps[j]) for j in range(n)] for i in range(n)])


@pytest.fixture(scope="module")
def populations():
    rng = np.random.default_rng(0)
    latent = orthonormal(rng, SAMPLES, 48)
    random_u = [decaying(rng, tau) for tau in rng.uniform(2, 10, 16)]
    shared = [decaying(rng, tau, basis=latent, noise=0.02) for tau in rng.uniform(2, 10, 16)]
    shared.append(decaying(rng, 3.0))  # one network outside the shared subspace
    return {
        name: (reps, [fit(r) for r in reps], exact(reps)) for name, reps in (("random", random_u), ("shared", shared))
    }


@pytest.mark.parametrize("method", ["features", "kernel", "auto"])
@pytest.mark.parametrize("tolerance", [1e-3, 1e-2])
@pytest.mark.parametrize("name", ["random", "shared"])
def test_every_entry_within_its_bound_and_the_tolerance(populations, name, tolerance, method):
    _, fits, E = populations[name]
    D, bound = pairwise_linear_cka(fits, tolerance, method=method)
    error = np.abs(D - E)
    assert bound.max() <= tolerance
    assert np.all(error <= bound + 1e-6)  # float32 rounding
    assert D.shape == E.shape and np.all((D >= 0) & (D <= 1))
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(bound, bound.T)
    assert np.all(np.diag(D) == 0) and np.all(np.diag(bound) == 0)


def test_kernel_method_is_used_and_reduces_where_a_shared_subspace_exists(populations):
    _, fits, E = populations["shared"]
    D, bound, info = pairwise_linear_cka(fits, 1e-3, method="kernel", details=True)
    assert info["method"] == "kernel" and info["basis"] < SAMPLES
    assert np.all(np.abs(D - E) <= bound + 1e-6)


def test_zero_tolerance_is_exact(populations):
    reps, fits, E = populations["shared"]
    D, bound = pairwise_linear_cka(fits, None)
    assert np.all(bound == 0)
    np.testing.assert_allclose(D, E, atol=1e-6)
    np.testing.assert_allclose(D, pairwise(reps, "cka", progress=False), atol=1e-5)


def test_flat_spectra_keep_every_component_with_zero_bound():
    rng = np.random.default_rng(1)
    reps = [orthonormal(rng, SAMPLES, 8) * 3.0 for _ in range(5)]  # isotropic: all singular values equal
    reps = [r - r.mean(0) for r in reps]
    fits = [fit(r) for r in reps]
    assert np.all(choose_ranks(fits, 1e-2) == [len(f.s) for f in fits])
    D, bound = pairwise_linear_cka(fits, 1e-2, method="features")
    assert np.all(bound == 0)
    assert np.abs(D - exact(reps)).max() < 1e-6


def test_truncation_bound_is_attained_in_the_worst_alignment():
    """X drops a direction that is Y's largest; X keeps directions Y lacks: the true CKA is at the top of
    the interval (lower + Δ), so the midpoint's error equals the returned bound (von Neumann is tight)."""
    rng = np.random.default_rng(2)
    Q = orthonormal(rng, SAMPLES, 6)
    Q -= Q.mean(0)
    Q = np.linalg.qr(Q)[0]
    X = Q[:, :4] * np.array([1.0, 0.9, 0.8, 0.05])  # keeps 0..2, drops direction 3
    Y = Q[:, 3:6] * np.array([1.0, 0.5, 0.2])  # Y's top direction is X's dropped one
    fits = [fit(X), fit(Y)]
    D, bound = pairwise_linear_cka(fits, 2e-3, method="features")
    truth = 1.0 - cka(X, Y)
    assert choose_ranks(fits, 2e-3)[0] < 4 and bound[0, 1] > 0
    assert abs(D[0, 1] - truth) == pytest.approx(bound[0, 1], rel=1e-4)


def test_mixed_ranks_and_widths():
    """Networks of different widths and ranks (3 to 26 units), including rank-deficient ones."""
    rng = np.random.default_rng(3)
    latent = orthonormal(rng, SAMPLES, 24)
    reps = []
    for units in (3, 8, 16, 20, 24, 12):
        r = decaying(rng, 4.0, units=units, basis=latent, noise=0.05)
        reps.append(np.hstack([r, r[:, :2]]))  # duplicated columns: rank < width
    fits = [fit(r) for r in reps]
    E = exact(reps)
    for method in ("features", "kernel"):
        D, bound = pairwise_linear_cka(fits, 5e-3, method=method)
        assert bound.max() <= 5e-3 and np.all(np.abs(D - E) <= bound + 1e-6)


def test_smaller_tolerance_keeps_more_components(populations):
    _, fits, _ = populations["random"]
    ranks = [choose_ranks(fits, t) for t in (1e-1, 1e-2, 1e-3, 1e-4, 0.0)]
    assert all(np.all(a <= b) for a, b in zip(ranks, ranks[1:]))
    assert np.all(ranks[-1] == [len(f.s) for f in fits])


def test_rejects_bad_input(populations):
    _, fits, _ = populations["random"]
    with pytest.raises(ValueError, match="at least 2"):
        pairwise_linear_cka(fits[:1])
    with pytest.raises(ValueError, match="method"):
        pairwise_linear_cka(fits, method="svd")
    with pytest.raises(ValueError, match="samples"):
        pairwise_linear_cka([fits[0], fit(np.random.default_rng(0).normal(size=(50, 4)))])


def test_pairwise_with_a_tolerance_is_within_it_of_the_exact_path():
    rng = np.random.default_rng(5)
    reps = [
        (np.linalg.qr(rng.normal(size=(300, 24)))[0] * np.exp(-np.arange(24) / rng.uniform(2, 6)))
        @ rng.normal(size=(24, 24))
        for _ in range(12)
    ]
    exact = pairwise(reps, "cka", progress=False)
    approx = pairwise(reps, "cka", tolerance=1e-3, progress=False)
    assert np.abs(approx - exact).max() <= 1e-3 + 1e-6
    with pytest.raises(ValueError, match="linear CKA only"):
        pairwise(reps, "svcca", tolerance=1e-3, progress=False)
    with pytest.raises(ValueError, match="tolerance must be"):
        pairwise(reps, "cka", tolerance=-1.0, progress=False)
