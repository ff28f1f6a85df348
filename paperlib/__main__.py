"""Command line of paperlib.

    python -m paperlib train --task all --profile small [--data data] [--dask local | --scheduler ADDR] [--repair]
                             [--max-members N]
    python -m paperlib claims --profile small [--json]
    python -m paperlib book --profile paper64 [--beside small] [--release FOLDER | --no-release] [--no-execute]
    python -m paperlib run fig3_cdi --profile small

Exit codes: 0 done; 1 the work failed (a damaged file, a failing notebook, a held lock, a full
disk, an unreachable scheduler); 2 bad arguments, reported before any work starts; 130
interrupted (Ctrl-C): what was finished is kept, and the same command resumes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paperlib
from paperlib.training.profiles import PROFILES, TASK_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paperlib", description="Train, analyse and publish.")
    commands = parser.add_subparsers(dest="command", required=True)
    profiles = tuple(PROFILES)

    train = commands.add_parser("train", help="train (or finish training) populations into the data directory")
    train.add_argument("--task", choices=TASK_NAMES + ("all",), default="all", help="task to train (default: all)")
    train.add_argument("--profile", choices=profiles, default="small", help="population scale (default: small)")
    train.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    where = train.add_mutually_exclusive_group()
    where.add_argument("--dask", choices=("local",), help="run the work units on a local Dask cluster")
    where.add_argument("--scheduler", metavar="ADDR", help="run the work units on the Dask scheduler at ADDR")
    train.add_argument("--workers", type=int, default=None, help="workers of --dask local (default: 1 per 2 cores)")
    train.add_argument(
        "--scheduler-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the --scheduler before giving up (default: 10)",
    )
    train.add_argument("--repair", action="store_true", help="retrain networks whose stored files are damaged")
    train.add_argument(
        "--max-members",
        type=int,
        default=None,
        metavar="N",
        help="the most networks one population holds (default: what fits the GPU's memory; no limit on CPUs)",
    )

    claims = commands.add_parser("claims", help="measure the paper's claims C1-C8 on a trained population")
    claims.add_argument("--profile", choices=profiles, default="small", help="population scale (default: small)")
    claims.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    claims.add_argument(
        "--task",
        action="append",
        choices=TASK_NAMES,
        default=None,
        help="a task whose population is read (repeatable; default: all three); claims of the others are not measured",
    )
    claims.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array of {id, claim, holds (true / false / null: not measurable), values, p_value, ...}",
    )

    book = commands.add_parser("book", help="train or reuse the populations, execute every notebook, build the book")
    book.add_argument("--profile", choices=profiles, default="small", help="population scale (default: small)")
    book.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    book.add_argument("--book", type=Path, default=None, help="book source folder (default: book/)")
    book.add_argument(
        "--beside",
        action="append",
        choices=profiles,
        default=[],
        metavar="PROFILE",
        help="a profile whose claims stand beside the book's on the claims page, trained if missing (repeatable)",
    )
    released = book.add_mutually_exclusive_group()
    released.add_argument(
        "--release",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="a release of --profile to unpack before training what it lacks (default: data/releases/PROFILE)",
    )
    released.add_argument(
        "--no-release",
        action="store_true",
        help="unpack no release: train --profile from scratch (what is already in --data is reused)",
    )
    book.add_argument(
        "--no-execute",
        action="store_true",
        help="only rebuild the site from the notebooks already executed (by book or run)",
    )
    book.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks executed side by side (default: one per CPU core; one where JAX has a GPU)",
    )

    release = commands.add_parser(
        "release",
        help="pack a trained population into a release folder for git, or unpack one into the data directory",
    )
    release.add_argument("action", choices=("pack", "unpack"))
    release.add_argument("folder", type=Path, help="the release folder, e.g. data/releases/paper64")
    release.add_argument("--profile", choices=profiles, default="paper64", help="population to pack (default: paper64)")
    release.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    release.add_argument(
        "--no-analyses", action="store_true", help="pack the networks only, not the analyses cached for them"
    )

    verify = commands.add_parser(
        "verify",
        help="retrain members of a release from its manifest alone; check weights and fixed points match",
    )
    verify.add_argument("folder", type=Path, help="the release folder, e.g. data/releases/paper64")
    verify.add_argument(
        "--network", action="append", default=[], metavar="TASK/NETWORK", help="a member to retrain (repeatable)"
    )
    verify.add_argument("--sample", type=int, default=0, metavar="K", help="also retrain K members drawn at random")
    verify.add_argument("--seed", type=int, default=0, help="seed of the random draw (default: 0)")
    verify.add_argument("--no-fixed-points", action="store_true", help="compare the weights only")
    verify.add_argument(
        "--analyses",
        action="store_true",
        help="also recompute every analysis shipped with the release from its networks and compare (long)",
    )
    verify.add_argument(
        "--task",
        action="append",
        choices=TASK_NAMES,
        default=None,
        help="with --analyses: a task whose analyses are recomputed (repeatable; default: every task)",
    )
    verify.add_argument("--json", action="store_true", help="print the checks as JSON")

    from paperlib.publishing.book import NOTEBOOKS

    run = commands.add_parser(
        "run",
        help="execute one notebook into the book's pages, training or reusing the populations it reads",
        description="Execute one notebook with papermill into book/notebooks/, training what it needs first; "
        "then `book --no-execute` rebuilds the site.",
        epilog=f"notebooks: {', '.join(NOTEBOOKS)}",
    )
    run.add_argument("notebook", choices=NOTEBOOKS, metavar="NOTEBOOK", help="which notebook (listed below)")
    run.add_argument("--profile", choices=profiles, default="small", help="population scale (default: small)")
    run.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    run.add_argument("--book", type=Path, default=None, help="book source folder (default: book/)")
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
    if hasattr(args, "data"):
        _check_data_dir(parser, args.data)
    for command, option in (("train", "workers"), ("train", "max_members"), ("book", "jobs")):
        value = getattr(args, option) if args.command == command else None
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be a positive integer, got {value}")
    if args.command == "train" and not args.scheduler_timeout > 0:
        parser.error(f"--scheduler-timeout must be a positive number of seconds, got {args.scheduler_timeout}")
    if args.command == "book" and args.profile in args.beside:
        parser.error(f"--beside {args.profile} is the book's own --profile")
    if args.command == "verify" and (args.sample < 0 or (args.sample == 0 and not args.network and not args.analyses)):
        parser.error("verify needs --sample K (K ≥ 1), at least one --network, or --analyses")
    if args.command == "verify" and args.task and not args.analyses:
        parser.error("verify --task chooses the analyses to recompute: it needs --analyses")
    paperlib.use_host_devices()  # one single-threaded JAX device per core
    from paperlib.publishing.book import NotebookError
    from paperlib.training.store import StoreError

    command = {"train": _train, "claims": _claims, "book": _book, "run": _run, "release": _release, "verify": _verify}[
        args.command
    ]
    with _interrupts_remembered() as interrupted:
        try:
            code = command(args)
        except KeyboardInterrupt:
            return _fail(INTERRUPTED, 130)
        except (StoreError, NotebookError, SchedulerError) as err:
            return _fail(str(err))
        except OSError as err:  # a full disk, a vanished directory: nothing half-written is left under a real name
            where = f" ({err.filename})" if err.filename else ""
            return _fail(f"{err.strerror or err}{where}; nothing partly written was kept, rerun to resume")
        return _fail(INTERRUPTED, 130) if interrupted() else code


INTERRUPTED = "interrupted; finished work is kept, rerun the same command to resume"


@contextlib.contextmanager
def _interrupts_remembered() -> Iterator[Callable[[], bool]]:
    """Ctrl-C raises ``KeyboardInterrupt`` as usual, and is also remembered: yields "was it pressed?".

    A ``KeyboardInterrupt`` is raised wherever the main thread is, and where that is a finaliser or
    a library's bare ``except`` it is swallowed and the work goes on; the command still ends as
    interrupted. A SIGINT already ignored (a command started with ``&`` from a script) stays
    ignored, and the caller's handler is put back on the way out.
    """
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    mine = threading.current_thread() is threading.main_thread()
    mine = mine and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if mine:
        signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(received)
    finally:
        if mine:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


class SchedulerError(RuntimeError):
    """The Dask scheduler named by ``--scheduler`` cannot be reached."""


def _client(args):
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        try:
            return Client(args.scheduler, timeout=args.scheduler_timeout)
        except (OSError, TimeoutError) as err:
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {args.scheduler} within "
                f"{args.scheduler_timeout:g} s ({type(err).__name__}); is it running?"
            ) from None
    workers = args.workers or max(1, (os.cpu_count() or 2) // 2)
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True))


def _claims(args) -> int:
    import json

    from paperlib.paper.claims import measure_claims
    from paperlib.training.store import StoreError

    try:
        results = measure_claims(args.data, args.profile, tuple(args.task or TASK_NAMES))
    except StoreError as err:
        return _fail(f"{err} (train it first: python -m paperlib train --profile {args.profile})")
    if args.json:
        print(json.dumps([c.as_dict() for c in results], indent=1, ensure_ascii=False))
    else:
        for c in results:
            print(f"{c.id} {c.verdict:<15} {c.claim}")
    return 0


def _train(args) -> int:
    from paperlib.training.sweep import train

    tasks = TASK_NAMES if args.task == "all" else (args.task,)
    client = _client(args) if args.dask or args.scheduler else None
    try:
        summary = train(
            tasks, args.profile, str(args.data), client=client, repair=args.repair, max_members=args.max_members
        )
    finally:
        if client is not None:
            client.close()
    for task, s in summary.items():
        print(f"{task}: {s.stored} already stored, {s.trained} trained now ({s.diverged} diverged)")
    return 0


def _verify(args) -> int:
    from paperlib.publishing.verify import analyses_report, as_json, report, verify_analyses, verify_release

    checks = (
        verify_release(
            args.folder, args.network, args.sample, args.seed, fixed_points=not args.no_fixed_points, progress=True
        )
        if args.sample or args.network
        else []
    )
    shipped = verify_analyses(args.folder, args.task) if args.analyses else []
    if args.analyses and not shipped:
        print(f"{args.folder} ships no analyses to verify", file=sys.stderr)
        return 1
    if args.json:
        print(as_json(checks, shipped))
    else:
        print("\n".join(([report(checks)] if checks else []) + ([analyses_report(shipped)] if shipped else [])))
    return 0 if all(c.agrees for c in checks) and all(a.identical for a in shipped) else 1


def _release(args) -> int:
    from paperlib.analysis.cache import recording
    from paperlib.analysis.shipped import pack_analyses, unpack_analyses
    from paperlib.paper.claims import book_analyses
    from paperlib.training.release import pack_release, read_release, unpack_release

    if args.action == "pack":
        meta = pack_release(args.data, args.profile, args.folder)
        counts = ", ".join(f"{t} {c['networks']} ({c['diverged']} diverged)" for t, c in meta["tasks"].items())
        if not args.no_analyses:
            tasks = [t for t, c in meta["tasks"].items() if c["networks"]]
            with recording() as read:  # every analysis the book reads, computed where missing
                book_analyses(args.data, args.profile, tasks)
            shipped = pack_analyses(args.data, args.profile, args.folder, read)
            counts += "; analyses: " + ", ".join(f"{t} {n}" for t, n in shipped.items())
        meta = read_release(args.folder)
        size = sum((args.folder / name).stat().st_size for name in meta["files"])
        print(f"released {counts} into {args.folder}: {len(meta['files'])} files, {size / 2**20:.1f} MiB")
    else:
        written = unpack_release(args.folder, args.data)
        analyses = unpack_analyses(args.folder, args.data)
        print(", ".join(f"{t}: {n} networks, {analyses[t]} analyses written" for t, n in written.items()))
    return 0


def release_to_unpack(profile: str, release: Path | None, no_release: bool) -> Path | None:
    """The release ``book`` unpacks first: the one named, else ``data/releases/PROFILE`` where it exists,
    and none with ``--no-release``."""
    if no_release:
        return None
    if release is not None:
        return release
    default = Path("data") / "releases" / profile
    return default if default.is_dir() else None


def _book(args) -> int:
    from paperlib.analysis.shipped import unpack_analyses
    from paperlib.publishing.book import BOOK_DIR, book_folder, build_book, build_site
    from paperlib.training.release import unpack_release
    from paperlib.training.sweep import train

    book_folder(args.book or BOOK_DIR)  # a missing book folder is named before any training
    if args.no_execute:
        index = build_site(args.book or BOOK_DIR)
    else:
        release = release_to_unpack(args.profile, args.release, args.no_release)
        if release is not None:
            written = unpack_release(release, args.data)
            analyses = unpack_analyses(release, args.data)
            print(
                f"{release}: "
                + ", ".join(
                    f"{task} {n} networks and {analyses[task]} analyses unpacked" for task, n in written.items()
                )
            )
        for profile in (args.profile, *args.beside):
            train(TASK_NAMES, profile, str(args.data))  # reuses every network already stored
        index = build_book(args.profile, args.data, args.book or BOOK_DIR, jobs=args.jobs, beside=tuple(args.beside))
    print(f"book built: {index}")
    return 0


def _run(args) -> int:
    from paperlib.publishing.book import BOOK_DIR, NEEDS, book_folder, run_notebook
    from paperlib.training.sweep import train

    book_folder(args.book or BOOK_DIR)
    if NEEDS[args.notebook]:
        train(NEEDS[args.notebook], args.profile, str(args.data))  # reuses every network already stored
    path = run_notebook(args.notebook, args.profile, args.data, args.book or BOOK_DIR)
    print(f"executed: {path}\nrebuild the site with: python -m paperlib book --no-execute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
