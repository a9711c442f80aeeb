"""Reading datasets back from the project database (Qt-free, no torch).

Every function takes a ``sqlite_utils.Database`` (a :class:`geoquiz.project.Project` works too).
Items come back as :class:`geoquiz.types.ImageItem` with ``id`` = ``images.id`` and ``cues`` = the
planted cues (GeoScenes ground truth, empty for real photos); locations as
:class:`geoquiz.types.Location` with ``id`` = ``locations.id`` and one item per view. Results are
ordered by key, so they are deterministic.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlite_utils

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.types import VIEWS, CueBox, ImageItem, Location


@dataclass(frozen=True)
class DatasetInfo:
    """Summary of one imported dataset. ``splits`` maps split name -> number of images."""

    id: int
    name: str
    kind: str
    classes: tuple[str, ...]
    n_images: int
    n_locations: int
    splits: dict[str, int]
    root: str | None
    source: str
    split_method: str | None = None
    split_seed: int | None = None
    params: dict = field(default_factory=dict)
    created_at: str = ""

    @property
    def is_four_view(self) -> bool:
        return self.kind == "4view"


def _db(db_or_project: Any) -> sqlite_utils.Database:
    return getattr(db_or_project, "db", db_or_project)


_DATASET_SQL = (
    "SELECT id, name, kind, source, root, split_method, split_seed, params_json, created_at FROM datasets"
)


def _info(db: sqlite_utils.Database, row: tuple) -> DatasetInfo:
    dataset_id = row[0]
    classes = tuple(
        r[0] for r in db.execute("SELECT name FROM classes WHERE dataset_id = ? ORDER BY idx", [dataset_id])
    )
    splits = dict(
        db.execute(
            "SELECT split, count(*) FROM images WHERE dataset_id = ? GROUP BY split ORDER BY split",
            [dataset_id],
        ).fetchall()
    )
    n_locations = db.execute("SELECT count(*) FROM locations WHERE dataset_id = ?", [dataset_id]).fetchone()[
        0
    ]
    try:
        params = json.loads(row[7] or "{}")
    except ValueError:
        params = {}
    return DatasetInfo(
        id=int(dataset_id),
        name=row[1],
        kind=row[2],
        classes=classes,
        n_images=int(sum(splits.values())),
        n_locations=int(n_locations),
        splits={k: int(v) for k, v in splits.items()},
        root=row[4],
        source=row[3],
        split_method=row[5],
        split_seed=row[6],
        params=params,
        created_at=row[8] or "",
    )


def list_datasets(db: sqlite_utils.Database) -> list[DatasetInfo]:
    """Every dataset in the project, ordered by name."""
    db = _db(db)
    return [_info(db, r) for r in db.execute(_DATASET_SQL + " ORDER BY name").fetchall()]


def get_dataset(db: sqlite_utils.Database, name: str) -> DatasetInfo:
    """The dataset called ``name``; raises :class:`GeoQuizError` naming the known datasets if absent."""
    db = _db(db)
    row = db.execute(_DATASET_SQL + " WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [r[0] for r in db.execute("SELECT name FROM datasets ORDER BY name")]
        raise GeoQuizError(
            f"no dataset named {name!r} in this project (datasets: {', '.join(known) or 'none'})"
        )
    return _info(db, row)


def dataset_name(db: sqlite_utils.Database, dataset_id: int) -> str:
    row = _db(db).execute("SELECT name FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    if row is None:
        raise GeoQuizError(f"no dataset with id {dataset_id} in this project")
    return row[0]


_IMAGE_COLS = (
    "i.id, i.key, i.path, i.label, i.split, l.key, i.view, i.latitude, i.longitude, i.width, i.height"
)
_IMAGE_FROM = "FROM images i LEFT JOIN locations l ON l.id = i.location_id"


def _cues(db: sqlite_utils.Database, rows: list[tuple]) -> dict[int, tuple[CueBox, ...]]:
    """Planted cues per image id for image ``rows`` (``_IMAGE_COLS`` order), chunked ``IN`` queries."""
    views = {int(r[0]): r[6] for r in rows}
    out: dict[int, list[CueBox]] = defaultdict(list)
    for chunk in _chunks(list(views)):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT image_id, tag, detail, x0, y0, x1, y1 FROM planted_cues WHERE image_id IN ({marks}) ORDER BY image_id, id"  # noqa: S608
        for image_id, tag, detail, x0, y0, x1, y1 in db.execute(sql, chunk):
            out[int(image_id)].append(
                CueBox(Box(x0, y0, x1, y1), tag, view=views[int(image_id)], detail=detail)
            )
    return {k: tuple(v) for k, v in out.items()}


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _item(row: tuple, cues: dict[int, tuple[CueBox, ...]]) -> ImageItem:
    image_id = int(row[0])
    return ImageItem(
        key=row[1],
        path=row[2],
        label=row[3],
        split=row[4],
        location_key=row[5],
        view=row[6],
        latitude=row[7],
        longitude=row[8],
        width=row[9],
        height=row[10],
        cues=cues.get(image_id, ()),
        id=image_id,
    )


def _filters(split: str | None, label: str | None, prefix: str) -> tuple[str, list[Any]]:
    sql, params = "", []
    if split is not None:
        sql += f" AND {prefix}.split = ?"
        params.append(split)
    if label is not None:
        sql += f" AND {prefix}.label = ?"
        params.append(label)
    return sql, params


def load_items(
    db: sqlite_utils.Database, dataset: str, split: str | None = None, label: str | None = None
) -> list[ImageItem]:
    """All images of ``dataset`` (optionally one split / one label), ordered by key.

    For a 4-view dataset this is every view of every location (``location_key`` and ``view`` set).
    """
    db = _db(db)
    info = get_dataset(db, dataset)
    where, params = _filters(split, label, "i")
    rows = db.execute(
        f"SELECT {_IMAGE_COLS} {_IMAGE_FROM} WHERE i.dataset_id = ?{where} ORDER BY i.key",
        [info.id, *params],
    ).fetchall()
    cues = _cues(db, rows)
    return [_item(r, cues) for r in rows]


def get_item(db: sqlite_utils.Database, image_id: int) -> ImageItem:
    """One image by ``images.id``; raises :class:`GeoQuizError` if there is none."""
    db = _db(db)
    row = db.execute(f"SELECT {_IMAGE_COLS} {_IMAGE_FROM} WHERE i.id = ?", [int(image_id)]).fetchone()
    if row is None:
        raise GeoQuizError(f"no image with id {image_id} in this project")
    return _item(row, _cues(db, [row]))


def _locations(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[Location]:
    locs = db.execute(
        f"SELECT l.id, l.key, l.label, l.split, l.latitude, l.longitude FROM locations l WHERE {where} ORDER BY l.key",  # noqa: S608
        params,
    ).fetchall()
    if not locs:
        return []
    loc_ids = [int(r[0]) for r in locs]
    by_loc: dict[int, dict[str, ImageItem]] = defaultdict(dict)
    rows = []
    for chunk in _chunks(loc_ids):
        rows += db.execute(
            f"SELECT {_IMAGE_COLS}, i.location_id {_IMAGE_FROM} "
            f"WHERE i.location_id IN ({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
    cues = _cues(db, rows)
    for r in rows:
        by_loc[int(r[-1])][r[6]] = _item(r[:-1], cues)
    out = []
    for loc_id, key, label, split, lat, lon in locs:
        views = by_loc.get(int(loc_id), {})
        ordered = {v: views[v] for v in VIEWS if v in views}
        out.append(
            Location(
                key=key, label=label, split=split, views=ordered, latitude=lat, longitude=lon, id=int(loc_id)
            )
        )
    return out


def load_locations(
    db: sqlite_utils.Database, dataset: str, split: str | None = None, label: str | None = None
) -> list[Location]:
    """The 4-view locations of ``dataset`` (optionally one split / one label), ordered by key.

    ``Location.views`` maps north/east/south/west to their items. A single-view dataset has none.
    """
    db = _db(db)
    info = get_dataset(db, dataset)
    where, params = _filters(split, label, "l")
    return _locations(db, "l.dataset_id = ?" + where, [info.id, *params])


def get_location(db: sqlite_utils.Database, location_id: int) -> Location:
    """One location by ``locations.id``; raises :class:`GeoQuizError` if there is none."""
    found = _locations(_db(db), "l.id = ?", [int(location_id)])
    if not found:
        raise GeoQuizError(f"no location with id {location_id} in this project")
    return found[0]


def read_sample(sample: ImageItem | Location) -> np.ndarray | list[np.ndarray]:
    """The pixels of a dataset sample: one RGB uint8 image for an item, 4 (VIEWS order) for a location."""
    from geoquiz.data.imageio import read_image

    if isinstance(sample, Location):
        return [read_image(item.path) for item in sample.ordered()]
    return read_image(sample.path)
