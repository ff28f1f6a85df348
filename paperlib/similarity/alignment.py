"""CKA (Kornblith et al. 2019): centred kernel alignment, linear, RBF or debiased."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from paperlib.similarity.basis import cross, pair


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
    X, Y = pair(X, Y)
    if debiased and X.shape[0] < 4:
        raise ValueError("debiased CKA needs at least 4 samples")
    if kernel == "linear" and not debiased:
        Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
        return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)))
    sigma = 1.0 if sigma is None else sigma
    Kx = _centre_gram(_gram(X, kernel, sigma), debiased)
    Ky = _centre_gram(_gram(Y, kernel, sigma), debiased)
    return float(np.sum(Kx * Ky) / (np.linalg.norm(Kx) * np.linalg.norm(Ky)))


@jax.jit
def cka_block(Ua, sa, Ub, sb):
    """``‖X_aᵀ X_b‖_F²`` for every pair of a block (no SVD needed)."""
    return jnp.sum(cross(Ua, sa, Ub, sb) ** 2, axis=(-2, -1))
