"""COCO detection JSON of the participants' cue boxes and the model's elements, written streaming.

Categories: one per cue tag (ids 1..9 in CUE_TAGS order, supercategory ``cue``) and
``model_element`` (supercategory ``model``). ``bbox`` is ``[x, y, width, height]`` in pixels;
``attributes.source`` is ``human`` or ``model`` and links back to cue_boxes.csv / elements.csv (the
rows come from the same queries, un-neutralised: JSON is not run by spreadsheets).

The file is the text ``json.dump(document, ensure_ascii=False, indent=1)`` writes, produced one
annotation at a time: annotations go to a temporary file while their image ids are collected, then
the document is written (info, licenses, the images in id order, categories) and the annotations
copied after it (:class:`CocoAnnotations`). Memory stays at one chunk of rows whatever the number of
boxes.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from geoquiz import __version__
from geoquiz.csvio import atomic_write
from geoquiz.study.export_tables import Profile, file_image_size, prefetch, table_chunks
from geoquiz.types import CUE_TAGS

COCO_NAME = "coco_boxes.json"
MODEL_CATEGORY = "model_element"


def categories() -> list[dict[str, Any]]:
    out = [{"id": i + 1, "name": t, "supercategory": "cue"} for i, t in enumerate(CUE_TAGS)]
    out.append({"id": len(CUE_TAGS) + 1, "name": MODEL_CATEGORY, "supercategory": "model"})
    return out


def _js(value: Any) -> str:
    """One JSON scalar exactly as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)
    return repr(int(value))


def _nested(value: Any, level: int) -> str:
    """``value`` as ``json.dump(..., indent=1)`` writes it at nesting ``level`` (first line unindented)."""
    return json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * level)


class _Strings(dict):
    """JSON text of string values, each encoded once (names repeat on every row)."""

    def __missing__(self, value: Any) -> str:
        text = self[value] = _js(value)
        return text


HUMAN = (
    "image_id",
    "tag",
    "x0",
    "y0",
    "x1",
    "y1",
    "box_id",
    "trial_id",
    "study",
    "participant",
    "kind",
    "note",
)
MODEL_ALL = (
    "image_id",
    "x0",
    "y0",
    "x1",
    "y1",
    "score",
    "element_id",
    "model",
    "method",
    "segmenter",
    "params_key",
    "rank",
    "target",
)


def _human(
    chunk: list[tuple], first: int, images: set[int], text: _Strings, cat: dict[str, int]
) -> list[str]:
    """Annotation texts (ids from ``first``) of a chunk of cue boxes (:data:`HUMAN` columns) on known
    images; their image ids go into ``images``."""
    out, other = [], cat["other"]
    for image, tag, x0, y0, x1, y1, box_id, trial_id, study, participant, kind, note in chunk:
        if image is None:
            continue
        images.add(image)
        w, h = x1 - x0, y1 - y0
        out.append(
            f'  {{\n   "id": {first + len(out)},\n   "image_id": {image},\n   "category_id": {cat.get(tag, other)},\n'
            f'   "bbox": [\n    {x0},\n    {y0},\n    {w},\n    {h}\n   ],\n   "area": {w * h},\n'
            f'   "iscrowd": 0,\n   "attributes": {{\n    "source": "human",\n    "box_id": {box_id},\n'
            f'    "trial_id": {trial_id},\n    "study": {text[study]},\n    "participant": {text[participant]},\n'
            f'    "kind": {text[kind]},\n    "note": {text[note]}\n   }}\n  }}'
        )
    return out


def _model(chunk: list[tuple], first: int, images: set[int], text: _Strings) -> list[str]:
    """Annotation texts (ids from ``first``) of a chunk of elements (:data:`MODEL_ALL` columns) on
    known images; their image ids go into ``images``."""
    out, category = [], len(CUE_TAGS) + 1
    for image, x0, y0, x1, y1, score, element_id, model, method, segmenter, params_key, rank, target in chunk:
        if image is None:
            continue
        images.add(image)
        w, h = x1 - x0, y1 - y0
        out.append(
            f'  {{\n   "id": {first + len(out)},\n   "image_id": {image},\n   "category_id": {category},\n'
            f'   "bbox": [\n    {x0},\n    {y0},\n    {w},\n    {h}\n   ],\n   "area": {w * h},\n'
            f'   "iscrowd": 0,\n   "score": {_js(float(score))},\n   "attributes": {{\n    "source": "model",\n'
            f'    "element_id": {element_id},\n    "model": {text[model]},\n    "method": {text[method]},\n'
            f'    "segmenter": {text[segmenter]},\n    "params_key": {text[params_key]},\n    "rank": {rank},\n'
            f'    "target": {text[target]}\n   }}\n  }}'
        )
    return out


def _images(conn: sqlite3.Connection, ids: list[int]) -> Iterable[str]:
    for chunk in (ids[i : i + 900] for i in range(0, len(ids), 900)):
        marks = ",".join("?" * len(chunk))
        for iid, key, path, width, height, view, loc in conn.execute(
            f"SELECT id, key, path, width, height, view, location_id FROM images WHERE id IN ({marks}) ORDER BY id",  # noqa: S608 - placeholders only
            chunk,
        ):
            if not width or not height:
                width, height = file_image_size(path)
            yield (
                f'  {{\n   "id": {_js(iid)},\n   "file_name": {_js(path)},\n   "width": {_js(width)},\n'
                f'   "height": {_js(height)},\n   "geoquiz_key": {_js(key)},\n   "view": {_js(view)},\n'
                f'   "location_id": {_js(loc)}\n  }}'
            )


def _write_list(fh: Any, items: Iterable[str]) -> None:
    """A JSON list at nesting level 1 whose items are already indented text (``[]`` when empty)."""
    first = True
    for item in items:
        fh.write("[\n" if first else ",\n")
        fh.write(item)
        first = False
    fh.write("[]" if first else "\n ]")


class CocoAnnotations:
    """The annotations of one COCO document, collected into a temporary file in ``folder``.

    Human annotations come first (ids 1, 2, ... in box order): :meth:`add_human` takes chunks of
    cue_boxes rows in :data:`HUMAN` columns; :meth:`write` adds the model's elements and writes the
    document. Use as a context manager.
    """

    def __init__(self, folder: Path) -> None:
        self.spool = tempfile.TemporaryFile("w+b", dir=folder)  # UTF-8 bytes, copied as they are
        self.count = 0
        self.images: set[int] = set()
        self.text = _Strings()
        self.category = {c["name"]: c["id"] for c in categories()}

    def __enter__(self) -> CocoAnnotations:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.spool.close()

    def _add(self, parts: list[str]) -> None:
        if parts:
            self.spool.write(((",\n" if self.count else "") + ",\n".join(parts)).encode("utf-8"))
            self.count += len(parts)

    def add_human(self, chunk: list[tuple]) -> None:
        self._add(_human(chunk, self.count + 1, self.images, self.text, self.category))

    def add_model(self, chunk: list[tuple]) -> None:
        self._add(_model(chunk, self.count + 1, self.images, self.text))

    def write(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        profile: Profile | None = None,
        check: Callable[[], None] | None = None,
    ) -> int:
        """Add the model's elements (from ``conn``), then write the document to ``path`` atomically;
        returns the number of annotations."""
        for chunk in table_chunks(
            conn, "elements", safe=False, profile=profile, check=check, columns=MODEL_ALL
        ):
            self.add_model(chunk)
        info = {
            "description": "GeoQuiz: participants' cue boxes and the model's elements",
            "version": __version__,
            "date_created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

        def write(fh: Any) -> None:
            fh.write(f'{{\n "info": {_nested(info, 1)},\n "licenses": [],\n "images": ')
            _write_list(fh, _images(conn, sorted(int(i) for i in self.images)))
            fh.write(',\n "categories": ')
            _write_list(fh, ("  " + _nested(c, 2) for c in categories()))
            fh.write(',\n "annotations": ')
            if self.count:
                fh.write("[\n")
                self.spool.seek(0)
                fh.flush()  # the text written so far, then the annotations' bytes straight after it
                shutil.copyfileobj(self.spool, fh.buffer, 1 << 20)
                fh.write("\n ]")
            else:
                fh.write("[]")
            fh.write("\n}")

        atomic_write(path, write)
        return self.count


def write_coco(
    conn: sqlite3.Connection,
    path: str | Path,
    *,
    profile: Profile | None = None,
    check: Callable[[], None] | None = None,
    ahead: bool = True,
) -> int:
    """Write the COCO document of the snapshot ``conn`` (prepared with
    :func:`geoquiz.study.export_tables.prepare`) to ``path`` atomically; returns the number of
    annotations. ``ahead``: read the boxes on a helper thread while formatting."""
    path = Path(path)
    with CocoAnnotations(path.parent) as coco:
        rows = table_chunks(conn, "cue_boxes", safe=False, profile=profile, check=check, columns=HUMAN)
        for chunk in prefetch(rows) if ahead else rows:
            coco.add_human(chunk)
        return coco.write(conn, path, profile=profile, check=check)


__all__ = ["COCO_NAME", "HUMAN", "MODEL_CATEGORY", "CocoAnnotations", "categories", "write_coco"]
