"""Reference DSA values (``dsa-metric`` 2.0.2, Ostrow et al. 2023) on known linear systems.

Writes ``tests/fixtures/dsa_reference_values.json``, which ``tests/test_dsa_reference.py`` reads.

Runs in the reference's own environment: Python with ``dsa-metric==2.0.2``, its ``torch`` and ``numpy``
(``python -m venv ENV && ENV/bin/pip install dsa-metric==2.0.2``); it imports nothing else. Each case is
a 6-dimensional noisy linear system (three rotations at radius 0.98, ``x_{t+1} = M x_t + e_t``), a
rotated copy of it (another noise draw seen through a random orthogonal change of basis) and a system
rotating at other frequencies; the reference fits each (``DSA.DMD``) and compares the base system with
the other two (``DSA.SimilarityTransformDist.fit_score``), as its users do, in two kinds of runs:

- ``seeds``: as it runs here, ``torch.manual_seed(k)`` for k < ``--runs``;
- ``signs``: the same, each fitted operator A first replaced by D A D for a random diagonal sign matrix D
  (numpy seed (1000, k)): the reference starts its optimiser at I in the basis of its SVD, whose
  signs are arbitrary (another LAPACK build returns others), and at high rank that moves its result
  more than its seed does.

``--corrected-python PY`` also records the values of the project's module (``--corrected-module``,
default ``paperlib.similarity.dsa``), run in that Python with ``DSAOptions`` built from each case's options.

    ENV/bin/python benchmarks/dsa_reference.py [--out FILE] [--runs 10] [--cases a,b]
        [--corrected-python PY] [--corrected-module paperlib.similarity.dsa] [--corrected-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

USER = {"freqs": [0.1, 0.3, 0.7], "other": [0.15, 0.45, 1.0]}
FAST = {"freqs": [0.2, 0.5, 1.1], "other": [0.3, 0.8, 1.5]}
SLOW = {"freqs": [0.1, 0.2, 0.3], "other": [0.4, 0.5, 0.6]}
SYSTEMS = {
    "radius": 0.98,
    "steps": 4000,
    "trials": 1,
    "noise": 1.0,
    "observation_noise": 0.0,
    "seeds": [0, 1, 3],
    "rotation_seed": 2,
}
FIT = {"n_delays": 4, "delay_interval": 1, "rank": 16, "rank_explained_variance": None, "ridge": 1e-8}
COMPARE = {"iters": 1500, "lr": 5e-3, "score": "angular"}

# name: (systems, options), each a change to the defaults above
CASES = {
    "user_d4_r16": (USER, {}),
    "user_d1_r6": (USER, {"n_delays": 1, "rank": 6}),
    "user_d2_r8": (USER, {"n_delays": 2, "rank": 8}),
    "user_d4_ev95": (USER, {"rank": None, "rank_explained_variance": 0.95}),
    "user_d2_r8_euclidean": (USER, {"n_delays": 2, "rank": 8, "score": "euclidean"}),
    "slow_d4_r16": (SLOW, {}),
    "fast_observed_d4_r16": ({**FAST, "observation_noise": 2.5}, {}),
    "fast_observed_d3_i2_r10": ({**FAST, "observation_noise": 2.5}, {"n_delays": 3, "delay_interval": 2, "rank": 10}),
    "fast_trials_d2_r6": ({**FAST, "trials": 20, "steps": 200}, {"n_delays": 2, "rank": 6}),
}


# --- the systems (the same code is in test_dsa_reference.py) ---
def rotations(freqs, radius):
    """Block-diagonal rotations by ``freqs`` (rad/step), scaled by ``radius``."""
    M = np.zeros((2 * len(freqs), 2 * len(freqs)))
    for k, w in enumerate(freqs):
        M[2 * k : 2 * k + 2, 2 * k : 2 * k + 2] = radius * np.array([[np.cos(w), -np.sin(w)], [np.sin(w), np.cos(w)]])
    return M


def simulate(freqs, radius, steps, trials, noise, observation_noise, seed):
    """(trials, steps, units) of x_{t+1} = M x_t + noise·e_t from x_0 = 0, plus observation_noise·n_t."""
    M = rotations(freqs, radius)
    rng = np.random.default_rng(seed)
    e = noise * rng.normal(size=(trials, steps, len(M)))
    x, out = np.zeros((trials, len(M))), np.empty((trials, steps, len(M)))
    for t in range(steps):
        x = x @ M.T + e[:, t]
        out[:, t] = x
    return out + observation_noise * rng.normal(size=out.shape)


def orthogonal(n, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return Q * np.sign(np.diag(R))


def build(spec):
    """(base, rotated copy, other frequencies), each (trials, steps, 6), or (steps, 6) for one trial."""
    s = spec
    common = (s["radius"], s["steps"], s["trials"], s["noise"], s["observation_noise"])
    base = simulate(s["freqs"], *common, s["seeds"][0])
    copy = simulate(s["freqs"], *common, s["seeds"][1]) @ orthogonal(len(base[0, 0]), s["rotation_seed"]).T
    other = simulate(s["other"], *common, s["seeds"][2])
    return [x[0] if s["trials"] == 1 else x for x in (base, copy, other)]


def checksum(systems):
    return [float(np.sum(x)) for x in systems] + [float(np.sum(x**2)) for x in systems]


def cases(names=None):
    out = {}
    for name, (systems, options) in CASES.items():
        if names and name not in names:
            continue
        out[name] = {"systems": {**SYSTEMS, **systems}, "options": {**FIT, **COMPARE, **options}}
    return out


# --- the reference ---
def reference(case, runs):
    import torch
    from DSA import DMD, SimilarityTransformDist

    torch.set_num_threads(1)
    o = case["options"]
    systems = build(case["systems"])
    rank = {"rank": o["rank"]} if o["rank"] is not None else {"rank_explained_variance": o["rank_explained_variance"]}
    operators, ranks = [], []
    for x in systems:
        dmd = DMD(x, n_delays=o["n_delays"], delay_interval=o["delay_interval"], lamb=o["ridge"], **rank)
        dmd.fit()
        operators.append(dmd.A_v.detach().clone())
        ranks.append(int(dmd.rank))
    if len(set(ranks)) != 1:
        raise ValueError(f"the reference chose ranks {ranks}: it would compare by eigenvalues (Wasserstein)")
    values = {"seeds": [], "signs": []}
    for kind in values:
        for k in range(runs):
            ops = operators
            if kind == "signs":
                rng = np.random.default_rng([1000, k])
                signs = [torch.tensor(rng.choice([-1.0, 1.0], size=ranks[0]), dtype=torch.float32) for _ in ops]
                ops = [A * d[:, None] * d[None, :] for A, d in zip(ops, signs)]
            torch.manual_seed(k)
            compare = SimilarityTransformDist(iters=o["iters"], lr=o["lr"], score_method=o["score"])
            values[kind].append([float(compare.fit_score(ops[0].clone(), ops[j].clone())) for j in (1, 2)])
    out = {"ranks": ranks, "checksum": checksum(systems)}
    for j, pair in enumerate(("rotated copy", "other frequencies")):
        seeds = np.array([v[j] for v in values["seeds"]])
        signs = np.array([v[j] for v in values["signs"]])
        pooled = np.concatenate([seeds, signs])
        summary = lambda v: {
            "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)),
            "min": float(v.min()),
            "max": float(v.max()),
        }
        out[pair] = {
            "seeds": seeds.tolist(),
            "signs": signs.tolist(),
            "seeds summary": summary(seeds),
            "signs summary": summary(signs),
            "mean": float(pooled.mean()),
            "spread": float(np.max(np.abs(pooled - pooled.mean()))),
        }
    return out


CORRECTED = r"""
import importlib, json, sys, time
import numpy as np
dsa = importlib.import_module(sys.argv[1])
cases = json.loads(sys.stdin.read())
out = {}
for name, case in cases.items():
    systems = [np.asarray(x) for x in case.pop("arrays")]
    o = case["options"]
    rank = {"rank": o["rank"]}
    if o["rank"] is None:
        rank["rank_explained_variance"] = o["rank_explained_variance"]
    options = dsa.DSAOptions(n_delays=o["n_delays"], delay_interval=o["delay_interval"], ridge=o["ridge"],
                             iters=o["iters"], lr=o["lr"], score=o["score"], **rank)
    start = time.perf_counter()
    D = dsa.pairwise(systems, options, progress=False)
    out[name] = {"rotated copy": float(D[0, 1]), "other frequencies": float(D[0, 2]),
                 "rank": int(dsa.fit_all(systems, options, progress=False).shape[-1]),
                 "seconds": time.perf_counter() - start, "options": repr(options)}
print(json.dumps(out))
"""


def corrected(python, module, chosen):
    payload = {n: {**c, "arrays": [x.tolist() for x in build(c["systems"])]} for n, c in chosen.items()}
    done = subprocess.run(
        [python, "-c", CORRECTED, module],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the corrected module failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default=str(Path(__file__).parent.parent / "tests" / "fixtures" / "dsa_reference_values.json")
    )
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind (seeds, signs)")
    parser.add_argument("--cases", default="", help="comma-separated names (default: all); others are kept")
    parser.add_argument("--corrected-python", default=None)
    parser.add_argument("--corrected-module", default="paperlib.similarity.dsa")
    parser.add_argument("--corrected-only", action="store_true", help="keep the recorded reference values")
    args = parser.parse_args()
    import DSA
    import torch

    names = [n for n in args.cases.split(",") if n]
    chosen = cases(names)
    out_path = Path(args.out)
    record = json.loads(out_path.read_text()) if out_path.exists() else {}
    about = {
        "reference": f"dsa-metric {version('dsa-metric')} (DSA.__version__ {DSA.__version__}), "
        f"torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}",
        "runs": args.runs,
        "made by": "benchmarks/dsa_reference.py",
        "mean, spread": "over all runs (seeds and signs): their mean, and the largest |run − mean|",
    }
    record.setdefault("cases", {})
    fixed = corrected(args.corrected_python, args.corrected_module, chosen) if args.corrected_python else {}
    if args.corrected_only:
        for name, values in fixed.items():
            record["cases"][name]["corrected"] = values
            print(f"{name:<26} corrected: {values['rotated copy']:.4f}, {values['other frequencies']:.4f}")
        out_path.write_text(json.dumps(record, indent=1) + "\n")
        return
    record["about"] = about
    for name, case in chosen.items():
        start = time.perf_counter()
        case["reference"] = reference(case, args.runs)
        case["reference"]["seconds"] = time.perf_counter() - start
        if name in fixed:
            case["corrected"] = fixed[name]
        elif "corrected" in record["cases"].get(name, {}):
            case["corrected"] = record["cases"][name]["corrected"]
        record["cases"][name] = case
        r = case["reference"]
        print(
            f"{name:<26} reference: copy {r['rotated copy']['mean']:.4f} ± {r['rotated copy']['spread']:.4f}, "
            f"other {r['other frequencies']['mean']:.4f} ± {r['other frequencies']['spread']:.4f}"
            + (
                f"; corrected: {fixed[name]['rotated copy']:.4f}, {fixed[name]['other frequencies']:.4f}"
                if name in fixed
                else ""
            )
            + f" ({r['seconds']:.0f} s)",
            flush=True,
        )
        out_path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
