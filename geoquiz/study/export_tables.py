"""The export's tables as SQL: one query per CSV file, typed and formatted by SQLite, read in chunks.

Each table of :data:`geoquiz.study.export_codebook.TABLES` is one query (:class:`TableSQL`) on a
snapshot connection (:func:`geoquiz.study.snapshot.read_snapshot`, :func:`prepare`-d): its joins,
per-row counts and ranks (correlated subqueries and joins on indexed columns), the codebook's column
order and types, and, for the CSV, the formula neutralisation of text
(:func:`geoquiz.csvio.neutralise_sql`), ordered by the table's key.

Types are those the pandas export wrote: ``int`` / ``bool`` an integer, ``float`` a REAL (``repr`` in
the file), ``str`` / ``time`` the stored text. A stored cell of another type (a REAL in an INTEGER
column, text in a REAL one) goes through ``geoquiz_int`` / ``geoquiz_real``, which convert it as
``pandas.to_numeric(errors="coerce")`` did (integers round half to even).

Per-cell work only where a value needs it: a :class:`Profile` first asks SQLite, in one pass over
each source table, which of the columns an export reads hold formula-like text or cells of an odd
type in this snapshot; only those columns get the CASE expressions, the others are read as stored.
The output is the same either way. Only ``model_predictions`` computes in Python (decoding
``probs_json``), a chunk at a time.
"""

from __future__ import annotations

import json
import math
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from geoquiz.csvio import neutralise, neutralise_sql, risky_sql
from geoquiz.study.export_codebook import TABLES

#: Rows per ``fetchmany`` chunk: the most the export holds of any table at once.
CHUNK = 5000

PEOPLE = (
    "JOIN sessions s ON s.id = t.session_id JOIN participants p ON p.id = s.participant_id "
    "JOIN studies st ON st.id = s.study_id"
)
_PEOPLE_TABLES = {"t": "trials", "s": "sessions", "p": "participants", "st": "studies"}


@dataclass(frozen=True)
class TableSQL:
    """One export table as SQL: ``SELECT <columns> <source> <order>``.

    ``columns``: codebook column -> SQL expression over the aliases of ``source`` (``FROM`` and
    joins); ``tables`` maps those aliases to tables for the :class:`Profile`. The names in
    ``computed`` are expressions SQLite already gives their codebook type (counts, 0/1 flags, casts);
    the others are stored columns, checked by the profile (``sources`` names the stored columns of
    an expression that is not just ``alias.column``, e.g. a subquery). ``python``: columns left NULL here and
    filled by ``post(rows, safe)`` from the ``extra`` expressions, which follow the codebook columns
    in each row and are dropped by ``post``.
    """

    tables: dict[str, str]
    source: str
    order: str
    columns: dict[str, str]
    computed: frozenset[str] = frozenset()
    sources: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    python: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    post: Callable[[list[tuple], bool], list[tuple]] | None = field(default=None, compare=False)


# ------------------------------------------------------------------------------- typed values


def _number(value: Any) -> float | None:
    """One cell as ``pandas.to_numeric(errors="coerce")`` reads it (NaN as None)."""
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def file_image_size(path: str | None) -> tuple[int, int]:
    """``(width, height)`` of the image file at ``path`` (PIL reads the header only); ``(0, 0)`` if
    there is no path or the file cannot be read."""
    if not path:
        return (0, 0)
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError):
        return (0, 0)


def _sql_int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or math.isinf(number) else round(number)


def prepare(conn: sqlite3.Connection) -> None:
    """Register the export's SQL functions on ``conn``: ``geoquiz_int``, ``geoquiz_real`` (odd cells
    of typed columns) and ``geoquiz_image_size(path, axis)`` (width / height of an image whose row
    has none, read from the file once per path; ``0`` if unreadable)."""
    sizes: dict[str, tuple[int, int]] = {}

    def image_size(path: str, axis: int) -> int:
        if path not in sizes:
            sizes[path] = file_image_size(path)
        return sizes[path][axis]

    conn.create_function("geoquiz_int", 1, _sql_int, deterministic=True)
    conn.create_function("geoquiz_real", 1, _number, deterministic=True)
    conn.create_function("geoquiz_image_size", 2, image_size, deterministic=True)


_CHECKS = {
    "int": "typeof({c}) NOT IN ('integer', 'null')",
    "float": "typeof({c}) NOT IN ('real', 'null')",
}
_SOURCE = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\b")


def _check_kind(kind: str, safe: bool) -> str | None:
    """What a column of codebook type ``kind`` needs checked: ``int``, ``float`` or ``text``."""
    if kind in ("int", "bool"):
        return "int"
    if kind == "float":
        return "float"
    return "text" if safe else None


class Profile:
    """Which stored columns need per-cell work in this snapshot, asked once per column.

    ``needs(conn, table, column, check)``: for ``check`` ``"text"``, does any value of
    ``table.column`` start like a formula (:func:`geoquiz.csvio.risky_sql`)? For ``"int"`` /
    ``"float"``, does any cell have another storage type than INTEGER / REAL (or NULL)? :meth:`ask`
    answers many columns of a table in one pass over it. One profile serves every connection of one
    snapshot (:func:`geoquiz.study.snapshot.read_snapshots`) and every thread using them.
    """

    def __init__(self) -> None:
        self.known: dict[tuple[str, str, str], bool] = {}
        self._lock = threading.Lock()

    def ask(self, conn: sqlite3.Connection, wanted: set[tuple[str, str, str]]) -> None:
        with self._lock:
            by_table: dict[str, list[tuple[str, str]]] = {}
            for table, column, check in sorted(wanted):
                if (table, column, check) not in self.known and column != "id":  # INTEGER PRIMARY KEY
                    by_table.setdefault(table, []).append((column, check))
            for table, checks in by_table.items():
                exprs = [
                    risky_sql(f'"{c}"') if check == "text" else _CHECKS[check].format(c=f'"{c}"')
                    for c, check in checks
                ]
                sql = f"SELECT {', '.join(f'max({e})' for e in exprs)} FROM [{table}]"  # noqa: S608 - names from code
                row = conn.execute(sql).fetchone()
                for (column, check), flag in zip(checks, row):
                    self.known[(table, column, check)] = bool(flag)

    def needs(self, conn: sqlite3.Connection, table: str, column: str, check: str) -> bool:
        if column == "id":
            return False
        if (table, column, check) not in self.known:
            self.ask(conn, {(table, column, check)})
        return self.known[(table, column, check)]


def _sources(spec: TableSQL, name: str, expr: str) -> list[tuple[str, str]]:
    if name in spec.sources:
        return list(spec.sources[name])
    return [(spec.tables[a], c) for a, c in _SOURCE.findall(expr) if a in spec.tables]


def _typed(kind: str, expr: str, safe: bool) -> str:
    if kind in ("int", "bool"):
        return f"CASE WHEN typeof({expr}) IN ('integer', 'null') THEN {expr} ELSE geoquiz_int({expr}) END"
    if kind == "float":
        return (
            f"CASE typeof({expr}) WHEN 'real' THEN {expr} WHEN 'null' THEN NULL "
            f"WHEN 'integer' THEN CAST({expr} AS REAL) ELSE geoquiz_real({expr}) END"
        )
    return neutralise_sql(expr) if safe else expr


def select_sql(
    conn: sqlite3.Connection,
    table: str,
    spec: TableSQL,
    profile: Profile,
    *,
    safe: bool,
    columns: Sequence[str] | None = None,
) -> str:
    """The query of ``table``: codebook columns in order (one ``spec`` lacks is empty, as the pandas
    export left it), typed / neutralised where ``profile`` says a value needs it, then ``extra``.
    ``columns``: only these codebook columns, in this order (and no ``extra``)."""
    chosen = (
        TABLES[table] if columns is None else [next(c for c in TABLES[table] if c.name == n) for n in columns]
    )
    wanted = set()
    for c in chosen:
        check = _check_kind(c.type, safe)
        if check and c.name in spec.columns and c.name not in spec.computed:
            wanted |= {(t, col, check) for t, col in _sources(spec, c.name, spec.columns[c.name])}
    profile.ask(conn, wanted)
    cols = []
    for c in chosen:
        expr = spec.columns.get(c.name, "NULL") if c.name not in spec.python else "NULL"
        check = _check_kind(c.type, safe)
        if (
            check
            and c.name not in spec.computed
            and any(profile.needs(conn, t, col, check) for t, col in _sources(spec, c.name, expr))
        ):
            expr = _typed(c.type, expr, safe)
        cols.append(f'{expr} AS "{c.name}"')
    extra = spec.extra if columns is None else ()
    return f"SELECT {', '.join([*cols, *extra])} {spec.source} {spec.order}"


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
        },
        computed=frozenset({"n_guesses", "top1_correct", "top5_correct", "n_cue_boxes"}),
        sources={"guess_1": (("guesses", "label"),)},
    )


def _guesses(conn: sqlite3.Connection) -> TableSQL:
    return TableSQL(
        tables={**_PEOPLE_TABLES, "g": "guesses"},
        source=f"FROM guesses g JOIN trials t ON t.id = g.trial_id {PEOPLE}",
        order="ORDER BY g.trial_id, g.rank",
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
        columns=columns,
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
}


def table_sql(
    conn: sqlite3.Connection,
    table: str,
    *,
    safe: bool,
    profile: Profile | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[str, TableSQL] | None:
    """The query of ``table`` and its spec (None when the project has no such table yet)."""
    spec = SPECS[table](conn)
    if spec is None:
        return None
    if columns is not None and spec.python and set(columns) & set(spec.python):
        raise ValueError(f"columns {', '.join(spec.python)} of {table} are computed in Python")
    return select_sql(conn, table, spec, profile or Profile(), safe=safe, columns=columns), spec


def table_chunks(
    conn: sqlite3.Connection,
    table: str,
    *,
    safe: bool = True,
    profile: Profile | None = None,
    check: Callable[[], None] | None = None,
    size: int = CHUNK,
    columns: Sequence[str] | None = None,
) -> Iterator[list[tuple]]:
    """The rows of ``table`` in codebook column order (or only ``columns``), ``size`` at a time
    (call :func:`prepare` on ``conn`` first). ``safe``: text neutralised for a CSV; ``profile``:
    shared by the tables of one export; ``check`` runs before each chunk (e.g. a progress
    reporter's cancellation check)."""
    found = table_sql(conn, table, safe=safe, profile=profile, columns=columns)
    if found is None:
        return
    sql, spec = found
    if columns is not None:
        spec = TableSQL(spec.tables, spec.source, spec.order, spec.columns)  # no post-processing
    cursor = conn.execute(sql)
    while True:
        if check is not None:
            check()
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield spec.post(rows, safe) if spec.post is not None else rows


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def prefetch(items: Iterable[Any], depth: int = 3) -> Iterator[Any]:
    """Iterate ``items`` on a helper thread, up to ``depth`` items ahead of the consumer.

    For :func:`table_chunks`: SQLite runs a query without Python's GIL, so the next chunks are read
    and typed on one core while this thread writes the previous ones on the other. The connection is
    still used by one thread at a time (the helper, until the iterator ends). An exception raised
    while iterating (e.g. :class:`geoquiz.progress.Cancelled` from ``check``) is raised here; when
    the consumer stops early, the helper stops after its current item.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(_Raised(exc))

    helper = threading.Thread(target=run, name="geoquiz-prefetch", daemon=True)
    helper.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        helper.join()


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
