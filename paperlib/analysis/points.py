"""Fixed and slow points of every network of a population, and the flip-flop's transition graphs.

The search itself is ``paperlib.dynamics`` (any map ``step(h, x)``); here it runs once per network
and static condition, from that condition's probe states, and is stored under the data directory.
The slow-point rule (:ref:`methods-slow-points`): a point counts when it drifts at most
``SLOW_FRACTION`` of the network's state scale r over one trial (speed · T ≤ 0.1 · r); the counts
at the other ``SLOW_FRACTIONS`` are reported beside.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from paperlib._io import computing
from paperlib.analysis.cache import cache_path, cached, record
from paperlib.analysis.states import network_states, state_scales
from paperlib.dynamics.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    find_fixed_points,
    initial_states,
    slow_points,
    slow_speed,
)
from paperlib.dynamics.topology import readout_order, transition_graph
from paperlib.training.store import Population

SLOW_FRACTION = 0.1
SLOW_FRACTIONS = (0.03, 0.1, 0.3)
UNIQUE_FRACTION = 0.01  # points closer than 1% of r are one point
SETTLE_FRACTION = 0.01  # a perturbed run has settled within 1% of r of a stable point


def _points_by_condition(
    pop: Population, folder: Path, conditions: Sequence[int], desc: str, search
) -> list[list[FixedPoints]]:
    """For every network and condition, the ``FixedPoints`` file under ``folder``, or
    ``search(model, r, c, states)`` on the network's probe states of that condition, saved there."""
    record(folder)
    static, probe = pop.task.static_inputs(), pop.task.probe_inputs()
    paths = [[folder / f"{name}-c{c}.npz" for c in conditions] for name in pop.names]
    if all(path.exists() for row in paths for path in row):
        return [[FixedPoints.load(path) for path in row] for row in paths]
    results = []
    with computing(folder):  # another process searching the same points waits, then loads them
        for row, model, r in tqdm(list(zip(paths, pop.models, state_scales(pop))), desc=desc, leave=False):
            per_condition = []
            for c, path in zip(conditions, row):
                if path.exists():
                    fps = FixedPoints.load(path)
                else:
                    states, _ = network_states(model, probe[pop.task.condition_trials(probe, static[c])])
                    fps = search(model, r, c, states)
                    fps.save(path)
                per_condition.append(fps)
            results.append(per_condition)
    return results


def fixed_points_by_condition(
    pop: Population,
    *,
    conditions: Sequence[int] | None = None,
    n_initial: int = 256,
    noise: float = 0.1,
    n_between: int = 0,
    fraction: float = SLOW_FRACTION,
    trajectory: str = "all",
) -> list[list[FixedPoints]]:
    """Each network's fixed and slow points at each static condition (``conditions`` indexes ``static_inputs``).

    Searched once, in float64, from ``n_initial`` probe states of that condition plus noise (and
    ``n_between`` more seeded between the stable points found), keeping every converged point
    with speed · T ≤ 0.3 · r; returned are those with speed · T ≤ ``fraction`` · r.
    ``trajectory="second_half"`` draws the initial states from the second half of each probe trial
    (the sine's steady oscillation).
    """
    conditions = list(range(len(pop.task.static_inputs())) if conditions is None else conditions)
    T = pop.task.n_time
    folder = cache_path(
        pop,
        "fixed_points",
        conditions=conditions,
        n_initial=n_initial,
        noise=noise,
        n_between=n_between,
        trajectory=trajectory,
    ).with_suffix("")

    def search(model, r, c, states):
        options = FixedPointOptions(
            keep_q=0.5 * slow_speed(T, r, max(SLOW_FRACTIONS)) ** 2, tol_unique=UNIQUE_FRACTION * r, n_between=n_between
        )
        if trajectory == "second_half":
            states = states[:, T // 2 :]
        starts = initial_states(states, n_initial, noise=noise, seed=c)
        return find_fixed_points(model.step, pop.task.static_inputs()[c], starts, options)

    found = _points_by_condition(pop, folder, conditions, f"{pop.task.name} fixed points", search)
    return [[f.slower_than(slow_speed(T, r, fraction)) for f in per] for per, r in zip(found, state_scales(pop))]


def line_points(
    pop: Population, *, n_initial: int = 512, noise: float = 0.05, fraction: float = SLOW_FRACTION
) -> list[list[FixedPoints]]:
    """Slow points along each condition's line attractor (CDI), per network and condition.

    ``paperlib.dynamics.fixed_points.slow_points`` from ``n_initial`` probe states of that condition plus
    noise: each follows the dynamics until it is slow by speed · T ≤ ``fraction`` · r; points
    closer than 1% of r are merged. They keep their eigenvalues, not their Jacobians or
    eigenvectors (``paperlib.analysis.cdi`` linearises the one point it needs again).
    """
    folder = cache_path(pop, "line_points", n_initial=n_initial, noise=noise, fraction=fraction).with_suffix("")

    def search(model, r, c, states):
        starts = initial_states(states, n_initial, noise=noise, seed=c)
        return slow_points(
            model.step,
            pop.task.static_inputs()[c],
            starts,
            trial_steps=pop.task.n_time,
            state_scale=r,
            fraction=fraction,
            spacing=UNIQUE_FRACTION,
        ).without_linearisation()

    return _points_by_condition(
        pop, folder, range(len(pop.task.static_inputs())), f"{pop.task.name} line points", search
    )


@dataclasses.dataclass(frozen=True)
class TransitionGraph:
    """One network's flip-flop transition graph, its points ordered by readout.

    - ``graph``: (k, k) fraction of perturbed runs from point i that settled at stable point j.
    - ``readout``: (k, outputs) each point's readout.
    - ``n_unstable``: (k,) each point's number of unstable modes (0: stable).
    - ``order``: (k,) the points' indices in the ``FixedPoints`` they came from.
    """

    graph: np.ndarray
    readout: np.ndarray
    n_unstable: np.ndarray
    order: np.ndarray

    @property
    def unsettled(self) -> np.ndarray:
        """(k,) fraction of the runs from each point that settled nowhere within 10 · T steps."""
        return np.clip(1.0 - self.graph.sum(axis=1), 0.0, 1.0)


def transition_graphs(pop: Population, fps: list[list[FixedPoints]], n_samples: int = 100) -> list[TransitionGraph]:
    """Flip-flop transition graphs of every network (from its points ``fps[i][0]``), cached.

    Perturbed runs settle within 1% of r of a stable point, or are counted unsettled after 10 · T
    steps.
    """
    points = hashlib.sha256(b"".join(f.states.tobytes() for per in fps for f in per)).hexdigest()
    path = cache_path(pop, "graphs", n_samples=n_samples, fixed_points=points)
    scales = state_scales(pop)

    def compute():
        arrays = {}
        for i, (model, per) in enumerate(tqdm(list(zip(pop.models, fps)), desc="transition graphs", leave=False)):
            f = per[0]
            readout = (
                np.asarray(model.readout(jnp.asarray(f.states, jnp.float32)))
                if len(f)
                else np.zeros((0, pop.task.n_outputs))
            )
            order = readout_order(readout)
            if len(f):
                graph = transition_graph(
                    model.step,
                    f,
                    n_samples=n_samples,
                    settle_distance=SETTLE_FRACTION * scales[i],
                    max_steps=10 * pop.task.n_time,
                )[np.ix_(order, order)]
            else:
                graph = np.zeros((0, 0))
            arrays[f"graph{i}"] = graph
            arrays[f"readout{i}"] = readout[order]
            arrays[f"unstable{i}"] = f.n_unstable[order]
            arrays[f"order{i}"] = order
        return arrays

    arrays = cached(path, compute)
    return [
        TransitionGraph(arrays[f"graph{i}"], arrays[f"readout{i}"], arrays[f"unstable{i}"], arrays[f"order{i}"])
        for i in range(len(pop))
    ]
