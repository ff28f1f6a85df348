"""What each claim's rule reads: one frozen dataclass per claim, its fields named.

A field marked ``deciding(...)`` is what the rule decides on; the others are reported beside it.
``paperlib.paper.render`` turns these into JSON, HTML and text without knowing any claim.
"""

from __future__ import annotations

import dataclasses

from paperlib.analysis.distances import LabelTests
from paperlib.analysis.untrained import GroupMeans
from paperlib.similarity.clustering import ClusterTest


def deciding(label: str, **kwargs):
    """A field the rule decides on, shown as ``label``."""
    return dataclasses.field(metadata={"label": label, "deciding": True}, **kwargs)


def beside(label: str, **kwargs):
    """A field reported beside the verdict, not deciding, shown as ``label``."""
    return dataclasses.field(metadata={"label": label, "deciding": False}, **kwargs)


@dataclasses.dataclass(frozen=True)
class Learning:
    """C1: how many networks of each task learned it (a diverged network has not)."""

    fraction_learned: dict[str, float] = deciding("fraction learned")
    learned: dict[str, int] = beside("learned")
    trained: dict[str, int] = beside("trained (diverged included)")
    retained: dict[str, int] = beside("retained (not diverged)")


@dataclasses.dataclass(frozen=True)
class KeptWidths:
    """How many principal components SVCCA keeps per network: min, median, max over the population."""

    min: int
    median: float
    max: int


@dataclasses.dataclass(frozen=True)
class SvccaClustering:
    """C2: SVCCA's label tests per task at 95% of variance; at the other truncations beside them."""

    tests: dict[str, LabelTests] = deciding("SVCCA, 95% of variance")
    by_truncation: dict[str, dict[str, LabelTests]] = beside("at the other truncations")
    kept_width_95: dict[str, KeptWidths] = beside("kept width at 95% (min, median, max)")
    kept_width_99: dict[str, KeptWidths] = beside("kept width at 99% (min, median, max)")
    held_out: dict[str, LabelTests] = beside(
        "held out: fitted on the even probe trials, scored on the odd ones", default_factory=dict
    )


@dataclasses.dataclass(frozen=True)
class ArchitectureClustering:
    """C3 (linear CKA) and D1 (DSA): the architecture test per task decides; activation is beside."""

    architecture: dict[str, ClusterTest | None] = deciding("architecture (tanh networks)")
    activation: dict[str, ClusterTest | None] = beside("activation (Vanilla networks)")
    svcca_architecture_p: dict[str, float] = beside("SVCCA architecture p (as C2)", default_factory=dict)
    held_out: dict[str, LabelTests] = beside("held out: on the odd probe trials", default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ArchitectureCounts:
    """C4, per architecture: its networks' share with 8 stable corners, mean stable and mean points."""

    eight_stable_corners: float
    mean_stable: float
    mean_points: float


@dataclasses.dataclass(frozen=True)
class FlipFlopCounts:
    """C4: the flip-flop networks' fixed-point counts and corner memories."""

    modal_count: int = deciding("modal number of points")
    fraction_modal: float = deciding("fraction with the modal count")
    fraction_8_stable_corners: float = deciding("fraction with 8 stable corners")
    counts: list[int] = beside("points per network")
    fraction_modal_at_003: float = beside("modal fraction at slow-point rule 0.03")
    fraction_modal_at_03: float = beside("modal fraction at slow-point rule 0.3")
    fraction_lattice: float = beside("fraction with the paper's 27-point lattice (8/12/6/1)")
    fraction_zero_memories: float = beside("fraction with stable zero memories")
    mean_unsettled: float = beside("mean unsettled fraction of perturbed runs")
    by_architecture: dict[str, ArchitectureCounts] = beside("by architecture")


@dataclasses.dataclass(frozen=True)
class TopologyAgainstGeometry:
    """C5: on the modal-count tanh networks, architecture's test by topology and by SVCCA."""

    topology: ClusterTest | None = deciding("topology distance, architecture")
    svcca: ClusterTest | None = deciding("SVCCA, architecture")
    per_architecture: dict[str, int] = beside("modal tanh networks per architecture")
    every_network_topology: ClusterTest | None = beside(
        "beyond the paper: every tanh network, transport topology distance, architecture", default=None
    )
    every_network_svcca: ClusterTest | None = beside("every tanh network, SVCCA, architecture (as C2)", default=None)


@dataclasses.dataclass(frozen=True)
class SineModes:
    """C6: the linearised oscillation pooled over networks and cues."""

    pearson_r: float = deciding("Pearson r, linear vs cued frequency")
    median_relative_error: float = deciding("median |linear / cued − 1|")
    fraction_single_mild_pair: float = deciding("fraction with one mildly unstable pair")
    cues: int = beside("cues")
    fraction_with_fixed_point: float = beside("fraction of (network, cue) with a fixed point")
    median_modulus: float = beside("median modulus of the chosen pair")
    fraction_only_growing_pair: float = beside("fraction where it is the only growing pair")


@dataclasses.dataclass(frozen=True)
class GatedAgainstVanilla:
    """C7, per gated architecture: its mean count of eigenvalues near 1, and the one-sided
    Mann–Whitney p-value that it exceeds Vanilla's."""

    mean_near_one: float
    p_value: float


@dataclasses.dataclass(frozen=True)
class LineIntegration:
    """C7: integration along the CDI line attractors, and eigenvalues near 1 by architecture."""

    fraction_integrating_both: float = deciding("fraction integrating in both contexts")
    vanilla_mean_near_one: float = deciding("Vanilla mean count near 1")
    gated: dict[str, GatedAgainstVanilla] = deciding("gated vs Vanilla")
    median_line_points: float = beside("line points per context (median)")
    integrating_by_architecture: dict[str, float] = beside("by architecture, fraction integrating in both")


@dataclasses.dataclass(frozen=True)
class UntrainedDistances:
    """C8: mean SVCCA distances among trained and untrained Vanilla networks, per truncation id."""

    near: float = deciding("trained relu ↔ untrained relu")
    far: float = deciding("trained relu ↔ trained tanh")
    by_truncation: dict[str, GroupMeans] = beside("every group pair, at every truncation")


@dataclasses.dataclass(frozen=True)
class MissingTasks:
    """A claim whose populations are not trained yet."""

    missing: tuple[str, ...] = beside("populations missing")
