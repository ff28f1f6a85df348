"""Every analysis of a stored population, computed once, cached under the data directory, typed.

Data goes down once and comes back up once: a population (``paperlib.training.population``) goes
in, the math floor (``paperlib.dynamics``, ``paperlib.similarity``) computes, and a frozen
dataclass of named arrays comes back; the claims (``paperlib.paper``) and the notebooks only read
these results, so a page and a verdict state the same number. Imports the ground, math and
training floors only.

- ``cache``: where results are stored, keyed by the networks' checksums and the parameters.
- ``states``: probe states, state scales, untrained controls.
- ``points``: fixed and slow points per network and condition; flip-flop transition graphs.
- ``geometry``: distance matrices (SVCCA, CKA, Procrustes, DSA) and the label clustering tests.
- ``flipflop``, ``sine``, ``cdi``, ``untrained``: the analyses of Figs. 1–4, one module each.
- ``shipped``: the cached analyses a release carries, packed and restored.
"""

from paperlib.analysis.cache import ANALYSIS_VERSION, cache_path, cached
from paperlib.analysis.cdi import NEAR_ONE, TOP_MODES, CdiLines, cdi_lines
from paperlib.analysis.distances import (
    DECIDING,
    LABELS,
    TRUNCATIONS,
    Geometry,
    LabelTests,
    SvccaSensitivity,
    Truncation,
    distance_matrix,
    dsa_geometry,
    dsa_matrix,
    geometry,
    label_subsets,
    label_tests,
    svcca_sensitivity,
)
from paperlib.analysis.flipflop import (
    FLIPFLOP_BETWEEN,
    FLIPFLOP_INITIAL,
    FlipFlopTopology,
    ModalTanhTests,
    flipflop_fixed_points,
    flipflop_topology,
    modal_tanh_tests,
    slow_rule_speed,
    transport_topology,
)
from paperlib.analysis.points import (
    SETTLE_FRACTION,
    SLOW_FRACTION,
    SLOW_FRACTIONS,
    UNIQUE_FRACTION,
    TransitionGraph,
    fixed_points_by_condition,
    line_points,
    transition_graphs,
)
from paperlib.analysis.sine import (
    SINE_INITIAL,
    UNSTABLE,
    OutputFrequencies,
    SineLinearisation,
    output_frequencies,
    sine_linearisation,
    sine_topology,
)
from paperlib.analysis.states import (
    hidden_states,
    network_states,
    probe_samples,
    probe_states,
    state_scales,
    untrained_probe_states,
)
from paperlib.analysis.untrained import GROUPS, GroupMeans, TrainedVsUntrained, trained_vs_untrained

__all__ = [
    "ANALYSIS_VERSION",
    "DECIDING",
    "FLIPFLOP_BETWEEN",
    "FLIPFLOP_INITIAL",
    "GROUPS",
    "LABELS",
    "NEAR_ONE",
    "SETTLE_FRACTION",
    "SINE_INITIAL",
    "SLOW_FRACTION",
    "SLOW_FRACTIONS",
    "TOP_MODES",
    "TRUNCATIONS",
    "UNIQUE_FRACTION",
    "UNSTABLE",
    "CdiLines",
    "FlipFlopTopology",
    "Geometry",
    "GroupMeans",
    "LabelTests",
    "ModalTanhTests",
    "OutputFrequencies",
    "SineLinearisation",
    "SvccaSensitivity",
    "TrainedVsUntrained",
    "TransitionGraph",
    "Truncation",
    "cache_path",
    "cached",
    "cdi_lines",
    "distance_matrix",
    "dsa_geometry",
    "dsa_matrix",
    "fixed_points_by_condition",
    "flipflop_fixed_points",
    "flipflop_topology",
    "geometry",
    "hidden_states",
    "label_subsets",
    "label_tests",
    "line_points",
    "modal_tanh_tests",
    "network_states",
    "output_frequencies",
    "probe_samples",
    "probe_states",
    "sine_linearisation",
    "sine_topology",
    "slow_rule_speed",
    "state_scales",
    "svcca_sensitivity",
    "trained_vs_untrained",
    "transition_graphs",
    "transport_topology",
    "untrained_probe_states",
]
