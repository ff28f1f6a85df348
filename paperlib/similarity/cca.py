"""SVCCA (Raghu et al. 2017): mean canonical correlation between top principal subspaces."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from paperlib.similarity.basis import fit, pair


def check_truncation(k, variance) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    if variance is not None and not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance!r}")


def canonical_correlations(X, Y, *, k: int | None = None, variance: float | None = 0.95) -> np.ndarray:
    """The canonical correlations between the reduced bases of X and Y, descending."""
    check_truncation(k, variance)
    X, Y = pair(X, Y)
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


@jax.jit
def svcca_block(Ua, Ub):
    """Sum of canonical correlations (``‖U_aᵀ U_b‖_*``) for every pair of a block of bases."""
    C = jnp.einsum("isk,jsl->ijkl", Ua, Ub)
    return jnp.sum(jnp.linalg.svd(C, compute_uv=False), axis=-1)
