"""Work units: one configuration's networks, and how units of one shape pack into one population.

- ``WorkUnit``: one configuration's seeds, trained and stored together; its networks are named by
  ``network_id``.
- ``pack``: work units of one shape (task, architecture, activation, units) gathered into one
  population (every L2 value's seeds, or every configuration's search trials, at once).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence

from paperlib._checks import check_int


@dataclasses.dataclass(frozen=True)
class WorkUnit:
    """The networks of one configuration: one population, trained and stored together."""

    task: str
    architecture: str
    activation: str
    units: int
    l2: float
    seeds: tuple[int, ...]

    @property
    def configuration(self) -> str:
        """The configuration's name within its task, e.g. ``gru-tanh-n64-l2_1e-04``."""
        return f"{self.architecture}-{self.activation}-n{self.units}-l2_{self.l2:.0e}"

    @property
    def name(self) -> str:
        return f"{self.task}/{self.configuration}"

    def network_id(self, seed: int) -> str:
        """The stable name of this unit's network of ``seed``, used for its weights file."""
        return f"{self.configuration}-s{seed}"

    @property
    def network_ids(self) -> list[str]:
        return [self.network_id(s) for s in self.seeds]

    @property
    def search_seed(self) -> int:
        return zlib.crc32(self.name.encode())

    @property
    def shape(self) -> tuple[str, str, str, int]:
        """What the networks' compiled program depends on: units of one shape can share a population."""
        return (self.task, self.architecture, self.activation, self.units)


def consecutive_groups(sizes: Sequence[int], limit: int | None) -> list[list[int]]:
    """Indices ``0..len(sizes)-1`` in consecutive groups whose sizes sum to at most ``limit``
    (None: one group); an item larger than ``limit`` is a group of its own."""
    groups, current, total = [], [], 0
    for i, n in enumerate(sizes):
        if current and limit is not None and total + n > limit:
            groups.append(current)
            current, total = [], 0
        current.append(i)
        total += n
    return groups + [current] if current else groups


def pack(
    units: Sequence[WorkUnit],
    max_members: int | None = None,
    members: Callable[[WorkUnit], int] = lambda u: len(u.seeds),
) -> list[tuple[WorkUnit, ...]]:
    """Gather work units of one shape into populations of at most ``max_members`` networks.

    Units keep their order within a shape, and shapes the order of their first unit. A unit is
    never split (one larger than ``max_members`` is a population of its own), and ``members``
    counts a unit's networks (its seeds; its search trials for a search). Members never
    interact, so a unit trained in a pack gets the weights it gets alone.
    """
    if max_members is not None:
        check_int("max_members", max_members)
    shapes: dict[tuple, list[WorkUnit]] = {}
    for unit in units:
        shapes.setdefault(unit.shape, []).append(unit)
    return [
        tuple(group[i] for i in indices)
        for group in shapes.values()
        for indices in consecutive_groups([members(u) for u in group], max_members)
    ]
