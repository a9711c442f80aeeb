"""``geoquiz init PATH``: create an empty project."""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.project import Project


def register(sub) -> None:
    p = sub.add_parser("init", help="create an empty project folder")
    p.add_argument("path", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Project.open(args.path, create=True) as project:
        print(f"project ready at {project.root}")
    return 0
