"""The CDI task (Fig. 3; claim C7): slow points along each context's line attractor and their spectra."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from paperlib.analysis.cache import cache_path, cached
from paperlib.analysis.points import line_points
from paperlib.dynamics.fixed_points import FixedPoints, decompose
from paperlib.dynamics.linear import linearise, mode_truncated_response
from paperlib.dynamics.topology import line_attractor_graph
from paperlib.training.store import Population

NEAR_ONE = 0.05  # |λ − 1| under which an eigenvalue is "near 1" (C7)
TOP_MODES = 20  # eigenvalues and modes shown in Fig. 3e-f


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
    points = line_points(pop)

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

    arrays = cached(cache_path(pop, "cdi_lines"), compute)
    return CdiLines(points=tuple(tuple(p) for p in points), **arrays)


def _integration_by_modes(model, f: FixedPoints, n_steps: int) -> np.ndarray:
    """At the middle line point (by readout) of context 1: response to a unit pulse on the first
    stream after ``n_steps``, keeping the top k modes, over the full linear response."""
    if len(f) == 0:
        return np.full(TOP_MODES, np.nan)
    readout = np.asarray(model.readout(jnp.asarray(f.states, jnp.float32)))[:, 0]
    k = int(np.argsort(readout)[len(readout) // 2])
    jacobian, inputs = linearise(model.step, f.states[k], f.x_star)
    b = inputs[:, 2]  # the first noise stream
    values, right, left = decompose(jacobian[None])
    w = np.zeros(model.cell.state_size)
    w[: model.cell.n_units] = np.asarray(model.W_out[0])
    r = mode_truncated_response(values[0], right[0], left[0], b, w, n_steps)
    out = np.full(TOP_MODES, np.nan)
    if abs(r[-1]) > 1e-9:
        out[: min(TOP_MODES, len(r))] = r[:TOP_MODES] / r[-1]
    return out
