"""Angular Procrustes distance (Williams et al. 2021): a metric on representations up to rotation and scale."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from paperlib.similarity.basis import Fitted, cross, fit, pair


def procrustes(X, Y) -> float:
    """Angular Procrustes distance (Williams et al. 2021; beyond the paper), a metric.

    **Arguments:**

    - ``X``, ``Y``: (samples, features_x) and (samples, features_y) with the same samples.

    **Returns:** the angle ``arccos ‖Xᵀ Y‖_*`` in radians, in [0, π/2], between the centred,
    unit-norm representations after the best rotation (0: equal up to rotation and scale).
    """
    X, Y = pair(X, Y)
    fx, fy = fit(X), fit(Y)
    return _procrustes_from_fits(fx, fy)


def _procrustes_from_fits(fx: Fitted, fy: Fitted) -> float:
    M = (fx.U * fx.s).T @ (fy.U * fy.s)
    nuclear = np.linalg.svd(M, compute_uv=False).sum() / (np.linalg.norm(fx.s) * np.linalg.norm(fy.s))
    return float(np.arccos(np.clip(nuclear, -1.0, 1.0)))


@jax.jit
def procrustes_block(Ua, sa, Ub, sb):
    """``‖X_aᵀ X_b‖_*`` for every pair of a block."""
    return jnp.sum(jnp.linalg.svd(cross(Ua, sa, Ub, sb), compute_uv=False), axis=-1)
