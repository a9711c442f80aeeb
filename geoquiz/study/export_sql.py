"""The SQL machinery of the export (:mod:`geoquiz.study.export_tables` holds the tables).

* :class:`TableSQL`: one export table as ``SELECT <columns> <source> <order>``;
* :func:`select_sql`: its query with the codebook's column order and types and, for a CSV, the
  formula neutralisation of text (:func:`geoquiz.csvio.neutralise_sql`);
* :class:`Profile`: per-cell work only where a value needs it. It first asks SQLite, in one pass
  over each source table, which of the columns an export reads hold formula-like text or cells of an
  odd type in this snapshot; only those columns get the CASE expressions, the others are read as
  stored. The output is the same either way;
* :func:`prepare`: the SQL functions the queries call; :func:`prefetch`: reading ahead on a thread.

Types are those the pandas export wrote: ``int`` / ``bool`` an integer, ``float`` a REAL (``repr`` in
the file), ``str`` / ``time`` the stored text. A stored cell of another type (a REAL in an INTEGER
column, text in a REAL one) goes through ``geoquiz_int`` / ``geoquiz_real``, which convert it as
``pandas.to_numeric(errors="coerce")`` did (integers round half to even).
"""

from __future__ import annotations

import math
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from geoquiz.csvio import neutralise_sql, risky_sql
from geoquiz.study.export_codebook import TABLES


@dataclass(frozen=True)
class TableSQL:
    """One export table as SQL: ``SELECT <columns> <source> <order>``.

    ``columns``: codebook column -> SQL expression over the aliases of ``source`` (``FROM`` and
    joins); ``tables`` maps those aliases to tables for the :class:`Profile`. The names in
    ``computed`` are expressions SQLite already gives their codebook type (counts, 0/1 flags, casts);
    the others are stored columns, checked by the profile (``sources`` names the stored columns of
    an expression that is not just ``alias.column``, e.g. a subquery). ``python``: columns left
    NULL here and filled by ``post(rows, safe)`` from the ``extra`` expressions, which follow the
    codebook columns in each row and are dropped by ``post``. ``key``: ``alias.column`` of the
    integer column ``order`` starts with; a table is written in parts by ranges of it
    (:func:`select_sql` with ``ranged=True``, :mod:`geoquiz.study.export_parts`).
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
    key: str = ""

    def key_source(self) -> tuple[str, str]:
        """``(table, column)`` of :attr:`key`."""
        alias, _, column = self.key.partition(".")
        return self.tables[alias], column


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

    def merge(self, known: Iterable[tuple[str, str, str, bool]]) -> None:
        """Add answers found on another connection to the same snapshot (another process)."""
        with self._lock:
            self.known.update({(t, c, k): bool(v) for t, c, k, v in known})

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


def _chosen(table: str, columns: Sequence[str] | None) -> list:
    return (
        TABLES[table] if columns is None else [next(c for c in TABLES[table] if c.name == n) for n in columns]
    )


def profile_wants(
    table: str, spec: TableSQL, *, safe: bool, columns: Sequence[str] | None = None
) -> set[tuple[str, str, str]]:
    """The ``(table, column, check)`` questions :func:`select_sql` asks the :class:`Profile` for
    ``table`` (answer them first with :meth:`Profile.ask`, e.g. one source table per process)."""
    wanted = set()
    for c in _chosen(table, columns):
        check = _check_kind(c.type, safe)
        if check and c.name in spec.columns and c.name not in spec.computed:
            wanted |= {(t, col, check) for t, col in _sources(spec, c.name, spec.columns[c.name])}
    return wanted


def select_sql(
    conn: sqlite3.Connection,
    table: str,
    spec: TableSQL,
    profile: Profile,
    *,
    safe: bool,
    columns: Sequence[str] | None = None,
    ranged: bool = False,
) -> str:
    """The query of ``table``: codebook columns in order (one ``spec`` lacks is empty, as the pandas
    export left it), typed / neutralised where ``profile`` says a value needs it, then ``extra``.
    ``columns``: only these codebook columns, in this order (and no ``extra``). ``ranged``: only
    the rows whose ``spec.key`` is in ``[:lo, :hi)`` (one part of the table)."""
    chosen = _chosen(table, columns)
    profile.ask(conn, profile_wants(table, spec, safe=safe, columns=columns))
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
    where = f" WHERE {spec.key} >= :lo AND {spec.key} < :hi" if ranged else ""  # no source has a WHERE
    return f"SELECT {', '.join([*cols, *extra])} {spec.source}{where} {spec.order}"


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


__all__ = ["Profile", "TableSQL", "file_image_size", "prefetch", "prepare", "profile_wants", "select_sql"]
