"""The sine task (Fig. 2; claims C1, C6): output frequencies, and the linearised oscillation per cue.

- ``output_frequencies``: each network's dominant output frequency at every probe cue (C1).
- ``sine_linearisation``: at every cue, the fixed point nearest the centre of the steady
  oscillation, and its oscillatory mode: linear frequency and modulus (Fig. 2d, f; C6).
- ``sine_topology``: distances between networks' per-cue linearisations (Fig. 2e).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from paperlib.analysis.cache import cache_path, cached
from paperlib.analysis.distances import Geometry, label_tests
from paperlib.analysis.points import fixed_points_by_condition
from paperlib.analysis.states import network_states
from paperlib.dynamics.linear import oscillatory_mode
from paperlib.dynamics.topology import central_fixed_point
from paperlib.training.store import Population

UNSTABLE = 1e-3  # |λ| > 1 + 1e-3 is unstable (Methods: stability)
SINE_INITIAL = 32  # initial states per sine cue, from the second half of its trial


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
    fps = fixed_points_by_condition(
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
            states, _ = network_states(model, probe[cues])
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

    arrays = cached(cache_path(pop, "sine_linearisation", cues=cues.tolist()), compute)
    return SineLinearisation(
        cues=cues,
        cued=np.asarray(task.frequency(task.static_inputs()[cues, 0])),
        **{k: arrays[k] for k in ("linear", "modulus", "only_pair", "n_points")},
    )


def sine_topology(lin: SineLinearisation, pop: Population) -> Geometry:
    """Fig. 2e: distances between networks' linearisations, each network described by its linear /
    cued frequency ratio and its mode's modulus at every cue (0 where no fixed point was found);
    with the label tests on them."""
    ratio = np.nan_to_num(lin.linear / lin.cued, nan=0.0)
    description = np.concatenate([ratio, np.nan_to_num(lin.modulus, nan=0.0)], axis=1)
    D = np.linalg.norm(description[:, None] - description[None], axis=-1)
    return Geometry("sine topology", D, label_tests(D, pop))
