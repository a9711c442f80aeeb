"""File › Open project: the project is opened (integrity check, migrations) in a worker, the window
stays usable and says so; a folder that is not a project is named in an error box; the last of two
quick requests wins."""

from __future__ import annotations

import shutil
import threading

from fixtures.quiz_ui import activate
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from geoquiz.project import Project
from ui.context import AppContext
from ui.main_window import MainWindow


def _window(qtbot) -> MainWindow:
    window = MainWindow(AppContext())
    qtbot.addWidget(window)
    window.show()
    return window


def test_open_runs_in_a_worker_and_shows_the_project(qtbot, tiny_project_root, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    threads, real_open = [], Project.open
    monkeypatch.setattr(
        Project,
        "open",
        staticmethod(lambda *a, **k: threads.append(threading.current_thread()) or real_open(*a, **k)),
    )
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    window = _window(qtbot)
    window.findChild(QAction, "action_open_project").trigger()  # File › Open project…
    assert window.ctx.project is None and "checking the database" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.ctx.project is not None, timeout=30000)
    assert threads and threads[0] is not threading.main_thread()
    assert window.ctx.project.root == root.resolve() and window.statusBar().currentMessage() == ""
    assert window.windowTitle() == "GeoQuiz — proj"
    window.ctx.project.close()
    window.ctx.project = None


def test_a_folder_that_is_not_a_project_is_named(qtbot, tmp_path, monkeypatch):
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(empty)))
    window = _window(qtbot)
    activate(qtbot, window)
    qtbot.keyClick(window, Qt.Key_O, Qt.ControlModifier)  # Ctrl+O
    qtbot.waitUntil(
        lambda: any(w.objectName() == "errorBox" and w.isVisible() for w in QApplication.topLevelWidgets()),
        timeout=30000,
    )
    (box,) = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorBox" and w.isVisible()]
    assert isinstance(box, QMessageBox) and box.windowTitle() == "Cannot open project"
    assert "not-a-project" in box.text() and window.ctx.project is None and not window.busy.isVisible()
    box.close()


def test_the_last_of_two_requests_wins(qtbot, tiny_project_root, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(tiny_project_root, first)
    shutil.copytree(tiny_project_root, second)
    window = _window(qtbot)
    window.open_project_in_background(first)
    window.open_project_in_background(second)
    qtbot.waitUntil(lambda: window.ctx.project is not None, timeout=30000)
    qtbot.wait(200)  # the first request's answer, if it came later, is not shown
    assert window.ctx.project.root == second.resolve()
    window.ctx.project.close()
    window.ctx.project = None
