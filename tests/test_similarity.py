"""SVCCA, CKA and Procrustes against published values, independent references and invariances."""

import warnings

import numpy as np
import pytest
from scipy.stats import ortho_group

from paperlib.similarity import (
    canonical_correlations,
    cka,
    mds,
    nearest_neighbour_accuracy,
    nearest_neighbour_chance,
    pairwise,
    procrustes,
    silhouette,
    svcca,
)
from paperlib.similarity.held_out import held_out_cka, held_out_procrustes, held_out_svcca


@pytest.fixture
def demo():
    """The data of Kornblith et al.'s published demo notebook."""
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


def test_cka_matches_kornblith_demo_values(demo):
    X, Y = demo
    assert cka(X, Y) == pytest.approx(0.55761, abs=5e-6)
    assert cka(X, Y, kernel="rbf", sigma=0.5) == pytest.approx(0.65483, abs=5e-6)
    assert cka(X, Y, debiased=True) == pytest.approx(0.51346, abs=5e-6)


def test_canonical_correlations_match_the_demos_cca_formula(demo):
    """The demo's mean squared CCA (0.54312 published) skips centring; on centred data the formulas agree."""
    X, Y = demo
    qx, _ = np.linalg.qr(X)
    qy, _ = np.linalg.qr(Y)
    assert np.linalg.norm(qx.T @ qy) ** 2 / 10 == pytest.approx(0.54312, abs=5e-6)  # the published value
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    qx, _ = np.linalg.qr(Xc)
    qy, _ = np.linalg.qr(Yc)
    rho = canonical_correlations(X, Y, k=10)
    assert np.mean(rho**2) == pytest.approx(np.linalg.norm(qx.T @ qy) ** 2 / 10, abs=1e-12)


def test_svcca_against_an_independent_cca():
    """CCA computed from covariance matrices (whitening), not from orthonormal bases."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    Y = np.hstack([X[:, :3] @ rng.normal(size=(3, 3)), rng.normal(size=(300, 5))])
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    inv_sqrt = lambda S: np.linalg.inv(np.linalg.cholesky(S))  # noqa: E731
    rho = np.linalg.svd(inv_sqrt(Sxx) @ Sxy @ inv_sqrt(Syy).T, compute_uv=False)
    assert svcca(X, Y, variance=None) == pytest.approx(rho.mean(), abs=1e-9)
    assert np.sort(rho)[::-1][:3] == pytest.approx(np.ones(3), abs=1e-9)  # shared subspace


def test_svcca_variance_threshold_keeps_enough_components():
    rng = np.random.default_rng(1)
    scales = np.array([10.0, 5.0, 1.0, 0.1, 0.01])
    X = rng.normal(size=(500, 5)) * scales
    # the first two components explain ~99% of the variance
    Z = X[:, :2] @ rng.normal(size=(2, 2))  # same 2-D subspace, no more
    assert svcca(X, Z, variance=0.95) == pytest.approx(1.0, abs=1e-6)
    assert svcca(X, Z, variance=None) == pytest.approx(1.0, abs=1e-6)  # min(k) = 2 correlations, both 1
    assert svcca(X, X[:, [0, 2]], k=2) < 0.99


def test_invariances():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 8))
    Y = np.tanh(X @ rng.normal(size=(8, 12))) + 0.3 * rng.normal(size=(200, 12))
    A = rng.normal(size=(8, 8))  # invertible, not orthogonal
    Q = ortho_group.rvs(8, random_state=3)
    assert svcca(X @ A, Y, variance=None) == pytest.approx(svcca(X, Y, variance=None), abs=1e-9)
    for transform in (Q, 3.7 * Q):
        assert cka(X @ transform, Y) == pytest.approx(cka(X, Y), abs=1e-10)
        assert cka(X @ transform, Y, kernel="rbf") == pytest.approx(cka(X, Y, kernel="rbf"), abs=1e-10)
        assert procrustes(X @ transform, Y) == pytest.approx(procrustes(X, Y), abs=1e-7)
    assert not np.isclose(cka(X @ A, Y), cka(X, Y))
    assert cka(X + 5.0, Y) == pytest.approx(cka(X, Y))  # centring
    for f in (svcca, cka):
        assert f(X, Y) == pytest.approx(f(Y, X), abs=1e-10)
        assert f(X, X) == pytest.approx(1.0, abs=1e-10)


def test_procrustes_against_explicit_rotation():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 4))
    Y = rng.normal(size=(100, 6))
    Xc = X - X.mean(0)
    Yc = Y - Y.mean(0)
    Xc, Yc = Xc / np.linalg.norm(Xc), Yc / np.linalg.norm(Yc)
    Xp = np.hstack([Xc, np.zeros((100, 2))])  # pad to the same width
    U, _, Vt = np.linalg.svd(Xp.T @ Yc)
    angle = np.arccos(np.trace((Xp @ U @ Vt).T @ Yc))  # best rotation, then the angle
    assert procrustes(X, Y) == pytest.approx(angle, abs=1e-9)
    Z = rng.normal(size=(100, 5))
    assert procrustes(X, Z) <= procrustes(X, Y) + procrustes(Y, Z) + 1e-12  # triangle inequality


@pytest.mark.parametrize(
    "metric, reference",
    [
        ("svcca", lambda a, b: 1 - svcca(a, b)),
        ("cka", lambda a, b: 1 - cka(a, b)),
        ("procrustes", procrustes),
    ],
)
def test_pairwise_equals_the_per_pair_functions(metric, reference):
    rng = np.random.default_rng(5)
    base = rng.normal(size=(150, 3))
    reps = [np.tanh(base @ rng.normal(size=(3, n)) + 0.5 * rng.normal(size=(150, n))) for n in (5, 8, 8, 12, 6, 9, 7)]
    D = pairwise(reps, metric, block=3, progress=False)
    expected = np.array([[0.0 if i == j else reference(a, b) for j, b in enumerate(reps)] for i, a in enumerate(reps)])
    np.testing.assert_allclose(D, expected, atol=2e-4)
    assert np.array_equal(D, D.T) and not np.diag(D).any()


def test_pairwise_rbf_cka_uses_the_per_pair_path():
    rng = np.random.default_rng(6)
    reps = [rng.normal(size=(40, 4)) for _ in range(3)]
    D = pairwise(reps, "cka", kernel="rbf", sigma=0.8, progress=False)
    assert D[0, 1] == pytest.approx(1 - cka(reps[0], reps[1], kernel="rbf", sigma=0.8))


@pytest.fixture
def three_clusters():
    """Distances between 30 planar points in three separated clusters of 10, and their labels."""
    rng = np.random.default_rng(7)
    points = np.vstack([rng.normal(loc, 0.3, size=(10, 2)) for loc in ((0, 0), (5, 0), (0, 5))])
    return np.linalg.norm(points[:, None] - points[None], axis=-1), np.repeat(["a", "b", "c"], 10)


@pytest.mark.parametrize("method, atol", [("classical", 1e-3), ("smacof", 0.05)])
def test_mds_recovers_planar_points(three_clusters, method, atol):
    D, _ = three_clusters
    Y = mds(D, method=method)
    np.testing.assert_allclose(np.linalg.norm(Y[:, None] - Y[None], axis=-1), D, atol=atol)


@pytest.mark.parametrize("method", ["classical", "smacof"])
def test_mds_of_identical_points_is_the_origin_without_warnings(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's SMACOF divides 0 by 0 on an all-zero matrix
        np.testing.assert_array_equal(mds(np.zeros((5, 5)), method=method), np.zeros((5, 2)))


def test_separated_clusters_score_high_and_shuffled_labels_low(three_clusters):
    D, labels = three_clusters
    assert nearest_neighbour_accuracy(D, labels) == 1.0
    assert silhouette(D, labels) > 0.8
    assert silhouette(D, np.random.default_rng(7).permutation(labels)) < 0.2


def test_nearest_neighbour_chance_of_equal_groups():
    assert nearest_neighbour_chance(np.repeat(["a", "b", "c"], 10)) == pytest.approx(9 / 29)


# ------------------------------------------------------------------ held-out geometry
def _halves(n):
    return np.arange(n) % 2 == 1


def test_held_out_distances_see_through_what_in_sample_fitting_of_noise_hides():
    """Unrelated representations with few samples per feature: in-sample SVCCA and Procrustes align
    them by fitting noise; fitted on one half and scored on the other, they are unrelated."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 60)), rng.normal(size=(200, 60))
    evaluate = _halves(200)
    assert svcca(X, Y, variance=None) > 0.4  # in sample: canonical correlations of pure noise
    assert abs(held_out_svcca(X, Y, evaluate, variance=None)) < 0.05
    assert procrustes(X, Y) < 1.2  # in sample: the best rotation of noise onto noise
    assert held_out_procrustes(X, Y, evaluate) == pytest.approx(np.pi / 2, abs=0.05)


def test_held_out_distances_are_zero_for_a_rotated_and_scaled_copy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 20)) @ np.diag(np.linspace(3, 0.5, 20))
    Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    evaluate = _halves(300)
    assert held_out_svcca(X, 2.0 * X @ Q, evaluate, variance=None) == pytest.approx(1.0, abs=1e-9)
    assert held_out_procrustes(X, 2.0 * X @ Q, evaluate) == pytest.approx(0.0, abs=1e-6)
    assert held_out_cka(X, 2.0 * X @ Q, evaluate) == pytest.approx(1.0, abs=1e-9)


def test_pairwise_held_out_equals_the_per_pair_functions():
    rng = np.random.default_rng(2)
    reps = [rng.normal(size=(120, 6)) @ rng.normal(size=(6, 9)) + 0.3 * rng.normal(size=(120, 9)) for _ in range(4)]
    evaluate = _halves(120)
    per_pair = {
        "svcca": lambda a, b: 1.0 - held_out_svcca(a, b, evaluate),
        "cka": lambda a, b: 1.0 - held_out_cka(a, b, evaluate),
        "procrustes": lambda a, b: held_out_procrustes(a, b, evaluate),
    }
    for metric, f in per_pair.items():
        D = pairwise(reps, metric, held_out=evaluate, progress=False)
        expected = np.array([[0.0 if i == j else f(reps[i], reps[j]) for j in range(4)] for i in range(4)])
        np.testing.assert_allclose(D, expected, atol=1e-12, err_msg=metric)


def test_a_bad_held_out_split_is_named(library_checks_only):
    rng = np.random.default_rng(2)
    reps = [rng.normal(size=(120, 5)) for _ in range(3)]
    with pytest.raises(ValueError, match="boolean mask"):
        pairwise(reps, "svcca", held_out=np.arange(120) % 2, progress=False)
    with pytest.raises(ValueError, match="at least 2 samples"):
        pairwise(reps, "svcca", held_out=np.arange(120) == 0, progress=False)
    with pytest.raises(ValueError, match="fit nothing"):
        pairwise(reps, "cka", kernel="rbf", held_out=_halves(120), progress=False)
