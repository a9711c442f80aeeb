"""Snapshot connections: several readers share one state of the project, whatever writers do."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from geoquiz.errors import GeoQuizError
from geoquiz.study import snapshot
from geoquiz.study.snapshot import read_snapshot, read_snapshots


def _count(conn) -> int:
    return conn.execute("SELECT count(*) FROM project_settings").fetchone()[0]


def _writer(path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def test_readers_share_one_snapshot_and_wait_for_a_writer_in_progress(project, monkeypatch):
    monkeypatch.setattr(snapshot, "GATE_WAIT_S", 30.0)  # a loaded machine may take a while to commit
    path = project.db_path
    writer = _writer(path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO project_settings (key, value) VALUES ('a', '1')")
    seen: list[int] = []
    entered = threading.Event()

    def read() -> None:
        with read_snapshots(path, 2) as conns:
            entered.set()
            seen.extend(_count(c) for c in conns)
            release.wait(10)
            seen.extend(_count(c) for c in conns)

    release = threading.Event()
    reader = threading.Thread(target=read)
    reader.start()
    assert not entered.wait(0.3)  # the readers start only once the writer's transaction is over
    writer.execute("COMMIT")
    assert entered.wait(10)
    writer.execute("INSERT INTO project_settings (key, value) VALUES ('b', '2')")  # after the snapshot
    release.set()
    reader.join(10)
    assert seen == [1, 1, 1, 1]  # both readers see the first commit, neither sees the second
    with read_snapshot(path) as conn:
        assert _count(conn) == 2
    writer.close()


def test_snapshot_connections_are_read_only_and_need_the_file(project, tmp_path):
    with read_snapshots(project.db_path, 2) as conns:
        assert len(conns) == 2
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
            conns[1].execute("INSERT INTO project_settings (key, value) VALUES ('c', '3')")
    with pytest.raises(GeoQuizError, match="cannot export: the project database .* does not exist"):
        with read_snapshots(tmp_path / "none.sqlite", 2, what="export"):
            pass


def test_a_long_write_in_progress_gives_one_reader_without_waiting(project):
    writer = _writer(project.db_path)
    writer.execute("BEGIN IMMEDIATE")  # e.g. an import holding the write lock for minutes
    writer.execute("INSERT INTO project_settings (key, value) VALUES ('d', '4')")
    with read_snapshots(project.db_path, 2) as conns:
        assert len(conns) == 1 and _count(conns[0]) == 0
    writer.execute("ROLLBACK")
    writer.close()
