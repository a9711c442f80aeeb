"""``geoquiz geoscenes OUT_DIR --n-per-class N [--four-view] [--seed S] [--cues realistic|single] [--sheet PNG]``:
write GeoScenes.

Writes ``OUT_DIR/<Country>/<key>.png``, ``OUT_DIR/manifest.csv`` (id, path, country, split[, location,
view]) and ``OUT_DIR/cues.json`` (the planted cue boxes). The folder can be imported with
``geoquiz import`` (folder or CSV mode).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.cli.common import progress_bar


def register(sub) -> None:
    from geoquiz.data.geoscenes.scene import ALL_COUNTRIES, COUNTRIES

    p = sub.add_parser("geoscenes", help="generate synthetic GeoScenes street images with planted cue boxes")
    p.add_argument("out_dir", type=Path, help="output folder (created if missing)")
    p.add_argument("--n-per-class", type=int, required=True, help="images (4-view: locations) per country")
    p.add_argument("--four-view", action="store_true", help="north/east/south/west views of each location")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same pixels); default 0")
    p.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    p.add_argument(
        "--countries",
        default=",".join(COUNTRIES),
        help=f"comma-separated classes from {', '.join(ALL_COUNTRIES)} (default {','.join(COUNTRIES)})",
    )
    p.add_argument(
        "--cues",
        choices=("realistic", "single"),
        default="realistic",
        help="realistic: every cue the country plants (default); single: one decisive diagnostic cue per scene",
    )
    p.add_argument(
        "--sheet",
        type=Path,
        default=None,
        metavar="PNG",
        help="also write a contact sheet (first 6 single-view images per country, cue boxes outlined)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geoquiz.data.geoscenes import generate_geoscenes
    from geoquiz.errors import GeoQuizError

    countries = tuple(c.strip() for c in args.countries.split(",") if c.strip())
    try:
        with progress_bar("Rendering GeoScenes") as reporter:
            items = generate_geoscenes(
                args.out_dir,
                n_per_class=args.n_per_class,
                four_view=args.four_view,
                seed=args.seed,
                size=args.size,
                countries=countries,
                cues=args.cues,
                reporter=reporter,
            )
    except ValueError as exc:
        raise GeoQuizError(f"geoscenes: {exc}") from exc
    n_cues = sum(len(it.cues) for it in items)
    out = args.out_dir.expanduser().resolve()
    print(f"wrote {len(items)} images ({n_cues} planted cue boxes) to {out}")
    print(f"manifest: {out / 'manifest.csv'}; cues: {out / 'cues.json'}")
    if args.sheet is not None:
        from geoquiz.data.geoscenes.sheet import contact_sheet, save_contact_sheet

        sheet = contact_sheet(
            countries, min(6, args.n_per_class), seed=args.seed, size=args.size, cues=args.cues
        )
        print(f"contact sheet: {save_contact_sheet(args.sheet, sheet)}")
    return 0
