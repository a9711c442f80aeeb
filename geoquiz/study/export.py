"""Export the study data as tidy CSVs, a codebook and COCO JSON (Qt-free).

* One CSV per table (:data:`EXPORTS`; columns and meanings in
  :mod:`geoquiz.study.export_codebook`): ``trials`` (one row per trial), ``guesses`` (one row per
  guess rank), ``cue_boxes`` (one row per box), ``model_predictions``, ``elements``,
  ``faithfulness``, ``agreement``, ``planted_cues``, ``session_events`` (pauses and problems during
  the quiz); plus ``codebook.csv``, ``coco_boxes.json``
  (participants' cue boxes and the model's elements) and ``manifest.json``.
* Reading only, on connections of its own that share ONE read transaction's snapshot
  (:func:`geoquiz.study.snapshot.gate`): a quiz running in another process keeps saving
  answers while the export runs (in WAL mode a reader does not block a writer; the export holds the
  write lock only for the instant its connections start reading), and the export is a consistent
  snapshot (no trial without its guesses).
* Streaming: each file is one SQL query (:mod:`geoquiz.study.export_tables`: joins, types and
  formula neutralisation done by SQLite) whose rows go to the CSV writer a chunk at a time
  (:func:`geoquiz.csvio.write_rows`); COCO is written the same way (:mod:`geoquiz.study.export_coco`).
  A large study is written by worker processes, large tables in parts by key ranges, joined here
  (:mod:`geoquiz.study.export_parts`); a small one in this process. Memory does not grow with the
  study; 100,000 trials export in about 3.4 s on 2 cores (``bench.export``).
* Every file is written atomically: to a temporary file in the same folder, flushed and fsynced,
  then ``os.replace``-d over the target. UTF-8 without BOM; CRLF row ends (RFC 4180), so a text cell
  holding a CR or LF is always quoted and reads back as one cell.
* Text cells a spreadsheet would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab, CR) get
  a leading ``'``; numbers stay numbers (see :func:`geoquiz.csvio.neutralise`).

The files are byte for byte those of the earlier pandas implementation (tests/export/golden).
The ``*_frame`` functions return a table as a typed DataFrame (un-neutralised) for analyses.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geoquiz import __version__
from geoquiz.csvio import neutralise, neutralise_frame, write_csv, write_joined, write_json, write_rows
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.study import snapshot
from geoquiz.study.export_coco import COCO_NAME, MODEL_CATEGORY, write_coco
from geoquiz.study.export_codebook import EXPORTS, TABLES, codebook_rows, column_names
from geoquiz.study.export_parts import Part, WorkerError, WorkerPool, WorkerStartError, part_path, plan_parts
from geoquiz.study.export_sql import profile_wants
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


#: Worker processes an export uses (1: everything in the calling process).
WORKERS = 2
#: Below this many rows in the chosen tables the export is written in the calling process: starting
#: workers costs about 0.1 s, more than they save on a small study.
PARALLEL_MIN_ROWS = 50_000
#: Longest the workers may take to start their snapshots while the write lock is held.
GATE_HOLD_S = 5.0
#: The order whole files are written in by one process (largest first).
_BY_COST = ("coco", "trials", "guesses", "cue_boxes", "elements", "model_predictions", "faithfulness")


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


def _check_of(reporter: Reporter | None) -> Callable[[], None] | None:
    return reporter.check if reporter is not None else None


def _write_here(
    db_path: Path, jobs: list[str], out: Path, reporter: Reporter | None, total: int
) -> dict[str, tuple[Path, int]]:
    """Write every job in this process, one after another, on one snapshot connection (the next
    chunk of rows is read on a helper thread while the previous one is written)."""
    results: dict[str, tuple[Path, int]] = {}
    with read_snapshot(db_path) as conn:
        prepare(conn)
        profile = Profile()
        for job in sorted(jobs, key=lambda j: _BY_COST.index(j) if j in _BY_COST else len(_BY_COST)):
            results[job] = _write_file(conn, job, out, profile, _check_of(reporter), ahead=True)
            step(reporter, len(results), total, f"wrote {results[job][0].name}")
    return results


def _write_in_workers(
    db_path: Path,
    csv_names: list[str],
    coco: bool,
    out: Path,
    reporter: Reporter | None,
    total: int,
    workers: int,
) -> dict[str, tuple[Path, int]] | None:
    """Write the files on ``workers`` processes sharing one snapshot (:mod:`geoquiz.study.export_parts`):
    large tables in parts, joined here as each table completes. None when the study is too small to
    gain from it, or the workers or the shared snapshot cannot be had (the caller writes here)."""
    conn = snapshot.begin_reader(db_path, what="export")
    written: list[Path] = []
    try:
        # planned before the snapshot starts: the parts' ranges are open at both ends, so they hold
        # every row whatever is committed meanwhile (only the balance between them could shift)
        plan = plan_parts(conn, csv_names)
        rows = sum(p.rows for parts in plan.values() for p in parts)
        if coco:
            rows += conn.execute("SELECT count(*) FROM cue_boxes").fetchone()[0]
        if rows < PARALLEL_MIN_ROWS:
            return None
        try:
            pool = WorkerPool(workers, _check_of(reporter))
        except WorkerStartError:
            return None
        with pool:
            try:
                pool.call({"op": "open", "db": str(db_path)}, timeout=WorkerPool.START_S)
                with snapshot.gate(db_path, what="export") as held:
                    if not held:
                        return None
                    snapshot.begin(conn)
                    pool.call({"op": "begin"}, timeout=GATE_HOLD_S)  # a quiz's save waits meanwhile
            except WorkerStartError:
                return None
            return _run_parts(conn, pool, plan, coco, out, reporter, total, written)
    finally:
        snapshot.end(conn)
        for path in written:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _run_parts(
    conn: sqlite3.Connection,
    pool: WorkerPool,
    plan: dict[str, list[Part]],
    coco: bool,
    out: Path,
    reporter: Reporter | None,
    total: int,
    written: list[Path],
) -> dict[str, tuple[Path, int]]:
    """Profile, then every part and COCO on the pool's workers; join each table once its parts are in.
    ``written``: the part files and COCO's folder, for the caller to remove whatever happens."""
    run = secrets.token_hex(4)  # this export's parts: another export into the same folder has its own
    results: dict[str, tuple[Path, int]] = {}

    def finish(name: str, path: Path, n: int) -> None:
        results[name] = (path, n)
        step(reporter, len(results), total, f"wrote {path.name}")

    # 1. the profile questions, one source table per request, answered on the workers
    profile, by_table = Profile(), {}
    for name, parts in plan.items():
        if parts:
            for table, column, check in profile_wants(name, SPECS[name](conn), safe=True):
                by_table.setdefault(table, set()).add((table, column, check))
    sizes = {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in by_table}  # noqa: S608
    asks = [
        {"op": "ask", "wanted": sorted(w)} for t, w in sorted(by_table.items(), key=lambda kv: -sizes[kv[0]])
    ]
    pool.run(asks, lambda _task, answer: profile.merge(tuple(k) for k in answer["known"]))
    pool.call({"op": "known", "known": [[*k, v] for k, v in profile.known.items()]})

    # 2. the parts (largest first, by cells) and COCO; a table is joined as soon as it is complete
    left = {name: len(parts) for name, parts in plan.items()}
    counts: dict[str, int] = dict.fromkeys(plan, 0)
    for name, parts in plan.items():
        if not parts:  # a table the project does not have yet: its header alone
            finish(name, write_joined(out / f"{name}.csv", column_names(name), []), 0)
    # COCO goes to a folder of this export's own (the worker's temporary files live there too, so a
    # killed worker leaves nothing beside the export's files) and is moved into place here
    coco_dir = out / f".coco.{run}.tmp"
    if coco:
        coco_dir.mkdir()
        written.append(coco_dir)
    tasks = [{"op": "coco", "path": str(coco_dir / COCO_NAME)}] if coco else []
    parts = sorted((p for ps in plan.values() for p in ps), key=lambda p: -p.rows * len(TABLES[p.table]))
    for part in parts:
        path = part_path(out, part, run)
        written.append(path)
        tasks.append({"op": "part", **part.to_json(), "path": str(path)})

    def done(task: dict, answer: dict) -> None:
        if task["op"] == "coco":
            os.replace(coco_dir / COCO_NAME, out / COCO_NAME)
            finish("coco", out / COCO_NAME, answer["rows"])
            return
        name = task["table"]
        counts[name] += answer["rows"]
        left[name] -= 1
        if left[name] == 0:
            paths = [part_path(out, p, run) for p in plan[name]]
            finish(name, write_joined(out / f"{name}.csv", column_names(name), paths), counts[name])
            for path in paths:
                with contextlib.suppress(OSError):
                    path.unlink()

    pool.run(tasks, done)
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
    replaced whole. A study of :data:`PARALLEL_MIN_ROWS` rows or more is written by ``workers``
    processes sharing one snapshot (large tables in parts, :mod:`geoquiz.study.export_parts`); a
    smaller one, or ``workers=1``, in this process. The files are the same bytes either way.
    ``reporter`` gets a step per file and can cancel while rows are written (the files not yet
    complete are then left as they were, the parts written so far removed).
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
        results = None
        workers = min(workers, os.cpu_count() or 1)  # more processes than cores only take turns
        if workers > 1:
            results = _write_in_workers(
                Path(project.db_path), csv_names, "coco" in chosen, out, reporter, total, workers
            )
        if results is None:
            results = _write_here(Path(project.db_path), jobs, out, reporter, total)
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
    except sqlite3.Error as exc:
        raise GeoQuizError(f"cannot export: the project database {project.db_path}: {exc}") from exc
    except WorkerError as exc:
        if exc.oserror:
            raise GeoQuizError(f"cannot write the export to {out}: {exc.strerror or exc}") from exc
        raise GeoQuizError(f"cannot export: {exc}") from exc
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
