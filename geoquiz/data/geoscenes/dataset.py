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

import contextlib
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


#: One rendering unit: (country, index, unit key, split); a unit is an image or a 4-view location.
Unit = tuple[str, int, str, str]


def plan_geoscenes(
    n_per_class: int, *, four_view: bool = False, seed: int = 0, countries: Sequence[str] = COUNTRIES
) -> list[Unit]:
    """Every unit of a GeoScenes dataset with its split, in the stable order (country, index).

    The plan depends only on its arguments, so a dataset rendered in parts (:func:`render_units` on
    slices of the plan) is the same, pixel for pixel and split for split, as one rendered at once.
    """
    countries = _check(n_per_class, countries, 32)
    units = [
        (c, i, f"{c.lower()}_{'L' if four_view else ''}{i:04d}")
        for c in countries
        for i in range(n_per_class)
    ]
    splits = stratified_split([u[2] for u in units], [u[0] for u in units], DEFAULT_FRACTIONS, seed)
    return [(c, i, key, splits[key]) for c, i, key in units]


#: zlib level of GeoScenes PNGs: level 1 writes a 448 px scene ~3.5x faster than Pillow's default (6)
#: for ~15 % more bytes (sensor noise compresses poorly at any level); PNG stays lossless.
PNG_COMPRESS_LEVEL = 1


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG atomically (temporary file + rename), fast compression."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(image).save(fh, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _render_unit(
    out: Path, unit: Unit, seed: int, size: int, four_view: bool, k: int | None = None
) -> list[ImageItem]:
    country, index, unit_key, split = unit
    s = scene_seed(seed, country, index)
    items = []
    for view in VIEWS if four_view else (None,):
        key = unit_key if view is None else f"{unit_key}_{view}"
        img, cues = render_scene(country, s, size, view, diagnostic_cues=k)
        path = write_png(out / country / f"{key}.png", img)
        items.append(
            ImageItem(
                key=key,
                path=str(path),
                label=country,
                split=split,
                location_key=unit_key if view is not None else None,
                view=view,
                width=size,
                height=size,
                cues=tuple(cues),
            )
        )
    return items


def render_pool(workers: int) -> Any:
    """A process pool for :func:`render_units` (``spawn``: safe from a threaded app); use as a
    context manager. ``workers <= 1`` gives ``None`` (render in this process)."""
    if int(workers) <= 1:
        return contextlib.nullcontext(None)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=int(workers), mp_context=multiprocessing.get_context("spawn"))


def render_units(
    out_dir: str | Path,
    units: Sequence[Unit],
    *,
    four_view: bool = False,
    seed: int = 0,
    size: int = 224,
    pool: Any = None,
    cues: str = "realistic",
    reporter: Reporter | None = None,
) -> list[ImageItem]:
    """Render ``units`` (a slice of :func:`plan_geoscenes`) into ``out_dir/<Country>/<key>.png``.

    ``cues``: ``"realistic"`` (every planted cue) or ``"single"`` (one decisive diagnostic cue object
    per scene; :mod:`geoquiz.data.geoscenes.select`).

    ``pool``: a :func:`render_pool` to render in several processes (the result is the same as in
    this one; the processes are spawned, so a script calling this needs the usual
    ``if __name__ == "__main__":`` guard, else the pool breaks and the rest is rendered here). Returns the items in the order of ``units`` (views in VIEWS order). Cancelling
    ``reporter`` stops at the next finished unit (queued units of the pool are cancelled).
    """
    k = diagnostic_cues_of(cues)
    out = Path(out_dir).expanduser().resolve()
    views = 4 if four_view else 1
    total = len(units) * views
    step(reporter, 0, total, "rendering GeoScenes")
    results: list[list[ImageItem]] = [[] for _ in units]
    if pool is None:
        for i, unit in enumerate(units):
            results[i] = _render_unit(out, unit, seed, size, four_view, k)
            step(reporter, (i + 1) * views, total, f"{unit[0]} {unit[2]}")
        return [it for r in results for it in r]
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    done_units = 0
    try:
        pending = {
            pool.submit(_render_unit, out, unit, seed, size, four_view, k): i for i, unit in enumerate(units)
        }
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    results[pending.pop(fut)] = fut.result()
                    done_units += 1
                if reporter is not None:
                    reporter.check()
                    if finished:
                        step(reporter, done_units * views, total, f"{done_units} of {len(units)} scenes")
        finally:
            for fut in pending:
                fut.cancel()
            wait(pending)
    except BrokenProcessPool:
        # the workers could not start (e.g. a script without ``if __name__ == "__main__":`` under
        # the spawn start method) or died: render what is left here, the result is the same
        for i, unit in enumerate(units):
            if not results[i]:
                results[i] = _render_unit(out, unit, seed, size, four_view, k)
                done_units += 1
                step(reporter, done_units * views, total, f"{unit[0]} {unit[2]}")
    return [it for r in results for it in r]


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
    _check(n_per_class, countries, size)
    diagnostic_cues_of(cues)
    out = Path(out_dir).expanduser().resolve()
    units = plan_geoscenes(n_per_class, four_view=four_view, seed=seed, countries=countries)
    items = render_units(out, units, four_view=four_view, seed=seed, size=size, cues=cues, reporter=reporter)
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
    first: int | None = None,
    workers: int = 1,
    reporter: Reporter | None = None,
) -> int:
    """Generate a GeoScenes dataset into ``<project>/datasets/<name>/`` and store it; returns its id.

    Nothing is left half-done: images are rendered into a temporary folder, moved into place, and
    written to the database in one transaction; on any error (or cancel) the folder is removed and
    a previous dataset of that name, if any, stays as it was. ``replace=True`` replaces an existing
    dataset of that name (else that is an error).

    ``first=k`` stores only the first ``k`` units (images or locations) of each country now, with
    their final splits, and records the dataset as incomplete (``params["complete"] = False``);
    :func:`extend_geoscenes` adds the rest later, in resumable chunks, giving the same dataset as a
    one-shot import. ``workers``: rendering processes (see :func:`render_units`). ``cues``: as
    :func:`generate_geoscenes`; recorded with the dataset's parameters (``params["cues"]``), so its
    scenes can be re-rendered (:func:`scene_spec`).
    """
    from geoquiz.data.importer import store_dataset

    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise DatasetImportError(f"invalid GeoScenes dataset name {name!r} (it is also a folder name)")
    _check(n_per_class, countries, size)
    diagnostic_cues_of(cues)
    db = project.db
    if not replace and db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
        raise DatasetImportError(f"a dataset named {name!r} already exists in {project.root}")
    units = plan_geoscenes(n_per_class, four_view=four_view, seed=seed, countries=countries)
    partial = first is not None and int(first) < int(n_per_class)
    if partial:
        units = [u for u in units if u[1] < int(first)]
    base = Path(project.root) / "datasets"
    base.mkdir(parents=True, exist_ok=True)
    final = base / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    trash: Path | None = None
    try:
        with render_pool(workers if len(units) > 1 else 1) as pool:
            items = render_units(
                tmp, units, four_view=four_view, seed=seed, size=size, pool=pool, cues=cues, reporter=reporter
            )
        _write_manifest(tmp, items, four_view)
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
            if partial:
                params["complete"] = False
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


def extend_geoscenes(
    project: Any,
    name: str = "geoscenes",
    *,
    chunk: int = 60,
    workers: int = 1,
    reporter: Reporter | None = None,
) -> int:
    """Complete a GeoScenes dataset started with ``import_geoscenes(..., first=k)``; returns how many
    images were added (0 when it was complete already).

    The missing units of the dataset's plan are rendered ``chunk`` at a time into a temporary folder,
    moved into the dataset's folder and appended to the database (one transaction per chunk, which
    also records the progress), so an interrupted run resumes with the first missing unit; a file
    left in place by an interrupted chunk is simply rendered again. The last chunk marks the dataset
    complete and rewrites its ``manifest.csv`` and ``cues.json``.
    """
    from geoquiz.data.dataset import get_dataset, load_items

    info = get_dataset(project.db, name)
    params = dict(info.params or {})
    if params.get("generator") != "geoscenes":
        raise DatasetImportError(f"dataset {name!r} was not made by the GeoScenes generator")
    if params.get("complete", True):
        return 0
    four_view, seed = bool(params.get("four_view")), int(params.get("seed", 0))
    final = Path(info.root) if info.root else Path(project.root) / "datasets" / name
    plan = plan_geoscenes(int(params["n_per_class"]), four_view=four_view, seed=seed, countries=info.classes)
    have = {it.location_key or it.key for it in load_items(project.db, name)}
    missing = [u for u in plan if u[2] not in have]
    if not missing:  # every unit is stored: only the flag is left
        from geoquiz.db import transaction

        done = {k: v for k, v in params.items() if k != "complete"}
        with transaction(project.db):
            project.db.execute(
                "UPDATE datasets SET params_json = ? WHERE id = ?",
                [json.dumps(done, sort_keys=True), info.id],
            )
        return 0
    views = 4 if four_view else 1
    total, added = len(missing) * views, 0
    step(reporter, 0, total, f"GeoScenes {name}: {len(have)} of {len(plan)} scenes")
    with render_pool(workers if len(missing) > 1 else 1) as pool:
        for start in range(0, len(missing), max(1, int(chunk))):
            part = missing[start : start + max(1, int(chunk))]
            last = start + len(part) >= len(missing)
            added += _add_chunk(
                project, name, final, part, params, last, pool, _offset(reporter, added, total)
            )
            step(reporter, added, total, f"{len(have) + added // views} of {len(plan)} scenes")
    _write_manifest(final, load_items(project.db, name), four_view)
    return added


def _add_chunk(
    project: Any, name: str, final: Path, part: Sequence[Unit], params: dict, last: bool, pool: Any, reporter
) -> int:
    """Render ``part`` beside the dataset's folder, move it in and append it (one transaction)."""
    from geoquiz.data.store import append_items

    four_view, seed, size = (
        bool(params.get("four_view")),
        int(params.get("seed", 0)),
        int(params.get("size", 224)),
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.part.", dir=final.parent))
    placed: list[Path] = []
    try:
        items = render_units(
            tmp,
            part,
            four_view=four_view,
            seed=seed,
            size=size,
            pool=pool,
            cues=str(params.get("cues", "realistic")),
            reporter=reporter,
        )
        moved = []
        for it in items:
            dest = final / Path(it.path).relative_to(tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(it.path, dest)
            placed.append(dest)
            moved.append(_with(it, path=str(dest)))
        # the last chunk records the dataset as a one-shot import would (no "complete" flag)
        new_params = {k: v for k, v in params.items() if k != "complete"} if last else params
        append_items(project, name, moved, params=new_params)
        placed = []
        return len(moved)
    except BaseException:
        for path in placed:  # not in the database: no trace of this chunk
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _offset(reporter: Reporter | None, done: int, total: int) -> Reporter | None:
    """A reporter for one chunk: its ``(d, n)`` shown as ``done + d`` of ``total``."""
    if reporter is None:
        return None
    return Reporter(lambda d, _n, message="": step(reporter, done + d, total, message), reporter.token)
