"""Dynamical Similarity Analysis: paperlib.similarity.dsa against the reference implementation (``dsa-metric``).

The reference (Ostrow et al. 2023; PyPI ``dsa-metric``, PyTorch) runs in its own Python, never in the
project's environment: ``--reference-python`` names one that has it, or the script makes a virtual
environment at ``--reference-env`` (default ``~/.cache/paperlib/dsa-reference``) with
``pip install dsa-metric numpy`` (which brings its torch). Both get the same trajectories and the
same settings (delays, rank, ridge, Adam's iterations and rate, angular score); the reference fits
``DSA.DMD`` and compares with ``DSA.SimilarityTransformDist.fit_score``, pair by pair, as its users do.

In one run it prints:

(a) three systems whose answer is known by hand (a linear system against a rotated copy of itself: 0;
    rotations by 0.2 and 0.5 rad per step: 0.3; a line attractor diag(1, ½) against a point attractor
    ½·I: 0.3218), each implementation's distance;
(b) 20 pairs of trained networks of the stored population (``--profile``, ``--task``): the largest
    difference, absolute and relative, and the reference's own run-to-run spread on the same pairs;
(c) the time of both on every pair of the first ``--reference-n`` networks, and paperlib's on the
    whole population (``--n``): the ratio on the same pairs, and the reference's projected time for all.

    python benchmarks/dsa.py [--reference-python PY] [--data data] [--profile small] [--task flipflop]
                             [--pairs 20] [--reference-n 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np

import paperlib
from paperlib.analysis import hidden_states
from paperlib.similarity import dsa
from paperlib.training.store import population

REFERENCE = r"""
import json, sys, time
import numpy as np
import torch
from DSA import DMD, SimilarityTransformDist

torch.manual_seed(0)
inputs = np.load(sys.argv[1])
options = json.loads(sys.argv[2])
systems = [inputs[f"system_{i}"] for i in range(int(inputs["n"]))]
pairs = inputs["pairs"]
start = time.perf_counter()
operators = []
for x in systems:
    # rank None: the reference chooses it by explained variance, as paperlib does (the same threshold)
    chosen = {"rank": options["rank"]} if options["rank"] is not None else {
        "rank_explained_variance": options["rank_explained_variance"]}
    dmd = DMD(x, n_delays=options["n_delays"], delay_interval=options["delay_interval"], lamb=options["ridge"],
              **chosen)
    dmd.fit()
    operators.append(dmd.A_v.detach().clone())
fitted = time.perf_counter()
compare = SimilarityTransformDist(iters=options["iters"], lr=options["lr"], score_method="angular")
distances = [float(compare.fit_score(operators[i].clone(), operators[j].clone())) for i, j in pairs]
done = time.perf_counter()
print(json.dumps({"distances": distances, "fit_s": fitted - start, "compare_s": done - fitted}))
"""


def reference_python(args) -> str:
    if args.reference_python:
        return args.reference_python
    env = Path(args.reference_env).expanduser()
    python = env / "bin" / "python"
    if not python.exists():
        print(f"making the reference's environment at {env} (pip install dsa-metric numpy)", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dsa-metric", "numpy"], check=True)
    return str(python)


def run_reference(python: str, systems, pairs, options: dsa.DSAOptions) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.npz"
        arrays = {f"system_{i}": np.asarray(s, np.float32) for i, s in enumerate(systems)}
        np.savez(path, n=len(systems), pairs=np.asarray(pairs, int), **arrays)
        names = ("n_delays", "delay_interval", "rank", "rank_explained_variance", "ridge", "iters", "lr")
        settings = {k: getattr(options, k) for k in names}
        done = subprocess.run(
            [python, "-c", REFERENCE, str(path), json.dumps(settings)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if done.returncode != 0:
        raise RuntimeError(f"the reference failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(systems, pairs, options: dsa.DSAOptions) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    ops = dsa.fit_all(systems, options, progress=False)
    pairs = np.asarray(pairs)
    values = dsa._compare(ops[pairs[:, 0]], ops[pairs[:, 1]], options)
    return values, time.perf_counter() - start


def known_systems(options: dsa.DSAOptions) -> list[tuple[str, list, float, dsa.DSAOptions]]:
    """(name, [system A, system B], the distance by hand, the options) for the three known cases."""

    def run(M, trials=64, steps=40, seed=0, init=None):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(trials, len(M))) if init is None else init
        out = []
        for _ in range(steps):
            out.append(x)
            x = x @ M.T
        return np.stack(out, axis=1)

    def rot(t):
        return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])

    def circle(n, seed):
        phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
        return np.stack([np.cos(phase), np.sin(phase)], axis=1)

    M = np.array([[0.95, 0.2, 0, 0], [-0.2, 0.95, 0, 0], [0, 0, 0.8, 0.1], [0, 0, 0, 0.6]])
    X = run(M)
    R, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    planar = dsa.DSAOptions(n_delays=1, rank=2, iters=options.iters, lr=options.lr)
    return [
        ("linear system vs a rotated copy", [X, X @ R.T], 0.0, dsa.DSAOptions(n_delays=2, rank=4, iters=options.iters)),
        (
            "rotation 0.2 vs 0.5 rad/step",
            [run(rot(0.2), init=circle(64, 0)), run(rot(0.5), init=circle(64, 1))],
            0.3,
            planar,
        ),
        (
            "line attractor vs point attractor",
            [run(np.diag([1.0, 0.5]), trials=400), run(np.diag([0.5, 0.5]), trials=400, seed=1)],
            float(np.arccos(1.5 / np.sqrt(1.25 * 2.0))),
            planar,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-python", default=None)
    parser.add_argument("--reference-env", default="~/.cache/paperlib/dsa-reference")
    parser.add_argument("--data", default="data")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--task", default="flipflop")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--reference-n", type=int, default=10)
    parser.add_argument("--n", type=int, default=None, help="networks for paperlib's whole matrix (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paperlib.use_host_devices()
    python = reference_python(args)
    options = dsa.DSAOptions()
    report: dict = {"options": {k: getattr(options, k) for k in options.__dataclass_fields__}}

    # (a) known systems
    report["known"] = []
    for name, systems, expected, opts in known_systems(options):
        mine, _ = ours(systems, [(0, 1)], opts)
        theirs = run_reference(python, systems, [(0, 1)], opts)["distances"][0]
        report["known"].append({"system": name, "by hand": expected, "paperlib": float(mine[0]), "reference": theirs})

    # (b) trained networks
    pop = population(args.data, args.profile, args.task)
    probe = pop.task.probe_inputs()
    n = len(pop) if args.n is None else min(args.n, len(pop))
    systems = [hidden_states(model, probe) for model in pop.models[:n]]
    rng = np.random.default_rng(0)
    all_pairs = np.array(np.triu_indices(n, 1)).T
    chosen = all_pairs[rng.choice(len(all_pairs), size=min(args.pairs, len(all_pairs)), replace=False)]
    mine, _ = ours(systems, chosen, options)
    first = np.array(run_reference(python, systems, chosen, options)["distances"])
    second = np.array(run_reference(python, systems, chosen, options)["distances"])
    report["networks"] = {
        "task": args.task,
        "pairs": len(chosen),
        "paperlib": mine.tolist(),
        "reference": first.tolist(),
        "largest difference": float(np.max(np.abs(mine - first))),
        "largest relative difference": float(np.max(np.abs(mine - first) / np.maximum(first, 1e-12))),
        "mean (paperlib - reference)": float(np.mean(mine - first)),
        "reference run-to-run spread": float(np.max(np.abs(first - second))),
    }

    # (c) time on the same pairs, then paperlib on the whole population
    m = min(args.reference_n, n)
    same = np.array(np.triu_indices(m, 1)).T
    reference = run_reference(python, systems[:m], same, options)
    ref_s = reference["fit_s"] + reference["compare_s"]
    start = time.perf_counter()
    dsa.pairwise(systems[:m], options, progress=False)
    ours_same = time.perf_counter() - start
    start = time.perf_counter()
    dsa.pairwise(systems, options, progress=False)
    ours_all = time.perf_counter() - start
    pairs_all = n * (n - 1) // 2
    report["speed"] = {
        "reference networks": m,
        "reference pairs": len(same),
        "reference s": ref_s,
        "paperlib s, same pairs (compiled already)": ours_same,
        "ratio, same pairs": ref_s / ours_same,
        "paperlib networks": n,
        "paperlib s, all pairs": ours_all,
        "reference s projected for all pairs": ref_s / len(same) * pairs_all,
        "ratio, all pairs (projected)": ref_s / len(same) * pairs_all / ours_all,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print("(a) known systems (angular distance, radians)")
    for row in report["known"]:
        print(
            f"  {row['system']:<36} by hand {row['by hand']:.4f}  paperlib {row['paperlib']:.4f}  "
            f"reference {row['reference']:.4f}"
        )
    net = report["networks"]
    print(
        f"(b) {net['pairs']} pairs of trained {args.task} networks: largest difference {net['largest difference']:.4f} "
        f"({net['largest relative difference']:.1%} relative), mean paperlib − reference "
        f"{net['mean (paperlib - reference)']:+.4f}; the reference's run-to-run spread "
        f"{net['reference run-to-run spread']:.2e}"
    )
    s = report["speed"]
    print(
        f"(c) {s['reference pairs']} pairs ({s['reference networks']} networks): reference {s['reference s']:.1f} s, "
        f"paperlib {s['paperlib s, same pairs (compiled already)']:.1f} s: {s['ratio, same pairs']:.0f}x"
    )
    print(
        f"    all {pairs_all} pairs ({n} networks): paperlib {s['paperlib s, all pairs']:.1f} s; the reference, "
        f"projected, {s['reference s projected for all pairs'] / 60:.0f} min: {s['ratio, all pairs (projected)']:.0f}x"
    )


if __name__ == "__main__":
    main()
