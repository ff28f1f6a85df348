"""Held-out geometry: each metric fitted on one part of the samples and scored on the rest.

In-sample SVCCA and Procrustes fit their alignment (canonical directions, a rotation) to the same
samples they score, so two unrelated representations with few samples per feature look alike by
fitting noise. Here the fit uses the samples where ``evaluate`` is False and the score those where
it is True (cross-validated distances, as netrep offers them; Williams et al. 2021):

- ``held_out_svcca``: principal subspaces (at ``k`` or ``variance``) and canonical directions of
  the fitting part; the mean correlation of the canonical variates on the evaluation part.
- ``held_out_procrustes``: the best rotation of the fitting part; the angle between the evaluation
  parts after it.
- ``held_out_cka``: linear CKA has nothing to fit; it is computed on the evaluation part alone, so
  that all three read the same samples.

Both parts are centred with the fitting part's mean. Split by trials, not by time steps (steps of
one trial are correlated): ``paperlib.analysis`` holds out every other probe trial.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, Float

from paperlib.similarity.alignment import cka
from paperlib.similarity.basis import n_components, pair
from paperlib.similarity.cca import check_truncation

_RANK_TOL = 1e-10


def check_split(evaluate, n_samples: int) -> np.ndarray:
    """``evaluate`` as a boolean mask over ``n_samples`` with at least 2 samples on each side."""
    evaluate = np.asarray(evaluate)
    if evaluate.dtype != bool or evaluate.shape != (n_samples,):
        raise ValueError(
            f"held_out must be a boolean mask over the {n_samples} samples, got {evaluate.dtype} {evaluate.shape}"
        )
    if evaluate.sum() < 2 or (~evaluate).sum() < 2:
        raise ValueError(
            f"held_out must leave at least 2 samples to fit and 2 to evaluate, got "
            f"{(~evaluate).sum()} and {evaluate.sum()}"
        )
    return evaluate


class Split:
    """One representation split into its fitting and evaluation parts, both centred with the fitting
    part's mean, with the fitting part's thin SVD (``U diag(s) Vᵀ``, numerically zero directions dropped)."""

    def __init__(self, X: np.ndarray, evaluate: np.ndarray):
        fit_part = X[~evaluate]
        mean = fit_part.mean(axis=0)
        self.fit = fit_part - mean
        self.evaluate = X[evaluate] - mean
        U, s, Vt = np.linalg.svd(self.fit, full_matrices=False)
        if s[0] == 0:
            raise ValueError("a representation is constant on the fitting samples")
        rank = int(np.sum(s > _RANK_TOL * s[0]))
        self.U, self.s, self.V = U[:, :rank], s[:rank], Vt[:rank].T

    def n_components(self, k: int | None, variance: float | None) -> int:
        """How many of the fitting half's components SVCCA keeps (as ``basis.n_components``)."""
        return n_components(self.s, k, variance)


def _svcca(a: Split, b: Split, k: int | None, variance: float | None) -> float:
    ka, kb = a.n_components(k, variance), b.n_components(k, variance)
    A, sigma, Bt = np.linalg.svd(a.U[:, :ka].T @ b.U[:, :kb])
    m = min(ka, kb)
    # canonical directions in feature space: principal directions, whitened, rotated by CCA
    wa = a.V[:, :ka] / a.s[:ka] @ A[:, :m]
    wb = b.V[:, :kb] / b.s[:kb] @ Bt.T[:, :m]
    ca, cb = a.evaluate @ wa, b.evaluate @ wb
    ca, cb = ca - ca.mean(axis=0), cb - cb.mean(axis=0)
    norms = np.linalg.norm(ca, axis=0) * np.linalg.norm(cb, axis=0)
    rho = np.divide(np.sum(ca * cb, axis=0), norms, out=np.zeros(m), where=norms > 0)
    return float(np.mean(rho))


def _procrustes(a: Split, b: Split) -> float:
    U, _, Vt = np.linalg.svd(a.fit.T @ b.fit, full_matrices=False)
    xa, xb = a.evaluate / np.linalg.norm(a.evaluate), b.evaluate / np.linalg.norm(b.evaluate)
    score = np.sum((xa @ U) * (xb @ Vt.T))  # tr(Uᵀ Xaᵀ Xb V): the evaluation parts after the fitted rotation
    return float(np.arccos(np.clip(score, -1.0, 1.0)))


def held_out_svcca(
    X: Float[np.ndarray, "samples fx"],
    Y: Float[np.ndarray, "samples fy"],
    evaluate: Bool[np.ndarray, " samples"],
    *,
    k: int | None = None,
    variance: float | None = 0.95,
) -> float:
    """SVCCA similarity fitted where ``evaluate`` is False and scored where it is True.

    **Returns:** the mean correlation, on the evaluation samples, of the canonical variates found
    on the fitting samples (1: the same subspace; near 0 for unrelated representations, where
    in-sample SVCCA can be far above 0 by fitting noise).
    """
    check_truncation(k, variance)
    X, Y = pair(X, Y)
    evaluate = check_split(evaluate, len(X))
    return _svcca(Split(X, evaluate), Split(Y, evaluate), k, variance)


def held_out_procrustes(
    X: Float[np.ndarray, "samples fx"], Y: Float[np.ndarray, "samples fy"], evaluate: Bool[np.ndarray, " samples"]
) -> float:
    """Angular Procrustes distance (radians) between the evaluation samples after the rotation that
    best aligns the fitting samples."""
    X, Y = pair(X, Y)
    evaluate = check_split(evaluate, len(X))
    return _procrustes(Split(X, evaluate), Split(Y, evaluate))


def held_out_cka(
    X: Float[np.ndarray, "samples fx"], Y: Float[np.ndarray, "samples fy"], evaluate: Bool[np.ndarray, " samples"]
) -> float:
    """Linear CKA on the evaluation samples (it fits nothing, so nothing is held out from it)."""
    X, Y = pair(X, Y)
    evaluate = check_split(evaluate, len(X))
    return cka(X[evaluate], Y[evaluate])


def pairwise_held_out(
    reps, metric: str, evaluate: np.ndarray, *, k: int | None = None, variance: float | None = 0.95, progress=None
) -> np.ndarray:
    """Held-out distances between every pair (1 − similarity; Procrustes in radians): each
    representation split and decomposed once, then one small fit per pair."""
    evaluate = check_split(evaluate, len(reps[0]))
    n = len(reps)
    D = np.zeros((n, n))
    if metric == "cka":
        parts = [r[evaluate] for r in reps]
        for i in range(n):
            for j in range(i + 1, n):
                D[i, j] = D[j, i] = 1.0 - cka(parts[i], parts[j])
        return D
    splits = [Split(r, evaluate) for r in reps]
    for i in range(n):
        for j in range(i + 1, n):
            if metric == "svcca":
                value = 1.0 - _svcca(splits[i], splits[j], k, variance)
            else:
                value = _procrustes(splits[i], splits[j])
            D[i, j] = D[j, i] = value
        if progress is not None:
            progress.update(n - 1 - i)
    return D
