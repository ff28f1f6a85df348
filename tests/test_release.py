"""A population packed into a release folder and unpacked again is the stored population, byte for byte."""

import shutil

import numpy as np
import pytest

from paperlib.training.release import MAX_FILE_BYTES, RELEASE, pack_release, read_release, unpack_release
from paperlib.training.store import StoreError, TaskStore, sha256
from paperlib.training.sweep import train


def test_a_release_round_trips_the_store_and_retrains_nothing(tmp_path, mini):
    data = tmp_path / "data"
    train(["cdi", "flipflop"], mini, str(data), progress=False)
    (data / "mini" / "PROVENANCE").write_text("commit abc\n")
    meta = pack_release(data, "mini", tmp_path / "release")
    assert meta["tasks"] == {t: {"networks": 4, "diverged": 0} for t in ("cdi", "flipflop")}
    assert all(len((tmp_path / "release" / n).read_bytes()) <= MAX_FILE_BYTES for n in meta["files"])
    # one compressed weights file per task × architecture × activation
    assert sorted(n for n in meta["files"] if "weights-" in n) == [
        f"{t}/weights-{a}-tanh.npz" for t in ("cdi", "flipflop") for a in ("gru", "vanilla")
    ]
    fresh = tmp_path / "fresh"
    assert unpack_release(tmp_path / "release", fresh) == {"cdi": 4, "flipflop": 4}
    assert (fresh / "mini" / "PROVENANCE").read_text() == "commit abc\n"
    for task in ("cdi", "flipflop"):
        old, new = TaskStore(data, "mini", task), TaskStore(fresh, "mini", task)
        assert new.rows() == old.rows() and new.search_rows() == old.search_rows()
        for row in old.rows():
            assert new.weights_path(row).read_bytes() == old.weights_path(row).read_bytes()
    summary = train(["cdi", "flipflop"], mini, str(fresh), progress=False)
    assert all(s.trained == 0 and s.stored == 4 for s in summary.values())
    # unpacking again writes nothing: every network is already intact
    assert unpack_release(tmp_path / "release", fresh) == {"cdi": 0, "flipflop": 0}


def test_a_damaged_release_is_named_before_anything_is_written(tmp_path, mini):
    data = tmp_path / "data"
    train(["cdi"], mini, str(data), progress=False)
    release = tmp_path / "release"
    meta = pack_release(data, "mini", release)
    victim = release / "cdi" / "weights-gru-tanh.npz"
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(StoreError, match="weights-gru-tanh.npz"):
        unpack_release(release, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    (release / RELEASE).write_text("{not json")
    with pytest.raises(StoreError, match=RELEASE):
        read_release(release)
    # the stored networks' checksums are those of the release's bytes
    shutil.rmtree(release)
    pack_release(data, "mini", release)
    with np.load(release / "cdi" / "weights-vanilla-tanh.npz") as weights:
        rows = {r["network"]: r for r in TaskStore(data, "mini", "cdi").rows()}
        assert all(sha256(weights[n].tobytes()) == rows[n]["sha256"] for n in weights.files)
    assert meta["files"].keys() == read_release(release)["files"].keys()
