"""The analyses behind the figures and the claims: one function per figure, each returning a frozen dataclass.

- ``flipflop_topology`` (Fig. 1e–f, C4, C5): fixed points at the slow-point rules, transition
  graphs, corner memories, topology distances.
- ``sine_linearisation`` (Fig. 2d–f, C6): per network and cue, the central fixed point's
  oscillatory mode: its linear frequency and modulus.
- ``cdi_lines`` (Fig. 3b, d–f, C7): slow points along each context's line attractor, eigenvalues
  near 1, line graphs, sorted spectra, the integration carried by the top modes.
- ``trained_vs_untrained`` (Fig. 4, C8): SVCCA among trained and untrained Vanilla networks.
- ``svcca_sensitivity`` (C2): SVCCA distances at other truncations and each network's kept width.
- The notebooks plot these, ``claims`` judges them; everything is cached as in ``paperlib.analysis``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from paperlib import analysis
from paperlib.analysis import SLOW_FRACTION, SLOW_FRACTIONS
from paperlib.fixed_points import FixedPoints, cast, decompose, precision, slow_speed
from paperlib.linear import mode_truncated_response, oscillatory_mode
from paperlib.similarity import fit
from paperlib.store import Population
from paperlib.topology import (
    central_fixed_point,
    flipflop_memories,
    line_attractor_graph,
    matched_graph_distance,
    modal_count_mask,
)

NEAR_ONE = 0.05  # |λ − 1| under which an eigenvalue is "near 1" (SPEC §6, C7)
UNSTABLE = 1e-3  # |λ| > 1 + 1e-3 is unstable (SPEC §4)
FLIPFLOP_INITIAL = 1024  # initial states per flip-flop network (SPEC §4)
FLIPFLOP_BETWEEN = 256  # second-round seeds between its stable points
SINE_INITIAL = 32  # initial states per sine cue, from the second half of its trial
TOP_MODES = 20  # eigenvalues and modes shown in Fig. 3e-f
SVCCA_TRUNCATIONS = {
    "95% variance": {"variance": 0.95},
    "99% variance": {"variance": 0.99},
    "k = 10": {"k": 10, "variance": None},
    "k = 20": {"k": 20, "variance": None},
}


# ---------------------------------------------------------------- flip-flop (Fig. 1e-f, C4, C5)
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
    fps = analysis.fixed_points_by_condition(
        pop, n_initial=FLIPFLOP_INITIAL, n_between=FLIPFLOP_BETWEEN, fraction=fraction
    )
    return [per[0] for per in fps]


def flipflop_topology(pop: Population) -> FlipFlopTopology:
    """Fig. 1e-f: fixed points, transition graphs and topology distances of the flip-flop networks."""
    loosest = flipflop_fixed_points(pop, max(SLOW_FRACTIONS))  # loaded once; every rule is a subset
    counts = {
        f: np.array([int(np.sum(p.speed <= s)) for p, s in zip(loosest, slow_rule_speed(pop, f))])
        for f in SLOW_FRACTIONS
    }
    fps = [p.slower_than(s) for p, s in zip(loosest, slow_rule_speed(pop, SLOW_FRACTION))]
    graphs = analysis.transition_graphs(pop, [[f] for f in fps])
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


# ---------------------------------------------------------------- sine (Fig. 2d-f, C6)
@dataclasses.dataclass(frozen=True)
class SineLinearisation:
    """Per network (rows) and probe cue (columns): the central fixed point's oscillatory mode.

    ``linear``: its frequency |arg λ| / (2π dt) in Hz; ``modulus``: |λ|; ``only_pair``: it is the
    only complex pair with |λ| > 1 + 1e-3; NaN / False where no fixed point was found.
    """

    cues: np.ndarray  # indices into the task's static inputs
    cued: np.ndarray  # Hz, one per cue
    linear: np.ndarray
    modulus: np.ndarray
    only_pair: np.ndarray
    n_points: np.ndarray

    @property
    def mild(self) -> np.ndarray:
        """(network, cue) whose oscillatory mode has 1 < |λ| ≤ 1.1 and is the only growing complex pair."""
        return (self.modulus > 1) & (self.modulus <= 1.1) & self.only_pair

    @property
    def relative_error(self) -> np.ndarray:
        """|linear / cued − 1| at every (network, cue) with a fixed point, pooled."""
        ok = np.isfinite(self.linear)
        return np.abs(self.linear[ok] / np.broadcast_to(self.cued, self.linear.shape)[ok] - 1)

    @property
    def pearson_r(self) -> float:
        """Pearson correlation of linear and cued frequency, pooled over networks and cues (NaN under 3 pairs)."""
        ok = np.isfinite(self.linear)
        if ok.sum() < 3:
            return float("nan")
        return float(np.corrcoef(self.linear[ok], np.broadcast_to(self.cued, self.linear.shape)[ok])[0, 1])


def sine_linearisation(pop: Population, cues=None) -> SineLinearisation:
    """Fig. 2d-f: the linearised oscillation at every cue (default: all 51 probe cues)."""
    task = pop.task
    cues = np.arange(len(task.static_inputs())) if cues is None else np.asarray(cues)
    fps = analysis.fixed_points_by_condition(
        pop, conditions=[int(c) for c in cues], n_initial=SINE_INITIAL, trajectory="second_half"
    )
    probe = task.probe_inputs()

    def compute():
        shape = (len(pop), len(cues))
        out = {
            "linear": np.full(shape, np.nan),
            "modulus": np.full(shape, np.nan),
            "only_pair": np.zeros(shape, bool),
            "n_points": np.zeros(shape, int),
        }
        for i, (model, per) in enumerate(tqdm(list(zip(pop.models, fps)), desc="sine modes", leave=False)):
            states, _ = analysis.network_states(model, probe[cues])
            for j, f in enumerate(per):
                out["n_points"][i, j] = len(f)
                if len(f) == 0:
                    continue
                steady = states[j, task.n_time // 2 :]
                k = central_fixed_point(f, steady)
                freq, modulus, index = oscillatory_mode(f.eigenvalues[k], f.right_eigenvectors[k], steady, task.dt)
                out["linear"][i, j], out["modulus"][i, j] = freq, modulus
                values = f.eigenvalues[k]
                growing = np.flatnonzero((values.imag > 1e-9) & (np.abs(values) > 1 + UNSTABLE))
                out["only_pair"][i, j] = growing.tolist() == [index]
        return out

    arrays = analysis.cached(analysis.cache_path(pop, "sine_linearisation", cues=cues.tolist()), compute)
    return SineLinearisation(
        cues=cues,
        cued=np.asarray(task.frequency(task.static_inputs()[cues, 0])),
        **{k: arrays[k] for k in ("linear", "modulus", "only_pair", "n_points")},
    )


# ---------------------------------------------------------------- CDI (Fig. 3, C7)
@dataclasses.dataclass(frozen=True)
class CdiLines:
    """Per network (rows) and context (columns) the line attractor's slow points and their spectra.

    ``near_one``: mean number of eigenvalues with |λ − 1| < 0.05 per point; ``integrating``:
    fraction of points with at least one; ``spectra``: the top 20 |λ| (mean over points and
    contexts) per network; ``responses``: the linear response to a unit cued input after T steps
    keeping the top k modes, over the full linear response, k = 1 … 20 (context 1, middle point).
    """

    points: tuple[tuple[FixedPoints, ...], ...]
    n_points: np.ndarray
    near_one: np.ndarray
    integrating: np.ndarray
    spectra: np.ndarray
    responses: np.ndarray
    distances: np.ndarray

    @property
    def near_one_per_network(self) -> np.ndarray:
        """Per network, eigenvalues with |λ − 1| < 0.05 per point, averaged over all its line points
        of both contexts (NaN for a network without line points)."""
        counts = np.where(self.n_points > 0, self.near_one, 0.0) * self.n_points
        total = self.n_points.sum(axis=1)
        return np.where(total > 0, counts.sum(axis=1) / np.maximum(total, 1), np.nan)

    @property
    def integrates(self) -> np.ndarray:
        """(P, contexts): at ≥ 50% of the context's line points some eigenvalue is near 1."""
        return self.integrating >= 0.5


def cdi_lines(pop: Population) -> CdiLines:
    """Fig. 3b, d-f: the CDI networks' line attractors."""
    points = analysis.line_points(pop)

    def compute():
        P, C = len(pop), len(pop.task.static_inputs())
        out = {
            "n_points": np.zeros((P, C), int),
            "near_one": np.full((P, C), np.nan),
            "integrating": np.zeros((P, C)),
            "spectra": np.full((P, TOP_MODES), np.nan),
            "responses": np.full((P, TOP_MODES), np.nan),
        }
        graphs = []
        for i, (model, per) in enumerate(tqdm(list(zip(pop.models, points)), desc="cdi lines", leave=False)):
            mods, gs = [], []
            for c, f in enumerate(per):
                out["n_points"][i, c] = len(f)
                if len(f):
                    near = np.abs(f.eigenvalues - 1) < NEAR_ONE
                    out["near_one"][i, c] = near.sum(axis=1).mean()
                    out["integrating"][i, c] = near.any(axis=1).mean()
                    mods.append(np.abs(f.eigenvalues[:, :TOP_MODES]).mean(axis=0))
                readout = np.asarray(model.readout(jnp.asarray(f.states, jnp.float32)))[:, 0] if len(f) else None
                gs.append(line_attractor_graph(f.states, readout) if len(f) >= 2 else np.zeros((20, 20)))
            graphs.append(gs)
            if mods:
                m = np.mean(mods, axis=0)
                out["spectra"][i, : len(m)] = m
            out["responses"][i] = _integration_by_modes(model, per[0], pop.task.n_time)
        out["distances"] = np.array(
            [[sum(np.linalg.norm(a - b) for a, b in zip(ga, gb)) for gb in graphs] for ga in graphs]
        )
        return out

    arrays = analysis.cached(analysis.cache_path(pop, "cdi_lines"), compute)
    return CdiLines(points=tuple(tuple(p) for p in points), **arrays)


def _integration_by_modes(model, f: FixedPoints, n_steps: int) -> np.ndarray:
    """At the middle line point (by readout) of context 1: response to a unit pulse on the first
    stream after ``n_steps``, keeping the top k modes, over the full linear response."""
    if len(f) == 0:
        return np.full(TOP_MODES, np.nan)
    readout = np.asarray(model.readout(jnp.asarray(f.states, jnp.float32)))[:, 0]
    k = int(np.argsort(readout)[len(readout) // 2])
    dtype, context = precision(x64=True)
    with context:
        step = cast(model.step, dtype)
        h, x = jnp.asarray(f.states[k], dtype), jnp.asarray(f.x_star, dtype)
        jacobian = np.asarray(jax.jacfwd(step)(h, x))
        b = np.asarray(jax.jacfwd(step, argnums=1)(h, x))[:, 2]
    values, right, left = decompose(jacobian[None])
    w = np.zeros(model.cell.state_size)
    w[: model.cell.n_units] = np.asarray(model.W_out[0])
    r = mode_truncated_response(values[0], right[0], left[0], b, w, n_steps)
    out = np.full(TOP_MODES, np.nan)
    if abs(r[-1]) > 1e-9:
        out[: min(TOP_MODES, len(r))] = r[:TOP_MODES] / r[-1]
    return out


# ---------------------------------------------------------------- Fig. 4, C8
@dataclasses.dataclass(frozen=True)
class TrainedVsUntrained:
    """SVCCA distances among trained and untrained Vanilla relu / tanh networks on the CDI probes,
    at each truncation of ``SVCCA_TRUNCATIONS``; ``means[truncation][pair]`` the group means."""

    groups: np.ndarray
    distances: dict
    means: dict


GROUP_PAIRS = (
    ("trained relu", "untrained relu"),
    ("trained relu", "trained tanh"),
    ("trained tanh", "untrained tanh"),
    ("untrained relu", "untrained tanh"),
)


def trained_vs_untrained(pop: Population) -> TrainedVsUntrained:
    """Fig. 4: trained and untrained Vanilla relu / tanh networks driven by the CDI probe inputs."""
    from paperlib.similarity import pairwise

    arch, act = pop.column("architecture"), pop.column("activation")
    trained = analysis.probe_states(pop)
    groups, reps = [], []
    for a in ("relu", "tanh"):
        idx = np.flatnonzero((arch == "vanilla") & (act == a))
        reps += list(trained[idx])
        groups += [f"trained {a}"] * len(idx)
        n_units = pop.models[idx[0]].cell.n_units if len(idx) else 64
        untrained = analysis.untrained_probe_states(
            pop.task, "vanilla", a, n_units, seeds=range(1000, 1000 + max(len(idx), 2))
        )
        reps += list(untrained)
        groups += [f"untrained {a}"] * len(untrained)
    groups = np.asarray(groups)

    def compute():
        return {name: pairwise(reps, "svcca", progress=False, **kw) for name, kw in SVCCA_TRUNCATIONS.items()}

    distances = analysis.cached(analysis.cache_path(pop, "trained_vs_untrained"), compute)

    def mean(D, g1, g2):
        block = D[np.ix_(groups == g1, groups == g2)]
        if g1 == g2:
            block = block[~np.eye(len(block), dtype=bool)]
        return float(block.mean())

    means = {name: {f"{a} – {b}": mean(D, a, b) for a, b in GROUP_PAIRS} for name, D in distances.items()}
    return TrainedVsUntrained(groups=groups, distances=dict(distances), means=means)


# ---------------------------------------------------------------- C2's sensitivity rows
@dataclasses.dataclass(frozen=True)
class SvccaSensitivity:
    """SVCCA distance matrices at every truncation, and each network's kept width at 95% / 99%."""

    distances: dict
    width_95: np.ndarray
    width_99: np.ndarray


def svcca_sensitivity(pop: Population) -> SvccaSensitivity:
    distances = {
        name: analysis.distance_matrix(pop, "svcca", **kw)
        if name != "95% variance"
        else analysis.distance_matrix(pop, "svcca")
        for name, kw in SVCCA_TRUNCATIONS.items()
    }
    fits = [fit(X) for X in analysis.probe_states(pop)]
    return SvccaSensitivity(
        distances=distances,
        width_95=np.array([f.n_components(None, 0.95) for f in fits]),
        width_99=np.array([f.n_components(None, 0.99) for f in fits]),
    )


def slow_rule_speed(pop: Population, fraction: float = SLOW_FRACTION) -> np.ndarray:
    """Per network, the speed under which a point counts at ``fraction`` (s · T ≤ fraction · r)."""
    return np.array([slow_speed(pop.task.n_time, r, fraction) for r in analysis.state_scales(pop)])
