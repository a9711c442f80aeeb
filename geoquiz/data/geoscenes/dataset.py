"""Writing GeoScenes datasets: PNG files + manifest, and importing them into a project.

Layout written by :func:`generate_geoscenes` (compatible with ``geoquiz import`` folder and CSV
modes)::

    OUT_DIR/<Country>/<key>.png     single view: key = "<country>_<nnnn>"
                                    4-view: key = "<country>_L<nnnn>_<view>"
    OUT_DIR/manifest.csv            id, path, country, split[, location, view]
    OUT_DIR/cues.json               {key: [{tag, detail, view, box: [x0, y0, x1, y1]}, ...]}

Each image's seed is derived from (dataset seed, country name, index), so adding a country or
images never changes the existing ones. Splits are stratified by country (locations for 4-view),
70/15/15, with the dataset seed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace as _with
from pathlib import Path
from typing import Any

import numpy as np

from geoquiz.csvio import atomic_write
from geoquiz.data.geoscenes.scene import ALL_COUNTRIES, COUNTRIES, render_scene
from geoquiz.data.geoscenes.select import diagnostic_cues_of
from geoquiz.data.imageio import write_image
from geoquiz.data.splits import DEFAULT_FRACTIONS, stratified_split
from geoquiz.errors import DatasetImportError
from geoquiz.progress import Reporter, step
from geoquiz.types import VIEWS, ImageItem

MANIFEST = "manifest.csv"
CUES_JSON = "cues.json"


def scene_seed(seed: int, country: str, index: int) -> int:
    """The render seed of image (or location) ``index`` of ``country`` in a dataset with ``seed``."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(country.encode("utf-8")), int(index)])
    return int(ss.generate_state(1, np.uint32)[0])


@dataclass(frozen=True)
class SceneSpec:
    """What re-renders one stored GeoScenes image: ``render_instances(country, seed, size, view,
    diagnostic_cues=diagnostic_cues)`` (:func:`geoquiz.data.geoscenes.scene.render_instances`)."""

    country: str
    seed: int
    size: int
    view: str | None
    diagnostic_cues: int | None


def scene_spec(params: dict, key: str, country: str, view: str | None = None) -> SceneSpec:
    """The :class:`SceneSpec` of the image ``key`` (label ``country``, ``view`` for 4-view) of a dataset
    whose stored parameters are ``params`` (``Dataset.params``).

    Raises :class:`ValueError` naming what is wrong when the dataset is not a GeoScenes one or the key
    is not one :func:`generate_geoscenes` writes."""
    if params.get("generator") != "geoscenes":
        raise ValueError("not a GeoScenes dataset (its parameters name no GeoScenes generator)")
    if country not in ALL_COUNTRIES:
        raise ValueError(f"image {key!r}: label {country!r} is not a GeoScenes country")
    four = bool(params.get("four_view"))
    unit = key.rsplit("_", 1)[0] if four else key
    prefix = f"{country.lower()}_{'L' if four else ''}"
    digits = unit[len(prefix) :]
    if not unit.startswith(prefix) or not digits.isdigit() or (four and view not in VIEWS):
        raise ValueError(f"image {key!r} is not named like a GeoScenes {'4-view ' if four else ''}image")
    return SceneSpec(
        country,
        scene_seed(int(params.get("seed", 0)), country, int(digits)),
        int(params.get("size", 224)),
        view if four else None,
        diagnostic_cues_of(str(params.get("cues", "realistic"))),
    )


def _check(n_per_class: int, countries: Sequence[str], size: int) -> list[str]:
    if int(n_per_class) < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    unknown = [c for c in countries if c not in ALL_COUNTRIES]
    if unknown or not countries:
        raise ValueError(f"unknown GeoScenes countries {unknown}; choose from {', '.join(ALL_COUNTRIES)}")
    if len(set(countries)) != len(countries):
        raise ValueError(f"countries repeat: {list(countries)}")
    if size < 32:
        raise ValueError(f"size must be at least 32, got {size}")
    return list(countries)


def generate_geoscenes(
    out_dir: str | Path,
    *,
    n_per_class: int,
    four_view: bool = False,
    seed: int = 0,
    size: int = 224,
    countries: Sequence[str] = COUNTRIES,
    cues: str = "realistic",
    reporter: Reporter | None = None,
) -> list[ImageItem]:
    """Render ``n_per_class`` images (4-view: locations) per country into ``out_dir``.

    ``cues``: ``"realistic"`` (every planted cue, redundant) or ``"single"`` (one decisive diagnostic
    cue object per scene; :mod:`geoquiz.data.geoscenes.select`).

    Returns the items (absolute paths, labels, splits, ``width``/``height``, planted cues; for 4-view
    ``location_key`` and ``view`` set) in a stable order: country, index, view.
    """
    countries = _check(n_per_class, countries, size)
    k = diagnostic_cues_of(cues)
    out = Path(out_dir).expanduser().resolve()
    units = [
        (c, i, f"{c.lower()}_{'L' if four_view else ''}{i:04d}")
        for c in countries
        for i in range(n_per_class)
    ]
    keys = [u[2] for u in units]
    splits = stratified_split(keys, [u[0] for u in units], DEFAULT_FRACTIONS, seed)
    views: Sequence[str | None] = VIEWS if four_view else (None,)
    total = len(units) * len(views)
    items: list[ImageItem] = []
    step(reporter, 0, total, "rendering GeoScenes")
    for country, index, unit_key in units:
        s = scene_seed(seed, country, index)
        for view in views:
            key = unit_key if view is None else f"{unit_key}_{view}"
            img, cues = render_scene(country, s, size, view, diagnostic_cues=k)
            path = write_image(out / country / f"{key}.png", img)
            items.append(
                ImageItem(
                    key=key,
                    path=str(path),
                    label=country,
                    split=splits[unit_key],
                    location_key=unit_key if view is not None else None,
                    view=view,
                    width=size,
                    height=size,
                    cues=tuple(cues),
                )
            )
            step(reporter, len(items), total, f"{country} {key}")
    _write_manifest(out, items, four_view)
    return items


def _write_manifest(out: Path, items: list[ImageItem], four_view: bool) -> None:
    fields = ["id", "path", "country", "split"] + (["location", "view"] if four_view else [])
    rows = []
    for it in items:
        row = {"id": it.key, "path": os.path.relpath(it.path, out), "country": it.label, "split": it.split}
        if four_view:
            row.update(location=it.location_key, view=it.view)
        rows.append(row)
    atomic_write(out / MANIFEST, lambda fh: _csv(fh, fields, rows))
    cues = {
        it.key: [
            {"tag": c.tag, "detail": c.detail, "view": c.view, "box": list(c.box.as_tuple())} for c in it.cues
        ]
        for it in items
    }
    atomic_write(out / CUES_JSON, lambda fh: json.dump(cues, fh, indent=1, sort_keys=True))


def _csv(fh, fields: list[str], rows: list[dict]) -> None:
    writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def import_geoscenes(
    project: Any,
    name: str = "geoscenes",
    *,
    n_per_class: int,
    four_view: bool = False,
    seed: int = 0,
    size: int = 224,
    countries: Sequence[str] = COUNTRIES,
    cues: str = "realistic",
    replace: bool = False,
    reporter: Reporter | None = None,
) -> int:
    """Generate a GeoScenes dataset into ``<project>/datasets/<name>/`` and store it; returns its id.

    Nothing is left half-done: images are rendered into a temporary folder, moved into place, and
    written to the database in one transaction; on any error (or cancel) the folder is removed and
    a previous dataset of that name, if any, stays as it was. ``replace=True`` replaces an existing
    dataset of that name (else that is an error). ``cues``: as :func:`generate_geoscenes`; recorded
    with the dataset's parameters (``params["cues"]``), so its scenes can be re-rendered
    (:func:`scene_of`).
    """
    from geoquiz.data.importer import store_dataset

    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise DatasetImportError(f"invalid GeoScenes dataset name {name!r} (it is also a folder name)")
    db = project.db
    if not replace and db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
        raise DatasetImportError(f"a dataset named {name!r} already exists in {project.root}")
    base = Path(project.root) / "datasets"
    base.mkdir(parents=True, exist_ok=True)
    final = base / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    trash: Path | None = None
    try:
        items = generate_geoscenes(
            tmp,
            n_per_class=n_per_class,
            four_view=four_view,
            seed=seed,
            size=size,
            countries=countries,
            cues=cues,
            reporter=reporter,
        )
        moved = [_with(it, path=str(final / Path(it.path).relative_to(tmp))) for it in items]
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=base))
            os.replace(final, trash / name)
        os.replace(tmp, final)
        try:
            params = {
                "generator": "geoscenes",
                "n_per_class": n_per_class,
                "seed": seed,
                "size": size,
                "four_view": four_view,
                "cues": cues,
            }
            dataset_id = store_dataset(
                project,
                name,
                "4view" if four_view else "single",
                moved,
                source="geoscenes",
                root=str(final),
                classes=list(countries),
                split_method="stratified",
                split_seed=seed,
                params=params,
                replace=replace,
            )
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            if trash is not None:
                os.replace(trash / name, final)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    return dataset_id
