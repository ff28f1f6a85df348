"""DSA against the reference implementation (``dsa-metric`` 2.0.2) on known linear systems.

The reference's values are recorded in ``fixtures/dsa_reference_values.json`` by
``benchmarks/dsa_reference.py`` (run in the reference's own environment); here only the module under
test and numpy run. Each case rebuilds its
systems from the recorded definition (checked against the recorded checksums). The module's distance
from the base system to its rotated copy and to the system at other frequencies must lie within the
reference's own run-to-run spread (over torch seeds and over the signs its SVD may return, see
``benchmarks/dsa_reference.py``) of the reference's mean, plus ``MARGIN``; it keeps the best of more starts than
the reference's two, so it must also be no further than the reference's mean and no nearer than its
best run. The rotated copy must be the nearer.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from paperlib.similarity import dsa

RECORDED = Path(__file__).parent / "fixtures" / "dsa_reference_values.json"
CASES = json.loads(RECORDED.read_text())["cases"]

#: Beyond the reference's runs: its fit is float32 and ours float64 (operators agree to ~3e-5, which moves
#: a distance by < 1e-4), and 8 starts were measured to reach up to 0.0012 rad below the best of its 20
#: runs (of 2 starts each); 0.003 rad is 2.5 times that.
MARGIN = 0.003
PAIRS = ("rotated copy", "other frequencies")


# --- the systems (the same code is in benchmarks/dsa_reference.py) ---
def rotations(freqs, radius):
    """Block-diagonal rotations by ``freqs`` (rad/step), scaled by ``radius``."""
    M = np.zeros((2 * len(freqs), 2 * len(freqs)))
    for k, w in enumerate(freqs):
        M[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = radius * np.array([[np.cos(w), -np.sin(w)], [np.sin(w), np.cos(w)]])
    return M


def simulate(freqs, radius, steps, trials, noise, observation_noise, seed):
    """(trials, steps, units) of x_{t+1} = M x_t + noise·e_t from x_0 = 0, plus observation_noise·n_t."""
    M = rotations(freqs, radius)
    rng = np.random.default_rng(seed)
    e = noise * rng.normal(size=(trials, steps, len(M)))
    x, out = np.zeros((trials, len(M))), np.empty((trials, steps, len(M)))
    for t in range(steps):
        x = x @ M.T + e[:, t]
        out[:, t] = x
    return out + observation_noise * rng.normal(size=out.shape)


def orthogonal(n, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return Q * np.sign(np.diag(R))


def build(spec):
    """(base, rotated copy, other frequencies), each (trials, steps, 6), or (steps, 6) for one trial."""
    s = spec
    common = (s["radius"], s["steps"], s["trials"], s["noise"], s["observation_noise"])
    base = simulate(s["freqs"], *common, s["seeds"][0])
    copy = simulate(s["freqs"], *common, s["seeds"][1]) @ orthogonal(len(base[0, 0]), s["rotation_seed"]).T
    other = simulate(s["other"], *common, s["seeds"][2])
    return [x[0] if s["trials"] == 1 else x for x in (base, copy, other)]


def options(o: dict):
    rank = (
        {"rank": o["rank"]}
        if o["rank"] is not None
        else {"rank": None, "rank_explained_variance": o["rank_explained_variance"]}
    )
    return dsa.DSAOptions(
        n_delays=o["n_delays"],
        delay_interval=o["delay_interval"],
        ridge=o["ridge"],
        iters=o["iters"],
        lr=o["lr"],
        score=o["score"],
        **rank,
    )


@pytest.mark.skipif(not CASES, reason=f"no recorded reference values at {RECORDED}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_agrees_with_the_reference(name):
    case = CASES[name]
    ref = case["reference"]
    systems = build(case["systems"])
    recorded = np.array(ref["checksum"])
    rebuilt = np.array([np.sum(x) for x in systems] + [np.sum(x**2) for x in systems])
    np.testing.assert_allclose(rebuilt, recorded, rtol=1e-9, atol=1e-6, err_msg="the systems are not those recorded")
    opts = options(case["options"])
    operators = dsa.fit_all(systems, opts, progress=False)
    assert operators.shape[-1] == ref["ranks"][0]  # the rank the reference chose (or was given)
    D = dsa.pairwise_operators(operators, opts, progress=False)
    ours = {"rotated copy": D[0, 1], "other frequencies": D[0, 2]}
    for pair in PAIRS:
        mean, spread, best = ref[pair]["mean"], ref[pair]["spread"], min(ref[pair]["seeds"] + ref[pair]["signs"])
        assert abs(ours[pair] - mean) <= spread + MARGIN, (
            f"{pair}: {ours[pair]:.4f}, reference {mean:.4f} ± {spread:.4f}"
        )
        assert best - MARGIN <= ours[pair] <= mean + MARGIN, f"{pair}: {ours[pair]:.4f}, reference best {best:.4f}"
    assert ours["rotated copy"] < ours["other frequencies"]
