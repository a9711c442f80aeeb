"""Shared fixtures. Qt runs offscreen; GEOQUIZ_HOME points at a temp dir so tests never touch ~."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Fixture modules contributed per feature live in tests/fixtures/*.py and are loaded as plugins.
pytest_plugins = sorted(
    f"fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if not p.stem.startswith("_")
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OSV5M_SAMPLE = SHARED_DATA / "osv5m-sample"


@pytest.fixture(autouse=True)
def _geoquiz_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEOQUIZ_HOME", str(tmp_path_factory.mktemp("geoquiz_home")))


@pytest.fixture(autouse=True)
def _garbage_on_the_gui_thread(request):
    """As in the app (:class:`ui.workers.MainThreadGC`): during a Qt test Python's cyclic garbage
    collector runs on the GUI thread only, and the test's garbage is collected there when it ends, so
    no worker thread (of this test or a later one) ever destroys a Qt object; PySide6 deadlocks when
    one does."""
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    from ui.workers import MainThreadGC

    guard = MainThreadGC()
    yield
    guard.stop()
    guard.deleteLater()


@pytest.fixture
def project(tmp_path):
    from geoquiz.project import Project

    with Project.open(tmp_path / "proj", create=True) as p:
        yield p


@pytest.fixture
def memdb():
    from geoquiz.db import connect, migrate

    db = connect(":memory:")
    migrate(db)
    yield db
    db.conn.close()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def pytest_collection_modifyitems(config, items):
    """Tests that need the trained demo model may pay for its training (a few minutes on 2 cores,
    once per session) in their setup: give them a longer hang guard than the default."""
    for item in items:
        if "trained_demo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(1800))
