"""A project that cannot be written opens read-only: listing, browsing, review and export work, every
change is refused with a message, and opening writes nothing (no WAL switch, no migrations).

Tests run as root here, and root passes file-permission checks: ``chmod -w`` alone would prove
nothing. So the detection is tested with ``os.access`` answering as it does for an unprivileged user
on a ``chmod -w`` folder, and what it leads to (a ``mode=ro`` connection that SQLite itself refuses to
write through) is checked at the SQLite level, which holds for root too. The last test mounts the
project read-only for real (``unshare -m`` + ``mount --bind -o ro``, where root gets EROFS) and runs
the CLI on it; it is skipped where mount namespaces are not allowed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from geoquiz.cli import main
from geoquiz.db import ReadOnlyProject
from geoquiz.errors import ProjectError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _header_versions(path: Path) -> tuple[int, int]:
    """SQLite header bytes 18-19: (1, 1) rollback journal, (2, 2) WAL."""
    data = path.read_bytes()[18:20]
    return data[0], data[1]


@pytest.fixture
def ro_root(explain_project_root, tmp_path, monkeypatch):
    """A copy of the explain project in rollback-journal mode (so a WAL switch would show in the file
    header), whose folder and database answer ``os.access(..., W_OK)`` with False."""
    root = tmp_path / "ro"
    shutil.copytree(explain_project_root, root)
    conn = sqlite3.connect(root / "geoquiz.sqlite")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    assert _header_versions(root / "geoquiz.sqlite") == (1, 1)
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(root.resolve()):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return root


def test_unwritable_project_opens_read_only_and_writes_nothing(ro_root, tmp_path):
    from geoquiz.data.dataset import list_datasets, load_items
    from geoquiz.models.store import delete_model, list_models
    from geoquiz.project import Project
    from geoquiz.study.export import export_all
    from geoquiz.study.review_data import list_model_names, load_predictions, reviewable_items

    db_file = ro_root / "geoquiz.sqlite"
    before = _digest(db_file)
    with Project.open(ro_root) as project:
        assert project.read_only and "not writable" in project.read_only
        assert [m.name for m in list_models(project.db)] == ["medium", "single"]
        assert {d.name for d in list_datasets(project.db)} == {"tiny", "tiny4"}
        assert len(load_items(project.db, "tiny", "test")) > 0
        assert list_model_names(project.db) == ["medium", "single"]  # what the Review tab lists
        assert reviewable_items(project.db) == []  # no quiz answers in this project
        assert load_predictions(project.db, "single") == {}
        files = export_all(project, tmp_path / "out")
        assert (tmp_path / "out" / "codebook.csv") in files
        with pytest.raises(ReadOnlyProject, match="open read-only .*cannot be saved"):
            delete_model(project, "single")
        with pytest.raises(ReadOnlyProject, match="settings cannot be saved"):
            project.save_settings(project.settings)
        # the connection itself is read-only (mode=ro), whatever the user's privileges
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            project.db.execute("DELETE FROM models")
    assert _digest(db_file) == before
    assert _header_versions(db_file) == (1, 1)  # no PRAGMA journal_mode=WAL ran


def test_cli_lists_and_exports_a_read_only_project_and_refuses_changes(ro_root, tmp_path, capsys):
    before = _digest(ro_root / "geoquiz.sqlite")
    assert main(["models", "list", "-p", str(ro_root)]) == 0
    assert "single" in capsys.readouterr().out
    assert main(["export", "-p", str(ro_root), "--out", str(tmp_path / "out"), "--what", "elements"]) == 0
    capsys.readouterr()
    assert main(["models", "delete", "single", "-p", str(ro_root)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "read-only" in err and "Traceback" not in err
    assert main(["export", "-p", str(ro_root)]) == 2  # the default folder is inside the project
    assert "--out" in capsys.readouterr().err
    assert _digest(ro_root / "geoquiz.sqlite") == before


def test_read_only_flag_opens_a_writable_project_read_only(explain_project_root, tmp_path, capsys):
    root = tmp_path / "p"
    shutil.copytree(explain_project_root, root)
    assert main(["models", "delete", "single", "-p", str(root), "--read-only"]) == 2
    assert "opened read-only" in capsys.readouterr().err
    assert main(["models", "list", "-p", str(root)]) == 0
    assert "single" in capsys.readouterr().out


def test_read_only_project_that_needs_migrations_is_refused(tmp_path):
    from geoquiz.db import open_database
    from geoquiz.db.migrations import all_migrations
    from geoquiz.project import Project

    root = tmp_path / "old"
    root.mkdir()
    old = open_database(root / "geoquiz.sqlite", upto=all_migrations()[0].name)
    old.conn.close()
    before = _digest(root / "geoquiz.sqlite")
    with pytest.raises(ProjectError, match=r"needs a schema upgrade \(migrations .*\) but is open read-only"):
        Project.open(root, read_only=True)
    assert _digest(root / "geoquiz.sqlite") == before
    with Project.open(root) as project:  # writable again: migrated on open
        assert project.read_only is None


def _can_mount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    script = f"mount --bind -o ro {probe} {probe} && ! touch {probe}/x 2>/dev/null"
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True
    )
    return done.returncode == 0


def test_project_on_a_read_only_mount(explain_project_root, tmp_path):
    """A real read-only bind mount (EROFS even for root): SQLite cannot create the WAL index there,
    so the database is opened immutable; listing and export work, a change is refused."""
    if not _can_mount_read_only(tmp_path):
        pytest.skip("mount namespaces (unshare -m) are not available here")
    root = tmp_path / "mounted"
    shutil.copytree(explain_project_root, root)
    for extra in ("geoquiz.sqlite-wal", "geoquiz.sqlite-shm"):
        (root / extra).unlink(missing_ok=True)
    before = _digest(root / "geoquiz.sqlite")
    out = tmp_path / "out"
    cli = f"{sys.executable} -m geoquiz.cli"
    script = (
        f"mount --bind -o ro {root} {root} && "
        f"{cli} models list -p {root} && "
        f"{cli} export -p {root} --out {out} --what elements && "
        f"{cli} models delete single -p {root}; echo delete-exit=$?"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert "single" in done.stdout and "medium" in done.stdout, done.stderr
    assert (out / "elements.csv").is_file()
    assert "delete-exit=2" in done.stdout
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    assert _digest(root / "geoquiz.sqlite") == before
