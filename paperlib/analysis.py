"""Analyses of a stored population, each computed once and cached under the data directory.

- Every result is written to ``DIR/<profile>/<task>/analysis/<name>-<key>.npz``; ``key`` hashes
  the networks' weight checksums and the analysis parameters (``cache_path``), so a rerun loads
  it, and a retrained network or a changed parameter gives a new key.
- ``probe_states``: each network's hidden states ``h`` on the probe inputs (LSTM: ``h``, not ``c``);
  ``probe_samples`` is one network's row of it, for a network outside the population.
- ``distance_matrix``: SVCCA / CKA / Procrustes distances between all networks.
- ``dsa_matrix``: Dynamical Similarity Analysis distances between all networks (``paperlib.dsa``).
- ``state_scales``: each network's ``r``, the scale of SPEC §4's slow-point rule.
- ``fixed_points_by_condition``: fixed and slow points per network and static input condition.
- ``line_points``: the CDI's slow points sampled along each context's line attractor.
- ``transition_graphs``: flip-flop transition graphs, ordered by readout (``TransitionGraph``).
- ``output_frequencies``: the sine's output frequency at every cue (``OutputFrequencies``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from paperlib import dsa
from paperlib._io import atomic_write, computing
from paperlib.fixed_points import (
    FixedPointOptions,
    FixedPoints,
    find_fixed_points,
    initial_states,
    slow_points,
    slow_speed,
    state_scale,
)
from paperlib.rnn import RNN, make_rnn, run_batch
from paperlib.similarity import pairwise
from paperlib.store import Population
from paperlib.tasks import Task
from paperlib.topology import readout_order, transition_graph

ANALYSIS_VERSION = 2  # bump when an analysis changes what it computes
# SPEC §4: a point counts when it drifts at most SLOW_FRACTION of the network's state scale r over
# one trial (speed · T ≤ 0.1 · r); the counts at the other fractions are reported beside.
SLOW_FRACTION = 0.1
SLOW_FRACTIONS = (0.03, 0.1, 0.3)
UNIQUE_FRACTION = 0.01  # points closer than 1% of r are one point
SETTLE_FRACTION = 0.01  # a perturbed run has settled within 1% of r of a stable point


def cache_path(pop: Population, name: str, **params) -> Path:
    """Where the analysis ``name`` of ``pop`` with ``params`` is cached (see the module docstring)."""
    blob = json.dumps(
        {"v": ANALYSIS_VERSION, "sha": [r["sha256"] for r in pop.rows], **params}, sort_keys=True, default=str
    )
    return pop.store.path / "analysis" / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.npz"


def cached(path: Path, compute) -> dict[str, np.ndarray]:
    """The arrays stored at ``path``, or ``compute()``'s (a dict of arrays), stored there first.

    One process computes a missing result while any other that needs it waits, then loads it.
    """
    if not path.exists():
        with computing(path):
            if not path.exists():
                result = compute()
                buffer = io.BytesIO()
                np.savez(buffer, **result)
                atomic_write(path, buffer.getvalue())
                return result
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@eqx.filter_jit
def _run(model, inputs):
    return run_batch(model, inputs)


def network_states(model: RNN, inputs) -> tuple[np.ndarray, np.ndarray]:
    """States (trials × time × state) and outputs of one network on a batch of inputs."""
    states, outputs = _run(model, jnp.asarray(inputs, jnp.float32))
    return np.asarray(states), np.asarray(outputs)


def hidden_states(model: RNN, inputs) -> np.ndarray:
    """The hidden states ``h`` (trials × time × units) of one network on a batch of inputs (LSTM: ``h``, not ``c``)."""
    states, _ = network_states(model, inputs)
    return np.asarray(model.cell.hidden(jnp.asarray(states)))


def time_stride(task: Task, n_trials: int, max_samples: int) -> int:
    return max(1, int(np.ceil(n_trials * task.n_time / max_samples)))


def probe_samples(model: RNN, task: Task, max_samples: int = 2000) -> np.ndarray:
    """One network's representation for the similarity measures: its hidden states on the task's probe
    inputs, every ``time_stride``-th step, as (samples × units) — a row of ``probe_states``."""
    inputs = task.probe_inputs()
    h = hidden_states(model, inputs)
    return h[:, :: time_stride(task, len(inputs), max_samples)].reshape(-1, h.shape[-1])


def probe_states(pop: Population, max_samples: int = 2000) -> np.ndarray:
    """Hidden states on the probe inputs, (networks × samples × units), cached."""

    def compute():
        models = tqdm(pop.models, desc=f"{pop.task.name} probe states", leave=False)
        return {"states": np.stack([probe_samples(model, pop.task, max_samples) for model in models])}

    return cached(cache_path(pop, "probe_states", max_samples=max_samples), compute)["states"]


def distance_matrix(pop: Population, metric: str = "svcca", **kwargs) -> np.ndarray:
    """Distances between every pair of networks on their probe states, cached."""

    def compute():
        return {"D": pairwise(list(probe_states(pop)), metric, progress=False, **kwargs)}

    return cached(cache_path(pop, f"distances_{metric}", **kwargs), compute)["D"]


def dsa_matrix(pop: Population, options: dsa.DSAOptions = dsa.DSAOptions()) -> np.ndarray:
    """DSA distances between every pair of networks, from their hidden-state trajectories on the
    probe inputs (trials × time × units, every step), cached. Each network is fitted once."""

    def compute():
        inputs = pop.task.probe_inputs()
        operators = []
        for model in tqdm(pop.models, desc=f"{pop.task.name} dsa fits", leave=False):
            operators.append(dsa.fit(hidden_states(model, inputs), options))
        return {"D": dsa.pairwise_operators(np.stack(operators), options, progress=False)}

    return cached(cache_path(pop, "distances_dsa", **dataclasses.asdict(options)), compute)["D"]


def state_scales(pop: Population) -> np.ndarray:
    """Each network's ``r``: the RMS distance of its probe states (full state, LSTM ``[h; c]``) from their mean."""
    probe = pop.task.probe_inputs()

    def compute():
        return {"r": np.array([state_scale(network_states(m, probe)[0]) for m in pop.models])}

    return cached(cache_path(pop, "state_scales"), compute)["r"]


def _points_by_condition(
    pop: Population, folder: Path, conditions: Sequence[int], desc: str, search
) -> list[list[FixedPoints]]:
    """For every network and condition, the ``FixedPoints`` file under ``folder``, or
    ``search(model, r, c, states)`` on the network's probe states of that condition, saved there."""
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

    ``paperlib.fixed_points.slow_points`` from ``n_initial`` probe states of that condition plus
    noise: each follows the dynamics until it is slow by speed · T ≤ ``fraction`` · r; points
    closer than 1% of r are merged. They keep their eigenvalues, not their Jacobians or
    eigenvectors (``paperlib.figures`` linearises the one point it needs again).
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


def untrained_probe_states(
    task: Task, architecture: str, activation: str, n_units: int, seeds: Sequence[int], max_samples: int = 2000
) -> np.ndarray:
    """Hidden states of freshly initialised networks on the task's probe inputs (Fig. 4's controls)."""
    reps = []
    for seed in seeds:
        model = make_rnn(
            architecture,
            activation,
            n_units,
            task.n_inputs,
            task.n_outputs,
            jax.random.split(jax.random.PRNGKey(seed))[0],
        )
        reps.append(probe_samples(model, task, max_samples))
    return np.stack(reps)


@dataclasses.dataclass(frozen=True)
class OutputFrequencies:
    """The sine task's output frequency per network and probe cue.

    - ``peak``: (networks, cues) the dominant output frequency in Hz.
    - ``cued``: (cues,) the frequency each cue asks for.
    - ``nmse``: (networks,) normalised MSE over the probe trials.
    """

    peak: np.ndarray
    cued: np.ndarray
    nmse: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """(networks, cues) the peak lies within 5% of the cued frequency."""
        return np.abs(self.peak - self.cued) / self.cued < 0.05


def output_frequencies(pop: Population) -> OutputFrequencies:
    """Sine task: each network's dominant output frequency (Hz) on every probe cue, and its normalised MSE.

    The dominant frequency is the peak of the output's spectrum over the full trial (zero-padded
    8× for resolution).
    """
    task = pop.task
    probe = task.probe_inputs()
    cued = np.asarray(task.frequency(probe[:, 0, 0]))
    target = np.asarray(task.target(probe))[..., 0]

    def compute():
        peaks, nmse = [], []
        freqs = np.fft.rfftfreq(8 * task.n_time, task.dt)
        for model in tqdm(pop.models, desc="sine outputs", leave=False):
            _, out = network_states(model, probe)
            y = out[..., 0] - out[..., 0].mean(axis=1, keepdims=True)
            peaks.append(freqs[np.argmax(np.abs(np.fft.rfft(y, n=8 * task.n_time, axis=1)), axis=1)])
            nmse.append(np.mean((out[..., 0] - target) ** 2) / target.var())
        return {"peak": np.stack(peaks), "nmse": np.asarray(nmse)}

    result = cached(cache_path(pop, "output_frequencies"), compute)
    return OutputFrequencies(result["peak"], cued, result["nmse"])
