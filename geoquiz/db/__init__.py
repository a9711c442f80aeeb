"""The project database: one SQLite file per project, opened through sqlite-utils.

* WAL journal, foreign keys on, a 30 s busy timeout (a researcher can export while a quiz session
  in another process is writing).
* The connection runs in autocommit mode; every logical change is wrapped in :func:`transaction`
  (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back whole on any exception), so nothing is ever
  half-written. Nested calls become savepoints.
* Named migrations (:mod:`geoquiz.db.migrations`) are recorded in ``_migrations``; opening a
  project made by an older schema applies the missing ones, each in its own transaction.
* Only parameterised SQL. Identifiers (table and column names) come from code, never from input,
  and :func:`insert` checks them against the table's real columns.

Note: do not call sqlite-utils' ``insert_all``/``upsert_all`` inside :func:`transaction`: they
commit on their own (``with conn:``). Use :func:`insert` / :func:`insert_many` there instead.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from geoquiz.db.migrations import all_migrations
from geoquiz.errors import ProjectError

MIGRATIONS_TABLE = "_migrations"
_local = threading.local()


def now() -> str:
    """Current UTC time as ISO 8601 with milliseconds (the format of every *_at column)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _check_sqlite_header(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise ProjectError(f"cannot read the project database {path}: {exc.strerror or exc}") from exc
    if header != b"SQLite format 3\x00":
        raise ProjectError(f"{path} is not a SQLite database (it may be corrupt or another kind of file)")


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (or create) a SQLite file with GeoQuiz's pragmas, without migrating."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        path = Path(path)
        _check_sqlite_header(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"cannot open the project database {path}: {exc}") from exc
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return sqlite_utils.Database(conn)


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if MIGRATIONS_TABLE not in db.table_names():
        return []
    return [r[0] for r in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id").fetchall()]  # noqa: S608 - constant table name


def migrate(db: sqlite_utils.Database, *, upto: str | None = None, where: str = "database") -> list[str]:
    """Apply missing migrations (up to and including ``upto``). Returns the names applied."""
    try:
        tables = db.table_names()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{where} is not a readable SQLite database: {exc}") from exc
    if tables and MIGRATIONS_TABLE not in tables:
        raise ProjectError(
            f"{where} is a SQLite database but not a GeoQuiz project (it has tables "
            f"{', '.join(sorted(tables)[:5])} and no migration record)"
        )
    known = [m.name for m in all_migrations()]
    done = applied_migrations(db)
    unknown = [n for n in done if n not in known]
    if unknown:
        raise ProjectError(
            f"{where} was made by a newer GeoQuiz (unknown migrations: {', '.join(unknown)}); upgrade GeoQuiz"
        )
    if MIGRATIONS_TABLE not in tables:
        db.execute(
            f"CREATE TABLE {MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
        )
    applied = []
    for migration in all_migrations():
        if migration.name in done:
            continue
        with transaction(db):
            migration.apply(db)
            record = f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)"  # noqa: S608 - constant table name
            db.execute(record, [migration.name, now()])
        applied.append(migration.name)
        if upto is not None and migration.name == upto:
            break
    return applied


def open_database(path: str | Path, *, upto: str | None = None) -> sqlite_utils.Database:
    """Open a project database, creating or migrating it. Raises :class:`ProjectError` when the file
    is unreadable, not SQLite, a foreign SQLite database, or from a newer GeoQuiz."""
    db = connect(path)
    try:
        integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        db.conn.close()
        raise ProjectError(f"{path} is not a readable SQLite database: {exc}") from exc
    if integrity != "ok":
        db.conn.close()
        raise ProjectError(f"{path} is damaged (SQLite quick_check: {integrity})")
    try:
        migrate(db, upto=upto, where=str(path))
    except Exception:
        db.conn.close()
        raise
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One atomic unit of work. Nested uses become savepoints of the outer transaction."""
    conn = db.conn
    depth = getattr(_local, "depth", {}).get(id(conn), 0)
    if not hasattr(_local, "depth"):
        _local.depth = {}
    if depth == 0:
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn.execute(f"SAVEPOINT sp{depth}")
    _local.depth[id(conn)] = depth + 1
    try:
        yield db
    except BaseException:
        if depth == 0:
            conn.execute("ROLLBACK")
        else:
            conn.execute(f"ROLLBACK TO sp{depth}")
            conn.execute(f"RELEASE sp{depth}")
        raise
    else:
        if depth == 0:
            conn.execute("COMMIT")
        else:
            conn.execute(f"RELEASE sp{depth}")
    finally:
        _local.depth[id(conn)] = depth


def _columns(db: sqlite_utils.Database, table: str) -> set[str]:
    cache = db.__dict__.setdefault("_geoquiz_columns", {})
    if table not in cache:
        cols = {r[1] for r in db.execute(f"PRAGMA table_info([{table}])").fetchall()}
        if not cols:
            raise KeyError(f"no table {table!r}")
        cache[table] = cols
    return cache[table]


def insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row with parameterised SQL; returns its rowid. Column names are checked."""
    cols = list(row)
    unknown = set(cols) - _columns(db, table)
    if unknown:
        raise KeyError(f"table {table} has no column(s) {', '.join(sorted(unknown))}")
    sql = (
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' for _ in cols)})"  # noqa: S608 - table from code, columns checked against it
    )
    cur = db.execute(sql, [row[c] for c in cols])
    return int(cur.lastrowid)


def insert_many(db: sqlite_utils.Database, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows that all have the same keys (executemany). Returns how many were inserted."""
    rows = list(rows)
    if not rows:
        return 0
    cols = list(rows[0])
    unknown = set(cols) - _columns(db, table)
    if unknown:
        raise KeyError(f"table {table} has no column(s) {', '.join(sorted(unknown))}")
    sql = (
        f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' for _ in cols)})"  # noqa: S608 - table from code, columns checked against it
    )
    db.conn.executemany(sql, [[r[c] for c in cols] for r in rows])
    return len(rows)


def get_setting(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM project_settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_setting(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO project_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
