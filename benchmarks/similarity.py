"""Pairwise distance matrices (SVCCA by default): batched ``pairwise`` against a plain per-pair loop.

Synthetic representations shaped like trained RNNs' probe states: 2,000 samples × 64 units,
each a random embedding of a 3–10-dimensional latent trajectory plus a little noise. The loop
calls ``1 − svcca(X_i, X_j)`` (or ``cka``, ``procrustes``) pair by pair (each call centres and decomposes both
matrices);
its time per pair is measured on a random sample of pairs and scaled to all pairs. Both are
measured in this run; the N = 2,880 line is the paper's population of one task.

    python benchmarks/similarity.py [--metric svcca|cka|procrustes] [--n 300] [--loop-pairs 300] [--paper] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import paperlib
from paperlib.similarity import cka, pairwise, procrustes, svcca


def representations(n: int, samples: int = 2000, units: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 8 * np.pi, samples)[:, None]
    reps = []
    for _ in range(n):
        d = int(rng.integers(3, 11))
        latent = np.sin(t * rng.uniform(0.2, 2.0, d) + rng.uniform(0, 2 * np.pi, d))
        reps.append(np.tanh(latent @ rng.normal(size=(d, units))) + 0.01 * rng.normal(size=(samples, units)))
    return reps


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="networks for the batched-vs-loop comparison")
    parser.add_argument("--loop-pairs", type=int, default=300, help="pairs timed for the loop")
    parser.add_argument("--paper", action="store_true", help="also time N = 2,880 (the paper's population)")
    parser.add_argument("--metric", choices=("svcca", "cka", "procrustes"), default="svcca")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()

    reps = representations(args.n)
    reference = {"svcca": lambda a, b: 1.0 - svcca(a, b), "cka": lambda a, b: 1.0 - cka(a, b), "procrustes": procrustes}
    pairwise(reps[:40], args.metric, progress=False)  # compile the block programs
    start = time.perf_counter()
    D = pairwise(reps, args.metric, progress=False)
    batched = time.perf_counter() - start

    rng = np.random.default_rng(1)
    pairs = [tuple(rng.choice(args.n, 2, replace=False)) for _ in range(args.loop_pairs)]
    start = time.perf_counter()
    loop_values = [reference[args.metric](reps[i], reps[j]) for i, j in pairs]
    per_pair = (time.perf_counter() - start) / len(pairs)
    n_pairs = args.n * (args.n - 1) // 2
    loop = per_pair * n_pairs
    error = max(abs(D[i, j] - v) for (i, j), v in zip(pairs, loop_values))
    rows = [
        {
            "method": f"{args.metric} loop",
            "N": args.n,
            "seconds": round(loop, 2),
            "note": f"{per_pair * 1e3:.2f} ms/pair x {n_pairs} pairs",
        },
        {
            "method": f"{args.metric} pairwise",
            "N": args.n,
            "seconds": round(batched, 2),
            "speedup": round(loop / batched, 1),
            "max_abs_difference": float(f"{error:.2e}"),
        },
    ]
    if args.paper:
        reps = representations(2880, seed=2)
        start = time.perf_counter()
        pairwise(reps, args.metric, progress=False)
        rows.append({"method": f"{args.metric} pairwise", "N": 2880, "seconds": round(time.perf_counter() - start, 1)})

    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    for row in rows:
        extra = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("method", "N", "seconds"))
        print(f"{row['method']:<20} N={row['N']:<5} {row['seconds']:>8} s  {extra}")


if __name__ == "__main__":
    main()
