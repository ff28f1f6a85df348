"""Profiles, store, search, resume after kill -9, Dask, and the train command's bad input."""

import dataclasses
import math
import signal

import numpy as np
import pytest

from paperlib.training.profiles import PROFILES, SearchSpace, get_profile
from paperlib.training.store import COLUMNS, StoreError, TaskStore, load_population, read_table
from paperlib.training.sweep import TaskSummary, best_trial, train
from paperlib.training.units import WorkUnit, pack

TINY = PROFILES["tiny"]


def outcome(rows, drop=("train_seconds",)):
    """Rows without what differs from one run of the same training to the next (its wall time)."""
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def files_state(store):
    return {r["network"]: (r["sha256"], store.weights_path(r).stat().st_mtime_ns) for r in store.rows()}


def test_paper_profile_is_the_papers_grid():
    paper = get_profile("paper")
    for task in ("flipflop", "sine", "cdi"):
        units = paper.work_units(task)
        configs = {(u.architecture, u.activation, u.units, u.l2) for u in units}
        expected = 96 if task != "sine" else 96 - 12  # the paper leaves out LSTM-relu on sine
        assert len(configs) == expected
        assert all(len(u.seeds) == 30 for u in units)
        plan = paper.plan(task)
        assert plan.search == SearchSpace()
        (stage,) = plan.stages
        assert (stage.config.n_iterations, stage.config.batch_size, stage.config.optimizer) == (20_000, 64, "sgd")
    assert {u.units for u in units} == {64, 128, 256} and {u.l2 for u in units} == {1e-5, 1e-4, 1e-3, 1e-2}
    space = SearchSpace()
    assert (space.clip, space.learning_rate, space.decay_rate, space.momentum) == (
        (0.1, 10.0),
        (1e-5, 0.1),
        (0.1, 0.9),
        (0.0, 1.0),
    )


def test_medium_profile_asks_the_claims_the_papers_way_on_a_smaller_grid():
    paper, medium = get_profile("paper"), get_profile("medium")
    assert medium.plans == paper.plans  # tasks, SGD, the random search, 20,000 iterations
    assert (medium.architectures, medium.activations) == (paper.architectures, paper.activations)
    assert set(medium.units) == {64, 128} and len(medium.l2s) >= 2 and set(medium.l2s) <= set(paper.l2s)
    assert len(medium.seeds) >= 10
    assert [len(p) for p in pack(medium.work_units("cdi"))] == [2] * 16  # 4 cells × 2 activations × 2 sizes
    from paperlib.paper.claims import caveats

    assert set(caveats("medium")) == {"C2", "C3", "C5", "C8"}, "only the grid differs from the paper's"
    assert set(caveats("small")) == {f"C{i}" for i in range(1, 9)}


def test_search_samples_lie_in_the_papers_ranges_and_log_uniformly():
    trials = SearchSpace(n_trials=4000).sample(seed=1, l2=1e-3)
    lr = np.array([t.learning_rate for t in trials])
    clip = np.array([t.clip for t in trials])
    assert lr.min() >= 1e-5 and lr.max() <= 0.1 and clip.min() >= 0.1 and clip.max() <= 10
    # log-uniform: each decade of the learning rate holds about a quarter of the samples
    counts = np.histogram(np.log10(lr), bins=[-5, -4, -3, -2, -1])[0] / len(lr)
    np.testing.assert_allclose(counts, 0.25, atol=0.03)
    assert all(t.l2 == 1e-3 for t in trials)


def test_best_trial_is_the_lowest_finished_validation_loss():
    unit = WorkUnit("cdi", "gru", "tanh", 8, 1e-4, (0,))
    row = dict(config=unit.name, learning_rate=0.1, decay_rate=0.5, momentum=0.9, clip=1.0)
    rows = [
        dict(row, validation_loss=0.3, status="ok"),
        dict(row, learning_rate=0.2, validation_loss=0.1, status="ok"),
        dict(row, learning_rate=0.3, validation_loss=0.01, status="diverged"),
    ]
    assert best_trial(rows, unit).learning_rate == 0.2


def test_small_profile_keeps_every_group():
    small = get_profile("small")
    for task in ("flipflop", "sine", "cdi"):
        groups = {(u.architecture, u.activation) for u in small.work_units(task)}
        assert len(groups) == (7 if task == "sine" else 8)
        assert all(len(u.seeds) >= 4 for u in small.work_units(task))


def test_search_then_train_stores_a_loadable_population(tmp_path, mini):
    mini = dataclasses.replace(mini, architectures=("vanilla",))
    summary = train(["flipflop"], mini, str(tmp_path), progress=False)
    assert summary["flipflop"].trained == 2
    store = TaskStore(tmp_path, "mini", "flipflop")
    search = store.search_rows()
    assert len(search) == 2 and {r["trial"] for r in search} == {0, 1}
    models, rows = load_population(store.path, status=None)
    chosen = min((r for r in search if r["status"] == "ok"), key=lambda r: r["validation_loss"])
    assert all(r["learning_rate"] == chosen["learning_rate"] for r in rows)
    assert len(models) == 2 and models[0].cell.n_units == 8
    assert set(rows[0]) == set(COLUMNS)
    # what trained them: the wall time of their population, its size, this clone's commit and lock
    from paperlib.training.provenance import commit, lock_sha256

    assert all(r["train_seconds"] > 0 and r["population"] == 2 for r in rows + search)
    assert all(r["commit"] == commit() and r["lock_sha256"] == lock_sha256() for r in rows + search)
    assert len(lock_sha256()) == 64 and len(commit().removesuffix("-dirty")) == 40


def test_resume_after_kill_minus_nine_does_only_the_missing_work(unfinished_cdi, cli, interrupt):
    data = unfinished_cdi
    store = TaskStore(data, "tiny", "cdi")
    killed = interrupt(
        "train",
        "--task",
        "cdi",
        "--profile",
        "tiny",
        "--data",
        data,
        until=lambda: len(read_table(store.manifest_path, COLUMNS)) >= 6,
        sig=signal.SIGKILL,
    )
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be interrupted"
    before = files_state(store)
    assert 6 <= len(before) < 16
    result = cli("train", "--task", "cdi", "--profile", "tiny", "--data", data)
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} already stored, {16 - len(before)} trained now" in result.stdout
    after = files_state(store)
    assert len(after) == 16
    assert all(after[name] == state for name, state in before.items()), "a finished network was trained again"
    assert not list(store.path.rglob("*.tmp")), "temporaries of the killed run are cleared"
    models, rows = load_population(store.path, status=None)
    assert len(models) == 16


def test_diverged_networks_are_recorded_with_reason_and_step_and_left_out(tmp_path, mini):
    from paperlib.training.config import Hyperparameters
    from paperlib.training.profiles import Stage

    plan = TINY.plan("cdi")
    blow_up = Hyperparameters(learning_rate=1e6, decay_rate=1.0, momentum=0.99, clip=1e6)
    # a gentle second stage must not revive (and report as fine) a network that failed in the first
    gentle = Stage(plan.task, plan.stages[0].config, learning_rate_scale=1e-9)
    plans = (
        (
            "cdi",
            dataclasses.replace(plan, stages=plan.stages + (gentle,), settings=plan.settings + (("gru", blow_up),)),
        ),
    )
    summary = train(["cdi"], dataclasses.replace(mini, plans=plans), str(tmp_path), progress=False)
    assert summary["cdi"] == TaskSummary(stored=0, trained=4, diverged=2)
    store = TaskStore(tmp_path, "mini", "cdi")
    for row in store.rows():
        if row["architecture"] == "gru":
            assert row["status"] == "diverged" and row["failure"] in ("nan", "nonfinite-weights", "explosion")
            assert math.isnan(row["final_loss"]) and row["retries"] == 0
            assert 0 <= row["diverged_at"] < 20
        else:
            assert (row["status"], row["failure"], row["diverged_at"]) == ("ok", "", -1)
    models, rows = load_population(store.path)
    assert [r["architecture"] for r in rows] == ["vanilla", "vanilla"], "diverged networks are not analysed"


def test_dask_local_cluster_gives_the_same_networks(tmp_path, mini):
    from dask.distributed import Client, LocalCluster

    train(["cdi"], mini, str(tmp_path / "local"), progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        train(["cdi"], mini, str(tmp_path / "dask"), client=client, progress=False)
    local, dask = (TaskStore(tmp_path / k, "mini", "cdi") for k in ("local", "dask"))
    key = lambda r: r["network"]  # noqa: E731
    assert outcome(sorted(local.rows(), key=key)) == outcome(sorted(dask.rows(), key=key))
    for row in local.rows():
        assert local.weights_path(row).read_bytes() == dask.weights_path(row).read_bytes()


def test_damaged_files_are_named_and_repaired(tmp_path, mini):
    train(["cdi"], mini, str(tmp_path), progress=False)
    store = TaskStore(tmp_path, "mini", "cdi")
    rows = store.rows()
    victim = store.weights_path(rows[0])
    victim.write_bytes(victim.read_bytes()[:100])  # truncated
    untouched = {r["network"]: store.weights_path(r).stat().st_mtime_ns for r in rows[1:]}
    with pytest.raises(StoreError, match=victim.name):
        load_population(store.path)
    with pytest.raises(StoreError, match="--repair"):
        train(["cdi"], mini, str(tmp_path), progress=False)
    summary = train(["cdi"], mini, str(tmp_path), repair=True, progress=False)
    assert summary["cdi"].trained == 2  # the damaged network's unit: its two seeds
    assert len(load_population(store.path, status=None)[0]) == 4
    others = [
        r for r in store.rows() if r["network"] in untouched and not r["network"].startswith(rows[0]["architecture"])
    ]
    assert others and all(store.weights_path(r).stat().st_mtime_ns == untouched[r["network"]] for r in others)
    store.manifest_path.write_text("network,task\nbroken")
    with pytest.raises(StoreError, match="manifest.csv is damaged"):
        load_population(store.path)


def test_a_manifest_from_before_the_failure_and_retries_columns_still_loads(tmp_path, mini):
    train(["cdi"], mini, str(tmp_path), progress=False)
    store = TaskStore(tmp_path, "mini", "cdi")
    rows = store.rows()
    lines = store.manifest_path.read_text().splitlines()
    header = lines[0].split(",")
    drop = [header.index("failure"), header.index("retries")]
    old = "\n".join(",".join(v for k, v in enumerate(line.split(",")) if k not in drop) for line in lines) + "\n"
    store.manifest_path.write_text(old)
    assert store.rows() == [{**r, "failure": "", "retries": 0} for r in rows]
    assert len(load_population(store.path)[0]) == len(rows)
    # a rerun finds every network there: nothing is retrained
    assert train(["cdi"], mini, str(tmp_path), progress=False)["cdi"].trained == 0
    # any other difference in the columns is still damage
    store.manifest_path.write_text(old.replace("validation_loss", "val_loss", 1))
    with pytest.raises(StoreError, match="manifest.csv is damaged"):
        store.rows()


def test_a_shape_packed_into_one_population_gives_each_configuration_its_own_networks(tmp_path, mini, monkeypatch):
    """Every L2 value's seeds (and every configuration's search trials) train as one population,
    with each member's own L2 and optimiser settings; the weights are those of unit-by-unit training."""
    import paperlib.training.sweep as sweep

    two_l2 = dataclasses.replace(mini, architectures=("gru",), l2s=(1e-4, 1e-2), seeds=(0, 1))
    sizes = []
    real = sweep.train_population

    def counted(task, arch, act, n, seeds, *args, **kwargs):
        sizes.append(len(seeds))
        return real(task, arch, act, n, seeds, *args, **kwargs)

    monkeypatch.setattr(sweep, "train_population", counted)
    train(["flipflop"], two_l2, str(tmp_path / "packed"), progress=False)
    assert sizes == [4, 4]  # one search of 2 configurations × 2 trials, then one population of 2 L2 × 2 seeds
    sizes.clear()
    train(["flipflop"], two_l2, str(tmp_path / "alone"), progress=False, max_members=2)
    assert sizes == [2, 2, 2, 2]
    packed, alone = (TaskStore(tmp_path / k, "mini", "flipflop") for k in ("packed", "alone"))
    sizes_too = ("train_seconds", "population")  # packed populations are larger
    assert outcome(packed.search_rows(), sizes_too) == outcome(alone.search_rows(), sizes_too)
    assert outcome(packed.rows(), sizes_too) == outcome(alone.rows(), sizes_too) and len(packed.rows()) == 4
    assert {r["l2"] for r in packed.rows()} == {1e-4, 1e-2}
    for row in packed.rows():
        assert packed.weights_path(row).read_bytes() == alone.weights_path(row).read_bytes()
    searched = {(r["config"], r["l2"]) for r in packed.search_rows()}
    assert len(searched) == 2, "each configuration searched with its own L2"


def test_packs_group_one_shape_and_respect_the_member_limit():
    from paperlib.training.units import consecutive_groups, pack

    paper = get_profile("paper")
    units = paper.work_units("cdi")
    packs = pack(units)
    assert len(packs) == 4 * 2 * 3 and all(len(p) == 4 and len({u.shape for u in p}) == 1 for p in packs)
    packed = [u for p in packs for u in p]
    assert len(packed) == len(units) and set(packed) == set(units)
    halves = pack(units, max_members=60)
    assert len(halves) == 2 * len(packs) and all(sum(len(u.seeds) for u in p) == 60 for p in halves)
    assert len(pack(units, max_members=10)) == len(units), "a unit is never split"
    assert consecutive_groups([3, 3, 5, 1], 6) == [[0, 1], [2, 3]]
    assert consecutive_groups([3, 3], None) == [[0, 1]]
    with pytest.raises(ValueError, match="max_members"):
        pack(units, max_members=0)


def test_members_that_fit_reads_the_device_limit():
    import jax

    from paperlib.tasks import FlipFlop
    from paperlib.training.sweep import members_that_fit

    class Device:
        platform = "gpu"

        def __init__(self, limit):
            self.limit = limit

        def memory_stats(self):
            return {"bytes_limit": self.limit}

    task = FlipFlop()  # T = 100
    per_member = 3 * 4 * 64 * 100 * 256 * (3 + 2)  # GRU-256, batch 64
    assert members_that_fit(task, "gru", 256, 64, Device(10 * per_member / 0.6)) == 10
    assert members_that_fit(task, "gru", 256, 64, Device(1)) == 1
    assert members_that_fit(task, "gru", 256, 64, jax.devices("cpu")[0]) is None


def test_the_cost_projection_pays_the_fixed_part_once_per_pack(root, monkeypatch):
    """benchmarks/paper_scale.py's sums: a fixed cost per iteration is paid per configuration one at a
    time and per pack when packed; a cost per member is the same either way."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("paper_scale", root / "benchmarks" / "paper_scale.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclass looks its module up
    spec.loader.exec_module(bench)
    medium = get_profile("medium")
    shapes = bench.shapes(medium, ["cdi"])
    fixed = {s: bench.Line(1.0, 0.0) for s in shapes}  # 1 ms per iteration, whatever the population
    hours = bench.cost(medium, ["cdi"], fixed, lambda *_: None)["cdi"]
    configs, packs = len(medium.work_units("cdi")), len(pack(medium.work_units("cdi")))
    assert hours["one_configuration_at_a_time"] == pytest.approx(configs * 22_000 / 3.6e6)
    assert hours["packed"] == pytest.approx(packs * 22_000 / 3.6e6) and configs == 2 * packs
    per_member = {s: bench.Line(0.0, 1.0) for s in shapes}
    hours = bench.cost(medium, ["cdi"], per_member, lambda *_: None)["cdi"]
    assert hours["packed"] == pytest.approx(hours["one_configuration_at_a_time"])
    assert hours["packed"] == pytest.approx(configs * (20_000 * 10 + 2_000 * 16) / 3.6e6)
    split = bench.cost(medium, ["cdi"], fixed, lambda *_: 10)["cdi"]  # a pack cut to one configuration each
    assert split["packed"] == pytest.approx(split["one_configuration_at_a_time"])


def test_every_population_checkpoints_under_its_task_and_the_files_go_once_stored(tmp_path, mini, monkeypatch):
    """Each search and stage of a pack saves to its own file under ``<task>/checkpoints/`` (so a
    stopped pack continues where it was, ``test_train``), removed once its networks are stored."""
    import paperlib.training.sweep as sweep

    two_stages = dataclasses.replace(  # a curriculum where there is no search (the paper's sine task has one)
        mini, plans=tuple((t, dataclasses.replace(p, stages=p.stages * (1 if p.search else 2))) for t, p in mini.plans)
    )
    paths, real = [], sweep.train_population

    def recorded(*args, checkpoint=None, **kwargs):
        paths.append(checkpoint)
        result = real(*args, checkpoint=checkpoint, **kwargs)
        assert checkpoint.is_file(), "the finished state is saved before the networks are stored"
        return result

    monkeypatch.setattr(sweep, "train_population", recorded)
    train(["flipflop", "cdi"], two_stages, str(tmp_path), progress=False)
    names = {task: sorted(p.name for p in paths if p.parent.parent.name == task) for task in ("flipflop", "cdi")}
    assert names["flipflop"] == [
        "gru-tanh-n8-l2_1e-04-search.npz",
        "gru-tanh-n8-l2_1e-04-stage1.npz",
        "vanilla-tanh-n8-l2_1e-04-search.npz",
        "vanilla-tanh-n8-l2_1e-04-stage1.npz",
    ]
    assert names["cdi"] == [f"{a}-tanh-n8-l2_1e-04-stage{i}.npz" for a in ("gru", "vanilla") for i in (1, 2)]
    for task in ("flipflop", "cdi"):
        store = TaskStore(tmp_path, "mini", task)
        assert all(p.parent == store.checkpoints_path for p in paths if p.parent.parent.name == task)
        assert list(store.checkpoints_path.iterdir()) == []
