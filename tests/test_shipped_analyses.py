"""A release ships its population's analyses: they unpack into the very arrays that were cached, the
fixed points' Jacobians recomputed from the points and checked, and ``verify --analyses`` recomputes
every one from the networks and finds a changed one."""

import json
import shutil

import numpy as np
import pytest

from paperlib.analysis.cache import recording
from paperlib.analysis.shipped import RECOMPUTED, SEPARATOR, pack_analyses, unpack_analyses
from paperlib.paper.claims import book_analyses
from paperlib.publishing.verify import analyses_report, verify_analyses
from paperlib.training.release import MAX_FILE_BYTES, RELEASE, pack_release, unpack_release
from paperlib.training.store import sha256


def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _changed_copy(release, folder, prefix, change):
    """A copy of ``release`` in ``folder`` whose first file starting with ``prefix`` has its arrays
    changed by ``change(arrays)``, resealed in ``release.json``; the copy, its listing and that name."""
    copy = folder / "release"
    shutil.copytree(release, copy)
    meta = json.loads((copy / RELEASE).read_text())
    name = next(n for n in meta["files"] if n.startswith(prefix))
    arrays = _arrays(copy / name)
    change(arrays)
    np.savez_compressed(copy / name, **arrays)
    meta["files"][name] = sha256((copy / name).read_bytes())
    (copy / RELEASE).write_text(json.dumps(meta))
    return copy, meta, name


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, tiny_data):
    with recording() as read:
        book_analyses(tiny_data, "tiny", progress=False)
    release = tmp_path_factory.mktemp("release") / "tiny"
    pack_release(tiny_data, "tiny", release)
    counts = pack_analyses(tiny_data, "tiny", release, read)
    return release, counts, read


def test_analyses_unpack_into_the_arrays_that_were_cached(shipped, tiny_data, tmp_path):
    release, counts, read = shipped
    meta = json.loads((release / RELEASE).read_text())
    names = [n for n in meta["files"] if "/analysis/" in n]
    assert all(counts[t] > 0 for t in counts) and names
    assert not any(n.split("/")[-1].split("-")[0] in RECOMPUTED for n in names)
    assert all((release / n).stat().st_size < MAX_FILE_BYTES for n in names)
    shards = [n for n in names if n.split("/")[-1].startswith("fixed_points-")]
    jacobians = [a for n in shards for k, a in _arrays(release / n).items() if k.endswith(f"{SEPARATOR}jacobians")]
    assert shards and all(a.size == 0 for a in jacobians)  # only empty ones: the others ship as digests

    data = tmp_path / "data"
    unpack_release(release, data)
    written = unpack_analyses(release, data)
    assert written == counts
    compared = 0
    for task in counts:
        cache = tiny_data / "tiny" / task / "analysis"
        for path in sorted(cache.rglob("*.npz")):
            top = cache / path.relative_to(cache).parts[0]
            if top.name.split("-")[0] in RECOMPUTED or top.resolve() not in {p.resolve() for p in read}:
                continue
            ours = _arrays(data / "tiny" / task / "analysis" / path.relative_to(cache))
            theirs = _arrays(path)
            assert ours.keys() == theirs.keys(), path
            for k in theirs:  # the recomputed Jacobians and eigenvalues included, bit for bit
                assert ours[k].dtype == theirs[k].dtype and np.array_equal(ours[k], theirs[k], equal_nan=True), (
                    path,
                    k,
                )
            compared += 1
    assert compared == sum(counts.values())
    assert unpack_analyses(release, data) == {t: 0 for t in counts}  # nothing cached is rewritten


def test_points_that_do_not_linearise_as_shipped_are_not_restored(shipped, tmp_path):
    release, _, _ = shipped

    def move(arrays):
        key = next(k for k in arrays if k.endswith(f"{SEPARATOR}states") and arrays[k].size)
        arrays[key] = arrays[key] + 1e-3  # points the Jacobians were not taken at

    copy, _, name = _changed_copy(release, tmp_path, "flipflop/analysis/fixed_points-", move)
    data = tmp_path / "data"
    unpack_release(copy, data)
    with pytest.warns(UserWarning, match="differ from those the release was made with"):
        unpack_analyses(copy, data)
    folder = data / "tiny" / "flipflop" / "analysis" / name.split("/")[-1].split(".")[0]
    assert not list(folder.glob("*.npz"))  # nothing of that folder; the analyses compute it again


def test_verify_recomputes_every_shipped_analysis_and_names_a_changed_one(shipped, tmp_path):
    release, _, _ = shipped

    def nudge(arrays):
        arrays["D"] = arrays["D"].copy()
        arrays["D"][0, 1] += 1e-6

    copy, meta, name = _changed_copy(release, tmp_path, "cdi/analysis/distances_svcca-", nudge)
    checks = verify_analyses(copy, ["cdi"], progress=False)  # one task: the others are computed alike
    shipped_names = {n.split(".")[0] for n in meta["files"] if n.startswith("cdi/analysis/")}  # a folder's shards: one
    assert sorted(f"{c.task}/analysis/{c.name.split('.')[0]}" for c in checks) == sorted(shipped_names)
    differ = [(c.task, c.name) for c in checks if not c.identical]
    assert differ == [("cdi", name.split("/")[-1])], analyses_report(checks)
    assert analyses_report(checks).splitlines()[-1].startswith(f"{len(checks) - 1} of {len(checks)} ")
