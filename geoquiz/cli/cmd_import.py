"""``geoquiz import``: import a dataset into a project (folder-per-label, CSV manifest, 4-view).

Examples::

    geoquiz import -p proj --name photos --folder ~/photos                 # root/<label>/*.jpg
    geoquiz import -p proj --name osv --csv test.csv --split test          # OSV-5M columns
    geoquiz import -p proj --name us --csv locs.csv --four-view --label-column state \\
        --view-columns north=n,east=e,south=s,west=w --split-column fold
    geoquiz import -p proj --name fv --folder views/ --four-view --skip-bad   # <id>_north.jpg ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.errors import GeoQuizError
from geoquiz.types import VIEWS


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.7,0.15,0.15, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers (train,val,test), got {text!r}")
    return parts  # type: ignore[return-value]


def _view_columns(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        view, sep, col = part.partition("=")
        if not sep or view.strip() not in VIEWS or not col.strip():
            raise argparse.ArgumentTypeError(f"expected north=COL,east=COL,south=COL,west=COL, got {text!r}")
        out[view.strip()] = col.strip()
    if set(out) != set(VIEWS):
        raise argparse.ArgumentTypeError(f"name a column for each of {', '.join(VIEWS)}")
    return out


def _none_if_empty(value: str | None) -> str | None:
    return value or None


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import a dataset (folder-per-label, CSV manifest or 4-view locations)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project_arg(p)
    p.add_argument("--name", required=True, help="dataset name inside the project")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", type=Path, help="root/<label>/<images> (or root/<split>/<label>/<images>)")
    src.add_argument("--csv", type=Path, help="a CSV manifest (OSV-5M style by default)")
    p.add_argument("--four-view", action="store_true", help="4-view locations (north/east/south/west)")
    csvg = p.add_argument_group("CSV columns (use an empty string for 'no such column')")
    csvg.add_argument("--image-dir", type=Path, help="folder of the images (default: images/<csv stem>/)")
    csvg.add_argument("--id-column", default="id", type=_none_if_empty)
    csvg.add_argument("--path-column", default=None, type=_none_if_empty, help="column holding image paths")
    csvg.add_argument("--label-column", default="country")
    csvg.add_argument(
        "--split-column", default=None, type=_none_if_empty, help="take splits from this column"
    )
    csvg.add_argument("--lat-column", default="latitude", type=_none_if_empty)
    csvg.add_argument("--lon-column", default="longitude", type=_none_if_empty)
    csvg.add_argument("--view-columns", type=_view_columns, help="north=COL,east=COL,south=COL,west=COL")
    csvg.add_argument("--delimiter", default=",", help="field separator (use '\\t' for tab)")
    sp = p.add_argument_group("classes and splits")
    sp.add_argument("--classes", help="comma-separated class list (fixes the order; other labels are errors)")
    sp.add_argument("--classes-file", type=Path, help="a text file with one class per line")
    sp.add_argument("--split", choices=("train", "val", "test"), help="put every image in this split")
    sp.add_argument(
        "--split-fractions",
        type=_fractions,
        default=(0.7, 0.15, 0.15),
        help="train,val,test (default 0.7,0.15,0.15)",
    )
    sp.add_argument("--seed", type=int, default=0, help="seed of the stratified random split (recorded)")
    p.add_argument(
        "--skip-bad", action="store_true", help="skip bad rows/files and list them (default: strict)"
    )
    p.add_argument("--replace", action="store_true", help="replace a dataset of the same name")
    p.set_defaults(func=run)


def _classes(args: argparse.Namespace) -> list[str] | None:
    if args.classes and args.classes_file:
        raise GeoQuizError("give --classes or --classes-file, not both")
    if args.classes:
        return [c.strip() for c in args.classes.split(",") if c.strip()]
    if args.classes_file:
        try:
            lines = args.classes_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise GeoQuizError(
                f"cannot read the class list {args.classes_file}: {exc.strerror or exc}"
            ) from exc
        return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return None


def run(args: argparse.Namespace) -> int:
    from geoquiz.data.importer import CsvColumns, import_csv, import_folder, import_four_view

    if args.view_columns and not (args.csv and args.four_view):
        raise GeoQuizError("--view-columns only applies to a 4-view CSV import (--csv ... --four-view)")
    common = dict(
        classes=_classes(args),
        split=args.split,
        split_fractions=args.split_fractions,
        seed=args.seed,
        skip_bad=args.skip_bad,
        replace=args.replace,
    )
    with open_project(args) as project, progress_bar(f"importing {args.name}") as reporter:
        if args.folder is not None:
            result = import_folder(
                project, args.name, args.folder, four_view=args.four_view, reporter=reporter, **common
            )
        else:
            columns = CsvColumns(
                id=args.id_column,
                path=args.path_column,
                label=args.label_column,
                split=args.split_column,
                latitude=args.lat_column,
                longitude=args.lon_column,
            )
            delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
            kwargs = dict(image_dir=args.image_dir, delimiter=delimiter, reporter=reporter, **common)
            if args.four_view:
                result = import_four_view(
                    project, args.name, args.csv, columns=columns, view_columns=args.view_columns, **kwargs
                )
            else:
                result = import_csv(project, args.name, args.csv, columns=columns, **kwargs)
    print(result.summary())
    for line in result.ignored:
        print(f"  ignored: {line}", file=sys.stderr)
    return 0
