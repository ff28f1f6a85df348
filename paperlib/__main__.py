"""Command line of paperlib.

    python -m paperlib train --task all --profile small [--data data] [--dask local | --scheduler ADDR] [--repair]
    python -m paperlib claims --profile small [--json]
    python -m paperlib book --profile small

Exit codes: 0 done; 1 the work failed (a damaged file, a failing notebook, a held lock);
2 bad arguments, reported before any work starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import paperlib

PROFILES = ("tiny", "small", "paper")
TASKS = ("flipflop", "sine", "cdi")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paperlib", description="Train, analyse and publish.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train (or finish training) populations into the data directory")
    train.add_argument("--task", choices=TASKS + ("all",), default="all", help="task to train (default: all)")
    train.add_argument("--profile", choices=PROFILES, default="small", help="population scale (default: small)")
    train.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    where = train.add_mutually_exclusive_group()
    where.add_argument("--dask", choices=("local",), help="run the work units on a local Dask cluster")
    where.add_argument("--scheduler", metavar="ADDR", help="run the work units on the Dask scheduler at ADDR")
    train.add_argument("--workers", type=int, default=None, help="workers of --dask local (default: 1 per 2 cores)")
    train.add_argument("--repair", action="store_true", help="retrain networks whose stored files are damaged")

    claims = commands.add_parser("claims", help="measure the paper's claims C1-C8 on a trained population")
    claims.add_argument("--profile", choices=PROFILES, default="small", help="population scale (default: small)")
    claims.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    claims.add_argument("--json", action="store_true",
                        help="print a JSON array of {id, claim, holds (true / false / null: not measurable), values, p_value, ...}")

    book = commands.add_parser("book", help="train or reuse the populations, execute every notebook, build the book")
    book.add_argument("--profile", choices=PROFILES, default="small", help="population scale (default: small)")
    book.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    book.add_argument("--book", type=Path, default=None, help="book source folder (default: book/)")
    return parser


def _check_data_dir(parser: argparse.ArgumentParser, data: Path) -> None:
    if data.exists() and not data.is_dir():
        parser.error(f"--data {data} is a file, not a directory")
    existing = next((p for p in [data, *data.parents] if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK):
        parser.error(f"--data {data}: {existing} is not writable")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_data_dir(parser, args.data)
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    if args.command == "train":
        if args.workers is not None and args.workers < 1:
            parser.error(f"--workers must be a positive integer, got {args.workers}")
        return _train(args)
    if args.command == "claims":
        return _claims(args)
    return _book(args)


def _claims(args) -> int:
    import json

    from paperlib.claims import evaluate
    from paperlib.store import StoreError

    try:
        results = evaluate(args.data, args.profile)
    except StoreError as err:
        print(f"error: {err} (train it first: python -m paperlib train --profile {args.profile})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([c.as_dict() for c in results], indent=1, ensure_ascii=False))
    else:
        for c in results:
            print(f"{c.id} {c.verdict:<15} {c.claim}")
    return 0


def _train(args) -> int:
    from paperlib.store import StoreError
    from paperlib.profiles import TASK_NAMES
    from paperlib.sweep import train

    tasks = TASK_NAMES if args.task == "all" else (args.task,)
    client = None
    if args.dask or args.scheduler:
        from dask.distributed import Client, LocalCluster

        if args.scheduler:
            client = Client(args.scheduler)
        else:
            workers = args.workers or max(1, (os.cpu_count() or 2) // 2)
            client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True))
    try:
        summary = train(tasks, args.profile, str(args.data), client=client, repair=args.repair)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    for task, counts in summary.items():
        print(f"{task}: {counts['stored']} already stored, {counts['trained']} trained now "
              f"({counts['diverged']} diverged)")
    return 0


def _book(args) -> int:
    from paperlib.book import BOOK_DIR, NotebookError, build_book
    from paperlib.store import StoreError
    from paperlib.profiles import TASK_NAMES
    from paperlib.sweep import train

    try:
        train(TASK_NAMES, args.profile, str(args.data))  # reuses every network already stored
        index = build_book(args.profile, args.data, args.book or BOOK_DIR)
    except (NotebookError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"book built: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
