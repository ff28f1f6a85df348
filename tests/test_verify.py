"""Members of a release retrain from its manifest alone into the released bytes and fixed points."""

import csv
import json

import numpy as np
import pytest

from paperlib.publishing.verify import _distance, choose, released_rows, verify_release
from paperlib.training.release import RELEASE, pack_release
from paperlib.training.store import StoreError, sha256


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory, tiny_data):
    out = tmp_path_factory.mktemp("release") / "tiny"
    pack_release(tiny_data, "tiny", out)
    return out


def _rewrite(release, task, change):
    """Change the release's manifest of ``task`` with ``change(rows)`` and reseal ``release.json``."""
    path = release / task / "manifest.csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    change(rows)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    meta = json.loads((release / RELEASE).read_text())
    meta["files"][f"{task}/manifest.csv"] = sha256(path.read_bytes())
    (release / RELEASE).write_text(json.dumps(meta))


def test_a_tiny_member_retrains_byte_identical_and_a_changed_manifest_is_caught(tiny_release, tmp_path):
    import shutil

    name = "cdi/gru-tanh-n8-l2_1e-04-s1"
    [check] = verify_release(tiny_release, [name], progress=False)
    assert check.identical and check.agrees
    assert check.validation_loss == pytest.approx(check.released_validation_loss, rel=1e-5)
    assert check.fixed_points == check.released_fixed_points and check.fixed_point_distance == 0.0

    # the same member with a learning rate 1% off in its manifest is a different network
    changed = tmp_path / "changed"
    shutil.copytree(tiny_release, changed)
    network = name.split("/", 1)[1]

    def nudge(rows):
        for row in rows:
            if row["network"] == network:
                row["learning_rate"] = repr(float(row["learning_rate"]) * 1.01)

    _rewrite(changed, "cdi", nudge)
    [other] = verify_release(changed, [name], progress=False)
    assert not other.identical and not other.agrees
    assert (
        other.fixed_point_distance is None
        or other.fixed_point_distance > 0
        or (other.fixed_points != other.released_fixed_points)
    )


def test_choosing_members_is_checked_and_reproducible(tiny_release):
    _, rows = released_rows(tiny_release)
    first = choose(rows, sample=3, seed=1)
    assert first == choose(rows, sample=3, seed=1) and len(set(first)) == 3
    named = sorted(rows)[0]
    assert choose(rows, [named], sample=2)[0] == named and named not in choose(rows, [named], sample=2)[1:]
    with pytest.raises(StoreError, match="no network 'cdi/nope'"):
        choose(rows, ["cdi/nope"])
    with pytest.raises(StoreError, match="exceeds"):
        choose(rows, sample=len(rows) + 1)


def test_a_release_of_another_recipe_is_refused_before_training(tiny_release, tmp_path):
    import shutil

    changed = tmp_path / "changed"
    shutil.copytree(tiny_release, changed)
    meta = json.loads((changed / RELEASE).read_text())
    meta["recipe"]["cdi"]["stages"][0]["config"]["n_iterations"] += 1
    (changed / RELEASE).write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="recipe differs"):
        verify_release(changed, ["cdi/vanilla-tanh-n8-l2_1e-04-s0"], progress=False)


def test_the_fixed_point_distance_is_the_symmetric_largest_nearest_distance():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert _distance(a, a[::-1]) == 0.0  # order does not matter
    b = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])  # one more point, 3 from its nearest
    assert _distance(a, b) == pytest.approx(3.0) and _distance(b, a) == pytest.approx(3.0)
    assert _distance(a[:0], a[:0]) == 0.0 and _distance(a, a[:0]) == np.inf


def test_the_command_line_names_a_missing_choice_and_an_unknown_member(cli, tiny_release):
    done = cli("verify", tiny_release)
    assert done.returncode == 2 and "--sample K" in done.stderr
    done = cli("verify", tiny_release, "--network", "sine/none")
    assert done.returncode == 1 and "no network 'sine/none'" in done.stderr
    done = cli("verify", tiny_release, "--analyses")  # packed without analyses: nothing to compare is a failure
    assert done.returncode == 1 and "ships no analyses to verify" in done.stderr
    done = cli("verify", tiny_release, "--sample", "1", "--task", "cdi")
    assert done.returncode == 2 and "--task chooses the analyses to recompute: it needs --analyses" in done.stderr
