"""Writing a validated list of :class:`ImageItem` into the project database, in one transaction.

:func:`store_dataset` is the single write path for datasets: the user-facing importers
(:mod:`geoquiz.data.importer`) and GeoScenes call it. It re-checks what the database relies on (unique
keys, known labels and splits, four distinct views per 4-view location) so that nothing inconsistent is
ever written, and it writes everything — datasets, classes, locations, images, planted_cues — inside a
single :func:`geoquiz.db.transaction`, so a failure leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.errors import DatasetImportError
from geoquiz.progress import Reporter, step
from geoquiz.types import SPLITS, VIEWS, ImageItem

KINDS = ("single", "4view")


def as_db(project_or_db: Any) -> sqlite_utils.Database:
    """Accept a :class:`geoquiz.project.Project` or a ``sqlite_utils.Database``."""
    db = getattr(project_or_db, "db", project_or_db)
    if not isinstance(db, sqlite_utils.Database):
        raise TypeError(f"expected a Project or a sqlite_utils.Database, got {type(project_or_db).__name__}")
    return db


def check_items(
    name: str, kind: str, items: Sequence[ImageItem], classes: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Return ``(classes, problems)``: the class list to store and every inconsistency found."""
    problems: list[str] = []
    if not name or not name.strip():
        problems.append("the dataset name is empty")
    if kind not in KINDS:
        problems.append(f"dataset kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not items:
        problems.append("there are no images to import")
    if classes is not None:
        class_list = list(classes)
        dupes = sorted({c for c in class_list if class_list.count(c) > 1})
        if dupes:
            problems.append(f"the class list repeats {', '.join(dupes)}")
        if any(not c for c in class_list):
            problems.append("the class list contains an empty name")
    else:
        class_list = sorted({it.label for it in items})
    known = set(class_list)
    seen: dict[str, str] = {}
    for it in items:
        where = f"image {it.key!r} ({it.path})"
        if it.key in seen:
            problems.append(f"duplicate id {it.key!r}: {seen[it.key]} and {it.path}")
        else:
            seen[it.key] = it.path
        if not it.label:
            problems.append(f"{where} has no label")
        elif it.label not in known:
            problems.append(f"{where} has unknown label {it.label!r} (classes: {', '.join(class_list)})")
        if it.split not in SPLITS:
            problems.append(f"{where} has split {it.split!r}; expected one of {', '.join(SPLITS)}")
        if kind == "4view" and (it.location_key is None or it.view not in VIEWS):
            problems.append(
                f"{where} needs a location and a view (one of {', '.join(VIEWS)}) in a 4-view dataset"
            )
        if kind == "single" and it.location_key is not None:
            problems.append(f"{where} has a location but the dataset is single-view")
    if kind == "4view":
        problems.extend(check_locations(items))
    return class_list, problems


def check_locations(items: Sequence[ImageItem]) -> list[str]:
    """Every location must have exactly the four views, with one label and one split."""
    problems = []
    for loc, members in group_locations(items).items():
        views = [m.view for m in members]
        missing = [v for v in VIEWS if v not in views]
        repeated = sorted({v for v in views if views.count(v) > 1})
        if missing:
            problems.append(
                f"location {loc!r} is missing view(s) {', '.join(missing)} "
                f"(found {', '.join(v for v in VIEWS if v in views) or 'none'})"
            )
        if repeated:
            problems.append(f"location {loc!r} has more than one {', '.join(repeated)} view")
        if len({m.label for m in members}) > 1:
            problems.append(f"location {loc!r} mixes labels {', '.join(sorted({m.label for m in members}))}")
        if len({m.split for m in members}) > 1:
            problems.append(f"location {loc!r} mixes splits {', '.join(sorted({m.split for m in members}))}")
    return problems


def group_locations(items: Sequence[ImageItem]) -> dict[str, list[ImageItem]]:
    groups: dict[str, list[ImageItem]] = defaultdict(list)
    for it in items:
        if it.location_key is not None:
            groups[it.location_key].append(it)
    return dict(groups)


def _first(values: list[float | None]) -> float | None:
    return next((v for v in values if v is not None), None)


def store_dataset(
    project_or_db: Any,
    name: str,
    kind: str,
    items: list[ImageItem],
    *,
    source: str,
    root: str | None = None,
    classes: list[str] | None = None,
    split_method: str = "column",
    split_seed: int | None = None,
    params: dict | None = None,
    replace: bool = False,
    reporter: Reporter | None = None,
) -> int:
    """Write a dataset and return its id (``datasets.id``). All or nothing: one transaction.

    ``kind`` is ``'single'`` or ``'4view'``; in a 4-view dataset ``ImageItem.location_key`` groups the
    four items of a location and ``ImageItem.view`` is one of :data:`geoquiz.types.VIEWS`. ``classes``
    fixes the class order (default: the sorted labels). ``ImageItem.cues`` become ``planted_cues`` rows.
    ``replace=True`` deletes an existing dataset of the same name in the same transaction; otherwise an
    existing name is an error. Items are not decoded here (the importers do that before calling).
    Raises :class:`DatasetImportError` listing every problem; nothing is written then.
    """
    db = as_db(project_or_db)
    class_list, problems = check_items(name, kind, items, classes)
    if problems:
        raise DatasetImportError(f"cannot store dataset {name!r}", problems)
    total = len(items)
    step(reporter, 0, total, "writing to the database")
    try:
        with transaction(db):
            existing = db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
            if existing is not None:
                if not replace:
                    raise DatasetImportError(
                        f"a dataset named {name!r} already exists in this project; choose another name or replace it"
                    )
                _delete(db, name, int(existing[0]))
            dataset_id = insert(
                db,
                "datasets",
                {
                    "name": name,
                    "kind": kind,
                    "source": source,
                    "root": None if root is None else str(root),
                    "split_method": split_method,
                    "split_seed": split_seed,
                    "params_json": json.dumps(params or {}, sort_keys=True, default=str),
                    "created_at": now(),
                },
            )
            insert_many(
                db,
                "classes",
                [{"dataset_id": dataset_id, "name": c, "idx": i} for i, c in enumerate(class_list)],
            )
            location_ids: dict[str, int] = {}
            if kind == "4view":
                for loc_key, members in sorted(group_locations(items).items()):
                    location_ids[loc_key] = insert(
                        db,
                        "locations",
                        {
                            "dataset_id": dataset_id,
                            "key": loc_key,
                            "label": members[0].label,
                            "split": members[0].split,
                            "latitude": _first([m.latitude for m in members]),
                            "longitude": _first([m.longitude for m in members]),
                        },
                    )
            insert_many(db, "images", [_image_row(dataset_id, it, location_ids) for it in items])
            step(reporter, total // 2, total, "writing to the database")
            ids = dict(db.execute("SELECT key, id FROM images WHERE dataset_id = ?", [dataset_id]).fetchall())
            insert_many(db, "planted_cues", _cue_rows(items, ids))
    except sqlite3.IntegrityError as exc:
        raise DatasetImportError(f"cannot store dataset {name!r}: the database refused it ({exc})") from exc
    step(reporter, total, total, f"stored {total} images")
    return int(dataset_id)


def append_items(
    project_or_db: Any,
    name: str,
    items: list[ImageItem],
    *,
    params: dict | None = None,
    reporter: Reporter | None = None,
) -> int:
    """Add ``items`` (new images, or new 4-view locations with their four views) to the existing
    dataset ``name`` in one transaction; returns how many images were added.

    The same checks as :func:`store_dataset`, plus: every label must be one of the dataset's classes
    and no key (or location key) may already be in it. ``params``, when given, replaces the dataset's
    recorded parameters in the same transaction (a staged generator records its progress there).
    Raises :class:`DatasetImportError` listing every problem; nothing is written then.
    """
    db = as_db(project_or_db)
    row = db.execute("SELECT id, kind FROM datasets WHERE name = ?", [name]).fetchone()
    if row is None:
        raise DatasetImportError(f"cannot add images to dataset {name!r}: there is no such dataset")
    dataset_id, kind = int(row[0]), str(row[1])
    classes = [
        r[0] for r in db.execute("SELECT name FROM classes WHERE dataset_id = ? ORDER BY idx", [dataset_id])
    ]
    _, problems = check_items(name, kind, items, classes)
    keys = {it.key for it in items}
    clash = sorted(
        k
        for (k,) in db.execute("SELECT key FROM images WHERE dataset_id = ?", [dataset_id]).fetchall()
        if k in keys
    )
    if clash:
        problems.append(f"{len(clash)} image(s) are already in the dataset, e.g. {clash[0]!r}")
    locations = group_locations(items)
    old_locations = {
        k for (k,) in db.execute("SELECT key FROM locations WHERE dataset_id = ?", [dataset_id]).fetchall()
    }
    if set(locations) & old_locations:
        problems.append(
            f"location(s) already in the dataset: {', '.join(sorted(set(locations) & old_locations))}"
        )
    if problems:
        raise DatasetImportError(f"cannot add images to dataset {name!r}", problems)
    total = len(items)
    step(reporter, 0, total, "writing to the database")
    try:
        with transaction(db):
            location_ids = {
                loc_key: insert(
                    db,
                    "locations",
                    {
                        "dataset_id": dataset_id,
                        "key": loc_key,
                        "label": members[0].label,
                        "split": members[0].split,
                        "latitude": _first([m.latitude for m in members]),
                        "longitude": _first([m.longitude for m in members]),
                    },
                )
                for loc_key, members in sorted(locations.items())
            }
            insert_many(db, "images", [_image_row(dataset_id, it, location_ids) for it in items])
            ids = dict(db.execute("SELECT key, id FROM images WHERE dataset_id = ?", [dataset_id]).fetchall())
            insert_many(db, "planted_cues", _cue_rows(items, ids))
            if params is not None:
                db.execute(
                    "UPDATE datasets SET params_json = ? WHERE id = ?",
                    [json.dumps(params, sort_keys=True, default=str), dataset_id],
                )
    except sqlite3.IntegrityError as exc:
        raise DatasetImportError(
            f"cannot add images to dataset {name!r}: the database refused it ({exc})"
        ) from exc
    step(reporter, total, total, f"added {total} images")
    return total


def _cue_rows(items: Sequence[ImageItem], ids: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "image_id": ids[it.key],
            "tag": c.tag,
            "detail": c.detail,
            "x0": c.box.x0,
            "y0": c.box.y0,
            "x1": c.box.x1,
            "y1": c.box.y1,
        }
        for it in items
        for c in it.cues
    ]


def _image_row(dataset_id: int, it: ImageItem, location_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "key": it.key,
        "path": str(it.path),
        "label": it.label,
        "split": it.split,
        "location_id": location_ids.get(it.location_key) if it.location_key is not None else None,
        "view": it.view,
        "width": it.width,
        "height": it.height,
        "latitude": it.latitude,
        "longitude": it.longitude,
    }


def _delete(db: sqlite_utils.Database, name: str, dataset_id: int) -> None:
    used = db.execute(
        "SELECT count(*) FROM trials t JOIN images i ON t.image_id = i.id WHERE i.dataset_id = ?",
        [dataset_id],
    ).fetchone()[0]
    used += db.execute(
        "SELECT count(*) FROM trials t JOIN locations l ON t.location_id = l.id WHERE l.dataset_id = ?",
        [dataset_id],
    ).fetchone()[0]
    if used:
        raise DatasetImportError(
            f"cannot replace dataset {name!r}: {used} recorded quiz trial(s) refer to its images; "
            "import it under a new name instead"
        )
    db.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])


def delete_dataset(project_or_db: Any, name: str) -> None:
    """Delete a dataset and everything that cascades from it (one transaction)."""
    db = as_db(project_or_db)
    with transaction(db):
        row = db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
        if row is None:
            raise DatasetImportError(f"no dataset named {name!r} in this project")
        _delete(db, name, int(row[0]))
