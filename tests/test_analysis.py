"""Cached analyses and the claims command, on the tiny population (trained once into data/)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperlib import analysis
from paperlib.claims import caveats
from paperlib.profiles import TASK_NAMES
from paperlib.similarity import pairwise
from paperlib.store import Population, population
from paperlib.sweep import train

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def cdi():
    train(TASK_NAMES, "tiny", str(DATA), progress=False)  # shared with the book test and nbval
    return population(str(DATA), "tiny", "cdi")


def test_analyses_are_cached_and_keyed_by_weights_and_parameters(cdi):
    D = analysis.distance_matrix(cdi, "svcca")
    path = analysis.cache_path(cdi, "distances_svcca")
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(analysis.distance_matrix(cdi, "svcca"), D)
    assert path.stat().st_mtime_ns == stamp, "a rerun reuses the cached file"
    np.testing.assert_allclose(D, pairwise(list(analysis.probe_states(cdi)), "svcca", progress=False), atol=1e-6)
    assert analysis.cache_path(cdi, "distances_svcca", variance=0.9) != path
    changed = Population(cdi.profile, cdi.task, cdi.store, cdi.models, [dict(r) for r in cdi.rows])
    changed.rows[0]["sha256"] = "0" * 64  # a retrained network gives a new key
    assert analysis.cache_path(changed, "distances_svcca") != path


def test_probe_states_are_the_hidden_states_on_the_probe_inputs(cdi):
    states = analysis.probe_states(cdi)
    assert states.shape[0] == len(cdi) and states.shape[2] == cdi.models[0].cell.n_units
    full, _ = analysis.network_states(cdi.models[0], cdi.task.probe_inputs())
    hidden = full[..., : cdi.models[0].cell.n_units]
    stride = analysis.time_stride(cdi.task, len(full), 2000)
    np.testing.assert_allclose(states[0], hidden[:, ::stride].reshape(-1, hidden.shape[-1]), rtol=1e-6)


def test_claims_command_prints_json_for_every_claim(cdi):
    result = subprocess.run(
        [sys.executable, "-m", "paperlib", "claims", "--profile", "tiny", "--data", str(DATA), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert [c["id"] for c in claims] == [f"C{i}" for i in range(1, 9)]
    assert all(set(c) >= {"id", "claim", "values", "holds", "paper", "rule"} for c in claims)
    assert all(c["holds"] in (True, False, None) for c in claims)
    assert all(
        c["verdict"] == {True: "holds", False: "does not hold", None: "not measurable"}[c["holds"]] for c in claims
    )
    # the clustering claims carry a permutation p-value per task and label, in (0, 1]
    for c in claims[1:3]:
        assert set(c["p_value"]) == {"flipflop", "sine", "cdi"}
        assert all(0 < p <= 1 for per in c["p_value"].values() for p in per.values())
        for task, per in c["p_value"].items():  # the p-value is that of the deciding clustering test
            assert per == {label: v["p_value"] for label, v in c["values"][task].items()}
    # C2 reports its sensitivity rows beside the verdict
    assert set(claims[1]["beside"]["cdi"]) >= {"99% variance", "k = 10", "k = 20"}
    c4 = claims[3]
    assert 0 <= c4["values"]["fraction_8_stable_corners"] <= 1
    assert len(c4["beside"]["counts"]) == claims[0]["beside"]["retained"]["flipflop"]
    # C5 either says why it cannot be measured or gives both p-values
    c5 = claims[4]
    assert (c5["holds"] is None and "not measurable" in c5["reading"]) or set(c5["p_value"]["flipflop"]) == {
        "topology architecture",
        "SVCCA architecture",
    }
    # a reduced profile states, per claim, how it departs from the paper; the paper profile does not
    assert all(c["caveat"] for c in claims)
    assert caveats("paper") == {}


def test_figure_analyses_obey_their_invariants(cdi):
    from paperlib import figures
    from paperlib.fixed_points import slow_speed

    ff = population(str(DATA), "tiny", "flipflop")
    topo = figures.flipflop_topology(ff)
    # a looser slow-point rule keeps every point a stricter one keeps
    c = topo.counts_by_rule
    assert (c[0.03] <= c[0.1]).all() and (c[0.1] <= c[0.3]).all()
    speeds = figures.slow_rule_speed(ff)
    for f, g, limit in zip(topo.fixed_points, topo.graphs, speeds):
        assert np.all(f.speed <= limit * (1 + 1e-9))
        assert g.shape == (len(f), len(f)) and np.all(g.sum(axis=1) <= 1 + 1e-9)
        stable = np.flatnonzero(f.stable)
        assert np.all(g[:, np.flatnonzero(~f.stable)] == 0)  # runs settle at stable points only
        assert np.allclose(g[stable][:, stable], np.diag(g[stable, stable]))  # stable points only self-loop
    assert topo.distances.shape == (len(ff), len(ff)) and np.allclose(topo.distances, topo.distances.T)
    assert np.all(topo.stable_modulus <= 1 + 1e-3)
    lines = figures.cdi_lines(cdi)
    assert lines.near_one.shape == (len(cdi), 2) and lines.integrating.shape == (len(cdi), 2)
    for per, r in zip(lines.points, figures.slow_rule_speed(cdi)):
        for f in per:  # every line point is slow by the rule
            assert np.all(f.speed <= r * (1 + 1e-9))
    tvu = figures.trained_vs_untrained(cdi)
    assert set(tvu.means) == set(figures.SVCCA_TRUNCATIONS)
    assert slow_speed(30, 2.0, 0.1) == pytest.approx(2.0 * 0.1 / 30)
