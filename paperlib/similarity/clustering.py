"""How well a label clusters on a distance matrix: the clustering test of the claims
(:ref:`methods-clustering`).

Leave-one-out nearest-neighbour accuracy of the label, its chance level, its permutation p-value,
and the silhouette beside them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from paperlib.similarity.embedding import distances


def _labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must hold one label per row of D ({n}), got shape {labels.shape}")
    return labels


def silhouette(D, labels) -> float:
    """Mean silhouette of the labels on the distance matrix (1: tight, separate clusters; ~0: none)."""
    from sklearn.metrics import silhouette_score

    D = distances(D)
    return float(silhouette_score(D, _labels(labels, len(D)), metric="precomputed"))


def nearest_neighbour_accuracy(D, labels) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy: how often a network's nearest other network shares its label."""
    D = distances(D).copy()
    labels = _labels(labels, len(D))
    np.fill_diagonal(D, np.inf)
    return float(np.mean(labels[np.argmin(D, axis=1)] == labels))


def nearest_neighbour_chance(labels: Sequence | np.ndarray) -> float:
    """Expected ``nearest_neighbour_accuracy`` when distances carry no information about labels."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    n = counts.sum()
    return float(np.sum(counts / n * (counts - 1) / (n - 1)))


@dataclasses.dataclass(frozen=True)
class ClusterTest:
    """How well a label clusters on a distance matrix (the claims' clustering test, :ref:`methods-clustering`).

    ``accuracy``: leave-one-out nearest-neighbour accuracy; ``chance``: its expectation when
    distances say nothing of the label; ``p_value``: the permutation p-value
    ``(1 + #{shuffled accuracy ≥ accuracy}) / (1 + n_permutations)``; ``silhouette`` beside it.
    """

    accuracy: float
    chance: float
    p_value: float
    silhouette: float
    n: int
    n_permutations: int

    def clusters(self, alpha: float = 0.05) -> bool:
        """The label clusters: ``p_value < alpha``."""
        return self.p_value < alpha


def cluster_test(D, labels, *, n_permutations: int = 9999, seed: int = 0) -> ClusterTest:
    """Leave-one-out nearest-neighbour accuracy of ``labels`` on ``D`` and its permutation p-value.

    **Arguments:**

    - ``D``: (n, n) symmetric distances with a zero diagonal (e.g. ``pairwise``'s).
    - ``labels``: (n,) one label per row, at least two distinct.
    - ``n_permutations``, ``seed``: the label shuffles that give the accuracies expected if
      distances carried no information about the labels (each network's nearest other network
      stays fixed by ``D``).

    **Returns:** a ``ClusterTest``; the label clusters at level α when ``p_value < α``.

    ```python
    import numpy as np
    from paperlib.similarity import cluster_test
    D = 1.0 - np.kron(np.eye(2), np.ones((20, 20)))  # two groups of 20, 0 within, 1 across
    cluster_test(D, ["a"] * 20 + ["b"] * 20).p_value  # 1e-4: the smallest 9,999 shuffles can give
    ```
    """
    D = distances(D)
    labels = _labels(labels, len(D))
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    values, codes = np.unique(labels, return_inverse=True)
    if len(values) < 2:
        raise ValueError("labels must hold at least two distinct values")
    nearest = np.argmin(D + np.diag(np.full(len(D), np.inf)), axis=1)
    observed = float(np.mean(codes[nearest] == codes))
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, n_permutations, 1000):
        shuffled = rng.permuted(np.broadcast_to(codes, (min(1000, n_permutations - start), len(codes))), axis=1)
        exceed += int(np.sum(np.mean(shuffled[:, nearest] == shuffled, axis=1) >= observed - 1e-12))
    return ClusterTest(
        accuracy=observed,
        chance=nearest_neighbour_chance(labels),
        p_value=(1 + exceed) / (1 + n_permutations),  # the silhouette needs a label with two members
        silhouette=silhouette(D, labels) if len(values) < len(labels) else float("nan"),
        n=len(labels),
        n_permutations=n_permutations,
    )
