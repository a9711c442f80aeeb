"""Reading agreement runs back: :func:`list_runs`, :func:`latest_run`, :func:`load_agreement`."""

from __future__ import annotations

import json
from typing import Any

from geoquiz.study.review_data import (
    ItemRef,
)

_COLUMNS = (
    "run_id",
    "scope",
    "image_id",
    "location_id",
    "label",
    "reference",
    "metric",
    "tag",
    "value",
    "n",
    "ci_low",
    "ci_high",
)


def ordered_row(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row.get(c) for c in _COLUMNS}


def list_runs(db: Any) -> list[dict[str, Any]]:
    """Every agreement run, newest first, with model name and study slug (None = all studies)."""
    db = getattr(db, "db", db)
    rows = db.execute(
        "SELECT r.id, m.name, s.slug, r.method, r.segmenter, r.params_key, r.summary_json, r.created_at "
        "FROM agreement_runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN studies s ON s.id = r.study_id "
        "ORDER BY r.id DESC"
    ).fetchall()
    keys = ("id", "model", "study", "method", "segmenter", "params_key", "summary", "created_at")
    return [dict(zip(keys, r[:6] + (json.loads(r[6]), r[7]))) for r in rows]


def latest_run(
    db: Any, model: str, *, method: str | None = None, segmenter: str | None = None, study: str | None = None
) -> int | None:
    """The newest run for ``model`` (and the given method / segmenter / study, when set)."""
    for run in list_runs(db):
        if run["model"] != model or (study is not None and run["study"] != study):
            continue
        if (method is None or run["method"] == method) and (
            segmenter is None or run["segmenter"] == segmenter
        ):
            return int(run["id"])
    return None


def load_agreement(
    db: Any, run_id: int, *, scope: str | None = None, ref: ItemRef | None = None
) -> list[dict[str, Any]]:
    """Stored agreement rows of a run (optionally one scope, or one item), in insertion order."""
    db = getattr(db, "db", db)
    sql, params = f"SELECT {', '.join(_COLUMNS)} FROM agreement WHERE run_id = ?", [run_id]  # noqa: S608
    if scope is not None:
        sql, params = sql + " AND scope = ?", [*params, scope]
    if ref is not None:
        sql, params = sql + f" AND scope = 'item' AND {ref.column} = ?", [*params, ref.id]
    return [dict(zip(_COLUMNS, r)) for r in db.execute(sql + " ORDER BY id", params)]
