"""Representational similarity of (samples × features) matrices, and how populations cluster on it.

The math floor: any network's or recording's representations, no training or stored population
(``paperlib.analysis`` applies it to the populations). One metric per module:

- ``svcca``, ``cka``, ``procrustes``: one pair; ``pairwise``: a whole population, each
  representation decomposed once (``basis.fit``).
- ``dsa``: Dynamical Similarity Analysis of trajectories (trials × time × units).
- ``embedding.mds``: MDS of a distance matrix; ``clustering.cluster_test``: the claims'
  clustering test (nearest-neighbour accuracy and its permutation p-value).

Imports only ``paperlib._checks`` and itself.
"""

from paperlib.similarity.basis import Fitted, fit
from paperlib.similarity.cka import cka
from paperlib.similarity.clustering import (
    ClusterTest,
    cluster_test,
    nearest_neighbour_accuracy,
    nearest_neighbour_chance,
    silhouette,
)
from paperlib.similarity.embedding import mds
from paperlib.similarity.pairwise import METRICS, Metric, pairwise
from paperlib.similarity.procrustes import procrustes
from paperlib.similarity.svcca import canonical_correlations, svcca

__all__ = [
    "METRICS",
    "ClusterTest",
    "Fitted",
    "Metric",
    "canonical_correlations",
    "cka",
    "cluster_test",
    "fit",
    "mds",
    "nearest_neighbour_accuracy",
    "nearest_neighbour_chance",
    "pairwise",
    "procrustes",
    "silhouette",
    "svcca",
]
