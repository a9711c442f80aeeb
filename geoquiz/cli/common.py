"""Helpers shared by the CLI sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geoquiz.paths import demo_project_dir
from geoquiz.progress import Reporter
from geoquiz.project import Project


def add_project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--project",
        type=Path,
        default=None,
        help=f"project folder (default: the demo project, {demo_project_dir()})",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="open the project read-only (automatic when its folder or database cannot be written)",
    )


def open_project(args: argparse.Namespace, *, create: bool = False) -> Project:
    return Project.open(
        args.project or demo_project_dir(), create=create, read_only=getattr(args, "read_only", None)
    )


@contextmanager
def progress_bar(description: str) -> Iterator[Reporter]:
    """A :class:`Reporter` drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=description, unit="it", file=sys.stderr, dynamic_ncols=True, leave=True)

    def callback(done: int, total: int, message: str) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield Reporter(callback)
    finally:
        bar.close()
