"""Representational geometry of a population: distance matrices and how its labels cluster on them.

- ``distance_matrix``: SVCCA / CKA / Procrustes distances between all networks' probe states;
  ``dsa_matrix``: DSA distances between their trajectories. Each computed once, cached.
- ``label_tests``: the clustering test of each label (:ref:`methods-clustering`): architecture among the tanh
  networks, activation among the Vanilla ones. Claims and pages read these, never their own.
- ``geometry``: one metric's matrix with its tests; ``svcca_sensitivity``: SVCCA at every
  ``TRUNCATIONS`` entry, with each network's kept width (C2's rows beside its verdict).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from paperlib.analysis.cache import cache_path, cached
from paperlib.analysis.states import hidden_states, probe_states
from paperlib.similarity import dsa
from paperlib.similarity.basis import fit
from paperlib.similarity.clustering import ClusterTest, cluster_test
from paperlib.similarity.matrix import pairwise
from paperlib.training.store import Population

LABELS = ("architecture", "activation")


def distance_matrix(pop: Population, metric: str = "svcca", *, held_out: bool = False, **kwargs) -> np.ndarray:
    """Distances between every pair of networks on their probe states, cached.

    **Arguments:**

    - ``metric`` and its options ``kwargs``: as ``paperlib.similarity.pairwise``.
    - ``held_out``: fit each pair on the even probe trials and score it on the odd ones
      (``held_out_trials``); default: in sample, as the paper.

    **Returns:** (networks, networks) distances, in population order.
    """
    if held_out:
        kwargs = {**kwargs, "held_out": held_out_trials(pop)}

    def compute():
        return {"D": pairwise(list(probe_states(pop)), metric, progress=False, **kwargs)}

    key = {k: v for k, v in kwargs.items() if k != "held_out"} | ({"held_out": "odd trials"} if held_out else {})
    return cached(cache_path(pop, f"distances_{metric}", **key), compute)["D"]


def held_out_trials(pop: Population) -> np.ndarray:
    """The evaluation half of the probe samples: those of every odd-numbered probe trial (the probe
    samples are trial-major, ``paperlib.analysis.states.probe_samples``); the even trials are fitted."""
    n_trials, n_samples = len(pop.task.probe_inputs()), probe_states(pop).shape[1]
    return (np.arange(n_samples) // (n_samples // n_trials)) % 2 == 1


def dsa_matrix(pop: Population, options: dsa.DSAOptions = dsa.DSAOptions()) -> np.ndarray:
    """DSA distances between every pair of networks, from their hidden-state trajectories on the
    probe inputs (trials × time × units, every step), cached. Each network is fitted once."""

    def compute():
        inputs = pop.task.probe_inputs()
        trajectories = [hidden_states(model, inputs) for model in tqdm(pop.models, desc="dsa states", leave=False)]
        return {
            "D": dsa.pairwise_operators(dsa.fit_all(trajectories, options, progress=False), options, progress=False)
        }

    return cached(cache_path(pop, "distances_dsa", **dataclasses.asdict(options)), compute)["D"]


@dataclasses.dataclass(frozen=True)
class LabelTests:
    """The clustering test of each label on one distance matrix (None where it cannot be run:
    fewer than 3 networks, or a single value of the label, in its subset).

    - ``architecture``: among the tanh networks (the paper's Fig. 1d, left).
    - ``activation``: among the Vanilla networks (Fig. 1d, right).
    """

    architecture: ClusterTest | None
    activation: ClusterTest | None

    def get(self, label: str) -> ClusterTest | None:
        """The test of ``label`` (``"architecture"`` or ``"activation"``)."""
        if label not in LABELS:
            raise ValueError(f"label must be one of {list(LABELS)}, got {label!r}")
        return getattr(self, label)


def label_subsets(pop_or_columns, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per label, the indices of the networks its test runs on: tanh networks for architecture,
    Vanilla networks for activation (within ``mask`` where given)."""
    arch, act = _columns(pop_or_columns)
    mask = np.ones(len(arch), bool) if mask is None else np.asarray(mask, bool)
    return {
        "architecture": np.flatnonzero((act == "tanh") & mask),
        "activation": np.flatnonzero((arch == "vanilla") & mask),
    }


def label_tests(D: np.ndarray, pop_or_columns, mask: np.ndarray | None = None) -> LabelTests:
    """The clustering test of architecture (tanh networks) and of activation (Vanilla networks) on ``D``.

    **Arguments:**

    - ``D``: (networks, networks) distances in population order.
    - ``pop_or_columns``: the ``Population``, or its ``(architecture, activation)`` columns.
    - ``mask``: test only these networks (e.g. the modal-count ones of C5).
    """
    arch, act = _columns(pop_or_columns)
    values = {"architecture": arch, "activation": act}
    out = {}
    for label, idx in label_subsets((arch, act), mask).items():
        labels = values[label][idx]
        out[label] = cluster_test(D[np.ix_(idx, idx)], labels) if len(idx) >= 3 and len(set(labels)) >= 2 else None
    return LabelTests(**out)


def _columns(pop_or_columns) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(pop_or_columns, Population):
        return pop_or_columns.column("architecture"), pop_or_columns.column("activation")
    arch, act = pop_or_columns
    return np.asarray(arch), np.asarray(act)


@dataclasses.dataclass(frozen=True)
class Geometry:
    """One distance matrix over a population, and how its labels cluster on it."""

    metric: str
    distances: np.ndarray
    tests: LabelTests


def geometry(pop: Population, metric: str = "svcca", *, held_out: bool = False, **kwargs) -> Geometry:
    """``distance_matrix(pop, metric, held_out=held_out, **kwargs)`` with its ``label_tests``."""
    D = distance_matrix(pop, metric, held_out=held_out, **kwargs)
    return Geometry(f"held-out {metric}" if held_out else metric, D, label_tests(D, pop))


def dsa_geometry(pop: Population, options: dsa.DSAOptions = dsa.DSAOptions()) -> Geometry:
    """``dsa_matrix(pop, options)`` with its ``label_tests``."""
    D = dsa_matrix(pop, options)
    return Geometry("dsa", D, label_tests(D, pop))


@dataclasses.dataclass(frozen=True)
class Truncation:
    """How many principal components SVCCA keeps of each network: ``k``, or enough for ``variance``.

    ``id`` names it in results (``"var95"``); ``label`` is how a page says it; ``options`` are the
    keyword arguments of ``paperlib.similarity.pairwise`` (empty for its default, 95% of variance).
    """

    id: str
    label: str
    k: int | None = None
    variance: float | None = None

    @property
    def options(self) -> dict:
        if self.k is None and self.variance == 0.95:
            return {}
        return {"k": self.k, "variance": self.variance} if self.k is not None else {"variance": self.variance}


#: SVCCA's truncations: the deciding one (the paper's "~95%") first, then those reported beside it.
TRUNCATIONS = (
    Truncation("var95", "95% variance", variance=0.95),
    Truncation("var99", "99% variance", variance=0.99),
    Truncation("k10", "k = 10", k=10),
    Truncation("k20", "k = 20", k=20),
)
DECIDING = TRUNCATIONS[0]


@dataclasses.dataclass(frozen=True)
class SvccaSensitivity:
    """SVCCA geometry at every truncation (``by_truncation[Truncation.id]``) and each network's
    kept width at 95% and 99% of variance."""

    by_truncation: dict[str, Geometry]
    width_95: np.ndarray
    width_99: np.ndarray

    @property
    def deciding(self) -> Geometry:
        """The geometry at the deciding truncation, 95% of variance."""
        return self.by_truncation[DECIDING.id]


def svcca_sensitivity(pop: Population) -> SvccaSensitivity:
    """SVCCA distances and label tests at every ``TRUNCATIONS`` entry, and the kept widths."""
    fits = [fit(X) for X in probe_states(pop)]
    return SvccaSensitivity(
        by_truncation={t.id: geometry(pop, "svcca", **t.options) for t in TRUNCATIONS},
        width_95=np.array([f.n_components(None, 0.95) for f in fits]),
        width_99=np.array([f.n_components(None, 0.99) for f in fits]),
    )
