"""The flip-flop's fixed-point topology (Fig. 1e–f; claims C4, C5), computed once per population.

- ``flipflop_topology``: per network its points at the slow-point rule, in readout order, their
  transition graph, what its stable points remember, and the topology distances between networks.
- ``modal_tanh_tests``: C5's comparison, topology against SVCCA on the same modal-count tanh
  networks; Fig. 1f reads the same result.
- ``transport_topology``: beyond the paper, the same test over every network, by a topology
  distance defined between different numbers of fixed points.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from paperlib.analysis.cache import cache_path, cached
from paperlib.analysis.distances import Geometry, distance_matrix, label_subsets, label_tests
from paperlib.analysis.points import SLOW_FRACTION, SLOW_FRACTIONS, fixed_points_by_condition, transition_graphs
from paperlib.analysis.states import state_scales
from paperlib.dynamics.fixed_points import FixedPoints, slow_speed
from paperlib.dynamics.graph_transport import pairwise_transport_distances
from paperlib.dynamics.topology import flipflop_memories, matched_graph_distance, modal_count_mask
from paperlib.similarity.clustering import ClusterTest, cluster_test
from paperlib.training.store import Population

FLIPFLOP_INITIAL = 1024  # initial states per flip-flop network (Methods: initial states)
FLIPFLOP_BETWEEN = 256  # second-round seeds between its stable points
MIN_PER_ARCHITECTURE = 3  # C5 is measurable with at least this many modal tanh networks per architecture


@dataclasses.dataclass(frozen=True)
class FlipFlopTopology:
    """Per flip-flop network (in population order): its points at the 0.1 rule, in readout order,
    with their transition graph; counts at every rule; the topology distances between networks."""

    fixed_points: tuple[FixedPoints, ...]
    graphs: tuple[np.ndarray, ...]
    readouts: tuple[np.ndarray, ...]
    counts_by_rule: dict  # fraction -> (P,) number of points kept at that slow-point rule
    n_stable: np.ndarray
    corners: np.ndarray  # distinct corners of the output cube held by stable points
    zero_memories: np.ndarray  # stable points holding an output near 0
    unsettled: np.ndarray  # per network, fraction of perturbed runs that did not settle
    distances: np.ndarray
    stable_modulus: np.ndarray  # largest |λ| at every stable point, pooled over networks

    @property
    def n_points(self) -> np.ndarray:
        return self.counts_by_rule[SLOW_FRACTION]

    @property
    def modal(self) -> np.ndarray:
        return modal_count_mask(self.n_points)

    @property
    def eight_corners(self) -> np.ndarray:
        """Networks with exactly 8 stable points, one per corner of the output cube."""
        return (self.n_stable == 8) & (self.corners == 8)

    @property
    def lattice(self) -> np.ndarray:
        """Networks whose points are the paper's 27: 8 stable, 12 / 6 / 1 with 1 / 2 / 3 unstable dimensions."""
        return np.array(
            [
                len(f) == 27 and np.bincount(f.n_unstable, minlength=4)[:4].tolist() == [8, 12, 6, 1]
                for f in self.fixed_points
            ],
            bool,
        )

    @property
    def modal_count(self) -> int:
        values, freq = np.unique(self.n_points, return_counts=True)
        return int(values[np.argmax(freq)])


def flipflop_fixed_points(pop: Population, fraction: float = SLOW_FRACTION) -> list[FixedPoints]:
    """Each flip-flop network's points with speed · T ≤ ``fraction`` · r (1,024 starts + 256 between stable points)."""
    fps = fixed_points_by_condition(pop, n_initial=FLIPFLOP_INITIAL, n_between=FLIPFLOP_BETWEEN, fraction=fraction)
    return [per[0] for per in fps]


def flipflop_topology(pop: Population) -> FlipFlopTopology:
    """Fig. 1e-f: fixed points, transition graphs and topology distances of the flip-flop networks."""
    loosest = flipflop_fixed_points(pop, max(SLOW_FRACTIONS))  # loaded once; every rule is a subset
    counts = {
        f: np.array([int(np.sum(p.speed <= s)) for p, s in zip(loosest, slow_rule_speed(pop, f))])
        for f in SLOW_FRACTIONS
    }
    fps = [p.slower_than(s) for p, s in zip(loosest, slow_rule_speed(pop, SLOW_FRACTION))]
    graphs = transition_graphs(pop, [[f] for f in fps])
    ordered = [f[g.order] for f, g in zip(fps, graphs)]
    memories = [flipflop_memories(g.readout, g.n_unstable) for g in graphs]
    n = len(graphs)
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            D[i, j] = D[j, i] = matched_graph_distance(
                graphs[i].graph,
                graphs[i].readout,
                graphs[j].graph,
                graphs[j].readout,
                graphs[i].n_unstable,
                graphs[j].n_unstable,
            )
    stable_modulus = np.concatenate([np.abs(f.eigenvalues[f.stable, 0]) for f in fps if len(f)] or [np.zeros(0)])
    return FlipFlopTopology(
        fixed_points=tuple(ordered),
        graphs=tuple(g.graph for g in graphs),
        readouts=tuple(g.readout for g in graphs),
        counts_by_rule=counts,
        n_stable=np.array([int(np.sum(g.n_unstable == 0)) for g in graphs]),
        corners=np.array([m.corners for m in memories]),
        zero_memories=np.array([m.zero_memories for m in memories]),
        unsettled=np.array([float(g.unsettled.mean()) if len(g.unsettled) else 0.0 for g in graphs]),
        distances=D,
        stable_modulus=stable_modulus,
    )


def slow_rule_speed(pop: Population, fraction: float = SLOW_FRACTION) -> np.ndarray:
    """Per network, the speed under which a point counts at ``fraction`` (s · T ≤ fraction · r)."""
    return np.array([slow_speed(pop.task.n_time, r, fraction) for r in state_scales(pop)])


@dataclasses.dataclass(frozen=True)
class ModalTanhTests:
    """C5 and Fig. 1f: the modal-count tanh networks, and on them the architecture's clustering test
    by topology distance and by SVCCA (None when some architecture has fewer than
    ``MIN_PER_ARCHITECTURE`` of them: not measurable)."""

    networks: np.ndarray  # indices into the population
    per_architecture: dict[str, int]
    topology: ClusterTest | None
    svcca: ClusterTest | None

    @property
    def measurable(self) -> bool:
        return self.topology is not None


def modal_tanh_tests(topo: FlipFlopTopology, pop: Population) -> ModalTanhTests:
    """The architecture's clustering test on the modal-count tanh networks, by topology and by SVCCA."""
    arch, act = pop.column("architecture"), pop.column("activation")
    idx = label_subsets(pop, topo.modal)["architecture"]
    per_arch = {a: int(np.sum(arch[idx] == a)) for a in dict.fromkeys(arch[act == "tanh"])}
    if min(per_arch.values(), default=0) < MIN_PER_ARCHITECTURE:
        return ModalTanhTests(idx, per_arch, None, None)
    return ModalTanhTests(
        networks=idx,
        per_architecture=per_arch,
        topology=cluster_test(topo.distances[np.ix_(idx, idx)], arch[idx]),
        svcca=cluster_test(distance_matrix(pop, "svcca")[np.ix_(idx, idx)], arch[idx]),
    )


def transport_topology(topo: FlipFlopTopology, pop: Population) -> Geometry:
    """Beyond the paper: topology distances between every two flip-flop networks, whatever their
    numbers of fixed points (``paperlib.dynamics.graph_transport``), with the label tests on them
    over every network (C5 tests the modal-count ones only). Cached."""
    digest = hashlib.sha256(
        b"".join(
            a.tobytes() for g, r, f in zip(topo.graphs, topo.readouts, topo.fixed_points) for a in (g, r, f.n_unstable)
        )
    ).hexdigest()

    def compute():
        unstable = [f.n_unstable for f in topo.fixed_points]
        return {"D": pairwise_transport_distances(list(topo.graphs), list(topo.readouts), unstable)}

    D = cached(cache_path(pop, "transport_topology", graphs=digest), compute)["D"]
    return Geometry("topology (transport)", D, label_tests(D, pop))
