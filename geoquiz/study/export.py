"""Export the study data as tidy CSVs, a codebook and COCO JSON (Qt-free).

* One CSV per table (:data:`EXPORTS`; columns and meanings in
  :mod:`geoquiz.study.export_codebook`): ``trials`` (one row per trial), ``guesses`` (one row per
  guess rank), ``cue_boxes`` (one row per box), ``model_predictions``, ``elements``,
  ``faithfulness``, ``agreement``, ``planted_cues``, ``session_events`` (pauses and problems during
  the quiz); plus ``codebook.csv``, ``coco_boxes.json``
  (participants' cue boxes and the model's elements) and ``manifest.json``.
* Reading only, on connections of its own that share ONE read transaction's snapshot
  (:func:`geoquiz.study.snapshot.read_snapshots`): a quiz running in another process keeps saving
  answers while the export runs (in WAL mode a reader does not block a writer; the export holds the
  write lock only for the instant its connections start reading), and the export is a consistent
  snapshot (no trial without its guesses).
* Streaming: each file is one SQL query (:mod:`geoquiz.study.export_tables`: joins, types and
  formula neutralisation done by SQLite) whose rows go to the CSV writer a chunk at a time
  (:func:`geoquiz.csvio.write_rows`); COCO is written the same way (:mod:`geoquiz.study.export_coco`).
  Two files are written at once, each by a thread on its own connection to the same snapshot
  (SQLite runs queries without Python's GIL). Memory does not grow with the study; 100,000 trials
  export in a few seconds (``bench.export``).
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
import queue
import sqlite3
import threading
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
session_events_frame = _frame_of("session_events")

FRAMES: dict[str, Callable[[sqlite3.Connection], pd.DataFrame]] = {
    "trials": trials_frame,
    "guesses": guesses_frame,
    "cue_boxes": cue_boxes_frame,
    "model_predictions": model_predictions_frame,
    "elements": elements_frame,
    "faithfulness": faithfulness_frame,
    "agreement": agreement_frame,
    "planted_cues": planted_cues_frame,
    "session_events": session_events_frame,
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


#: Threads writing files at once, each on its own connection to one shared snapshot.
WORKERS = 2
#: The order files are started in (largest first, so that two workers finish together).
_BY_COST = ("coco", "trials", "guesses", "cue_boxes", "elements", "model_predictions", "faithfulness")


class _Stopped(Exception):
    """Another worker failed: this one stops at its next chunk."""


def _write_file(
    conn: sqlite3.Connection, name: str, out: Path, profile: Profile, check, ahead: bool
) -> tuple[Path, int]:
    """Write ``name`` (a CSV table or ``coco``) from ``conn``; its path and number of rows / annotations."""
    if name == "coco":
        return out / COCO_NAME, write_coco(conn, out / COCO_NAME, profile=profile, check=check, ahead=ahead)
    chunks = table_chunks(conn, name, profile=profile, check=check)
    return write_rows(
        out / f"{name}.csv", [c.name for c in TABLES[name]], prefetch(chunks) if ahead else chunks
    )


def _write_files(
    conns: list[sqlite3.Connection], jobs: list[str], out: Path, reporter: Reporter | None, total: int
) -> dict[str, tuple[Path, int]]:
    """Write every job, ``len(conns)`` at a time (one thread per connection; a single connection
    reads ahead on a helper thread instead). The first error stops the others and is raised."""
    profile, lock, stop = Profile(), threading.Lock(), threading.Event()
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for job in sorted(jobs, key=lambda j: _BY_COST.index(j) if j in _BY_COST else len(_BY_COST)):
        pending.put(job)
    results: dict[str, tuple[Path, int]] = {}
    errors: list[BaseException] = []

    def check() -> None:
        if stop.is_set():
            raise _Stopped
        if reporter is not None:
            reporter.check()

    def work(conn: sqlite3.Connection) -> None:
        while not stop.is_set():
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[job] = _write_file(conn, job, out, profile, check, ahead=len(conns) == 1)
                with lock:
                    step(reporter, len(results), total, f"wrote {results[job][0].name}")
            except _Stopped:
                return
            except BaseException as exc:  # handed to the caller
                errors.append(exc)
                stop.set()
                return

    helpers = [threading.Thread(target=work, args=(c,), name="geoquiz-export") for c in conns[1:]]
    for helper in helpers:
        helper.start()
    work(conns[0])
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return results


def export_all(
    project: Any,
    out_dir: str | Path | None = None,
    *,
    what: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    workers: int = WORKERS,
) -> list[Path]:
    """Export the project's study data to ``out_dir`` (default :func:`default_export_dir`).

    ``what`` picks among :data:`EXPORTS` (default: all). Returns the files written: the chosen CSVs,
    ``codebook.csv``, ``coco_boxes.json`` when chosen, and ``manifest.json``. Raises GeoQuizError
    for an unknown choice or an unwritable folder; files already in ``out_dir`` are only ever
    replaced whole. ``workers`` files are written at once, on connections that share one snapshot
    (:func:`geoquiz.study.snapshot.read_snapshots`). ``reporter`` gets a step per file and can
    cancel between chunks of rows (the files being written are then left as they were).
    """
    chosen = _check_what(what)
    out = Path(out_dir) if out_dir is not None else default_export_dir(project)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeoQuizError(f"cannot create the export folder {out}: {exc.strerror or exc}") from exc
    csv_names = [w for w in chosen if w in SPECS]
    jobs = csv_names + (["coco"] if "coco" in chosen else [])
    total = len(jobs) + 2
    step(reporter, 0, total, "reading the database")
    try:
        with snapshot.read_snapshots(
            project.db_path, max(1, min(workers, len(jobs))), what="export"
        ) as conns:
            for conn in conns:
                prepare(conn)
            results = _write_files(conns, jobs, out, reporter, total)
        written = [results[name][0] for name in csv_names]
        step(reporter, len(jobs), total, "writing codebook.csv")
        written.append(write_csv(pd.DataFrame(codebook_rows(csv_names)), out / "codebook.csv"))
        if "coco" in results:
            written.append(results["coco"][0])
        manifest = {
            "geoquiz_version": __version__,
            "project": str(project.root),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
            "rows": {name: results[name][1] for name in csv_names},
            "coco_annotations": results["coco"][1] if "coco" in results else None,
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
