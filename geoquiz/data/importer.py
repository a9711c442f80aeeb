"""Dataset import: folder-per-label trees, OSV-5M-style CSV manifests and 4-view locations.

Every importer runs the same pipeline:

1. scan the source into candidates (:mod:`geoquiz.data.sources`), collecting bad rows and files;
2. check labels against ``classes`` (when given) and ids for duplicates;
3. decode every image fully (in a small thread pool) to prove it is readable and record its size;
4. for 4-view data, check that every location has all four views (a location missing one is
   reported, never silently dropped);
5. assign splits (from a column or ``root/<split>/<label>`` folders, one fixed split, or a stratified
   random split with a recorded seed; 4-view locations are split as a whole);
6. if anything was wrong: ``skip_bad=False`` (strict, the default) raises
   :class:`DatasetImportError` listing every problem by row or path and writes nothing;
   ``skip_bad=True`` leaves those items out and lists them in :attr:`ImportResult.skipped`;
7. write everything in one transaction with :func:`store_dataset`.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoquiz.data.imageio import ImageReadError, verify_image
from geoquiz.data.sources import Candidate, CsvColumns, Problem, scan_csv, scan_folder
from geoquiz.data.splits import DEFAULT_FRACTIONS, check_fractions, normalise_split, stratified_split
from geoquiz.data.store import delete_dataset, store_dataset
from geoquiz.errors import DatasetImportError
from geoquiz.progress import Reporter, step
from geoquiz.types import VIEWS, ImageItem

__all__ = [
    "CsvColumns",
    "ImportResult",
    "delete_dataset",
    "import_csv",
    "import_folder",
    "import_four_view",
    "store_dataset",
]


VERIFY_BATCH = 256  # images decoded per thread-pool batch


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``skipped`` lists bad rows/files left out (``skip_bad=True`` only);
    ``ignored`` lists files that were not images (never imported, never an error)."""

    dataset_id: int
    name: str
    kind: str
    n_images: int
    n_locations: int
    classes: tuple[str, ...]
    splits: dict[str, int]
    split_method: str
    split_seed: int | None
    skipped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines (the CLI prints them, the dialog shows them)."""
        unit = (
            f"{self.n_locations} locations ({self.n_images} images)"
            if self.kind == "4view"
            else f"{self.n_images} images"
        )
        splits = ", ".join(f"{k} {v}" for k, v in sorted(self.splits.items()))
        seed = f", seed {self.split_seed}" if self.split_seed is not None else ""
        lines = [
            f"imported dataset {self.name!r} ({self.kind}): {unit}, {len(self.classes)} classes",
            f"splits ({self.split_method}{seed}): {splits}",
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} bad item(s):")
            lines += [f"  - {s}" for s in self.skipped]
        if self.ignored:
            lines.append(f"ignored {len(self.ignored)} non-image file(s)")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------ public API


def import_folder(
    project: Any,
    name: str,
    root: str | Path,
    *,
    four_view: bool = False,
    classes: Sequence[str] | None = None,
    split: str | None = None,
    split_fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    skip_bad: bool = False,
    replace: bool = False,
    reporter: Reporter | None = None,
) -> ImportResult:
    """Import ``root/<label>/<images>`` (or ``root/<train|val|test>/<label>/<images>``, whose folders
    then give the splits). ``four_view=True``: file names ``<id>_north.jpg`` ... (see
    :func:`geoquiz.data.sources.scan_folder`). ``split`` puts everything in one split; otherwise a
    stratified random split with ``split_fractions`` (train, val, test) and ``seed``."""
    step(reporter, 0, 0, "scanning folders")
    scan = scan_folder(root, four_view=four_view)
    method = "folder" if scan.split_from_folders and split is None else None
    params = {"layout": "folder", "root": str(Path(root).expanduser().resolve()), "four_view": four_view}
    return _finish(
        project,
        name,
        "4view" if four_view else "single",
        scan.candidates,
        scan.problems,
        scan.ignored,
        source=params["root"],
        root=params["root"],
        classes=classes,
        split=split,
        split_fractions=split_fractions,
        seed=seed,
        split_method=method,
        skip_bad=skip_bad,
        replace=replace,
        params=params,
        reporter=reporter,
    )


def import_csv(
    project: Any,
    name: str,
    csv_path: str | Path,
    *,
    columns: CsvColumns | None = None,
    image_dir: str | Path | None = None,
    four_view: bool = False,
    classes: Sequence[str] | None = None,
    split: str | None = None,
    split_fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    extensions: Sequence[str] = (".jpg", ".jpeg", ".png"),
    delimiter: str = ",",
    skip_bad: bool = False,
    replace: bool = False,
    reporter: Reporter | None = None,
) -> ImportResult:
    """Import a CSV manifest (OSV-5M style by default: ``id, latitude, longitude, country, ...`` with
    images at ``images/<csv stem>/<id>.jpg``). Column names come from ``columns``; with
    ``columns.split`` set the splits come from that column, else from ``split`` (one fixed split) or a
    stratified random split. ``four_view=True``: see :func:`import_four_view`."""
    columns = columns or CsvColumns()
    step(reporter, 0, 0, "reading the manifest")
    scan = scan_csv(
        csv_path,
        columns,
        image_dir=image_dir,
        four_view=four_view,
        extensions=extensions,
        delimiter=delimiter,
    )
    csv_abs = str(Path(csv_path).expanduser().resolve())
    params = {
        "layout": "csv",
        "csv": csv_abs,
        "image_dir": str(scan.image_dir),
        "four_view": four_view,
        "columns": {k: v for k, v in vars(columns).items() if v is not None},
        "rows": scan.n_rows,
    }
    return _finish(
        project,
        name,
        "4view" if four_view else "single",
        scan.candidates,
        scan.problems,
        [],
        source=csv_abs,
        root=str(scan.image_dir),
        classes=classes,
        split=split,
        split_fractions=split_fractions,
        seed=seed,
        split_method="column" if columns.split else None,
        skip_bad=skip_bad,
        replace=replace,
        params=params,
        reporter=reporter,
    )


def import_four_view(
    project: Any,
    name: str,
    source: str | Path,
    *,
    columns: CsvColumns | None = None,
    view_columns: dict[str, str] | None = None,
    **kwargs: Any,
) -> ImportResult:
    """Import 4-view locations (north/east/south/west) from a folder or a CSV manifest.

    * a folder: ``root/<label>/<id>_<view>.<ext>`` (or ``root/<label>/<id>/<view>.<ext>``);
    * a CSV with one column per view (``view_columns``, e.g. ``{"north": "north_path", ...}``; by
      default columns named ``north``, ``east``, ``south``, ``west`` are used when all are present);
    * a CSV with an id column and files ``<image_dir>/<id>_<view>.<ext>``;
    * a CSV with a path column, one row per image, views taken from the file-name suffix.

    Other keyword arguments are those of :func:`import_folder` / :func:`import_csv`.
    """
    source = Path(source).expanduser()
    if source.is_dir():
        return import_folder(project, name, source, four_view=True, **kwargs)
    columns = columns or CsvColumns()
    if view_columns is None and columns.views is None and source.is_file():
        header = _csv_header(source, kwargs.get("delimiter", ","))
        if all(v in header for v in VIEWS):
            view_columns = {v: v for v in VIEWS}
    if view_columns is not None:
        unknown = set(view_columns) - set(VIEWS)
        if unknown or len(view_columns) != 4:
            raise DatasetImportError(f"view columns must name exactly the views {', '.join(VIEWS)}")
        columns = CsvColumns(**{**vars(columns), "views": tuple((v, view_columns[v]) for v in VIEWS)})
    return import_csv(project, name, source, columns=columns, four_view=True, **kwargs)


def _csv_header(path: Path, delimiter: str) -> list[str]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [h.strip() for h in next(csv.reader(fh, delimiter=delimiter), [])]
    except (OSError, UnicodeDecodeError, csv.Error, TypeError):  # scan_csv then reports the problem
        return []


# ------------------------------------------------------------------------------------- pipeline


def _finish(
    project: Any,
    name: str,
    kind: str,
    candidates: list[Candidate],
    problems: list[Problem],
    ignored: list[str],
    *,
    source: str,
    root: str | None,
    classes: Sequence[str] | None,
    split: str | None,
    split_fractions: Sequence[float],
    seed: int,
    split_method: str | None,
    skip_bad: bool,
    replace: bool,
    params: dict,
    reporter: Reporter | None,
) -> ImportResult:
    if not name or not name.strip():
        raise DatasetImportError("the dataset name is empty")
    name = name.strip()
    if split is not None and normalise_split(split) is None:
        raise DatasetImportError(f"split {split!r} is not train, val or test")
    try:
        fractions = check_fractions(split_fractions)
    except ValueError as exc:
        raise DatasetImportError(str(exc)) from None
    _check_name_free(project, name, replace)
    problems = list(problems)
    class_list = list(classes) if classes else None
    if class_list is not None:
        problems += _unknown_labels(candidates, class_list)
    problems += _duplicates(candidates)
    candidates = _drop(candidates, problems)
    problems += _verify(candidates, reporter, _pixel_limit(project))
    candidates = _drop(candidates, problems)
    if kind == "4view":
        problems += _incomplete_locations(candidates)
        candidates = _drop(candidates, problems)
    if problems and not skip_bad:
        raise DatasetImportError(
            f"import of {name!r} stopped: {len(problems)} bad row(s) or file(s); nothing was imported "
            "(fix them, or skip bad items)",
            [str(p) for p in problems],
        )
    if not candidates:
        raise DatasetImportError(f"import of {name!r}: no valid images left", [str(p) for p in problems])
    method, used_seed = _assign_splits(candidates, kind, split, split_method, fractions, seed)
    items = [_to_item(c) for c in candidates]
    params = {**params, "split_fractions": list(fractions) if method == "stratified" else None}
    params["skipped"] = len(problems)
    dataset_id = store_dataset(
        project,
        name,
        kind,
        items,
        source=source,
        root=root,
        classes=class_list,
        split_method=method,
        split_seed=used_seed,
        params=params,
        replace=replace,
        reporter=reporter,
    )
    return ImportResult(
        dataset_id=dataset_id,
        name=name,
        kind=kind,
        n_images=len(items),
        n_locations=len({c.location_key for c in candidates}) if kind == "4view" else 0,
        classes=tuple(class_list or sorted({c.label for c in candidates})),
        splits=dict(sorted(Counter(c.split for c in candidates).items())),
        split_method=method,
        split_seed=used_seed,
        skipped=tuple(str(p) for p in problems),
        ignored=tuple(ignored),
        params=params,
    )


def _check_name_free(project: Any, name: str, replace: bool) -> None:
    db = getattr(project, "db", project)
    if not replace and db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone():
        raise DatasetImportError(
            f"a dataset named {name!r} already exists in this project; choose another name or replace it"
        )


def _drop(candidates: list[Candidate], problems: list[Problem]) -> list[Candidate]:
    bad = {k for p in problems for k in p.hits}
    return [c for c in candidates if id(c) not in bad]


def _hit(where: str, message: str, *cands: Candidate) -> Problem:
    return Problem(where, message, tuple(id(c) for c in cands))


def _unknown_labels(candidates: list[Candidate], classes: list[str]) -> list[Problem]:
    known = set(classes)
    shown = ", ".join(classes[:12]) + (" ..." if len(classes) > 12 else "")
    return [
        _hit(c.origin, f"unknown label {c.label!r} (not in the class list: {shown})", c)
        for c in candidates
        if c.label not in known
    ]


def _duplicates(candidates: list[Candidate]) -> list[Problem]:
    first: dict[str, Candidate] = {}
    out = []
    for c in candidates:
        if c.key in first:
            out.append(_hit(c.origin, f"duplicate id {c.key!r} (first seen at {first[c.key].origin})", c))
        else:
            first[c.key] = c
    return out


def _pixel_limit(project: Any) -> int | None:
    """The project's ``[limits] max_image_pixels`` (None: the process-wide limit)."""
    limits = getattr(getattr(project, "settings", None), "limits", None)
    return getattr(limits, "max_image_pixels", None)


def _verify(candidates: list[Candidate], reporter: Reporter | None, max_pixels: int | None) -> list[Problem]:
    """Decode every image (thread pool; Pillow releases the GIL) and record width and height. Each
    file's pixel count is checked from its header, before decoding, against ``max_pixels``."""
    total = len(candidates)
    problems: list[Problem] = []
    every = max(1, total // 100)

    def check(c: Candidate) -> tuple[Candidate, tuple[int, int] | str]:
        try:
            return c, verify_image(c.path, max_pixels=max_pixels)
        except ImageReadError as exc:
            return c, exc.reason

    step(reporter, 0, total, "checking images")
    workers = max(1, min(4, os.cpu_count() or 1))
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geoquiz-verify") as pool:
        for start in range(0, total, VERIFY_BATCH):  # batches bound memory and make cancel prompt
            for c, outcome in pool.map(check, candidates[start : start + VERIFY_BATCH]):
                done += 1
                if isinstance(outcome, str):
                    where = c.origin if c.origin == str(c.path) else f"{c.origin} ({c.path.name})"
                    problems.append(_hit(where, outcome, c))
                else:
                    c.width, c.height = outcome
                if done % every == 0 or done == total:
                    step(reporter, done, total, f"checking images ({done}/{total})")
    return problems


def _incomplete_locations(candidates: list[Candidate]) -> list[Problem]:
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        groups[c.location_key or ""].append(c)
    out = []
    for loc, members in groups.items():
        views = [m.view for m in members]
        missing = [v for v in VIEWS if v not in views]
        repeated = sorted({v for v in views if views.count(v) > 1})
        labels = sorted({m.label for m in members})
        splits = sorted({m.split for m in members if m.split})
        where = members[0].origin if len({m.origin for m in members}) == 1 else f"location {loc!r}"
        if missing:
            found = ", ".join(v for v in VIEWS if v in views)
            out.append(
                _hit(
                    where, f"location {loc!r} is missing view(s) {', '.join(missing)} (has {found})", *members
                )
            )
        elif repeated:
            out.append(
                _hit(where, f"location {loc!r} has more than one {', '.join(repeated)} view", *members)
            )
        elif len(labels) > 1:
            out.append(_hit(where, f"location {loc!r} mixes labels {', '.join(labels)}", *members))
        elif len(splits) > 1:
            out.append(_hit(where, f"location {loc!r} mixes splits {', '.join(splits)}", *members))
    return out


def _assign_splits(
    candidates: list[Candidate],
    kind: str,
    split: str | None,
    split_method: str | None,
    fractions: tuple[float, float, float],
    seed: int,
) -> tuple[str, int | None]:
    """Set ``Candidate.split`` in place; return the recorded ``(split_method, split_seed)``."""
    if split is not None:
        fixed = normalise_split(split)
        for c in candidates:
            c.split = fixed
        return "fixed", None
    if split_method is not None:
        return split_method, None
    if kind == "4view":
        units = {c.location_key: c.label for c in candidates}
    else:
        units = {c.key: c.label for c in candidates}
    keys = sorted(units)
    assigned = stratified_split(keys, [units[k] for k in keys], fractions, seed)
    for c in candidates:
        c.split = assigned[c.location_key if kind == "4view" else c.key]
    return "stratified", seed


def _to_item(c: Candidate) -> ImageItem:
    return ImageItem(
        key=c.key,
        path=str(c.path),
        label=c.label,
        split=c.split or "train",
        location_key=c.location_key,
        view=c.view,
        latitude=c.latitude,
        longitude=c.longitude,
        width=c.width,
        height=c.height,
    )
