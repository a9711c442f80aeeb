"""The export's tables as SQL: one query per CSV file, typed and formatted by SQLite, read in chunks.

Each table of :data:`geoquiz.study.export_codebook.TABLES` is one :class:`TableSQL` (machinery in
:mod:`geoquiz.study.export_sql`) run on a snapshot connection
(:func:`geoquiz.study.snapshot.read_snapshot`, :func:`prepare`-d): its joins, per-row counts and
ranks (correlated subqueries and joins on indexed columns), the codebook's column order and types,
and, for the CSV, the formula neutralisation of text, ordered by the table's key. Only
``model_predictions`` computes in Python (decoding ``probs_json``), a chunk at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence

from geoquiz.csvio import neutralise
from geoquiz.study.export_codebook import TABLES
from geoquiz.study.export_sql import Profile, TableSQL, file_image_size, prefetch, prepare, select_sql

#: Rows per ``fetchmany`` chunk: the most the export holds of any table at once.
CHUNK = 5000

PEOPLE = (
    "JOIN sessions s ON s.id = t.session_id JOIN participants p ON p.id = s.participant_id "
    "JOIN studies st ON st.id = s.study_id"
)
_PEOPLE_TABLES = {"t": "trials", "s": "sessions", "p": "participants", "st": "studies"}


# ------------------------------------------------------------------------------------ the tables


def _trials(conn: sqlite3.Connection) -> TableSQL:
    """A trial with its people, item, first guess, the rank of its first correct guess (``gc``) and
    counts of guesses and boxes (index look-ups per trial)."""
    first = "(SELECT min(g.rank) FROM guesses g WHERE g.trial_id = t.id"
    return TableSQL(
        tables={
            **_PEOPLE_TABLES,
            "i": "images",
            "l": "locations",
            "d": "datasets",
            "gc": "guesses",
        },
        source=(
            f"FROM trials t {PEOPLE} LEFT JOIN images i ON i.id = t.image_id "
            "LEFT JOIN locations l ON l.id = t.location_id "
            "LEFT JOIN datasets d ON d.id = COALESCE(i.dataset_id, l.dataset_id) "
            f"LEFT JOIN guesses gc ON gc.trial_id = t.id AND gc.rank = {first} AND g.label = t.true_label)"
        ),
        order="ORDER BY t.id",
        key="t.id",
        columns={
            "trial_id": "t.id",
            "study": "st.slug",
            "participant": "p.code",
            "session_id": "t.session_id",
            "session_seed": "s.seed",
            "position": "t.position",
            "kind": "t.kind",
            "dataset": "d.name",
            "image_id": "t.image_id",
            "image_key": "i.key",
            "location_id": "t.location_id",
            "location_key": "l.key",
            "views_shown": "t.views_shown",
            "true_label": "t.true_label",
            "guess_1": "(SELECT g.label FROM guesses g WHERE g.trial_id = t.id ORDER BY g.rank LIMIT 1)",
            "n_guesses": "(SELECT count(*) FROM guesses g WHERE g.trial_id = t.id)",
            "correct_rank": "gc.rank",
            "top1_correct": "CASE WHEN gc.rank = 1 THEN 1 ELSE 0 END",
            "top5_correct": "CASE WHEN gc.rank <= 5 THEN 1 ELSE 0 END",
            "confidence": "t.confidence",
            "response_time_ms": "t.response_time_ms",
            "timed_out": "t.timed_out",
            "rationale": "t.rationale",
            "n_cue_boxes": "(SELECT count(*) FROM cue_boxes c WHERE c.trial_id = t.id)",
            "shown_at": "t.shown_at",
            "submitted_at": "t.submitted_at",
            "condition": "t.condition",
            "participant_index": "s.participant_index",
            "latin_row": "s.latin_row",
        },
        computed=frozenset({"n_guesses", "top1_correct", "top5_correct", "n_cue_boxes"}),
        sources={"guess_1": (("guesses", "label"),)},
    )


def _guesses(conn: sqlite3.Connection) -> TableSQL:
    return TableSQL(
        tables={**_PEOPLE_TABLES, "g": "guesses"},
        source=f"FROM guesses g JOIN trials t ON t.id = g.trial_id {PEOPLE}",
        order="ORDER BY g.trial_id, g.rank",
        key="g.trial_id",
        columns={
            "trial_id": "g.trial_id",
            "study": "st.slug",
            "participant": "p.code",
            "kind": "t.kind",
            "rank": "g.rank",
            "label": "g.label",
            "true_label": "t.true_label",
            "correct": "CASE WHEN g.label = t.true_label THEN 1 ELSE 0 END",
        },
        computed=frozenset({"correct"}),
    )


def _cue_boxes(conn: sqlite3.Connection) -> TableSQL:
    """A box with its trial's people; for a 4-view trial, the image of the box's view (``vi``)."""
    return TableSQL(
        tables={**_PEOPLE_TABLES, "c": "cue_boxes", "vi": "images", "img": "images"},
        source=(
            f"FROM cue_boxes c JOIN trials t ON t.id = c.trial_id {PEOPLE} "
            "LEFT JOIN images vi ON vi.location_id = t.location_id AND vi.view = c.view "
            "LEFT JOIN images img ON img.id = COALESCE(t.image_id, vi.id)"
        ),
        order="ORDER BY c.id",
        key="c.id",
        columns={
            "box_id": "c.id",
            "trial_id": "c.trial_id",
            "study": "st.slug",
            "participant": "p.code",
            "kind": "t.kind",
            "image_id": "COALESCE(t.image_id, vi.id)",
            "image_key": "img.key",
            "location_id": "t.location_id",
            "view": "c.view",
            "tag": "c.tag",
            "x0": "c.x0",
            "y0": "c.y0",
            "x1": "c.x1",
            "y1": "c.y1",
            "width": "c.x1 - c.x0",
            "height": "c.y1 - c.y0",
            "note": "c.note",
        },
    )


def _decode_probs(probs_json: str, classes_json: str) -> dict[str, float]:
    classes = json.loads(classes_json)
    data = json.loads(probs_json)
    if isinstance(data, dict):
        return {str(k): float(v) for k, v in data.items()}
    return {c: float(p) for c, p in zip(classes, data)}


_PREDICTED = ("correct", "true_rank", "top5_correct", "true_prob", "top5", "probs_json")


def _prediction_rows(rows: list[tuple], safe: bool) -> list[tuple]:
    """Fill the probability columns of a chunk of model_predictions rows (Python: JSON decoding)."""
    names = [c.name for c in TABLES["model_predictions"]]
    at = {name: names.index(name) for name in _PREDICTED}
    text = neutralise if safe else (lambda v: v)
    out = []
    for r in rows:
        row = list(r[: len(names)])
        truth, pred, probs_json, classes_json = r[len(names) :]
        probs = _decode_probs(probs_json, classes_json)
        ranked = sorted(probs, key=lambda c: -probs[c])
        rank = ranked.index(truth) + 1 if truth in probs else None
        row[at["correct"]] = None if truth is None else int(pred == truth)
        row[at["true_rank"]] = rank
        row[at["top5_correct"]] = None if rank is None else int(rank <= 5)
        row[at["true_prob"]] = probs.get(truth) if truth is not None else None
        row[at["top5"]] = text("|".join(ranked[:5]))
        row[at["probs_json"]] = text(json.dumps(probs, ensure_ascii=False))
        out.append(tuple(row))
    return out


def _model_predictions(conn: sqlite3.Connection) -> TableSQL:
    truth = "COALESCE(pr.true_label, i.label, l.label)"
    return TableSQL(
        tables={"pr": "predictions", "m": "models", "i": "images", "l": "locations", "d": "datasets"},
        source=(
            "FROM predictions pr JOIN models m ON m.id = pr.model_id LEFT JOIN images i ON i.id = pr.image_id "
            "LEFT JOIN locations l ON l.id = pr.location_id "
            "LEFT JOIN datasets d ON d.id = COALESCE(i.dataset_id, l.dataset_id)"
        ),
        order="ORDER BY pr.id",
        key="pr.id",
        columns={
            "prediction_id": "pr.id",
            "model": "m.name",
            "dataset": "d.name",
            "image_id": "pr.image_id",
            "image_key": "i.key",
            "location_id": "pr.location_id",
            "location_key": "l.key",
            "split": "COALESCE(i.split, l.split)",
            "true_label": truth,
            "pred_label": "pr.pred_label",
            "confidence": "pr.confidence",
            "created_at": "pr.created_at",
        },
        python=_PREDICTED,
        extra=(truth, "pr.pred_label", "pr.probs_json", "m.classes_json"),
        post=_prediction_rows,
    )


def _ceil(v: str) -> str:
    return f"(CAST({v} AS INTEGER) + ({v} > CAST({v} AS INTEGER)))"


def _elements(conn: sqlite3.Connection) -> TableSQL:
    """The model's elements. geoquiz.explain computes them at the model's input resolution S x S
    (``input_x0`` ...); ``x0`` ... are the same boxes in the image's own pixels (scaled by
    ``width / S`` and ``height / S``, rounded outwards, clipped to the image), the frame of the cue
    boxes. An image row without a size is measured from its file (unreadable: left unscaled)."""
    missing = "(i.width IS NULL OR i.height IS NULL) AND typeof(i.path) = 'text'"
    width = f"(CASE WHEN {missing} THEN geoquiz_image_size(i.path, 0) ELSE i.width END)"
    height = f"(CASE WHEN {missing} THEN geoquiz_image_size(i.path, 1) ELSE i.height END)"
    known = f"(m.input_size IS NOT NULL AND {width} > 0 AND {height} > 0)"
    columns = {
        "element_id": "e.id",
        "model": "m.name",
        "image_id": "am.image_id",
        "image_key": "i.key",
        "location_id": "i.location_id",
        "view": "COALESCE(am.view, i.view)",
        "method": "am.method",
        "target": "am.target",
        "segmenter": "sg.segmenter",
        "params_key": "e.params_key",
        "rank": "e.rank",
        "input_size": "m.input_size",
        "score": "e.score",
        "overlap": "e.overlap",
        "mean_attr": "e.mean_attr",
        "centre_attr": "e.centre_attr",
        "concept": "e.concept",
        "tag": "e.tag",
        "concept_score": "e.concept_score",
    }
    for axis, size in (("x", width), ("y", height)):
        low, high, scale = f"e.{axis}0", f"e.{axis}1", f"(CAST({size} AS REAL) / m.input_size)"
        columns[f"input_{axis}0"], columns[f"input_{axis}1"] = low, high
        columns[f"{axis}0"] = (
            f"CASE WHEN {known} THEN max(CAST({low} * {scale} AS INTEGER), 0) ELSE max(CAST({low} * 1.0 AS INTEGER), 0) END"
        )
        columns[f"{axis}1"] = (
            f"CASE WHEN {known} THEN min({_ceil(f'{high} * {scale}')}, {size}) ELSE {_ceil(f'{high} * 1.0')} END"
        )
    return TableSQL(
        tables={
            "e": "elements",
            "am": "attribution_maps",
            "sg": "segmentations",
            "m": "models",
            "i": "images",
        },
        source=(
            "FROM elements e JOIN attribution_maps am ON am.id = e.attribution_map_id "
            "JOIN segmentations sg ON sg.id = e.segmentation_id LEFT JOIN models m ON m.id = am.model_id "
            "LEFT JOIN images i ON i.id = am.image_id"
        ),
        order="ORDER BY e.id",
        key="e.id",
        columns=columns,
        computed=frozenset({"x0", "y0", "x1", "y1"}),
    )


def _table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}


def _faithfulness(conn: sqlite3.Connection) -> TableSQL:
    res, runs = _table_columns(conn, "evaluation_results"), _table_columns(conn, "evaluation_runs")
    columns = {
        "result_id": "r.id",
        "run_id": "r.run_id",
        "model": "m.name",
        "dataset": "d.name",
        "split": "u.split",
    }
    columns.update({"image_id": "r.image_id", "image_key": "i.key"})
    for name in ("method", "segmenter", "test", "selection", "fill", "repeat", "seed", "n_boxes", "coverage"):
        columns[name] = f"r.{name}"
    for name in ("correct", "true_prob", "base_correct", "base_true_prob"):
        columns[name] = f"r.{name}"
    columns["location_id"] = "r.location_id" if "location_id" in res else "NULL"
    columns["run_kind"] = "u.kind" if "kind" in runs else "'grid'"
    for name in ("n_segments", "segment_coverage"):
        columns[name] = f"r.{name}" if name in res else "NULL"
    columns["selection_source"] = "r.selection_source" if "selection_source" in res else "'model'"
    for name in ("human_scope", "trial_id", "cue_tag"):
        columns[name] = f"r.{name}" if name in res else "NULL"
    columns["participant"] = (
        "(SELECT p.code FROM trials t JOIN sessions s ON s.id = t.session_id "
        "JOIN participants p ON p.id = s.participant_id WHERE t.id = r.trial_id)"
        if "trial_id" in res
        else "NULL"
    )
    return TableSQL(
        tables={
            "r": "evaluation_results",
            "u": "evaluation_runs",
            "m": "models",
            "d": "datasets",
            "i": "images",
        },
        source=(
            "FROM evaluation_results r JOIN evaluation_runs u ON u.id = r.run_id "
            "LEFT JOIN models m ON m.id = u.model_id LEFT JOIN datasets d ON d.id = u.dataset_id "
            "LEFT JOIN images i ON i.id = r.image_id"
        ),
        order="ORDER BY r.id",
        key="r.id",
        columns=columns,
        sources={"participant": (("participants", "code"),)},
    )


def _agreement(conn: sqlite3.Connection) -> TableSQL | None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "agreement" not in tables:
        return None
    columns = {"run_id": "a.run_id", "model": "m.name", "study": "s.slug"}
    columns.update({name: f"r.{name}" for name in ("method", "segmenter", "params_key")})
    columns.update({"scope": "a.scope", "image_id": "a.image_id", "image_key": "i.key"})
    columns.update({"location_id": "a.location_id", "location_key": "l.key"})
    columns.update({name: f"a.{name}" for name in ("label", "reference", "metric", "tag", "value", "n")})
    columns.update({"ci_low": "a.ci_low", "ci_high": "a.ci_high"})
    return TableSQL(
        tables={
            "a": "agreement",
            "r": "agreement_runs",
            "m": "models",
            "s": "studies",
            "i": "images",
            "l": "locations",
        },
        source=(
            "FROM agreement a JOIN agreement_runs r ON r.id = a.run_id "
            "LEFT JOIN models m ON m.id = r.model_id LEFT JOIN studies s ON s.id = r.study_id "
            "LEFT JOIN images i ON i.id = a.image_id LEFT JOIN locations l ON l.id = a.location_id"
        ),
        order="ORDER BY a.run_id, a.id",
        key="a.run_id",
        columns=columns,
    )


def _planted_cues(conn: sqlite3.Connection) -> TableSQL:
    columns = {"cue_id": "c.id", "dataset": "d.name", "image_id": "c.image_id", "image_key": "i.key"}
    columns.update({"location_id": "i.location_id", "view": "i.view", "tag": "c.tag", "detail": "c.detail"})
    columns.update({name: f"c.{name}" for name in ("x0", "y0", "x1", "y1")})
    return TableSQL(
        tables={"c": "planted_cues", "i": "images", "d": "datasets"},
        source="FROM planted_cues c JOIN images i ON i.id = c.image_id JOIN datasets d ON d.id = i.dataset_id",
        order="ORDER BY c.id",
        key="c.id",
        columns=columns,
    )


def _session_events(conn: sqlite3.Connection) -> TableSQL | None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "session_events" not in tables:
        return None
    columns = {"event_id": "e.id", "study": "st.slug", "participant": "p.code", "session_id": "e.session_id"}
    columns.update(
        {name: f"e.{name}" for name in ("position", "kind", "started_at", "ended_at", "duration_ms")}
    )
    columns["detail"] = "e.detail_json"
    return TableSQL(
        tables={"e": "session_events", "s": "sessions", "p": "participants", "st": "studies"},
        source=(
            "FROM session_events e JOIN sessions s ON s.id = e.session_id "
            "JOIN participants p ON p.id = s.participant_id JOIN studies st ON st.id = s.study_id"
        ),
        order="ORDER BY e.id",
        key="e.id",
        columns=columns,
    )


SPECS: dict[str, Callable[[sqlite3.Connection], TableSQL | None]] = {
    "trials": _trials,
    "guesses": _guesses,
    "cue_boxes": _cue_boxes,
    "model_predictions": _model_predictions,
    "elements": _elements,
    "faithfulness": _faithfulness,
    "agreement": _agreement,
    "planted_cues": _planted_cues,
    "session_events": _session_events,
}


def table_sql(
    conn: sqlite3.Connection,
    table: str,
    *,
    safe: bool,
    profile: Profile | None = None,
    columns: Sequence[str] | None = None,
    ranged: bool = False,
) -> tuple[str, TableSQL] | None:
    """The query of ``table`` and its spec (None when the project has no such table yet)."""
    spec = SPECS[table](conn)
    if spec is None:
        return None
    if columns is not None and spec.python and set(columns) & set(spec.python):
        raise ValueError(f"columns {', '.join(spec.python)} of {table} are computed in Python")
    return select_sql(
        conn, table, spec, profile or Profile(), safe=safe, columns=columns, ranged=ranged
    ), spec


def table_chunks(
    conn: sqlite3.Connection,
    table: str,
    *,
    safe: bool = True,
    profile: Profile | None = None,
    check: Callable[[], None] | None = None,
    size: int = CHUNK,
    columns: Sequence[str] | None = None,
    part: tuple[int, int] | None = None,
) -> Iterator[list[tuple]]:
    """The rows of ``table`` in codebook column order (or only ``columns``), ``size`` at a time
    (call :func:`prepare` on ``conn`` first). ``safe``: text neutralised for a CSV; ``profile``:
    shared by the tables of one export; ``check`` runs before each chunk (e.g. a progress
    reporter's cancellation check); ``part``: only the rows whose key is in ``[lo, hi)``."""
    found = table_sql(conn, table, safe=safe, profile=profile, columns=columns, ranged=part is not None)
    if found is None:
        return
    sql, spec = found
    if columns is not None:
        spec = TableSQL(
            spec.tables, spec.source, spec.order, spec.columns, key=spec.key
        )  # no post-processing
    cursor = conn.execute(sql, {"lo": part[0], "hi": part[1]} if part is not None else {})
    while True:
        if check is not None:
            check()
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield spec.post(rows, safe) if spec.post is not None else rows


__all__ = [
    "CHUNK",
    "SPECS",
    "Profile",
    "TableSQL",
    "file_image_size",
    "prefetch",
    "prepare",
    "table_chunks",
    "table_sql",
]
