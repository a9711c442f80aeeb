"""The session launcher: a passphrase typed into the "new passphrase" fields counts when Start is
pressed, and Study -> Start a participant session opens on the study selected in the Studies tab."""

from __future__ import annotations

from fixtures.quiz_ui import PASS, press, track
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from geoquiz.paths import studies_dir
from geoquiz.study.passphrase import has_passphrase, set_passphrase, verify_passphrase
from geoquiz.study.store import install_study
from ui.context import AppContext
from ui.main_window import MainWindow
from ui.quiz.launcher import SessionLauncher, open_session_launcher


def _install_both(project) -> None:
    for name in ("geoscenes_4view.toml", "geoscenes_countries.toml"):
        install_study(project, studies_dir() / name)


def _launcher_with_passphrase(qtbot, project) -> tuple[QWidget, SessionLauncher]:
    """Both demo studies installed, a passphrase set and typed into a launcher (windowed) opened
    from a researcher window (returned too: the launcher lives as long as it)."""
    _install_both(project)
    set_passphrase(project.db, PASS)
    main = _researcher_window(qtbot)
    dlg = open_session_launcher(AppContext(project), main)
    dlg.full_screen = False
    qtbot.keyClicks(dlg.passphrase, PASS)
    return main, dlg


def _researcher_window(qtbot) -> QWidget:
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
    return w


def test_a_new_passphrase_typed_before_start_is_saved_and_used(qtbot, quiz_project):
    _install_both(quiz_project)
    main = _researcher_window(qtbot)
    dlg = open_session_launcher(AppContext(quiz_project), main)
    dlg.full_screen = False
    assert not has_passphrase(quiz_project.db) and not dlg.passphrase.isEnabled()
    qtbot.keyClicks(dlg.new_pass, PASS)
    press(qtbot, dlg, dlg.start_button)  # not repeated yet: asked for, nothing saved
    assert dlg.kiosk is None and "a second time" in dlg.error.text() and dlg.focusWidget() is dlg.confirm_pass
    assert not has_passphrase(quiz_project.db)
    qtbot.keyClicks(dlg.confirm_pass, PASS)
    press(qtbot, dlg, dlg.start_button)
    kiosk = dlg.kiosk
    assert kiosk is not None and verify_passphrase(quiz_project.db, PASS)
    track(qtbot, kiosk)
    assert kiosk.page() == "consent"


def test_a_changed_passphrase_typed_before_start_needs_the_current_one(qtbot, quiz_project):
    _install_both(quiz_project)
    set_passphrase(quiz_project.db, PASS)
    main = _researcher_window(qtbot)
    dlg = open_session_launcher(AppContext(quiz_project), main)
    dlg.full_screen = False
    qtbot.keyClicks(dlg.new_pass, "new-key-77")
    qtbot.keyClicks(dlg.confirm_pass, "new-key-77")
    press(qtbot, dlg, dlg.start_button)
    assert dlg.kiosk is None and "current passphrase" in dlg.error.text()
    assert verify_passphrase(quiz_project.db, PASS)  # unchanged
    qtbot.keyClicks(dlg.passphrase, PASS)
    press(qtbot, dlg, dlg.start_button)
    assert dlg.kiosk is not None and verify_passphrase(quiz_project.db, "new-key-77")
    track(qtbot, dlg.kiosk)


def test_the_study_menu_opens_on_the_study_selected_in_the_studies_tab(qtbot, quiz_project):
    _install_both(quiz_project)
    ctx = AppContext()
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    ctx.set_project(quiz_project)
    view = window.views["Studies"]
    slugs = [view.studies.item(r, 0).text() for r in range(view.studies.rowCount())]
    assert slugs == ["geoscenes-4view", "geoscenes-countries"]  # the first is selected by default
    row = slugs.index("geoscenes-countries")
    qtbot.mouseClick(
        view.studies.viewport(),
        Qt.LeftButton,
        pos=view.studies.visualItemRect(view.studies.item(row, 1)).center(),
    )
    assert view.study_id() is not None
    window.findChild(object, "action_open_session_launcher").trigger()  # Study -> Start a participant session
    (dlg,) = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, SessionLauncher) and w.parentWidget() is window
    ]
    assert dlg.study_id() == view.study_id()
    assert "(geoscenes-countries)" in dlg.study_combo.currentText()
    dlg.reject()
    ctx.project = None  # the fixture closes the project


def test_the_passphrase_is_checked_in_a_worker_while_the_window_waits(qtbot, quiz_project, monkeypatch):
    """Start: the key derivation runs off the GUI thread; meanwhile the launcher says so, its buttons
    wait and a second press starts nothing; then the kiosk opens on one new session."""
    import threading

    from geoquiz.study import passphrase

    threads, real = [], passphrase.check_hash
    monkeypatch.setattr(
        passphrase, "check_hash", lambda *a: threads.append(threading.current_thread()) or real(*a)
    )
    main, dlg = _launcher_with_passphrase(qtbot, quiz_project)
    with qtbot.waitSignal(dlg.settled, timeout=30000):
        qtbot.mouseClick(dlg.start_button, Qt.LeftButton)
        assert dlg.checking and dlg.kiosk is None and dlg.error.text() == "Checking the passphrase…"
        assert not dlg.start_button.isEnabled() and not dlg.set_pass_button.isEnabled()
        assert not dlg.study_combo.isEnabled() and not dlg.passphrase.isEnabled()
        dlg.start_new()  # pressed again (e.g. Enter) while checking: ignored
    assert threads and all(t is not threading.main_thread() for t in threads)
    track(qtbot, dlg.kiosk)
    assert dlg.kiosk.page() == "consent" and not dlg.checking and dlg.study_combo.isEnabled()
    assert quiz_project.db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


def test_closing_the_launcher_while_checking_opens_nothing(qtbot, quiz_project):
    """Start, then Close before the check has answered: no session and no kiosk appear later."""
    from ui.workers import wait_all

    main, dlg = _launcher_with_passphrase(qtbot, quiz_project)
    qtbot.mouseClick(dlg.start_button, Qt.LeftButton)
    assert dlg.checking
    close = next(b for b in dlg.findChildren(QPushButton) if b.text() == "Close")
    qtbot.mouseClick(close, Qt.LeftButton)
    assert not dlg.isVisible()
    wait_all()
    qtbot.wait(200)  # the worker's answer is delivered, and ignored
    assert dlg.kiosk is None
    assert quiz_project.db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
