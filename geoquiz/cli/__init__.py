"""``geoquiz``: a thin command-line front over the library.

Each sub-command lives in its own module ``geoquiz/cli/cmd_<name>.py`` that defines
``register(subparsers)``; the parser it adds must ``set_defaults(func=run)`` where
``run(args) -> int``. Library errors (:class:`geoquiz.errors.GeoQuizError`) are printed as
``error: ...`` and exit with status 2 (so are SQLite's "read-only" and "locked" refusals); Ctrl-C
cancels and exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sqlite3
import sys

from geoquiz import __version__
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Cancelled


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geoquiz",
        description="GeoQuiz: which visual cues does a geolocation model rely on, and are they the cues people use?",
    )
    parser.add_argument("--version", action="version", version=f"geoquiz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except GeoQuizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:  # a write outside geoquiz.db.transaction's checks
        if "readonly" not in str(exc) and "locked" not in str(exc):
            raise
        print(f"error: the project database refused the change ({exc}); nothing was written", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
