"""One released group retrained whole and alone: its time against the manifest's, and its weights.

A release's ``train_seconds`` is the wall time of each group's pack as it was trained, on whatever
else the machine was doing. This retrains one group (every seed of one task × architecture ×
activation, one pack, the release's settings) with nothing else running, and reports

- its training time over the manifest's (below 1: the release shared its cores while it trained),
- its training time over ``paper_scale.py``'s line for the same group (20,000 × the ms per
  iteration timed there, passed with ``--ms-per-iteration``): how well that line costs a profile,
- how many of the group's networks come out byte-identical to the released ones.

    python benchmarks/release_group.py sine/vanilla-tanh [--release data/releases/paper64] [--ms-per-iteration 59.0]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time

import paperlib
from paperlib.publishing.verify import hyperparameters_of, released_rows, unit_of
from paperlib.training.profiles import get_profile
from paperlib.training.sweep import run_pack


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core, as the release was trained
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("group", help="TASK/ARCHITECTURE-ACTIVATION, e.g. sine/vanilla-tanh")
    parser.add_argument("--release", default="data/releases/paper64")
    parser.add_argument("--ms-per-iteration", type=float, default=None, help="paper_scale.py's time for this group")
    args = parser.parse_args()
    task, cell = args.group.split("/")
    architecture, activation = cell.split("-")
    meta, rows = released_rows(args.release)
    key = (task, architecture, activation)
    group = sorted(
        (r for r in rows.values() if (r["task"], r["architecture"], r["activation"]) == key),
        key=lambda r: int(r["seed"]),
    )
    if not group:
        raise SystemExit(f"{args.release} has no {args.group} networks")
    first = group[0]
    unit = dataclasses.replace(unit_of(first), seeds=tuple(int(r["seed"]) for r in group))  # the whole group
    start = time.perf_counter()
    [(new, blobs)] = run_pack(get_profile(meta["profile"]), [unit], [hyperparameters_of(first)])
    wall = time.perf_counter() - start
    seconds = float(new[0]["train_seconds"])
    same = sum(hashlib.sha256(b).hexdigest() == r["sha256"] for b, r in zip(blobs, group, strict=True))
    print(f"{args.group}: {len(group)} networks, {same} byte-identical to the release", flush=True)
    print(f"  alone / as released (train_seconds): {seconds / float(first['train_seconds']):.2f}", flush=True)
    if args.ms_per_iteration:
        line = int(first["n_iterations"]) * args.ms_per_iteration / 1e3
        print(f"  alone / paper_scale.py's line: {seconds / line:.2f}", flush=True)
    print(f"  run_pack's wall time / its train_seconds: {wall / seconds:.2f} (validation, serialising)", flush=True)


if __name__ == "__main__":
    main()
