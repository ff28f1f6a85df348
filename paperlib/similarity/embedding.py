"""Low-dimensional embeddings (MDS) of distance matrices."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float


def distances(D) -> np.ndarray:
    """``D`` as a float64 array, or ``ValueError`` unless it is a square, symmetric, non-negative distance matrix."""
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ValueError(f"D must be a square distance matrix with at least 2 rows, got shape {D.shape}")
    if not np.isfinite(D).all():
        raise ValueError("D contains NaN or infinite values")
    if not np.allclose(D, D.T, atol=1e-8) or np.any(np.abs(np.diag(D)) > 1e-8) or D.min() < -1e-12:
        raise ValueError("D must be symmetric, non-negative, with a zero diagonal")
    return D


def mds(D, n_components: int = 2, *, method: str = "smacof", seed: int = 0) -> Float[np.ndarray, "n k"]:
    """Embed a precomputed distance matrix with scikit-learn.

    **Arguments:**

    - ``D``: (n, n) symmetric, non-negative distances with a zero diagonal (e.g. ``pairwise``'s).
    - ``method``: ``"smacof"`` (metric MDS, started from the classical solution) or
      ``"classical"`` (Torgerson's: the top eigenvectors of the double-centred squared distances).
    - ``seed``: SMACOF's random state.

    **Returns:** (n, n_components) coordinates.
    """
    if method not in ("smacof", "classical"):
        raise ValueError(f"method must be one of ['smacof', 'classical'], got {method!r}")
    from sklearn.manifold import MDS, ClassicalMDS

    D = distances(D)
    if not np.any(D > 0):  # every point the same (e.g. identical fixed-point topologies): all at the origin
        return np.zeros((len(D), n_components))
    if method == "classical":
        return ClassicalMDS(n_components, metric="precomputed").fit_transform(D)
    model = MDS(
        n_components=n_components,
        metric="precomputed",
        init="classical_mds",
        random_state=seed,
        normalized_stress="auto",
    )
    return model.fit_transform(D)
