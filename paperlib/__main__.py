"""Command line: ``python -m paperlib book --profile small``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import paperlib  # noqa: F401  (before jax: one host device per core)

PROFILES = ("tiny", "small", "paper")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paperlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    book = commands.add_parser("book", help="execute every notebook with papermill and build the book")
    book.add_argument("--profile", choices=PROFILES, default="small", help="population scale (default: small)")
    book.add_argument("--data", type=Path, default=Path("data"), help="data directory (default: data)")
    book.add_argument("--book", type=Path, default=None, help="book source folder (default: book/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from paperlib.book import BOOK_DIR, NotebookError, build_book

    if args.command == "book":
        try:
            index = build_book(args.profile, args.data, args.book or BOOK_DIR)
        except NotebookError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"book built: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
