"""Faithfulness runs in the project database (``evaluation_runs``, ``evaluation_results``,
``evaluation_curves``; migration m0050).

A run row holds its full configuration (``config_json``: model, dataset, split, methods, segmenters,
every method's resolved parameters (``method_params``, e.g. Score-CAM's channels as a number), fill
and its parameters, repeats, seed, element parameters ...) and, once finished, a summary.
Results are written **one transaction per image** (its results, its curve steps and the run's
progress together), so an interrupted run holds only whole images and can be resumed: images that
already have rows are skipped. ``status`` is ``running``, ``done``, ``cancelled`` or ``failed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.types import ImageItem, Location

RESULT_COLUMNS = (
    "run_id",
    "image_id",
    "location_id",
    "label",
    "method",
    "segmenter",
    "test",
    "selection",
    "fill",
    "repeat",
    "seed",
    "n_boxes",
    "coverage",
    "correct",
    "true_prob",
    "base_correct",
    "base_true_prob",
    "n_segments",
    "segment_coverage",
    "selection_source",
    "human_scope",
    "trial_id",
    "cue_tag",
    "participant",
)
#: Columns of :data:`RESULT_COLUMNS` read through joins, not stored in ``evaluation_results``.
_JOINED = {
    "label": "COALESCE(l.label, i.label)",
    "participant": "(SELECT p.code FROM trials t JOIN sessions s ON s.id = t.session_id "
    "JOIN participants p ON p.id = s.participant_id WHERE t.id = e.trial_id)",
}
CURVE_COLUMNS = (
    "run_id",
    "image_id",
    "location_id",
    "label",
    "method",
    "segmenter",
    "test",
    "selection",
    "repeat",
    "seed",
    "k",
    "n",
    "coverage",
    "correct",
    "true_prob",
)


@dataclass(frozen=True)
class RunInfo:
    """One row of ``evaluation_runs`` with names resolved."""

    id: int
    kind: str
    model: str | None
    dataset: str | None
    split: str
    status: str
    config: dict
    summary: dict
    created_at: str
    finished_at: str | None
    n_units: int  # images (single view) or locations (4-view) with results

    def title(self) -> str:
        methods = ", ".join(self.config.get("methods", []))
        segs = ", ".join(self.config.get("segmenters", []))
        cells = f"[{methods} x {segs}]" if methods else ""
        if "human" in self.config.get("selections", ()):
            people = f"people of {self.config.get('study')}"
            cells = f"{cells} + {people}" if cells else f"[{people}]"
        text = (
            f"#{self.id} {self.model} on {self.dataset}/{self.split} {cells} fill={self.config.get('fill')}"
        )
        params = self.method_params_text()
        return f"{text} ({params})" if params else text

    def method_params_text(self) -> str:
        """The run's method parameters (``scorecam.channels=256, ...``); "" when none were recorded or
        its methods have none."""
        from geoquiz.attribution.params import describe

        recorded = self.config.get("method_params")
        if not recorded:
            return ""
        text = describe(recorded, self.config.get("methods"))
        return "" if text == "none" else text


def canonical(config: dict) -> str:
    """Deterministic JSON for a config (sorted keys), used to find a run to resume."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def create_run(
    db: sqlite_utils.Database,
    *,
    model_id: int | None,
    dataset_id: int | None,
    split: str,
    config: dict,
    kind: str,
) -> int:
    with transaction(db):
        return insert(
            db,
            "evaluation_runs",
            {
                "model_id": model_id,
                "dataset_id": dataset_id,
                "split": split,
                "config_json": canonical(config),
                "status": "running",
                "summary_json": "{}",
                "created_at": now(),
                "kind": kind,
            },
        )


def find_resumable(
    db: sqlite_utils.Database,
    *,
    model_id: int | None,
    dataset_id: int | None,
    split: str,
    config: dict,
    match_fill_params: bool = True,
    ignore: tuple[str, ...] = (),
) -> RunInfo | None:
    """The newest unfinished grid run with this configuration, or None. With
    ``match_fill_params=False`` the fill's parameters (e.g. a computed mean colour) are not compared;
    the keys in ``ignore`` (e.g. ``method_params``, which the caller compares itself) neither."""
    rows = db.execute(
        "SELECT id FROM evaluation_runs WHERE kind = 'grid' AND status != 'done' AND model_id IS ? AND dataset_id IS ?"
        " AND split = ? ORDER BY id DESC",
        [model_id, dataset_id, split],
    ).fetchall()

    skip = set(ignore) | ({"fill_params"} if not match_fill_params else set())

    def key(c: dict) -> str:
        return canonical({k: v for k, v in c.items() if k not in skip})

    wanted = key(config)
    for (run_id,) in rows:
        run = get_run(db, int(run_id))
        if key(run.config) == wanted:
            return run
    return None


def set_status(db: sqlite_utils.Database, run_id: int, status: str) -> None:
    with transaction(db):
        db.execute("UPDATE evaluation_runs SET status = ? WHERE id = ?", [status, run_id])


def done_units(db: sqlite_utils.Database, run_id: int) -> set[tuple[int | None, int | None]]:
    """``(image_id, location_id)`` pairs that already have results in the run."""
    rows = db.execute(
        "SELECT DISTINCT image_id, location_id FROM evaluation_results WHERE run_id = ?", [run_id]
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def write_unit(
    db: sqlite_utils.Database,
    run_id: int,
    image_id: int | None,
    location_id: int | None,
    rows: list[dict],
    curve_rows: list[dict],
    progress: dict | None = None,
) -> None:
    """Write one image's (or location's) results and curves, and the run's progress, atomically."""
    ids = {"run_id": run_id, "image_id": image_id, "location_id": location_id}
    with transaction(db):
        for table, group in (("evaluation_results", rows), ("evaluation_curves", curve_rows)):
            by_columns: dict[tuple[str, ...], list[dict]] = {}  # the model's and people's rows differ
            for r in group:
                by_columns.setdefault(tuple(r), []).append({**ids, **r})
            for same in by_columns.values():
                insert_many(db, table, same)
        if progress is not None:
            db.execute(
                "UPDATE evaluation_runs SET summary_json = ? WHERE id = ?", [json.dumps(progress), run_id]
            )


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, summary: dict | None = None) -> None:
    with transaction(db):
        if summary is None:
            db.execute(
                "UPDATE evaluation_runs SET status = ?, finished_at = ? WHERE id = ?", [status, now(), run_id]
            )
        else:
            db.execute(
                "UPDATE evaluation_runs SET status = ?, finished_at = ?, summary_json = ? WHERE id = ?",
                [status, now(), json.dumps(summary, default=_jsonable), run_id],
            )


def set_summary(db: sqlite_utils.Database, run_id: int, summary: dict) -> None:
    with transaction(db):
        db.execute(
            "UPDATE evaluation_runs SET summary_json = ? WHERE id = ?",
            [json.dumps(summary, default=_jsonable), run_id],
        )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {value!r}")


_RUN_SQL = """
SELECT r.id, r.kind, m.name, d.name, r.split, r.status, r.config_json, r.summary_json, r.created_at,
       r.finished_at,
       (SELECT COUNT(*) FROM (SELECT DISTINCT image_id, location_id FROM evaluation_results e WHERE e.run_id = r.id))
FROM evaluation_runs r
LEFT JOIN models m ON m.id = r.model_id
LEFT JOIN datasets d ON d.id = r.dataset_id
"""


def _run(row: tuple) -> RunInfo:
    return RunInfo(
        id=int(row[0]),
        kind=row[1],
        model=row[2],
        dataset=row[3],
        split=row[4],
        status=row[5],
        config=json.loads(row[6] or "{}"),
        summary=json.loads(row[7] or "{}"),
        created_at=row[8],
        finished_at=row[9],
        n_units=int(row[10]),
    )


def list_runs(db: sqlite_utils.Database, kind: str | None = None) -> list[RunInfo]:
    """Every faithfulness run (newest first), optionally only ``grid`` or ``p_sweep`` runs."""
    if kind is None:
        rows = db.execute(_RUN_SQL + " ORDER BY r.id DESC").fetchall()
    else:
        rows = db.execute(_RUN_SQL + " WHERE r.kind = ? ORDER BY r.id DESC", [kind]).fetchall()
    return [_run(r) for r in rows]


def get_run(db: sqlite_utils.Database, run_id: int) -> RunInfo:
    row = db.execute(_RUN_SQL + " WHERE r.id = ?", [run_id]).fetchone()
    if row is None:
        raise GeoQuizError(f"no evaluation run #{run_id} in this project")
    return _run(row)


def delete_run(db: sqlite_utils.Database, run_id: int) -> None:
    with transaction(db):
        db.execute("DELETE FROM evaluation_runs WHERE id = ?", [run_id])


def _frame(db: sqlite_utils.Database, table: str, columns: tuple[str, ...], run_id: int):
    import pandas as pd

    get_run(db, run_id)
    select = ", ".join(_JOINED.get(c, f"e.[{c}]") for c in columns)
    sql = (
        f"SELECT {select} FROM [{table}] e "  # noqa: S608 - names from code
        "LEFT JOIN images i ON i.id = e.image_id LEFT JOIN locations l ON l.id = e.location_id "
        "WHERE e.run_id = ? ORDER BY e.id"
    )
    rows = db.execute(sql, [run_id]).fetchall()
    return pd.DataFrame(rows, columns=list(columns))


def load_run(db: sqlite_utils.Database, run_id: int):
    """The run's results as a tidy ``pandas.DataFrame``, one row per test x selection x repeat x image.

    Columns: :data:`RESULT_COLUMNS` (``label`` is the true class; ``correct`` 0/1; ``coverage`` the
    fraction of the image's pixels inside the boxes; ``seed`` is NaN for guided rows; ``n_segments``
    and ``segment_coverage``, the segmenter's segments on the image and the fraction of its pixels
    they cover, are NaN for runs stored before they were recorded). ``selection_source`` is
    ``model`` (the model's elements) or ``human`` (people's cue boxes: then ``method`` is ``human``,
    ``segmenter`` and ``human_scope`` the scope trial / item / tag, with the ``trial_id`` and its
    ``participant`` code, or the ``cue_tag``; see :mod:`geoquiz.faithfulness.human`).
    """
    return _frame(db, "evaluation_results", RESULT_COLUMNS, run_id)


def load_curves(db: sqlite_utils.Database, run_id: int):
    """The run's progressive-curve steps as a ``pandas.DataFrame`` (:data:`CURVE_COLUMNS`)."""
    return _frame(db, "evaluation_curves", CURVE_COLUMNS, run_id)


def unit_ids(unit: ImageItem | Location) -> tuple[int | None, int | None]:
    """``(image_id, location_id)`` of a unit; a location is stored with its north view's image id."""
    if isinstance(unit, Location):
        return (unit.ordered()[0].id, unit.id)
    return (unit.id, None)
