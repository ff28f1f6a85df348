"""The committed paper64 release, end to end: one member per task retrained for the paper's whole
recipe (20,000 iterations) into the released weights, byte for byte, and the same fixed points.

Each test is its own group (``conftest.SPLIT``), started before the short files
(``conftest.pytest_collection_modifyitems``): the sine member alone takes about 5 minutes.
"""

import pytest

from paperlib.publishing.verify import released_rows, verify_release
from paperlib.training.release import read_release
from paperlib.training.store import StoreError

PAPER64 = "data/releases/paper64"
MEMBER = "vanilla-tanh-n64-l2_1e-04-s0"  # the cheapest group's first seed


def _released_tasks() -> list[str]:
    try:
        meta = read_release(PAPER64)
    except StoreError:
        return []
    longest_first = ("sine", "flipflop", "cdi")  # each starts in its own worker as the suite begins
    return sorted((t for t, n in meta["tasks"].items() if n["networks"]), key=longest_first.index)


def test_the_release_is_intact_and_holds_its_recipe():
    meta = read_release(PAPER64)  # every file against its checksum
    assert meta["profile"] == "paper64" and set(meta["recipe"]) == set(meta["tasks"])
    assert all(stage["config"]["n_iterations"] == 20000 for r in meta["recipe"].values() for stage in r["stages"])


@pytest.mark.parametrize("task", _released_tasks())
def test_a_member_retrains_for_all_20000_iterations_into_the_released_network(task, root):
    _, rows = released_rows(root / PAPER64)
    name = f"{task}/{MEMBER}"
    assert rows[name]["n_iterations"] == 20000
    [check] = verify_release(root / PAPER64, [name], progress=False)
    assert check.identical, check
    # evaluated alone rather than beside its population: the same up to float32 rounding
    assert check.validation_loss == pytest.approx(check.released_validation_loss, rel=1e-5)
    assert check.fixed_points == check.released_fixed_points and check.fixed_point_distance == 0.0


def test_the_shipped_analyses_unpack_with_their_jacobians_recomputed_bit_for_bit(root, tmp_path):
    import warnings

    from paperlib.analysis.shipped import unpack_analyses
    from paperlib.training.release import unpack_release

    meta = read_release(root / PAPER64)
    shipped = [n for n in meta["files"] if "/analysis/" in n]
    assert {n.split("/")[0] for n in shipped} == set(meta["tasks"])  # every task's analyses are shipped
    unpack_release(root / PAPER64, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a Jacobian that differs from its shipped digest warns
        written = unpack_analyses(root / PAPER64, tmp_path)
    assert all(written[t] > 0 for t in meta["tasks"])
