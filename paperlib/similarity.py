"""Representational similarity of (samples × features) matrices: SVCCA, CKA, angular Procrustes.

- A representation is the hidden states of one network on a task's probe inputs, or any
  recording; two must share their samples (rows), their feature counts may differ.
- ``svcca``, ``cka``, ``procrustes``: one pair.
- ``pairwise``: a whole distance matrix, each representation decomposed once (``fit``) and all
  pairs compared in batched, compiled JAX blocks (2,880 networks of 2,000 × 64 in about 45 s on
  2 cores: ``benchmarks/similarity.py``).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float
from tqdm import tqdm

Metric = Literal["svcca", "cka", "procrustes"]
METRICS = ("svcca", "cka", "procrustes")
_RANK_TOL = 1e-10  # singular values below this fraction of the largest are numerical zeros


def _matrix(name: str, X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a (samples × features) matrix, got shape {X.shape}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must have at least 2 samples and 1 feature, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X, Y = _matrix("X", X), _matrix("Y", Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of samples (rows), got {X.shape[0]} and {Y.shape[0]}")
    return X, Y


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A centred representation as ``U diag(s)``: orthonormal columns ``U`` (samples × rank), ``s`` descending."""

    U: np.ndarray
    s: np.ndarray

    def n_components(self, k: int | None, variance: float | None) -> int:
        """How many leading components SVCCA keeps: ``k``, or enough to explain ``variance``."""
        if k is not None:
            return min(k, len(self.s))
        if variance is None:
            return len(self.s)
        explained = np.cumsum(self.s**2) / np.sum(self.s**2)
        return int(min(np.searchsorted(explained, variance - 1e-12) + 1, len(self.s)))


def fit(X) -> Fitted:
    """Centre ``X`` and take its thin SVD, dropping numerically zero directions."""
    X = _matrix("X", X)
    U, s, _ = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    if s[0] == 0:
        raise ValueError("X is constant: it has no variance to compare")
    rank = int(np.sum(s > _RANK_TOL * s[0]))
    return Fitted(U[:, :rank], s[:rank])


def _check_svcca_args(k, variance) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    if variance is not None and not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance!r}")


def canonical_correlations(X, Y, *, k: int | None = None, variance: float | None = 0.95) -> np.ndarray:
    """The canonical correlations between the reduced bases of X and Y, descending."""
    _check_svcca_args(k, variance)
    X, Y = _pair(X, Y)
    fx, fy = fit(X), fit(Y)
    Ux = fx.U[:, : fx.n_components(k, variance)]
    Uy = fy.U[:, : fy.n_components(k, variance)]
    rho = np.linalg.svd(Ux.T @ Uy, compute_uv=False)
    return np.clip(rho[: min(Ux.shape[1], Uy.shape[1])], 0.0, 1.0)


def svcca(X, Y, *, k: int | None = None, variance: float | None = 0.95) -> float:
    """SVCCA similarity (Raghu et al. 2017): the mean canonical correlation between the top
    principal subspaces of X and Y.

    **Arguments:**

    - ``X``, ``Y``: (samples, features_x) and (samples, features_y) with the same samples.
    - ``k``: keep the top ``k`` principal components of each; else
    - ``variance``: keep as many as explain this fraction of each one's variance (default 95%).

    **Returns:** the similarity in [0, 1] (1: the same subspace up to a linear map).

    ```python
    import numpy as np
    from paperlib.similarity import svcca
    X = np.random.default_rng(0).normal(size=(500, 20))
    svcca(X, X @ np.random.default_rng(1).normal(size=(20, 30)), k=20)  # 1.0: a linear map of X
    ```
    """
    return float(np.mean(canonical_correlations(X, Y, k=k, variance=variance)))


def _gram(X: np.ndarray, kernel: str, sigma: float) -> np.ndarray:
    Xc = X - X.mean(axis=0)
    if kernel == "linear":
        return Xc @ Xc.T
    sq_norms = np.sum(Xc**2, axis=1)
    sq_dist = np.maximum(sq_norms[:, None] + sq_norms[None, :] - 2 * Xc @ Xc.T, 0.0)
    return np.exp(-sq_dist / (2 * sigma**2 * np.median(sq_dist)))


def _centre_gram(K: np.ndarray, unbiased: bool) -> np.ndarray:
    K = K.copy()
    n = K.shape[0]
    if unbiased:  # U-centring (Székely & Rizzo 2014): an unbiased HSIC estimator
        np.fill_diagonal(K, 0.0)
        means = K.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        K -= means[:, None] + means[None, :]
        np.fill_diagonal(K, 0.0)
    else:
        means = K.mean(axis=0)
        K -= means[:, None] + means[None, :] - means.mean()
    return K


def cka(X, Y, *, kernel: str = "linear", sigma: float | None = None, debiased: bool = False) -> float:
    """Centred kernel alignment (Kornblith et al. 2019) between X and Y.

    **Arguments:**

    - ``X``, ``Y``: (samples, features_x) and (samples, features_y) with the same samples.
    - ``kernel``: ``"linear"`` or ``"rbf"`` (bandwidth ``sigma`` × the median pairwise distance,
      the reference code's convention; default 1).
    - ``debiased``: the unbiased HSIC estimator (U-centred Gram matrices).

    **Returns:** the similarity, 1 for representations equal up to rotation and isotropic scale.
    """
    if kernel not in ("linear", "rbf"):
        raise ValueError(f"kernel must be one of ['linear', 'rbf'], got {kernel!r}")
    if sigma is not None and (kernel == "linear" or not sigma > 0):
        raise ValueError(f"sigma must be a positive number, and only with kernel='rbf'; got {sigma!r}")
    X, Y = _pair(X, Y)
    if debiased and X.shape[0] < 4:
        raise ValueError("debiased CKA needs at least 4 samples")
    if kernel == "linear" and not debiased:
        Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
        return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)))
    sigma = 1.0 if sigma is None else sigma
    Kx = _centre_gram(_gram(X, kernel, sigma), debiased)
    Ky = _centre_gram(_gram(Y, kernel, sigma), debiased)
    return float(np.sum(Kx * Ky) / (np.linalg.norm(Kx) * np.linalg.norm(Ky)))


def procrustes(X, Y) -> float:
    """Angular Procrustes distance (Williams et al. 2021; beyond the paper), a metric.

    **Arguments:**

    - ``X``, ``Y``: (samples, features_x) and (samples, features_y) with the same samples.

    **Returns:** the angle ``arccos ‖Xᵀ Y‖_*`` in radians, in [0, π/2], between the centred,
    unit-norm representations after the best rotation (0: equal up to rotation and scale).
    """
    X, Y = _pair(X, Y)
    fx, fy = fit(X), fit(Y)
    return _procrustes_from_fits(fx, fy)


def _procrustes_from_fits(fx: Fitted, fy: Fitted) -> float:
    M = (fx.U * fx.s).T @ (fy.U * fy.s)
    nuclear = np.linalg.svd(M, compute_uv=False).sum() / (np.linalg.norm(fx.s) * np.linalg.norm(fy.s))
    return float(np.arccos(np.clip(nuclear, -1.0, 1.0)))


# ---------------------------------------------------------------------------------------------
# Pairwise distance matrices


@jax.jit
def _svcca_block(Ua, Ub):
    """Sum of canonical correlations (``‖U_aᵀ U_b‖_*``) for every pair of a block of bases."""
    C = jnp.einsum("isk,jsl->ijkl", Ua, Ub)
    return jnp.sum(jnp.linalg.svd(C, compute_uv=False), axis=-1)


def _cross(Ua, sa, Ub, sb):
    """``X_aᵀ X_b`` for every pair of a block, from ``X = U diag(s)``."""
    return jnp.einsum("isk,jsl->ijkl", Ua * sa[:, None, :], Ub * sb[:, None, :])


@jax.jit
def _cka_block(Ua, sa, Ub, sb):
    """``‖X_aᵀ X_b‖_F²`` for every pair of a block (no SVD needed)."""
    return jnp.sum(_cross(Ua, sa, Ub, sb) ** 2, axis=(-2, -1))


@jax.jit
def _procrustes_block(Ua, sa, Ub, sb):
    """``‖X_aᵀ X_b‖_*`` for every pair of a block."""
    return jnp.sum(jnp.linalg.svd(_cross(Ua, sa, Ub, sb), compute_uv=False), axis=-1)


def _fit_all(reps: Sequence[np.ndarray], progress: bool) -> list[Fitted]:
    """``fit`` every representation, two at a time with one BLAS thread each (about 4x faster on
    2 cores than letting OpenBLAS thread each small SVD)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(tqdm(pool.map(fit, reps), total=len(reps), desc="fit", disable=not progress, leave=False))


@dataclasses.dataclass
class _Bucket:
    """Networks whose kept widths round up to the same ``width``, stacked and padded to whole tiles."""

    index: np.ndarray  # (n_padded,) network indices, -1 for padding
    U: np.ndarray  # (n_padded, samples, width) float32, zero-padded columns
    s: np.ndarray  # (n_padded, width) float32


def _buckets(fits: Sequence[Fitted], widths: Sequence[int], block: int, step: int = 4) -> list[_Bucket]:
    """Group networks by kept width rounded up to a multiple of ``step``: every pair of buckets is one
    compiled block shape, and no network is padded by more than ``step - 1`` zero columns
    (which leave singular values, Frobenius and nuclear norms unchanged)."""
    rounded = np.asarray([-(-w // step) * step for w in widths])
    buckets = []
    for width in np.unique(rounded):
        members = np.flatnonzero(rounded == width)
        n_padded = -(-len(members) // block) * block
        index = np.full(n_padded, -1)
        index[: len(members)] = members
        U = np.zeros((n_padded, fits[0].U.shape[0], width), np.float32)
        s = np.zeros((n_padded, width), np.float32)
        for row, i in enumerate(members):
            U[row, :, : widths[i]] = fits[i].U[:, : widths[i]]
            s[row, : widths[i]] = fits[i].s[: widths[i]]
        buckets.append(_Bucket(index, U, s))
    return buckets


def pairwise(
    reps: Sequence[Float[np.ndarray, "samples features"]],
    metric: Metric = "svcca",
    *,
    k: int | None = None,
    variance: float | None = 0.95,
    kernel: str = "linear",
    sigma: float | None = None,
    debiased: bool = False,
    block: int = 32,
    progress: bool = True,
) -> Float[np.ndarray, "n n"]:
    """Distances between every pair of representations.

    **Arguments:**

    - ``reps``: N matrices (samples, features_i), all with the same samples.
    - ``metric``: ``"svcca"`` or ``"cka"`` (1 − similarity), or ``"procrustes"`` (radians).
    - ``k``, ``variance``: SVCCA's truncation; ``kernel``, ``sigma``, ``debiased``: CKA's options.
    - Dynamical Similarity Analysis compares trajectories ``(trials, time, units)``, not samples:
      it is ``paperlib.dsa.pairwise``, and ``metric="dsa"`` here raises, naming it.
    - ``block``: pairs compared per compiled call, ``block`` × ``block``.
    - ``progress``: show a progress bar.

    **Returns:** (N, N) symmetric distances with a zero diagonal, equal to the per-pair functions
    up to float32 rounding (~1e-6). SVCCA, linear CKA and Procrustes run batched in JAX from each
    representation's SVD, computed once; RBF or debiased CKA call ``cka`` once per pair.

    ```python
    import numpy as np
    from paperlib.similarity import pairwise
    reps = [np.random.default_rng(i).normal(size=(200, 16)) for i in range(4)]
    D = pairwise(reps, "cka", progress=False)  # (4, 4)
    ```
    """
    if metric == "dsa":
        raise ValueError("DSA compares trajectories (trials, time, units), not samples: use paperlib.dsa.pairwise")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    reps = [_matrix(f"reps[{i}]", r) for i, r in enumerate(reps)]
    if len(reps) < 2:
        raise ValueError(f"pairwise needs at least 2 representations, got {len(reps)}")
    n_samples = {r.shape[0] for r in reps}
    if len(n_samples) != 1:
        raise ValueError(f"every representation must have the same number of samples, got {sorted(n_samples)}")
    n = len(reps)
    if metric == "cka" and (kernel != "linear" or debiased):
        D = np.zeros((n, n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for i, j in tqdm(pairs, desc="cka pairs", disable=not progress):
            D[i, j] = D[j, i] = 1.0 - cka(reps[i], reps[j], kernel=kernel, sigma=sigma, debiased=debiased)
        return D
    if metric == "svcca":
        _check_svcca_args(k, variance)

    fits = _fit_all(reps, progress)
    if metric == "svcca":
        widths = [f.n_components(k, variance) for f in fits]
    else:
        widths = [len(f.s) for f in fits]
    kept = np.asarray(widths, np.float32)
    total_sq = np.array([np.sum(f.s**2) for f in fits])  # ‖X‖_F²
    fourth = np.array([np.sqrt(np.sum(f.s**4)) for f in fits])  # ‖XᵀX‖_F
    buckets = _buckets(fits, widths, block)
    tiles = [
        (a, b, i, j)
        for a in range(len(buckets))
        for b in range(a, len(buckets))
        for i in range(0, len(buckets[a].index), block)
        for j in range(0, len(buckets[b].index), block)
        if a != b or j >= i
    ]

    # One device: SVDs (LAPACK calls) running at once on two host CPU devices were seen to deadlock,
    # and separate calls on two devices were measured to run one after the other anyway.
    on = functools.partial(jax.device_put, device=jax.local_devices()[0])
    S = np.zeros((n, n))

    def finish(r, c, out):
        out = np.asarray(out, np.float64)[: len(r), : len(c)]
        if metric == "svcca":
            value = 1.0 - out / np.minimum(kept[r][:, None], kept[c][None, :])
        elif metric == "cka":
            value = 1.0 - out / (fourth[r][:, None] * fourth[c][None, :])
        else:
            value = np.arccos(np.clip(out / np.sqrt(total_sq[r][:, None] * total_sq[c][None, :]), -1.0, 1.0))
        S[np.ix_(r, c)] = value
        S[np.ix_(c, r)] = value.T

    in_flight = collections.deque()  # dispatched tiles; JAX runs them while Python prepares the next
    for a, b, i, j in tqdm(tiles, desc=f"{metric} blocks", disable=not progress, leave=False):
        A, B = buckets[a], buckets[b]
        rows, cols = A.index[i : i + block], B.index[j : j + block]
        ua, ub = on(A.U[i : i + block]), on(B.U[j : j + block])
        if metric == "svcca":
            out = _svcca_block(ua, ub)
        else:
            sa, sb = on(A.s[i : i + block]), on(B.s[j : j + block])
            out = (_cka_block if metric == "cka" else _procrustes_block)(ua, sa, ub, sb)
        in_flight.append((rows[rows >= 0], cols[cols >= 0], out))
        if len(in_flight) > 2:
            finish(*in_flight.popleft())
    while in_flight:
        finish(*in_flight.popleft())
    S = 0.5 * (S + S.T)  # a tile on the diagonal holds both (i, j) and (j, i)
    np.fill_diagonal(S, 0.0)
    return np.clip(S, 0.0, None)
