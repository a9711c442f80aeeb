"""The project database: one SQLite file per project, opened through sqlite-utils.

* WAL journal, foreign keys on, a busy timeout of ``lock_wait_s`` (default 30 s; the project's
  ``[limits] lock_wait_s``): a researcher can export while a quiz session in another process is
  writing. A write that waits longer than that for another writer's lock raises
  :class:`DatabaseLocked` (who may hold it, what to do) and writes nothing.
* ``read_only=True`` (a project on a read-only mount, in a folder without write permission, or opened
  with ``--read-only``): opened through a ``file:...?mode=ro`` URI, without ``PRAGMA journal_mode`` and
  without migrations (a database that needs migrations is refused with a message); every
  :func:`transaction` raises :class:`ReadOnlyProject` before anything is written.
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
from typing import TYPE_CHECKING, Any

from geoquiz.db.migrations import all_migrations
from geoquiz.errors import ProjectError

if TYPE_CHECKING:  # imported by connect(): a reader (an export worker) never needs it (nor pandas)
    import sqlite_utils

MIGRATIONS_TABLE = "_migrations"
#: How long (seconds) a write waits for another writer's lock by default ([limits] lock_wait_s).
DEFAULT_LOCK_WAIT_S = 30.0
_local = threading.local()


class DatabaseLocked(ProjectError):
    """Another connection held the project database's write lock for longer than the wait."""


class ReadOnlyProject(ProjectError):
    """A change was asked of a project that is open read-only."""


def _meta(db: sqlite_utils.Database) -> dict[str, Any]:
    return db.__dict__.setdefault("_geoquiz_meta", {"path": None, "lock_wait_s": 0.0, "read_only": None})


def read_only_reason(db: sqlite_utils.Database) -> str | None:
    """Why ``db`` is open read-only (None when it can be written)."""
    return _meta(db)["read_only"]


def locked_error(path: Any, wait_s: float) -> DatabaseLocked:
    """The message for a write lock held by someone else for longer than ``wait_s`` seconds."""
    return DatabaseLocked(
        f"the project database {path} is locked: another connection has been writing to it for more than "
        f"{wait_s:g} s. It may be another GeoQuiz process (an import, a training, explain or evaluate run), "
        "a participant quiz session in the kiosk, or an export. Let it finish (or close it) and try "
        "again; to wait longer, raise [limits] lock_wait_s in the project's project.toml. Nothing was written."
    )


def read_only_error(db: sqlite_utils.Database) -> ReadOnlyProject:
    meta = _meta(db)
    return ReadOnlyProject(
        f"the project database {meta['path']} is open read-only ({meta['read_only']}), so this change "
        "cannot be saved; listing, browsing, review and export (to a writable folder) still work. To change "
        "the project, make its folder writable (or copy it somewhere writable) and open it again."
    )


def _is_locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


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


def read_only_connection(path: str | Path, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S) -> sqlite3.Connection:
    """A ``file:...?mode=ro`` connection to an existing database; SQLite cannot write through it.

    In a folder nobody may write to (a read-only mount), SQLite cannot create the WAL index
    (``-shm``) it needs to read a WAL database; the file is then opened ``immutable`` (no locks) -
    unless its write-ahead log still holds changes, which would be ignored: that is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"cannot open the project database {path} read-only: it does not exist")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=lock_wait_s, check_same_thread=False
        )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc):
            raise ProjectError(f"cannot open the project database {path} read-only: {exc}") from exc
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise ProjectError(
            f"cannot open the project database {path} read-only: it was not closed cleanly (its write-ahead "
            f"log {wal.name} still holds changes) and its folder cannot be written. Open it once where it "
            "can be written, then it reads fine from a read-only place."
        )
    try:
        conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"cannot open the project database {path} read-only: {exc}") from exc
    return conn


def reader_connection(path: str | Path, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S) -> sqlite3.Connection:
    """A plain connection for reading (exports' snapshots); on a database SQLite cannot open for
    writing (a read-only folder or mount) a :func:`read_only_connection` instead."""
    path = Path(path)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=lock_wait_s, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
        conn.close()
    return read_only_connection(path, lock_wait_s=lock_wait_s)


def connect(
    path: str | Path, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S, read_only: str | bool | None = None
) -> sqlite_utils.Database:
    """Open (or create) a SQLite file with GeoQuiz's pragmas, without migrating.

    ``lock_wait_s``: the busy timeout (how long a write waits for another writer's lock).
    ``read_only``: open it read-only (a reason string, or True); see :func:`read_only_connection`.
    """
    reason = ("opened read-only" if read_only is True else read_only) or None
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        path = Path(path)
        _check_sqlite_header(path)
        if reason:
            conn = read_only_connection(path, lock_wait_s=lock_wait_s)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(
                    str(path), isolation_level=None, timeout=lock_wait_s, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise locked_error(path, lock_wait_s) from exc
                raise ProjectError(f"cannot open the project database {path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise ProjectError(f"cannot open the project database {path}: {exc}") from exc
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(round(lock_wait_s * 1000))}")
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    _meta(db).update(path=str(path), lock_wait_s=float(lock_wait_s), read_only=reason)
    return db


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if MIGRATIONS_TABLE not in db.table_names():
        return []
    return [r[0] for r in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id").fetchall()]  # noqa: S608 - constant table name


def pending_migrations(db: sqlite_utils.Database, where: str = "database") -> tuple[list[str], list[str]]:
    """``(table names, names of the migrations not applied yet)``; :class:`ProjectError` when the
    database is unreadable, foreign (tables but no migration record) or from a newer GeoQuiz."""
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
    return tables, [n for n in known if n not in done]


def migrate(db: sqlite_utils.Database, *, upto: str | None = None, where: str = "database") -> list[str]:
    """Apply missing migrations (up to and including ``upto``). Returns the names applied."""
    tables, _ = pending_migrations(db, where)
    done = applied_migrations(db)
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


def open_database(
    path: str | Path,
    *,
    upto: str | None = None,
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
    read_only: str | bool | None = None,
) -> sqlite_utils.Database:
    """Open a project database, creating or migrating it. Raises :class:`ProjectError` when the file
    is unreadable, not SQLite, a foreign SQLite database, or from a newer GeoQuiz.

    ``read_only`` (a reason, or True): open it without writing anything (no WAL switch, no
    migrations); a database that needs migrations is then refused with a message.
    """
    db = connect(path, lock_wait_s=lock_wait_s, read_only=read_only)
    try:
        integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        db.conn.close()
        raise ProjectError(f"{path} is not a readable SQLite database: {exc}") from exc
    if integrity != "ok":
        db.conn.close()
        raise ProjectError(f"{path} is damaged (SQLite quick_check: {integrity})")
    try:
        if read_only_reason(db):
            tables, pending = pending_migrations(db, str(path))
            if not tables or pending:
                what = f"migrations {', '.join(pending)}" if tables else "its tables created"
                raise ProjectError(
                    f"{path} needs a schema upgrade ({what}) but is open read-only "
                    f"({read_only_reason(db)}); open it once where it can be written to upgrade it"
                )
        else:
            migrate(db, upto=upto, where=str(path))
    except Exception:
        db.conn.close()
        raise
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One atomic unit of work. Nested uses become savepoints of the outer transaction.

    Raises :class:`ReadOnlyProject` on a read-only database and :class:`DatabaseLocked` when
    another writer holds the lock for longer than the connection's wait; nothing is written then.
    """
    conn = db.conn
    depth = getattr(_local, "depth", {}).get(id(conn), 0)
    if not hasattr(_local, "depth"):
        _local.depth = {}
    if depth == 0:
        if read_only_reason(db):
            raise read_only_error(db)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                meta = _meta(db)
                raise locked_error(meta["path"], meta["lock_wait_s"]) from exc
            raise
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


def database_file(db: sqlite_utils.Database) -> str:
    """The file behind ``db``'s main database ('' for an in-memory one): for a worker that opens a
    connection of its own on the same project."""
    for _seq, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or ""
    return ""


def get_setting(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM project_settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_setting(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO project_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
