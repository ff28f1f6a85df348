"""Dynamics of any recurrent map ``step(h, x) -> h'``: fixed points, linearisations, topologies.

The math floor: applies to any network (ours, a PyTorch import, your own function), with no
training or stored population (``paperlib.analysis`` applies it to the populations). Imports only
``paperlib._io`` and itself.

- ``fixed_points``: ``find_fixed_points``, ``slow_points``, ``FixedPoints`` (:ref:`methods-fixed-points`).
- ``linear``: Jacobians at a point, the oscillatory mode, the response with modes removed.
- ``topology``: transition graphs and the distances between them; CDI line graphs.
"""

from paperlib.dynamics.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    find_fixed_points,
    initial_states,
    slow_points,
    slow_speed,
    state_scale,
)
from paperlib.dynamics.linear import mode_truncated_response, oscillatory_mode
from paperlib.dynamics.topology import graph_distance, matched_graph_distance, transition_graph

__all__ = [
    "FixedPointOptions",
    "FixedPoints",
    "find_fixed_points",
    "graph_distance",
    "initial_states",
    "matched_graph_distance",
    "mode_truncated_response",
    "oscillatory_mode",
    "slow_points",
    "slow_speed",
    "state_scale",
    "transition_graph",
]
