"""``geoquiz export [-p PROJECT] [--out DIR] [--what NAME ...]``: export the study data.

Writes tidy CSVs (trials, guesses, cue_boxes, model_predictions, elements, faithfulness, agreement,
planted_cues), ``codebook.csv``, ``coco_boxes.json`` and ``manifest.json`` (see docs/codebook.md).
Safe while a quiz session is running on the same project: the export only reads, from one snapshot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.errors import GeoQuizError


def register(sub) -> None:
    from geoquiz.study.export_codebook import EXPORTS  # no pandas at parser-build time

    p = sub.add_parser(
        "export",
        help="export study data as tidy CSVs, a codebook and COCO JSON",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    add_project_arg(p)
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default: PROJECT/exports/study-<time>)"
    )
    p.add_argument(
        "--what",
        nargs="+",
        choices=EXPORTS,
        default=None,
        metavar="NAME",
        help=f"what to export (default: everything): {', '.join(EXPORTS)}",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geoquiz.study.export import export_all

    with open_project(args) as project, progress_bar("export") as reporter:
        if project.read_only and args.out is None:
            raise GeoQuizError(
                f"the project is open read-only ({project.read_only}): choose a writable output folder with --out"
            )
        files = export_all(project, args.out, what=args.what, reporter=reporter)
    print(f"exported {len(files)} files to {files[0].parent}")
    for path in files:
        print(f"  {path.name}")
    return 0
