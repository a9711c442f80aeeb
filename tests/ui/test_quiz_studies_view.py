"""The Studies tab: install study files (with clear errors), list studies and sessions."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from geoquiz.paths import studies_dir
from geoquiz.study.session import QuizSession, TrialResponse
from ui.context import AppContext
from ui.quiz.launcher import SessionLauncher
from ui.views.studies_view import StudiesView


def _cell(table, row, col) -> str:
    return table.item(row, col).text()


def _error_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorBox" and w.isVisible()]
    return boxes[-1] if boxes else None


def test_install_list_and_sessions(qtbot, quiz_project, tmp_path):
    ctx = AppContext(quiz_project)
    view = StudiesView(ctx)
    qtbot.addWidget(view)
    view.show()
    assert view.studies.rowCount() == 0 and "No study" in view.status.text()

    view.install(studies_dir() / "geoscenes_countries.toml")
    qtbot.waitUntil(lambda: view.studies.rowCount() == 1, timeout=10000)
    assert [_cell(view.studies, 0, c) for c in range(6)] == [
        "geoscenes-countries",
        "Where was this street photographed?",
        "geoscenes",
        "15",
        "0",
        "0",
    ]
    assert "stratified sample, seed 2024" in view.details.text() and "feedback off" in view.details.text()

    bad = tmp_path / "bad.toml"
    text = (studies_dir() / "geoscenes_countries.toml").read_text()
    line = text.splitlines().index("count = 12") + 1
    bad.write_text(text.replace("count = 12", "count = 0"))
    view.install(bad)
    qtbot.waitUntil(lambda: _error_box() is not None, timeout=10000)
    box = _error_box()
    assert f"{bad}, line {line}, field trials.count: must be between 1 and 10000, got 0" in box.text()
    box.close()
    assert view.studies.rowCount() == 1 and "was not installed" in view.status.text()

    s1 = QuizSession.create(quiz_project.db, "geoscenes-countries", seed=1)
    s1.accept_consent()
    s1.begin_trials()
    s1.submit(0, TrialResponse(guesses=("India",), confidence=2))
    s2 = QuizSession.create(quiz_project.db, "geoscenes-countries", seed=2)
    ctx.data_changed.emit("sessions")
    assert _cell(view.studies, 0, 4) == "2"
    rows = {
        _cell(view.sessions, r, 1): (_cell(view.sessions, r, 2), _cell(view.sessions, r, 3)) for r in range(2)
    }
    assert rows == {s1.code: ("running", "1/15"), s2.code: ("created", "0/15")}
    assert _cell(view.sessions, 0, 4) == "2"  # newest first, with its seed

    launcher = view.open_launcher()
    assert isinstance(launcher, SessionLauncher)
    assert launcher.study_id() == view.study_id() and launcher.sessions.rowCount() == 2
    launcher.reject()


def test_no_project(qtbot):
    view = StudiesView(AppContext())
    qtbot.addWidget(view)
    assert not view.install_button.isEnabled() and view.status.text() == "No project open."
