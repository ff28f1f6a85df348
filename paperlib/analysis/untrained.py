"""Trained against untrained networks (Fig. 4; claim C8): SVCCA among trained and freshly
initialised Vanilla relu / tanh networks, all driven by the CDI probe inputs."""

from __future__ import annotations

import dataclasses

import numpy as np

from paperlib.analysis.cache import cache_path, cached
from paperlib.analysis.distances import TRUNCATIONS
from paperlib.analysis.states import probe_states, untrained_probe_states
from paperlib.similarity.matrix import pairwise
from paperlib.training.store import Population

GROUPS = ("trained relu", "untrained relu", "trained tanh", "untrained tanh")


@dataclasses.dataclass(frozen=True)
class GroupMeans:
    """Mean SVCCA distance between two groups of Vanilla networks (within a group: off the diagonal)."""

    relu_to_untrained_relu: float  # trained relu ↔ untrained relu: C8's "near" side
    relu_to_tanh: float  # trained relu ↔ trained tanh: C8's "far" side
    tanh_to_untrained_tanh: float
    untrained_relu_to_untrained_tanh: float


@dataclasses.dataclass(frozen=True)
class TrainedVsUntrained:
    """SVCCA among trained and untrained Vanilla relu / tanh networks on the CDI probes.

    ``groups``: each network's group (``GROUPS``); ``distances``, ``means`` and ``nearer`` per
    ``Truncation.id``; ``nearer``: over every (trained relu, untrained relu, trained tanh) triple,
    the fraction where the untrained relu network is the nearer of the two.
    """

    groups: np.ndarray
    distances: dict[str, np.ndarray]
    means: dict[str, GroupMeans]
    nearer: dict[str, float]


def trained_vs_untrained(pop: Population) -> TrainedVsUntrained:
    """Fig. 4: trained and untrained Vanilla relu / tanh networks driven by the CDI probe inputs."""
    arch, act = pop.column("architecture"), pop.column("activation")
    trained = probe_states(pop)
    groups, reps = [], []
    for a in ("relu", "tanh"):
        idx = np.flatnonzero((arch == "vanilla") & (act == a))
        reps += list(trained[idx])
        groups += [f"trained {a}"] * len(idx)
        n_units = pop.models[idx[0]].cell.n_units if len(idx) else 64
        untrained = untrained_probe_states(pop.task, "vanilla", a, n_units, seeds=range(1000, 1000 + max(len(idx), 2)))
        reps += list(untrained)
        groups += [f"untrained {a}"] * len(untrained)
    groups = np.asarray(groups)

    def compute():  # stored by each truncation's label, as since the first version of this cache
        return {t.label: pairwise(reps, "svcca", progress=False, k=t.k, variance=t.variance) for t in TRUNCATIONS}

    stored = cached(cache_path(pop, "trained_vs_untrained"), compute)
    distances = {t.id: stored[t.label] for t in TRUNCATIONS}

    def mean(D, g1, g2):
        block = D[np.ix_(groups == g1, groups == g2)]
        if g1 == g2:
            block = block[~np.eye(len(block), dtype=bool)]
        return float(block.mean())

    means = {
        name: GroupMeans(
            relu_to_untrained_relu=mean(D, "trained relu", "untrained relu"),
            relu_to_tanh=mean(D, "trained relu", "trained tanh"),
            tanh_to_untrained_tanh=mean(D, "trained tanh", "untrained tanh"),
            untrained_relu_to_untrained_tanh=mean(D, "untrained relu", "untrained tanh"),
        )
        for name, D in distances.items()
    }
    tr, ur, tt = (np.flatnonzero(groups == g) for g in ("trained relu", "untrained relu", "trained tanh"))
    nearer = {
        name: float(np.mean(D[np.ix_(tr, ur)][:, :, None] < D[np.ix_(tr, tt)][:, None, :]))
        if len(tr) and len(ur) and len(tt)
        else float("nan")
        for name, D in distances.items()
    }
    return TrainedVsUntrained(groups=groups, distances=distances, means=means, nearer=nearer)
