"""Read-only snapshots of a project database for the study's read side (export, Review, Dashboards).

:func:`read_snapshot` opens a connection of its own on the SQLite file and holds ONE read
transaction on it: everything read through it is one consistent state of the project (no trial
without its guesses), while a quiz in another process keeps saving answers (WAL: a reader never
blocks a writer). It does not migrate or check the file, so it opens in about a millisecond (the
full :meth:`geoquiz.project.Project.open` runs ``PRAGMA quick_check``, which reads the whole file);
callers open the project properly first (the app and the CLI do) and use this for reading.

:func:`read_snapshots` gives several such connections that all read the *same* snapshot, so that
work can be spread over threads (SQLite runs a query without Python's GIL): they start their read
transactions while a gate connection holds the database's write lock, which a writer therefore
waits for during that instant (about a millisecond). When a writer holds the lock for longer than
half a second (an import), a single connection is used instead of waiting. :func:`gate` is that
write lock on its own, for readers in other processes (the export's workers): each opens a reader
(:func:`begin_reader`) and starts its snapshot (:func:`begin`) inside the ``with gate(...)`` block.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from geoquiz.db import reader_connection
from geoquiz.errors import GeoQuizError

#: How long :func:`read_snapshots` waits for a writer's transaction to end before it settles for one
#: connection (a quiz answer commits in milliseconds; an import may hold the write lock for minutes).
GATE_WAIT_S = 0.5


def _reader(path: Path) -> sqlite3.Connection:
    conn = reader_connection(path)  # read-only where SQLite cannot open the file for writing
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _begin(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN DEFERRED")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read takes the snapshot


def _close(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("COMMIT")
    conn.close()


def _existing(db_path: str | Path, what: str) -> Path:
    path = Path(db_path)
    if not path.exists():
        raise GeoQuizError(f"cannot {what}: the project database {path} does not exist")
    return path


@contextlib.contextmanager
def read_snapshot(db_path: str | Path, *, what: str = "read the study data") -> Iterator[sqlite3.Connection]:
    """A connection of its own holding one read transaction (a consistent snapshot) on ``db_path``.

    ``query_only`` makes any write through it an error; the transaction is ``BEGIN DEFERRED`` and the
    snapshot is taken by a first read, so writers in other processes are never blocked (WAL). Raises
    GeoQuizError ``cannot <what>: ...`` when the file does not exist.
    """
    conn = _reader(_existing(db_path, what))
    try:
        _begin(conn)
        yield conn
    finally:
        _close(conn)


@contextlib.contextmanager
def gate(db_path: str | Path, *, what: str = "read the study data") -> Iterator[bool]:
    """Hold the database's write lock for the ``with`` block, so that readers starting their
    snapshots inside it (here or in other processes) all see one and the same state; yields False
    (and holds nothing) when the lock cannot be taken within :data:`GATE_WAIT_S` (a read-only file,
    a long write in progress). A writer waits for the block: keep it to the readers' ``BEGIN``."""
    path = _existing(db_path, what)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=GATE_WAIT_S)  # read at call time
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")  # no writer can commit until the readers have their snapshot
        except sqlite3.OperationalError:
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    finally:
        conn.close()


def begin_reader(db_path: str | Path, *, what: str = "read the study data") -> sqlite3.Connection:
    """A reader connection (query-only) that has not begun its snapshot yet: :func:`begin` starts it.
    GeoQuizError ``cannot <what>: ...`` when the file does not exist (it is never created)."""
    return _reader(_existing(db_path, what))


def begin(conn: sqlite3.Connection) -> None:
    """Start ``conn``'s read transaction (its snapshot is the database as of now)."""
    _begin(conn)


def end(conn: sqlite3.Connection) -> None:
    """End ``conn``'s read transaction and close it."""
    _close(conn)


@contextlib.contextmanager
def read_snapshots(
    db_path: str | Path, n: int, *, what: str = "read the study data"
) -> Iterator[list[sqlite3.Connection]]:
    """Up to ``n`` connections as :func:`read_snapshot` gives, all on one and the same snapshot (see
    the module docstring); each may be used by one thread at a time. Only one when the write lock
    cannot be taken within :data:`GATE_WAIT_S` (a read-only file, a long write in progress)."""
    path = _existing(db_path, what)
    conns: list[sqlite3.Connection] = []
    try:
        with gate(path, what=what) as held:
            for _ in range(n if held else 1):
                conns.append(_reader(path))
                _begin(conns[-1])
        yield conns
    finally:
        for conn in conns:
            _close(conn)


__all__ = ["begin", "begin_reader", "end", "gate", "read_snapshot", "read_snapshots"]
