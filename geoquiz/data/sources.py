"""Turning files on disk into import candidates: folder-per-label trees and CSV manifests.

Nothing here decodes images or touches the database; :mod:`geoquiz.data.importer` checks, splits and
stores the :class:`Candidate` objects. Per-row and per-file problems are collected as
:class:`Problem` (so the importer can stop, or skip them on request); problems that make the whole
source unusable (a missing column, an empty folder) raise :class:`DatasetImportError` at once.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from geoquiz.data.imageio import IMAGE_EXTENSIONS, is_image_file
from geoquiz.data.splits import normalise_split
from geoquiz.errors import DatasetImportError
from geoquiz.types import VIEWS

_VIEW_SUFFIX = re.compile(r"^(?P<loc>.+?)[_\-.](?P<view>north|east|south|west)$", re.IGNORECASE)


@dataclass
class Candidate:
    """One image to import. ``origin`` says where it came from (``"file.csv line 7"`` or a path)."""

    key: str
    path: Path
    label: str
    origin: str
    split: str | None = None
    location_key: str | None = None
    view: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Problem:
    """A bad row or file: ``where`` (row or path) and what is wrong. ``hits`` are the ``id()`` of the
    candidates it concerns (left out when bad items are skipped)."""

    where: str
    message: str
    hits: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def split_view_suffix(stem: str) -> tuple[str, str] | None:
    """``'abc_north'`` -> ``('abc', 'north')``; ``None`` when the stem has no view suffix."""
    m = _VIEW_SUFFIX.match(stem)
    return (m.group("loc"), m.group("view").lower()) if m else None


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


# --------------------------------------------------------------------------------------- folders


@dataclass
class FolderScan:
    candidates: list[Candidate]
    problems: list[Problem]
    ignored: list[str]
    split_from_folders: bool


def _label_dirs(root: Path) -> tuple[list[tuple[str | None, Path]], bool]:
    """``[(split or None, label_dir)]``; a root whose sub-folders are all split names is split-first."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p.name))
    if not subdirs:
        raise DatasetImportError(f"{root} has no label folders (expected {root}/<label>/<image files>)")
    splits = [normalise_split(p.name) for p in subdirs]
    if all(s is not None for s in splits):
        out = []
        for split, sdir in zip(splits, subdirs):
            out += [(split, p) for p in sorted(sdir.iterdir()) if p.is_dir() and _visible(p.name)]
        return out, True
    return [(None, p) for p in subdirs], False


def scan_folder(root: str | Path, *, four_view: bool = False) -> FolderScan:
    """Scan ``root/<label>/**/<image>`` (or ``root/<split>/<label>/...``) into candidates.

    Single view: key = the path below ``root`` without extension (``<label>/<name>`` or
    ``<split>/<label>/<name>``). 4-view: each file's stem ends in ``_north``/``_east``/``_south``/``_west``
    (``<id>_north.jpg``), or a location is a folder holding ``north.jpg`` ... ``west.jpg``; the location
    key is ``<label>/<id>`` (``<split>/<label>/<id>``) and the image key ``<location key>_<view>``. Non-image files are ignored and listed; hidden files are skipped.
    A class folder without image files is a :class:`Problem` (the importer stops on it, or skips and lists
    it with ``skip_bad``), never dropped silently.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetImportError(f"dataset folder not found: {root}")
    label_dirs, split_first = _label_dirs(root)
    candidates: list[Candidate] = []
    problems: list[Problem] = []
    ignored = [
        f"{p}: not inside a label folder" for p in sorted(root.iterdir()) if p.is_file() and _visible(p.name)
    ]
    empty: list[Problem] = []
    for split, label_dir in label_dirs:
        label = label_dir.name
        prefix = label_dir.relative_to(root).as_posix()  # <label> or <split>/<label>
        counts = (len(candidates), len(problems), len(ignored))
        for dirpath, dirnames, filenames in os.walk(label_dir):
            dirnames[:] = sorted(d for d in dirnames if _visible(d))
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                path = Path(dirpath) / fname
                if not is_image_file(path):
                    ignored.append(f"{path}: not an image file ({', '.join(IMAGE_EXTENSIONS)})")
                    continue
                rel = path.relative_to(label_dir).with_suffix("").as_posix()
                cand = Candidate(key=f"{prefix}/{rel}", path=path, label=label, origin=str(path), split=split)
                if four_view:
                    parsed = _four_view_name(path, label_dir)
                    if parsed is None:
                        problems.append(
                            Problem(
                                str(path),
                                "4-view file name must end in _north, _east, _south or _west (e.g. 123_north.jpg)",
                            )
                        )
                        continue
                    loc, view = parsed
                    cand.location_key, cand.view = f"{prefix}/{loc}", view
                    cand.key = f"{prefix}/{loc}_{view}"
                candidates.append(cand)
        if (len(candidates), len(problems)) == counts[:2]:
            others = len(ignored) - counts[2]
            note = f" ({others} other file{'s' if others != 1 else ''} ignored)" if others else ""
            empty.append(Problem(str(label_dir), f"class folder {label!r} has no image files{note}"))
    if not candidates and not problems:
        raise DatasetImportError(f"no image files found under {root}")
    return FolderScan(candidates, problems + empty, ignored, split_first)


def _four_view_name(path: Path, label_dir: Path) -> tuple[str, str] | None:
    stem = path.stem
    rel_parent = path.parent.relative_to(label_dir).as_posix()
    if stem.lower() in VIEWS and rel_parent != ".":
        return rel_parent, stem.lower()
    parsed = split_view_suffix(stem)
    if parsed is None:
        return None
    loc = parsed[0] if rel_parent == "." else f"{rel_parent}/{parsed[0]}"
    return loc, parsed[1]


# ------------------------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvColumns:
    """Column names of a manifest (``None`` = not present). OSV-5M defaults: id, country, latitude,
    longitude. ``path`` holds an image path (relative to the image folder); without it images are
    found by id as ``<image_dir>/<id>.<ext>`` (4-view: ``<id>_<view>.<ext>``). ``views`` maps each
    view to a column holding that view's path (one row per 4-view location). Latitude and longitude
    under their default names are used when the file has them; under other names they are required."""

    id: str | None = "id"
    path: str | None = None
    label: str = "country"
    split: str | None = None
    latitude: str | None = "latitude"
    longitude: str | None = "longitude"
    views: tuple[tuple[str, str], ...] | None = None

    def required(self) -> list[str]:
        """Columns that must exist. Latitude/longitude under their default names are optional."""
        cols = [self.id, self.path, self.label, self.split]
        cols += [
            c for c, default in ((self.latitude, "latitude"), (self.longitude, "longitude")) if c != default
        ]
        cols += [c for _, c in self.views or ()]
        return [c for c in cols if c]

    def present(self, header: Sequence[str]) -> CsvColumns:
        """These columns without the optional ones the file does not have."""
        return replace(
            self,
            latitude=self.latitude if self.latitude in header else None,
            longitude=self.longitude if self.longitude in header else None,
        )


@dataclass
class CsvScan:
    candidates: list[Candidate]
    problems: list[Problem]
    image_dir: Path
    n_rows: int


def default_image_dir(csv_path: Path) -> Path:
    """OSV-5M layout: ``<csv dir>/images/<csv stem>/`` if present, else ``<csv dir>/images/``, else the CSV's folder."""
    for cand in (csv_path.parent / "images" / csv_path.stem, csv_path.parent / "images"):
        if cand.is_dir():
            return cand
    return csv_path.parent


def _read_header(reader: csv.DictReader, csv_path: Path, columns: CsvColumns) -> list[str]:
    header = reader.fieldnames
    if not header:
        raise DatasetImportError(f"{csv_path} is empty (no header row)")
    header = [h.strip() for h in header]
    reader.fieldnames = header
    missing = [c for c in columns.required() if c not in header]
    if missing:
        raise DatasetImportError(
            f"{csv_path}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(columns found: {', '.join(header)}); set the column names to match the file"
        )
    if not columns.id and not columns.path and not columns.views:
        raise DatasetImportError(f"{csv_path}: name an id column or a path column to find the images")
    return header


def _float(value: str, name: str, lo: float, hi: float) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        f = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not (lo <= f <= hi):
        raise ValueError(f"{name} {f:g} is outside [{lo:g}, {hi:g}]")
    return f


class _Finder:
    """Finds ``<stem>.<ext>`` in one folder with a single directory listing."""

    def __init__(self, folder: Path, extensions: Sequence[str]) -> None:
        self.folder, self.extensions = folder, tuple(e.lower() for e in extensions)
        self.by_stem: dict[str, Path] = {}
        if folder.is_dir():
            rank = {e: i for i, e in enumerate(self.extensions)}
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in rank:
                    old = self.by_stem.get(stem)
                    if old is None or rank[ext.lower()] < rank[old.suffix.lower()]:
                        self.by_stem[stem] = Path(entry.path)

    def find(self, stem: str) -> Path | None:
        return self.by_stem.get(stem)

    def looked_for(self, stem: str) -> str:
        return f"{self.folder}/{stem}" + "{" + ",".join(self.extensions) + "}"


def check_delimiter(delimiter: str, csv_path: Path | str) -> None:
    """Raise :class:`DatasetImportError` unless ``delimiter`` is one character that can separate fields."""
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n\x00 ':
        raise DatasetImportError(
            f"{csv_path}: the field delimiter must be one character other than a quote, a space or a "
            f"line break (',' ';' '|' or a tab), got {delimiter!r}"
        )


def scan_csv(
    csv_path: str | Path,
    columns: CsvColumns = CsvColumns(),
    *,
    image_dir: str | Path | None = None,
    four_view: bool = False,
    extensions: Sequence[str] = (".jpg", ".jpeg", ".png"),
    delimiter: str = ",",
) -> CsvScan:
    """Read a manifest into candidates. Rows are reported as ``<file> line <n>`` (the header is line 1)."""
    csv_path = Path(csv_path).expanduser().resolve()
    if not csv_path.is_file():
        raise DatasetImportError(f"CSV manifest not found: {csv_path}")
    check_delimiter(delimiter, csv_path)
    folder = Path(image_dir).expanduser().resolve() if image_dir else default_image_dir(csv_path)
    if not folder.is_dir():
        raise DatasetImportError(f"image folder not found: {folder}")
    finder = _Finder(folder, extensions) if not columns.path and not columns.views else None
    candidates: list[Candidate] = []
    problems: list[Problem] = []
    n_rows = 0
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            columns = columns.present(_read_header(reader, csv_path, columns))
            line = 1
            for row in reader:
                line = reader.line_num
                n_rows += 1
                where = f"{csv_path.name} line {line}"
                if None in row:
                    problems.append(
                        Problem(where, f"has more fields than the header ({len(reader.fieldnames)})")
                    )
                    continue
                try:
                    candidates += _row_candidates(row, where, columns, folder, finder, four_view)
                except ValueError as exc:
                    problems.append(Problem(where, str(exc)))
    except UnicodeDecodeError as exc:
        raise DatasetImportError(f"{csv_path} is not UTF-8 text (byte {exc.start})") from exc
    except csv.Error as exc:
        raise DatasetImportError(f"{csv_path} line {reader.line_num}: malformed CSV ({exc})") from exc
    if n_rows == 0:
        raise DatasetImportError(f"{csv_path} has a header but no rows")
    return CsvScan(candidates, problems, folder, n_rows)


def _cell(row: dict[str, str | None], column: str | None) -> str:
    return (row.get(column) or "").strip() if column else ""


def _resolve(value: str, folder: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else folder / p


def _row_candidates(
    row: dict[str, str | None],
    where: str,
    columns: CsvColumns,
    folder: Path,
    finder: _Finder | None,
    four_view: bool,
) -> list[Candidate]:
    """The candidates of one row (one image, or the four views of a location). Raises ValueError."""
    label = _cell(row, columns.label)
    if not label:
        raise ValueError(f"empty label (column {columns.label!r})")
    split = None
    if columns.split:
        raw = _cell(row, columns.split)
        split = normalise_split(raw)
        if split is None:
            raise ValueError(f"split {raw!r} (column {columns.split!r}) is not train, val or test")
    lat = _float(_cell(row, columns.latitude), "latitude", -90, 90)
    lon = _float(_cell(row, columns.longitude), "longitude", -180, 180)
    ident = _cell(row, columns.id)
    if columns.id and not ident:
        raise ValueError(f"empty id (column {columns.id!r})")
    common = dict(label=label, origin=where, split=split, latitude=lat, longitude=lon)
    if not four_view:
        if columns.path:
            rel = _cell(row, columns.path)
            if not rel:
                raise ValueError(f"empty path (column {columns.path!r})")
            return [
                Candidate(
                    key=ident or Path(rel).with_suffix("").as_posix(), path=_resolve(rel, folder), **common
                )
            ]
        assert finder is not None
        path = finder.find(ident)
        if path is None:
            raise ValueError(f"no image file for id {ident!r} (looked for {finder.looked_for(ident)})")
        return [Candidate(key=ident, path=path, **common)]
    if columns.views:
        paths = {v: _cell(row, c) for v, c in columns.views}
        loc = ident or _location_from_path(paths.get("north", ""), where)
        missing = [v for v in VIEWS if not paths.get(v)]
        if missing:
            raise ValueError(f"location {loc!r} is missing view(s) {', '.join(missing)} (empty cells)")
        return [
            Candidate(key=f"{loc}_{v}", path=_resolve(paths[v], folder), location_key=loc, view=v, **common)
            for v in VIEWS
        ]
    if columns.path:
        rel = _cell(row, columns.path)
        parsed = split_view_suffix(Path(rel).stem) if rel else None
        if parsed is None:
            raise ValueError(f"path {rel!r} does not end in _north, _east, _south or _west")
        loc = ident or (Path(rel).parent / parsed[0]).as_posix()
        return [
            Candidate(
                key=f"{loc}_{parsed[1]}",
                path=_resolve(rel, folder),
                location_key=loc,
                view=parsed[1],
                **common,
            )
        ]
    assert finder is not None
    found = {v: finder.find(f"{ident}_{v}") for v in VIEWS}
    missing = [v for v in VIEWS if found[v] is None]
    if missing:
        raise ValueError(
            f"location {ident!r} is missing view(s) {', '.join(missing)} "
            f"(looked for {finder.looked_for(ident + '_<view>')})"
        )
    return [Candidate(key=f"{ident}_{v}", path=found[v], location_key=ident, view=v, **common) for v in VIEWS]


def _location_from_path(path: str, where: str) -> str:
    parsed = split_view_suffix(Path(path).stem) if path else None
    if parsed is None:
        raise ValueError("no id column and the north path has no _north suffix to name the location")
    return parsed[0]
