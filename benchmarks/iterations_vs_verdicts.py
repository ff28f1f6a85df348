"""How the v2 verdicts of the small profile move with training length (issue: spend the budget where it
moves the verdicts most).

Trains the small profile's flip-flop and CDI populations with their iteration counts scaled by
``--scale`` and ``--cdi-scale`` (e.g. 2 and 0.25: flip-flop 1,500 → 3,000, CDI 2,000 → 500), under a
profile named ``small-ff<scale>-cdi<cdi-scale>`` in ``--data``, then measures the claims that read those
populations (C2 and C3 on
the two tasks, C4, C5, C7) and prints them with the training time. Nothing else in the profile changes.

    python benchmarks/iterations_vs_verdicts.py --scale 1 2 --cdi-scale 0.25 1 --data /tmp/iterations
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import jax

import paperlib
from paperlib.analysis import figures
from paperlib.paper import claims
from paperlib.training import profiles
from paperlib.training.store import population
from paperlib.training.sweep import train


def scaled(flipflop: float, cdi: float, seeds: int | None = None) -> profiles.Profile:
    small = profiles.get_profile("small")
    if seeds is not None:
        small = dataclasses.replace(small, seeds=small.seeds[:seeds])
    plans = []
    for task, plan in small.plans:
        factor = {"flipflop": flipflop, "cdi": cdi}.get(task, 1)
        stages = tuple(
            dataclasses.replace(
                s, config=dataclasses.replace(s.config, n_iterations=int(round(s.config.n_iterations * factor)))
            )
            for s in plan.stages
        )
        plans.append((task, dataclasses.replace(plan, stages=stages)))
    name = f"small-ff{flipflop:g}-cdi{cdi:g}" + (f"-s{seeds}" if seeds else "")
    return dataclasses.replace(small, name=name, plans=tuple(plans))


def measure(prof: profiles.Profile, data: str) -> dict:
    profiles.PROFILES[prof.name] = prof  # population() looks profiles up by name
    start = time.time()
    train(("flipflop", "cdi"), prof, data, progress=False)
    trained = time.time() - start
    pops = {t: population(data, prof.name, t) for t in ("flipflop", "cdi")}
    topo = figures.flipflop_topology(pops["flipflop"])
    results = [
        claims.c2(pops),
        claims.c3(pops),
        claims.c4(topo, pops["flipflop"]),
        claims.c5(topo, pops["flipflop"]),
        claims.c7(figures.cdi_lines(pops["cdi"]), pops["cdi"]),
    ]
    return {
        "profile": prof.name,
        "train_seconds": round(trained, 1),
        "analysis_seconds": round(time.time() - start - trained, 1),
        "learned": {t: float((p.column("validation_loss") < claims.LOSS_THRESHOLD).mean()) for t, p in pops.items()},
        "retained": {t: len(p) for t, p in pops.items()},
        "claims": [
            {k: v for k, v in c.as_dict().items() if k in ("id", "verdict", "values", "beside", "p_value")}
            for c in results
        ],
    }


def main() -> None:
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0, 2.0], help="flip-flop iteration factors")
    parser.add_argument(
        "--cdi-scale",
        type=float,
        nargs="+",
        default=[0.25, 1.0],
        help="CDI iteration factors (paired; 0.25 and 1 are the 500 and 2,000 recorded in profiles.py)",
    )
    parser.add_argument("--data", default="/tmp/iterations", help="data directory")
    parser.add_argument("--seeds", type=int, default=None, help="keep only the first N seeds (a quick check)")
    args = parser.parse_args()
    print(f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}; jax {jax.__version__}", flush=True)
    for ff, cdi in zip(args.scale, args.cdi_scale):
        print(json.dumps(measure(scaled(ff, cdi, args.seeds), args.data), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
