"""A write lock held by another connection for longer than the wait: a clear message, exit 2, and
nothing written. The wait is the project's ``[limits] lock_wait_s``."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest
from conftest import write_png

from geoquiz.cli import main


def _dump(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def locked_setup(tmp_path):
    """A project waiting at most 0.3 s for the lock, a folder to import, a checkpoint to register,
    and a second connection holding the write lock (as a quiz session in another process would)."""
    import torch

    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.project import Project

    root = tmp_path / "proj"
    Project.open(root, create=True).close()
    (root / "project.toml").write_text("[limits]\nlock_wait_s = 0.3\n")
    for label in ("a", "b"):
        write_png(tmp_path / "src" / label / "x.png", np.zeros((4, 4, 3), np.uint8))
    torch.manual_seed(0)
    spec = ModelSpec("resnet10", "single", ("a", "b"), input_size=32)
    ckpt = save_checkpoint(tmp_path / "m.pt", build_model(spec), spec)
    holder = sqlite3.connect(root / "geoquiz.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield root, tmp_path / "src", ckpt
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _check_message(err: str) -> None:
    err = err[err.index("error:") :]  # after the progress bar
    assert err.startswith("error: the project database") and "is locked" in err
    for who in ("another GeoQuiz process", "quiz session", "an export", "lock_wait_s", "Nothing was written"):
        assert who in err, who
    assert "Traceback" not in err and "OperationalError" not in err


def test_import_and_register_stop_with_a_message_when_the_lock_is_held(locked_setup, capsys):
    root, src, ckpt = locked_setup
    before = _dump(root / "geoquiz.sqlite")
    capsys.readouterr()

    start = time.monotonic()
    assert main(["import", "-p", str(root), "--name", "d", "--folder", str(src), "--split", "test"]) == 2
    waited = time.monotonic() - start
    _check_message(capsys.readouterr().err)
    assert waited < 10  # the 0.3 s setting, not the old fixed 30 s

    assert main(["models", "register", "m", str(ckpt), "-p", str(root)]) == 2
    _check_message(capsys.readouterr().err)
    assert _dump(root / "geoquiz.sqlite") == before


def test_the_same_import_succeeds_once_the_lock_is_released(tmp_path):
    from geoquiz.data.importer import import_folder
    from geoquiz.db import DatabaseLocked
    from geoquiz.project import Project

    root = tmp_path / "proj"
    Project.open(root, create=True).close()
    (root / "project.toml").write_text("[limits]\nlock_wait_s = 0.2\n")
    for label in ("a", "b"):
        write_png(tmp_path / "src" / label / "x.png", np.zeros((4, 4, 3), np.uint8))
    with Project.open(root) as project:
        assert project.db.execute("PRAGMA busy_timeout").fetchone()[0] == 200
        holder = sqlite3.connect(root / "geoquiz.sqlite", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseLocked, match="0.2 s"):
            import_folder(project, "d", tmp_path / "src", split="test")
        holder.execute("ROLLBACK")
        holder.close()
        assert import_folder(project, "d", tmp_path / "src", split="test").n_images == 2


def test_lock_wait_must_be_a_sensible_number(tmp_path):
    from geoquiz.errors import ConfigError
    from geoquiz.project import Project

    root = tmp_path / "proj"
    Project.open(root, create=True).close()
    (root / "project.toml").write_text("[limits]\nlock_wait_s = -1\n")
    with pytest.raises(ConfigError, match="lock_wait_s"):
        Project.open(root)
