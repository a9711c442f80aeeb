"""Read-only snapshots of a project database for the study's read side (export, Review, Dashboards).

:func:`read_snapshot` opens a connection of its own on the SQLite file and holds ONE read
transaction on it: everything read through it is one consistent state of the project (no trial
without its guesses), while a quiz in another process keeps saving answers (WAL: a reader never
blocks a writer). It does not migrate or check the file, so it opens in about a millisecond (the
full :meth:`geoquiz.project.Project.open` runs ``PRAGMA quick_check``, which reads the whole file);
callers open the project properly first (the app and the CLI do) and use this for reading.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from geoquiz.errors import GeoQuizError


@contextlib.contextmanager
def read_snapshot(db_path: str | Path, *, what: str = "read the study data") -> Iterator[sqlite3.Connection]:
    """A connection of its own holding one read transaction (a consistent snapshot) on ``db_path``.

    ``query_only`` makes any write through it an error; the transaction is ``BEGIN DEFERRED`` and the
    snapshot is taken by a first read, so writers in other processes are never blocked (WAL). Raises
    GeoQuizError ``cannot <what>: ...`` when the file does not exist.
    """
    path = Path(db_path)
    if not path.exists():
        raise GeoQuizError(f"cannot {what}: the project database {path} does not exist")
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA query_only=ON")
        conn.execute("BEGIN DEFERRED")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("COMMIT")
        conn.close()


__all__ = ["read_snapshot"]
