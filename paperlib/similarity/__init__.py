"""Representational similarity of (samples × features) matrices, and how populations cluster on it.

The math floor: any network's or recording's representations, no training or stored population
(``paperlib.analysis`` applies it to the populations). One metric per module:

- ``cca.svcca``, ``alignment.cka``, ``shape.procrustes``: one pair; ``matrix.pairwise``: a whole
  population, each representation decomposed once (``basis.fit``); ``held_out``: the same fitted on
  some samples and scored on others; ``cka_bounded``: linear CKA of thousands within a stated error.
- ``dsa``: Dynamical Similarity Analysis of trajectories (trials × time × units).
- ``embedding.mds``: MDS of a distance matrix; ``clustering.cluster_test``: the claims'
  clustering test (nearest-neighbour accuracy and its permutation p-value).

Imports only ``paperlib._checks`` and itself.
"""

from paperlib.similarity.alignment import cka
from paperlib.similarity.basis import Fitted, fit
from paperlib.similarity.cca import canonical_correlations, svcca
from paperlib.similarity.clustering import (
    ClusterTest,
    cluster_test,
    nearest_neighbour_accuracy,
    nearest_neighbour_chance,
    silhouette,
)
from paperlib.similarity.embedding import mds
from paperlib.similarity.matrix import METRICS, pairwise
from paperlib.similarity.shape import procrustes

__all__ = [
    "METRICS",
    "ClusterTest",
    "Fitted",
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
