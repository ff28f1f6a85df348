"""A representation as its centred thin SVD, computed once and shared by every metric.

- Representations are (samples × features) matrices: hidden states of a network on probe
  inputs, or any recording; two compared must share their samples (rows).
- ``fit``: centre and decompose; ``Fitted``: ``U diag(s)``, what SVCCA, CKA and Procrustes read.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

_RANK_TOL = 1e-10  # singular values below this fraction of the largest are numerical zeros


def matrix(name: str, X) -> np.ndarray:
    """``X`` as a float64 (samples × features) array, or ``ValueError`` naming ``name`` and what is wrong."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a (samples × features) matrix, got shape {X.shape}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name} must have at least 2 samples and 1 feature, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Two representations checked alone and against each other (the same samples)."""
    X, Y = matrix("X", X), matrix("Y", Y)
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
        return n_components(self.s, k, variance)


def n_components(s: np.ndarray, k: int | None, variance: float | None) -> int:
    """Of components with singular values ``s`` (descending), how many SVCCA keeps: ``k``, or enough
    to explain ``variance`` of the total (all of them when both are None)."""
    if k is not None:
        return min(k, len(s))
    if variance is None:
        return len(s)
    explained = np.cumsum(s**2) / np.sum(s**2)
    return int(min(np.searchsorted(explained, variance - 1e-12) + 1, len(s)))


def fit(X) -> Fitted:
    """Centre ``X`` and take its thin SVD, dropping numerically zero directions."""
    X = matrix("X", X)
    U, s, _ = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    if s[0] == 0:
        raise ValueError("X is constant: it has no variance to compare")
    rank = int(np.sum(s > _RANK_TOL * s[0]))
    return Fitted(U[:, :rank], s[:rank])


def cross(Ua, sa, Ub, sb):
    """``X_aᵀ X_b`` for every pair of a block, from ``X = U diag(s)``."""
    return jnp.einsum("isk,jsl->ijkl", Ua * sa[:, None, :], Ub * sb[:, None, :])
