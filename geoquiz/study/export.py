"""Export the study data as tidy CSVs, a codebook and COCO JSON (Qt-free).

* One CSV per table (:data:`EXPORTS`; columns and meanings in
  :mod:`geoquiz.study.export_codebook`): ``trials`` (one row per trial), ``guesses`` (one row per
  guess rank), ``cue_boxes`` (one row per box), ``model_predictions``, ``elements``,
  ``faithfulness``, ``agreement``, ``planted_cues``; plus ``codebook.csv``, ``coco_boxes.json``
  (participants' cue boxes and the model's elements) and ``manifest.json``.
* Reading only, inside ONE read transaction on a connection of its own
  (:func:`geoquiz.study.snapshot.read_snapshot`; in WAL mode a reader never blocks a writer): a quiz
  running in another process keeps saving answers while the export runs, and the export is a
  consistent snapshot (no trial without its guesses).
* Streaming: each file is one SQL query (:mod:`geoquiz.study.export_tables`: joins, types and
  formula neutralisation done by SQLite) whose rows go to the CSV writer a chunk at a time
  (:func:`geoquiz.csvio.write_rows`); COCO is written the same way (:mod:`geoquiz.study.export_coco`).
  Memory does not grow with the study; 100,000 trials export in a few seconds (``bench.export``).
* Every file is written atomically: to a temporary file in the same folder, flushed and fsynced,
  then ``os.replace``-d over the target. UTF-8 without BOM; CRLF row ends (RFC 4180), so a text cell
  holding a CR or LF is always quoted and reads back as one cell.
* Text cells a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR) get
  a leading ``'``; numbers stay numbers (see :func:`geoquiz.csvio.neutralise`).

The files are byte for byte those of the earlier pandas implementation (tests/export/golden).
The ``*_frame`` functions return a table as a typed DataFrame (un-neutralised) for analyses.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geoquiz import __version__
from geoquiz.csvio import neutralise, neutralise_frame, write_csv, write_json, write_rows
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.study import snapshot
from geoquiz.study.export_coco import COCO_NAME, MODEL_CATEGORY, write_coco
from geoquiz.study.export_codebook import EXPORTS, TABLES, codebook_rows, column_names
from geoquiz.study.export_tables import SPECS, Profile, prefetch, prepare, table_chunks


def read_snapshot(db_path: str | Path):
    """:func:`geoquiz.study.snapshot.read_snapshot` for an export (errors say ``cannot export``)."""
    return snapshot.read_snapshot(db_path, what="export")


# ------------------------------------------------------------------------------ typed frames


def table_frame(conn: sqlite3.Connection, table: str) -> pd.DataFrame:
    """Table ``table`` of the snapshot ``conn`` as a DataFrame: codebook column order, codebook
    types (``Int64`` for int / bool, ``float64``, object text), text as stored (not neutralised)."""
    prepare(conn)
    rows = [r for chunk in table_chunks(conn, table, safe=False) for r in chunk]
    data: dict[str, Any] = {}
    for j, c in enumerate(TABLES[table]):
        values = [r[j] for r in rows]
        if c.type in ("int", "bool"):
            data[c.name] = pd.array(values, dtype="Int64")
        elif c.type == "float":
            data[c.name] = pd.array([float("nan") if v is None else v for v in values], dtype="float64")
        else:
            data[c.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=[c.name for c in TABLES[table]])


def _frame_of(table: str) -> Callable[[sqlite3.Connection], pd.DataFrame]:
    def frame(conn: sqlite3.Connection) -> pd.DataFrame:
        return table_frame(conn, table)

    frame.__name__ = f"{table}_frame"
    frame.__doc__ = f"The ``{table}`` table as a typed DataFrame (see :func:`table_frame`)."
    return frame


trials_frame = _frame_of("trials")
guesses_frame = _frame_of("guesses")
cue_boxes_frame = _frame_of("cue_boxes")
model_predictions_frame = _frame_of("model_predictions")
elements_frame = _frame_of("elements")
faithfulness_frame = _frame_of("faithfulness")
agreement_frame = _frame_of("agreement")
planted_cues_frame = _frame_of("planted_cues")

FRAMES: dict[str, Callable[[sqlite3.Connection], pd.DataFrame]] = {
    "trials": trials_frame,
    "guesses": guesses_frame,
    "cue_boxes": cue_boxes_frame,
    "model_predictions": model_predictions_frame,
    "elements": elements_frame,
    "faithfulness": faithfulness_frame,
    "agreement": agreement_frame,
    "planted_cues": planted_cues_frame,
}


def build_frames(conn: sqlite3.Connection, what: Sequence[str] = EXPORTS) -> dict[str, pd.DataFrame]:
    """The tidy tables named in ``what`` (CSV names only) from an open (snapshot) connection."""
    return {name: FRAMES[name](conn) for name in what if name in FRAMES}


# ---------------------------------------------------------------------------------------- export


def _check_what(what: Sequence[str] | None) -> list[str]:
    chosen = list(EXPORTS) if not what else list(dict.fromkeys(what))
    unknown = [w for w in chosen if w not in EXPORTS]
    if unknown:
        raise GeoQuizError(f"cannot export {', '.join(unknown)}: choose from {', '.join(EXPORTS)}")
    return chosen


def default_export_dir(project: Any) -> Path:
    """``<project>/exports/study-YYYYmmdd-HHMMSS`` (UTC)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(project.root) / "exports" / f"study-{stamp}"


def export_all(
    project: Any,
    out_dir: str | Path | None = None,
    *,
    what: Sequence[str] | None = None,
    reporter: Reporter | None = None,
) -> list[Path]:
    """Export the project's study data to ``out_dir`` (default :func:`default_export_dir`).

    ``what`` picks among :data:`EXPORTS` (default: all). Returns the files written: the chosen CSVs,
    ``codebook.csv``, ``coco_boxes.json`` when chosen, and ``manifest.json``. Raises GeoQuizError
    for an unknown choice or an unwritable folder; files already in ``out_dir`` are only ever
    replaced whole. ``reporter`` gets a step per file and can cancel between chunks of rows (the
    file being written is then left as it was).
    """
    chosen = _check_what(what)
    out = Path(out_dir) if out_dir is not None else default_export_dir(project)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeoQuizError(f"cannot create the export folder {out}: {exc.strerror or exc}") from exc
    csv_names = [w for w in chosen if w in SPECS]
    total = len(csv_names) + 3
    check = reporter.check if reporter is not None else None
    written: list[Path] = []
    rows: dict[str, int] = {}
    coco = None
    step(reporter, 0, total, "reading the database")
    try:
        with read_snapshot(project.db_path) as conn:
            prepare(conn)
            profile = Profile(conn)
            for i, name in enumerate(csv_names):
                step(reporter, i + 1, total, f"writing {name}.csv")
                header = [c.name for c in TABLES[name]]
                chunks = prefetch(table_chunks(conn, name, profile=profile, check=check))
                path, rows[name] = write_rows(out / f"{name}.csv", header, chunks)
                written.append(path)
            step(reporter, len(csv_names) + 1, total, "writing codebook.csv")
            written.append(write_csv(pd.DataFrame(codebook_rows(csv_names)), out / "codebook.csv"))
            if "coco" in chosen:
                step(reporter, len(csv_names) + 2, total, f"writing {COCO_NAME}")
                coco = write_coco(conn, out / COCO_NAME, profile=profile, check=check)
                written.append(out / COCO_NAME)
        manifest = {
            "geoquiz_version": __version__,
            "project": str(project.root),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            "rows": rows,
            "coco_annotations": coco,
            "files": [p.name for p in written] + ["manifest.json"],
        }
        written.append(write_json(manifest, out / "manifest.json"))
    except OSError as exc:
        raise GeoQuizError(f"cannot write the export to {out}: {exc.strerror or exc}") from exc
    step(reporter, total, total, f"exported to {out}")
    return written


__all__ = [
    "COCO_NAME",
    "EXPORTS",
    "FRAMES",
    "MODEL_CATEGORY",
    "build_frames",
    "column_names",
    "export_all",
    "neutralise",
    "neutralise_frame",
    "read_snapshot",
    "table_frame",
    "write_csv",
]
