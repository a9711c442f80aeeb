"""``geoquiz demo [--project PATH] [--rebuild]``: build the demo project (GeoScenes, studies, model)."""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.cli.common import progress_bar
from geoquiz.paths import demo_project_dir


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="build the demo project (GeoScenes datasets, example studies, demo model); resumes if interrupted",
    )
    p.add_argument(
        "-p", "--project", type=Path, default=None, help=f"project folder (default: {demo_project_dir()})"
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="check every stage again even if the project is marked ready (finished stages are kept)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geoquiz import demo

    root = (args.project or demo_project_dir()).expanduser().resolve()
    if args.rebuild:
        (root / demo.MARKER).unlink(missing_ok=True)
    if demo.demo_is_ready(root):
        print(f"the demo project is ready at {root}")
        return 0
    with progress_bar("Building the demo project") as reporter:
        demo.ensure_demo_project(root, reporter=reporter)
    marker = demo.read_marker(root) or {}
    for name, info in sorted(marker.get("datasets", {}).items()):
        unit = "locations" if info.get("four_view") else "images"
        print(
            f"dataset {name}: {info.get('n_per_class')} {unit} per class ({', '.join(info.get('classes', []))})"
        )
    for study, status in sorted(marker.get("studies", {}).items()):
        print(f"study {study}: {status}")
    if marker.get("model"):
        print(f"model {marker['model']}: ready")
    print(f"the demo project is ready at {root}")
    return 0
