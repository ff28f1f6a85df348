"""Pairwise linear CKA of N = 2,880 networks: the exact batched path against ``pairwise_linear_cka``.

Both are timed in this run. The exact path (``paperlib.similarity.pairwise(reps, "cka")``) is timed on
the first ``--subset`` networks and scaled to N by the pair count (its per-network SVDs by N); the
approximation is timed at N and on the subset. Errors: every pair of the subset against the exact
path, and ``--pairs`` random pairs of the whole population against ``paperlib.similarity.cka``
(float64). Data (``--data``):

- ``paper``: ``benchmarks/similarity.py``'s representations (seed 2, as its ``--paper`` line):
  tanh of 3–10 random sinusoid latents, 2,000 × 64, plus noise;
- ``decay``: singular values ∝ exp(−j/τ), τ uniform in [2, 10], random orthonormal U and V (no
  structure shared between networks: the shared basis cannot help, truncation must);
- ``real``: a stored population's probe states (``--profile``, ``--store``; e.g. the paper64
  release unpacked), every pair per task.

    python benchmarks/cka_bounded.py [--data paper|decay|real] [--n 2880] [--subset 960] [--tolerance 1e-3] [--memory]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import paperlib

HERE = Path(__file__).resolve().parent


def decay(n: int, samples: int = 2000, units: int = 64, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    reps = []
    for tau in rng.uniform(2, 10, n):
        U = np.linalg.qr(rng.standard_normal((samples, units)))[0]
        V = np.linalg.qr(rng.standard_normal((units, units)))[0]
        reps.append((U * np.exp(-np.arange(units) / tau)) @ V.T)
    return reps


def real(args) -> None:
    from paperlib.analysis import probe_states
    from paperlib.similarity import cka, fit
    from paperlib.similarity.cka_bounded import pairwise_linear_cka
    from paperlib.training import TASK_NAMES, population

    for task in TASK_NAMES:
        reps = list(probe_states(population(args.store, args.profile, task)).astype(np.float64))
        fits = [fit(r) for r in reps]
        for method in ("features", "kernel", "auto"):
            D, bound, info = pairwise_linear_cka(fits, args.tolerance, method=method, details=True)
            pairs = [(i, j) for i in range(len(reps)) for j in range(i + 1, len(reps))]
            err = np.array([abs(D[i, j] - (1 - cka(reps[i], reps[j]))) for i, j in pairs])
            b = np.array([bound[i, j] for i, j in pairs])
            size = info.get("basis", f"k mean {np.mean(info.get('ranks', [0])):.1f}")
            print(
                f"{task:9s} N={len(reps):3d} {method:8s} -> {info['method']:8s} ({size}): {len(pairs)} pairs, "
                f"max |error| {err.max():.2e}, max bound {b.max():.2e}, error > bound: {int(np.sum(err > b + 1e-6))}"
            )


def main() -> None:
    paperlib.use_host_devices()  # as benchmarks/similarity.py: one single-threaded JAX device per core
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("paper", "decay", "real"), default="paper")
    parser.add_argument("--n", type=int, default=2880)
    parser.add_argument("--subset", type=int, default=960, help="networks the exact path is timed on")
    parser.add_argument("--pairs", type=int, default=2000, help="random pairs checked against float64 cka")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--method", default="auto", choices=("auto", "features", "kernel"))
    parser.add_argument("--memory", action="store_true", help="also trace the approximation's peak memory")
    parser.add_argument("--profile", default="paper64", help="--data real: the population's profile")
    parser.add_argument("--store", default="data", help="--data real: the data directory")
    args = parser.parse_args()
    if args.data == "real":
        return real(args)

    from similarity import representations  # benchmarks/similarity.py

    from paperlib.similarity import cka, pairwise
    from paperlib.similarity.cka_bounded import pairwise_linear_cka
    from paperlib.similarity.matrix import _fit_all

    if args.data == "paper":
        reps = representations(args.n, seed=2)
    else:
        reps = decay(args.n)
    n, m = args.n, args.subset
    rows = {}
    pairwise(reps[:40], "cka", progress=False)  # compile the exact path's block programs

    start = time.perf_counter()
    fits = _fit_all(reps, False)
    rows["fit (SVD per network)"] = t_fit = time.perf_counter() - start
    start = time.perf_counter()
    D, bound, info = pairwise_linear_cka(fits, args.tolerance, method=args.method, details=True)
    rows[f"approx pairs, N={n}"] = t_approx = time.perf_counter() - start
    start = time.perf_counter()
    D_sub_exact = pairwise(reps[:m], "cka", progress=False)
    t_exact_sub = time.perf_counter() - start
    rows[f"exact pairwise, N={m} (incl. its SVDs)"] = t_exact_sub
    start = time.perf_counter()
    D_sub, _ = pairwise_linear_cka(fits[:m], args.tolerance, method=args.method)
    rows[f"approx pairs, N={m}"] = t_approx_sub = time.perf_counter() - start

    scale = n * (n - 1) / (m * (m - 1))
    t_exact = t_fit + (t_exact_sub - t_fit * m / n) * scale
    rows[f"exact pairwise, N={n} (scaled by pairs)"] = t_exact
    rows[f"approx total (SVDs + pairs), N={n}"] = t_fit + t_approx

    iu = np.triu_indices(m, 1)
    sub_err = np.abs(D[:m, :m] - D_sub_exact)[iu]
    sub_excess = (sub_err - bound[:m, :m][iu]).max()
    rng = np.random.default_rng(1)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(args.pairs)]
    err = np.array([abs(D[i, j] - (1 - cka(reps[i], reps[j]))) for i, j in pairs])
    bnd = np.array([bound[i, j] for i, j in pairs])
    size = f"basis {info['basis']}" if info["method"] == "kernel" else f"mean k {np.mean(info['ranks']):.1f} of 64"

    for name, seconds in rows.items():
        print(f"{name:<42s} {seconds:8.1f} s")
    print(f"method: {info['method']} ({size}); tolerance {args.tolerance:g}; max bound {bound.max():.2e}")
    print(
        f"ratio exact/approx at N={n}: {t_exact / t_approx:.1f}x pairs only, "
        f"{t_exact / (t_fit + t_approx):.1f}x with SVDs"
    )
    print(
        f"ratio exact/approx at N={m} (both measured): {(t_exact_sub - t_fit * m / n) / t_approx_sub:.1f}x pairs only"
    )
    print(
        f"subset: {len(sub_err)} pairs vs exact path: max |error| {sub_err.max():.2e}, "
        f"max(error - bound) {sub_excess:.1e}"
    )
    print(
        f"{len(pairs)} random pairs vs float64 cka: max |error| {err.max():.2e}, mean {err.mean():.1e}, "
        f"max bound {bnd.max():.2e}, error > bound: {int(np.sum(err > bnd + 1e-6))}"
    )
    if args.memory:
        tracemalloc.start()
        pairwise_linear_cka(fits, args.tolerance, method=args.method)
        print(
            f"approx peak traced memory at N={n}: {tracemalloc.get_traced_memory()[1] / 2**20:.0f} MiB "
            f"(beyond the inputs: fits {sum(f.U.nbytes for f in fits) / 2**20:.0f} MiB)"
        )
        tracemalloc.stop()
    print(json.dumps({k: round(v, 2) for k, v in rows.items()} | {"method": info["method"]}))


if __name__ == "__main__":
    main()
