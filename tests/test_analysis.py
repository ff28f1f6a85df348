"""Cached analyses and the claims command, on the tiny population (trained once into data/)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from paperlib import analysis
from paperlib.dynamics.fixed_points import slow_speed
from paperlib.paper.claims import ALPHA, caveats, measure_claims
from paperlib.similarity import pairwise
from paperlib.training.store import Population, population


@pytest.fixture(scope="module")
def cdi(tiny_data):
    return population(tiny_data, "tiny", "cdi")


@pytest.fixture(scope="module")
def claims(cli, tiny_data):
    """``python -m paperlib claims --json`` on the tiny population, parsed."""
    result = cli("claims", "--profile", "tiny", "--data", tiny_data, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


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


# Each process says it is ready, waits for the other, then asks for the same missing analysis.
TWO_AT_ONCE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from paperlib.analysis import cached
    folder, me, other = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    (folder / f"ready-{me}").touch()
    while not (folder / f"ready-{other}").exists():
        time.sleep(0.01)

    def compute():
        with open(folder / "computed.txt", "a") as log:
            log.write(me + "\\n")
        time.sleep(1)
        return {"x": np.arange(4.0)}

    print(cached(folder / "analysis" / "x.npz", compute)["x"].sum())
""")


def test_an_analysis_two_processes_need_at_once_is_computed_once(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_AT_ONCE, str(tmp_path), me, other], stdout=subprocess.PIPE, text=True
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == ["6.0", "6.0"]
    assert len((tmp_path / "computed.txt").read_text().split()) == 1, "both processes computed it"


def test_probe_states_are_the_hidden_states_on_the_probe_inputs(cdi):
    states = analysis.probe_states(cdi)
    assert states.shape[0] == len(cdi) and states.shape[2] == cdi.models[0].cell.n_units
    full, _ = analysis.network_states(cdi.models[0], cdi.task.probe_inputs())
    hidden = full[..., : cdi.models[0].cell.n_units]
    stride = analysis.states.time_stride(cdi.task, len(full), 2000)
    np.testing.assert_allclose(states[0], hidden[:, ::stride].reshape(-1, hidden.shape[-1]), rtol=1e-6)


def test_claims_command_prints_every_claim_with_a_verdict(claims):
    assert [c["id"] for c in claims] == [f"C{i}" for i in range(1, 9)]
    assert all(set(c) >= {"id", "claim", "values", "holds", "paper", "rule"} for c in claims)
    assert all(c["holds"] in (True, False, None) for c in claims)
    verdicts = {True: "holds", False: "does not hold", None: "not measurable"}
    assert all(c["verdict"] == verdicts[c["holds"]] for c in claims)


def test_c3_decides_on_architecture_alone_with_activation_beside(claims):
    c3 = claims[2]
    assert set(c3["values"]) == {"architecture"} and set(c3["beside"]) >= {"activation"}
    assert set(c3["values"]["architecture"]) == {"flipflop", "sine", "cdi"}
    assert c3["holds"] == all(t["p_value"] < ALPHA for t in c3["values"]["architecture"].values())


def test_claims_of_a_missing_task_are_not_measured_and_the_others_unchanged(tiny_data, claims):
    partial = [c.as_dict() for c in measure_claims(tiny_data, "tiny", ("cdi",))]
    assert [c["id"] for c in partial] == [c["id"] for c in claims]
    for whole, part in zip(claims, partial):
        if whole["id"] in ("C7", "C8"):  # CDI's own claims: the same numbers and verdict
            assert part == whole
        elif whole["id"] in ("C4", "C5", "C6"):
            assert part["holds"] is None and "not measured: no" in part["reading"]
        else:  # over every task: decided only where CDI alone already fails the rule
            per_task = (
                part["values"].get("fraction_learned")
                or part["values"].get("tests")
                or part["values"].get("architecture")
            )
            assert set(per_task) == {"cdi"}
            assert part["holds"] in (False, None)
    with pytest.raises(ValueError, match="subset"):
        measure_claims(tiny_data, "tiny", ("cdi", "bogus"))


def test_clustering_claims_carry_the_deciding_permutation_p_values(claims):
    for c in claims[1:3]:
        assert set(c["p_value"]) == {"flipflop", "sine", "cdi"}
        assert all(0 < p <= 1 for per in c["p_value"].values() for p in per.values())
    c2, c3 = claims[1], claims[2]
    for task, per in c2["p_value"].items():  # the p-value is that of the deciding clustering test
        assert per == {label: v["p_value"] for label, v in c2["values"]["tests"][task].items()}
    for task, per in c3["p_value"].items():
        assert per == {"architecture": c3["values"]["architecture"][task]["p_value"]}


def test_c2_reports_its_sensitivity_rows_beside_the_verdict(claims):
    assert set(claims[1]["beside"]["by_truncation"]["cdi"]) == {t.id for t in analysis.TRUNCATIONS[1:]}


def test_c4_counts_every_retained_flipflop_network(claims):
    c4 = claims[3]
    assert 0 <= c4["values"]["fraction_8_stable_corners"] <= 1
    assert len(c4["beside"]["counts"]) == claims[0]["beside"]["retained"]["flipflop"]
    assert c4["values"]["fraction_modal"] == pytest.approx(
        np.mean(np.array(c4["beside"]["counts"]) == c4["values"]["modal_count"]), abs=1e-3
    )


def test_c5_is_measured_with_both_p_values_or_says_why_not(claims):
    c5 = claims[4]
    both = {"topology", "svcca"}
    assert (c5["holds"] is None and "not measurable" in c5["reading"]) or set(c5["p_value"]["flipflop"]) == both


def test_a_reduced_profile_states_how_it_departs_from_the_paper(claims):
    assert all(c["caveat"] for c in claims)
    assert caveats("paper") == {}


@pytest.fixture(scope="module")
def flipflop(tiny_data):
    return population(tiny_data, "tiny", "flipflop")


def test_a_looser_slow_point_rule_keeps_every_point_a_stricter_one_keeps(flipflop):
    c = analysis.flipflop_topology(flipflop).counts_by_rule
    assert (c[0.03] <= c[0.1]).all() and (c[0.1] <= c[0.3]).all()


def test_flipflop_points_are_slow_by_the_rule_and_runs_settle_at_stable_points(flipflop):
    topo = analysis.flipflop_topology(flipflop)
    for f, g, limit in zip(topo.fixed_points, topo.graphs, analysis.slow_rule_speed(flipflop)):
        assert np.all(f.speed <= limit * (1 + 1e-9))
        assert g.shape == (len(f), len(f)) and np.all(g.sum(axis=1) <= 1 + 1e-9)
        stable = np.flatnonzero(f.stable)
        assert np.all(g[:, np.flatnonzero(~f.stable)] == 0)  # runs settle at stable points only
        assert np.allclose(g[stable][:, stable], np.diag(g[stable, stable]))  # stable points only self-loop
    assert np.all(topo.stable_modulus <= 1 + 1e-3)


def test_topology_distances_are_a_symmetric_matrix_over_the_networks(flipflop):
    D = analysis.flipflop_topology(flipflop).distances
    assert D.shape == (len(flipflop), len(flipflop)) and np.allclose(D, D.T)


def test_every_cdi_line_point_is_slow_by_the_rule(cdi):
    lines = analysis.cdi_lines(cdi)
    assert lines.near_one.shape == (len(cdi), 2) and lines.integrating.shape == (len(cdi), 2)
    for per, r in zip(lines.points, analysis.slow_rule_speed(cdi)):
        for f in per:
            assert np.all(f.speed <= r * (1 + 1e-9))
    assert slow_speed(30, 2.0, 0.1) == pytest.approx(2.0 * 0.1 / 30)


def test_trained_vs_untrained_is_measured_at_every_svcca_truncation(cdi):
    tvu = analysis.trained_vs_untrained(cdi)
    assert set(tvu.means) == set(tvu.nearer) == {t.id for t in analysis.TRUNCATIONS}
    D, groups = tvu.distances["var95"], tvu.groups
    near = D[np.ix_(groups == "trained relu", groups == "untrained relu")].mean()
    assert tvu.means["var95"].relu_to_untrained_relu == pytest.approx(near)
