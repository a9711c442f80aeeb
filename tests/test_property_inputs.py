"""Property-based tests (hypothesis) over the inputs people hand GeoQuiz: CSV manifests (random text,
columns, encodings, delimiters), folder trees (random names and file contents) and study files (random
text, and random edits of a valid study). Whatever the input, the call ends in success or in a
:class:`GeoQuizError` that says where the problem is - never another exception - and a failed call
leaves the database exactly as it was (a logical dump compared before and after).

Bounded (``max_examples``) and without deadlines so that the whole file stays well under a minute;
``database=None`` so no example database is written into the checkout.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import write_png
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from geoquiz.data.sources import CsvColumns
from geoquiz.errors import GeoQuizError

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fresh_db():
    from geoquiz.db import connect, migrate

    db = connect(":memory:")
    migrate(db)
    return db


def _dump(db) -> list[str]:
    return list(db.conn.iterdump())


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _header_bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 12_000, 12_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 8))
        + chunk(b"IEND", b"")
    )


FILE_CONTENTS = {
    "rgb": _png_bytes(np.full((5, 6, 3), 120, np.uint8)),
    "grey16": _png_bytes(np.full((4, 4), 50_000, np.uint16)),
    "corrupt": b"\x89PNG\r\n\x1a\n" + b"garbage" * 4,
    "empty": b"",
    "text": b"not an image",
    "bomb": _header_bomb(),
}


# ------------------------------------------------------------------------------ CSV manifests


@pytest.fixture(scope="module")
def csv_base(tmp_path_factory) -> Path:
    """``base/images/`` with a few good and bad images (single and 4-view names); the manifest is
    written as ``base/manifest.csv`` by each example."""
    base = tmp_path_factory.mktemp("csvprop")
    images = base / "images"
    rng = np.random.default_rng(0)
    for stem in ("a", "b", "c d", "é", "x_north", "x_east", "x_south", "x_west"):
        write_png(images / f"{stem}.png", rng.integers(0, 255, (5, 7, 3), np.uint8))
    (images / "bad.png").write_bytes(FILE_CONTENTS["corrupt"])
    (images / "deep.png").write_bytes(FILE_CONTENTS["grey16"])
    (images / "bomb.png").write_bytes(FILE_CONTENTS["bomb"])
    return base


COLUMN_NAMES = [
    "id",
    "path",
    "country",
    "label",
    "split",
    "latitude",
    "longitude",
    "north",
    "east",
    "south",
    "west",
]
CELLS = [
    "a",
    "b",
    "c d",
    "é",
    "x",
    "bad",
    "deep",
    "bomb",
    "a.png",
    "x_north.png",
    "x_west.png",
    "images/a.png",
    "../images/b.png",
    "/nonexistent/z.png",
    "FR",
    "JP",
    "train",
    "val",
    "Validation",
    "test",
    "",
    "45.5",
    "-91",
    "200",
    "nan",
    "inf",
    "=1+1",
    "a\x00b",
]
cell = st.one_of(st.sampled_from(CELLS), st.text(max_size=8))
column = st.one_of(st.sampled_from(COLUMN_NAMES), st.text(max_size=6))
optional_column = st.one_of(st.none(), column)


@st.composite
def manifests(draw):
    """``(bytes of the file, CsvColumns, delimiter given to the importer, four_view, split, skip_bad)``.

    Half are OSV-5M-shaped (id, country and optional columns naming the test images) with a few cells
    replaced at random; the rest are random headers and cells, or random bytes."""
    kind = draw(st.sampled_from(["shaped"] * 5 + ["random"] * 4 + ["bytes"]))
    written_with = draw(st.sampled_from([",", ";", "\t", "|"]))
    columns = CsvColumns()
    if kind == "bytes":
        data = draw(st.binary(max_size=300))
    else:
        if kind == "shaped":
            extra = draw(st.lists(st.sampled_from(["latitude", "longitude", "split", "path"]), unique=True))
            header = ["id", "country", *extra]
            stems = st.sampled_from(["a", "b", "c d", "é", "x", "bad", "deep", "bomb", "zz"])
            values = {
                "country": st.sampled_from(["FR", "JP", "IN"]),
                "latitude": st.sampled_from(["45.5", "-12", "", "91", "north"]),
                "longitude": st.sampled_from(["2.35", "-170", "", "181"]),
                "split": st.sampled_from(["train", "val", "Validation", "test", "dev", ""]),
                "path": st.sampled_from(
                    ["a.png", "b.png", "images/a.png", "/nonexistent/z.png", "", "é.png"]
                ),
            }
            rows = []
            for _ in range(draw(st.integers(1, 6))):
                rows.append([draw(stems)] + [draw(values[c]) for c in header[1:]])
            for _ in range(draw(st.integers(0, 3))):  # a few random cells
                r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
                rows[r][c] = draw(cell)
            columns = CsvColumns(
                split="split" if "split" in header else None, path="path" if "path" in header else None
            )
        else:
            header = draw(st.lists(column, max_size=7))
            rows = draw(st.lists(st.lists(cell, max_size=8), max_size=6))
            columns = CsvColumns(
                id=draw(optional_column),
                path=draw(optional_column),
                label=draw(column),
                split=draw(optional_column),
                latitude=draw(optional_column),
                longitude=draw(optional_column),
            )
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=written_with, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
        encoding = draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "utf-16", "latin-1", "cp1252"]))
        data = buf.getvalue().encode(encoding, errors="replace")
    delimiter = draw(st.one_of(st.just(written_with), st.sampled_from([",", ";"]), st.text(max_size=2)))
    return (
        data,
        columns,
        delimiter,
        draw(st.booleans()),
        draw(st.sampled_from([None, "test"])),
        draw(st.booleans()),
    )


@SETTINGS
@given(manifest=manifests())
def test_any_csv_manifest_imports_or_fails_cleanly(csv_base, manifest):
    from geoquiz.data.importer import import_csv

    data, columns, delimiter, four_view, split, skip_bad = manifest
    path = csv_base / "manifest.csv"
    path.write_bytes(data)
    db = _fresh_db()
    before = _dump(db)
    try:
        result = import_csv(
            db,
            "m",
            path,
            columns=columns,
            delimiter=delimiter,
            four_view=four_view,
            split=split,
            skip_bad=skip_bad,
        )
    except GeoQuizError as exc:
        message = str(exc)
        event(f"refused: {message.splitlines()[0].split(': ', 1)[-1][:40]}")
        assert "manifest.csv" in message or str(csv_base / "images") in message, message
        assert _dump(db) == before
    else:
        event("imported")
        stored = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        assert stored == result.n_images > 0
        assert db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 1
    finally:
        db.conn.close()


# -------------------------------------------------------------------------------- folder trees

name = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", "..") and s.strip() == s)
files = st.lists(
    st.tuples(
        name,
        st.sampled_from([".png"] * 4 + [".PNG", ".jpg", ".txt", ""]),
        st.sampled_from(["rgb"] * 6 + sorted(FILE_CONTENTS)),
    ),
    max_size=4,
)


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tree=st.dictionaries(name, files, max_size=4),
    loose=files,
    four_view=st.booleans(),
    skip_bad=st.booleans(),
    split=st.sampled_from([None, "train"]),
)
def test_any_folder_tree_imports_or_fails_cleanly(tmp_path_factory, tree, loose, four_view, skip_bad, split):
    from geoquiz.data.importer import import_folder

    root = tmp_path_factory.mktemp("tree") / "root"
    root.mkdir()
    for label, entries in tree.items():
        (root / label).mkdir(exist_ok=True)
        for stem, ext, content in entries:
            (root / label / f"{stem}{ext}").write_bytes(FILE_CONTENTS[content])
    for stem, ext, content in loose:
        if not (root / f"{stem}{ext}").exists():
            (root / f"{stem}{ext}").write_bytes(FILE_CONTENTS[content])
    db = _fresh_db()
    before = _dump(db)
    try:
        result = import_folder(db, "f", root, four_view=four_view, skip_bad=skip_bad, split=split)
    except GeoQuizError as exc:
        event(f"refused: {str(exc).splitlines()[0].split(': ', 1)[-1][:40]}")
        assert str(root) in str(exc), str(exc)
        assert _dump(db) == before
    else:
        event("imported")
        assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == result.n_images > 0
    finally:
        db.conn.close()
        shutil.rmtree(root.parent, ignore_errors=True)


# --------------------------------------------------------------------------------- study files


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
        )
    if isinstance(value, str):
        return _toml_key(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(data: dict, prefix: tuple[str, ...] = ()) -> str:
    """A small TOML writer for the generated documents (tables as [headers], the rest inline)."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = "\n".join(lines) + "\n"
    for k, v in data.items():
        if isinstance(v, dict):
            path = (*prefix, k)
            out += "\n[" + ".".join(_toml_key(p) for p in path) + "]\n" + to_toml(v, path)
    return out


toml_scalar = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["test", "train", "all", "geoscenes", "countries", "dataset", "fixed", "north", "tiny"]),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(data: dict, prefix=()) -> list[tuple[str, ...]]:
    out = []
    for k, v in data.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out += _paths(v, (*prefix, k))
    return out


def _like(value):
    """A strategy for another value of the same TOML type as ``value``."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-5, 30) | st.integers(-(2**64), 2**64)
    if isinstance(value, float):
        return st.floats(allow_nan=True)
    if isinstance(value, str):
        return st.sampled_from(
            ["test", "train", "all", "geoscenes", "countries", "dataset", "tiny-2", ""]
        ) | st.text(max_size=8)
    return st.lists(st.sampled_from(["north", "east", "south", "west", "x"]), max_size=5)


@st.composite
def edited_studies(draw):
    """A valid study file with a few random edits: a value replaced, a key removed or a key added."""
    import tomllib
    from fixtures.quiz import small_study_text

    data = tomllib.loads(small_study_text())
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(data)
        op = draw(st.sampled_from(["same type", "same type", "set", "delete", "add"]))
        path = draw(st.sampled_from(paths)) if paths else ()
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if op == "same type" and path and not isinstance(parent[path[-1]], dict):
            parent[path[-1]] = draw(_like(parent[path[-1]]))
        elif op == "set" and path:
            parent[path[-1]] = draw(toml_value)
        elif op == "delete" and path:
            del parent[path[-1]]
        else:
            target = parent[path[-1]] if path and isinstance(parent.get(path[-1]), dict) else data
            target[draw(st.text(max_size=6))] = draw(toml_value)
    return to_toml(data)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_parses_or_is_refused_with_a_location(text):
    from geoquiz.study.definition import loads_study

    try:
        loads_study(text, source="random.toml")
    except GeoQuizError as exc:
        assert str(exc).startswith("random.toml"), str(exc)
        assert "line" in str(exc) or "field" in str(exc), str(exc)


top_keys = st.sampled_from(
    [
        "schema",
        "slug",
        "title",
        "consent",
        "instructions",
        "items",
        "trials",
        "answers",
        "responses",
        "thank_you",
    ]
)


@SETTINGS
@given(document=st.dictionaries(top_keys | st.text(max_size=6), toml_value, max_size=8))
def test_any_toml_document_parses_or_is_refused_with_a_location(document):
    from geoquiz.study.definition import loads_study

    try:
        loads_study(to_toml(document), source="random.toml")
    except GeoQuizError as exc:
        assert str(exc).startswith("random.toml") and "line" in str(exc), str(exc)
        assert all(line >= 1 for line, _, _ in getattr(exc, "problems", [])), str(exc)


@SETTINGS
@given(text=edited_studies())
def test_any_edited_study_installs_or_is_refused_and_writes_nothing(quiz_project, tmp_path, text):
    from geoquiz.study.store import install_study

    path = tmp_path / "edited.toml"
    path.write_text(text, encoding="utf-8")
    before = _dump(quiz_project.db)
    try:
        study_id = install_study(quiz_project, path)
    except GeoQuizError as exc:
        message = str(exc)
        event("refused")
        assert message.startswith(str(path)), message
        assert "line" in message or "field" in message, message
        assert _dump(quiz_project.db) == before
    else:
        event("installed")
        row = quiz_project.db.execute(
            "SELECT definition_toml FROM studies WHERE id = ?", [study_id]
        ).fetchone()
        assert row is not None and row[0] == text
