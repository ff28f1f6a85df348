"""Cached analyses and the claims command, on the tiny population (trained once into data/)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperlib import analysis
from paperlib.claims import caveats
from paperlib.similarity import pairwise
from paperlib.profiles import TASK_NAMES
from paperlib.sweep import population, train

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


@pytest.fixture(scope="module")
def cdi():
    train(TASK_NAMES, "tiny", str(DATA), progress=False)  # shared with the book test and nbval
    return population(str(DATA), "tiny", "cdi")


def test_analyses_are_cached_and_keyed_by_weights_and_parameters(cdi):
    D = analysis.distance_matrix(cdi, "svcca")
    path = cdi.cache_path("distances_svcca")
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(analysis.distance_matrix(cdi, "svcca"), D)
    assert path.stat().st_mtime_ns == stamp, "a rerun reuses the cached file"
    np.testing.assert_allclose(D, pairwise(list(analysis.probe_states(cdi)), "svcca", progress=False), atol=1e-6)
    assert cdi.cache_path("distances_svcca", variance=0.9) != path
    changed = analysis.Population(cdi.profile, cdi.task, cdi.store, cdi.models, [dict(r) for r in cdi.rows])
    changed.rows[0]["sha256"] = "0" * 64  # a retrained network gives a new key
    assert changed.cache_path("distances_svcca") != path


def test_probe_states_are_the_hidden_states_on_the_probe_inputs(cdi):
    states = analysis.probe_states(cdi)
    assert states.shape[0] == len(cdi) and states.shape[2] == cdi.models[0].cell.n_units
    full, _ = analysis.network_states(cdi.models[0], cdi.task.probe_inputs())
    hidden = full[..., : cdi.models[0].cell.n_units]
    stride = analysis.time_stride(cdi.task, len(full), 2000)
    np.testing.assert_allclose(states[0], hidden[:, ::stride].reshape(-1, hidden.shape[-1]), rtol=1e-6)


def test_claims_command_prints_json_for_every_claim(cdi):
    result = subprocess.run([sys.executable, "-m", "paperlib", "claims", "--profile", "tiny", "--data", str(DATA),
                             "--json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert [c["id"] for c in claims] == [f"C{i}" for i in range(1, 9)]
    assert all(set(c) >= {"id", "claim", "values", "holds", "paper", "rule"} for c in claims)
    assert all(c["holds"] in (True, False, None) for c in claims)
    assert all(c["verdict"] == {True: "holds", False: "does not hold", None: "not measurable"}[c["holds"]] for c in claims)
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
        "topology architecture", "SVCCA architecture"}
    # a reduced profile states, per claim, how it departs from the paper; the paper profile does not
    assert all(c["caveat"] for c in claims)
    assert caveats("paper") == {}
