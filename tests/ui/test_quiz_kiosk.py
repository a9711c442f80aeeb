"""Whole participant sessions driven by keyboard and mouse: launcher -> consent -> instructions ->
practice -> trials (guesses, rationale, cue boxes, confidence) -> thank you; then the database rows
are checked. Also: time-limit expiry, feedback mode, resuming, declining, and leaving the kiosk only
with the researcher's passphrase."""

from __future__ import annotations

import pytest
from fixtures.quiz import small_study_text
from fixtures.quiz_ui import press
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QWidget

from geoquiz.paths import studies_dir
from geoquiz.study.passphrase import has_passphrase, set_passphrase
from geoquiz.study.session import QuizSession, TrialResponse
from geoquiz.study.store import install_study
from ui.context import AppContext
from ui.quiz.kiosk import KioskWindow
from ui.quiz.launcher import open_session_launcher

PASS = "lab-key-42"


def _ctx(project, tmp_path, **study) -> AppContext:
    path = tmp_path / "tiny.toml"
    path.write_text(small_study_text(**study))
    install_study(project, path)
    return AppContext(project)


@pytest.fixture
def main_window(qtbot):
    w = QWidget()
    w.setWindowTitle("researcher window")
    qtbot.addWidget(w)
    w.show()
    return w


def _launch(qtbot, ctx, main_window, passphrase=PASS) -> KioskWindow:
    dlg = open_session_launcher(ctx, main_window)
    qtbot.keyClicks(dlg.passphrase, passphrase)
    press(qtbot, dlg, dlg.start_button)
    kiosk = dlg.kiosk
    assert kiosk is not None
    _track(qtbot, kiosk)
    return kiosk


def _track(qtbot, kiosk: KioskWindow) -> None:
    """Let pytest-qt close the kiosk at the end of the test (as the researcher would)."""
    qtbot.addWidget(kiosk, before_close_func=lambda k: setattr(k, "_unlocked", True))


def _unlock(qtbot, kiosk: KioskWindow, passphrase=PASS) -> None:
    """Type the passphrase and press Enter; the check runs in a worker: wait for its verdict."""
    dialog = kiosk.passphrase_dialog
    dialog.input.clear()
    qtbot.keyClicks(dialog.input, passphrase)
    with qtbot.waitSignal(dialog.checked, timeout=30000):
        qtbot.keyClick(dialog.input, Qt.Key_Return)


def _vp(editor, x, y) -> QPoint:
    return editor.mapFromScene(QPointF(x, y))


def _draw(qtbot, editor, start, end) -> None:
    vp = editor.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=_vp(editor, *start))
    qtbot.mouseMove(vp, _vp(editor, *end))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=_vp(editor, *end))


def _activate(qtbot, window) -> None:
    """Make ``window`` the active window (window shortcuts such as Ctrl+Up need it)."""
    with qtbot.waitActive(window):
        window.activateWindow()


def _consent_and_start(qtbot, kiosk: KioskWindow) -> None:
    assert kiosk.page() == "consent" and not kiosk.consent.button.isEnabled()
    check = kiosk.consent_check
    qtbot.mouseClick(check, Qt.LeftButton, pos=QPoint(6, check.height() // 2))
    assert check.isChecked() and kiosk.consent.button.isEnabled()
    qtbot.mouseClick(kiosk.consent.button, Qt.LeftButton)
    assert kiosk.page() == "instructions"
    qtbot.keyClick(kiosk.instructions.button, Qt.Key_Space)
    assert kiosk.page() == "trialWidget"


def _type_guess(qtbot, trial, text: str) -> None:
    qtbot.keyClicks(trial.picker.search, text)
    qtbot.keyClick(trial.picker.search, Qt.Key_Return)


def _confidence(qtbot, trial, n: int) -> None:
    button = trial.confidence.findChild(QWidget, f"confidence_{n}")
    qtbot.mouseClick(button, Qt.LeftButton, pos=QPoint(6, button.height() // 2))


def test_whole_session_by_keyboard_and_mouse(qtbot, quiz_project, tmp_path, main_window):
    ctx = _ctx(quiz_project, tmp_path)
    set_passphrase(quiz_project.db, PASS)
    kiosk = _launch(qtbot, ctx, main_window)
    assert kiosk.isFullScreen() and not main_window.isVisible()
    session = kiosk.session
    _consent_and_start(qtbot, kiosk)
    assert quiz_project.db.execute("SELECT consent_at FROM sessions WHERE id = ?", [session.id]).fetchone()[0]

    # practice trial: everything, by keyboard and mouse
    _activate(qtbot, kiosk)
    trial = kiosk.trial
    assert "Practice picture 1 of 1" in trial.header.text()
    _type_guess(qtbot, trial, "jap")
    _type_guess(qtbot, trial, "fra")
    assert trial.picker.search.hasFocus()
    qtbot.keyClick(trial.picker.search, Qt.Key_Up, Qt.ControlModifier)  # right after typing: France first
    assert trial.picker.guesses() == ("France", "Japan")
    editor = trial.editors[None]
    picker = editor.kind_picker
    _draw(qtbot, editor, (10, 10), (50, 40))  # box A: the kind picker opens beside it
    assert picker.isVisible() and not any(b.isChecked() for b in picker.buttons.values())
    qtbot.keyClick(picker, Qt.Key_2)  # Signs
    _draw(qtbot, editor, (100, 70), (150, 110))  # box B
    qtbot.mouseClick(picker.buttons["bollards"], Qt.LeftButton)
    assert [c.tag for c in editor.cue_boxes()] == ["signs", "bollards"]
    assert [i.label_text() for i in editor.box_items()] == ["Signs", "Bollards / kerbs"]
    assert not trial.tag_combo.isEnabled()  # nothing selected: no kind can be changed
    qtbot.mouseClick(editor.viewport(), Qt.LeftButton, pos=_vp(editor, 125, 90))  # select B
    assert trial.tag_combo.isEnabled() and trial.tag_combo.currentData() == "bollards"
    qtbot.keyClick(trial.tag_combo, Qt.Key_Down)  # B becomes Poles; A is untouched
    assert [c.tag for c in editor.cue_boxes()] == ["signs", "poles"]
    qtbot.mouseClick(trial.undo_button, Qt.LeftButton)  # undo the kind change
    assert [c.tag for c in editor.cue_boxes()] == ["signs", "bollards"]
    qtbot.mouseClick(trial.undo_button, Qt.LeftButton)  # undo box B
    assert [c.tag for c in editor.cue_boxes()] == ["signs"]
    qtbot.mouseClick(trial.redo_button, Qt.LeftButton)
    assert [c.tag for c in editor.cue_boxes()] == ["signs", "bollards"]
    qtbot.mouseClick(editor.viewport(), Qt.LeftButton, pos=_vp(editor, 125, 90))
    qtbot.keyClick(editor, Qt.Key_Delete)  # delete the selected box (B)
    boxes = editor.cue_boxes()
    assert [c.tag for c in boxes] == ["signs"]
    qtbot.keyClicks(trial.rationale, "the sign shape")
    qtbot.keyClick(trial.submit_button, Qt.Key_Return, Qt.ControlModifier)  # nothing: confidence missing
    assert kiosk.page() == "trialWidget" and "confident" in trial.message.text()
    _confidence(qtbot, trial, 4)
    qtbot.keyClick(trial.rationale, Qt.Key_Return, Qt.ControlModifier)  # Ctrl+Enter submits
    assert kiosk.page() == "message" and "Practice finished" in kiosk.message.title.text()
    practice_spec = session.order[0]
    qtbot.keyClick(kiosk.message.button, Qt.Key_Space)

    # main trials: the minimum, from the keyboard
    seen_pages = []
    while kiosk.page() == "trialWidget":
        spec = trial.spec
        assert f"Picture {spec.number} of 4" in trial.header.text()
        _type_guess(qtbot, trial, "ind")
        _confidence(qtbot, trial, 2)
        qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
        seen_pages.append(kiosk.page())
    assert seen_pages == ["trialWidget"] * 3 + ["thanks"]
    assert session.code in kiosk.thanks.body.toPlainText()

    rows = quiz_project.db.execute(
        "SELECT position, kind, rationale, confidence, timed_out, response_time_ms >= 0 FROM trials "
        "WHERE session_id = ? ORDER BY position",
        [session.id],
    ).fetchall()
    assert rows[0] == (0, "practice", "the sign shape", 4, 0, 1)
    assert [r[1] for r in rows[1:]].count("attention") == 1 and len(rows) == 5
    guesses = quiz_project.db.execute(
        "SELECT t.position, g.rank, g.label FROM guesses g JOIN trials t ON t.id = g.trial_id ORDER BY t.position, g.rank"
    ).fetchall()
    assert guesses[:2] == [(0, 1, "France"), (0, 2, "Japan")] and guesses[2:] == [
        (p, 1, "India") for p in range(1, 5)
    ]
    stored = quiz_project.db.execute("SELECT view, tag, x0, y0, x1, y1 FROM cue_boxes").fetchall()
    assert stored == [(None, "signs", *boxes[0].box.as_tuple())]
    assert quiz_project.db.execute("SELECT state FROM sessions").fetchone()[0] == "finished"
    assert practice_spec.position == 0

    # leaving needs the passphrase
    kiosk.close()
    assert kiosk.isVisible() and kiosk.passphrase_dialog.isVisible()
    _unlock(qtbot, kiosk, "wrong")
    assert kiosk.isVisible() and "Wrong" in kiosk.passphrase_dialog.error.text()
    with qtbot.waitSignal(kiosk.exited, timeout=2000):
        _unlock(qtbot, kiosk)
    assert not kiosk.isVisible() and main_window.isVisible()


def test_kiosk_exit_requires_passphrase(qtbot, quiz_project, tmp_path):
    _ctx(quiz_project, tmp_path)
    set_passphrase(quiz_project.db, PASS)
    kiosk = KioskWindow(QuizSession.create(quiz_project.db, "tiny"))
    _track(qtbot, kiosk)
    kiosk.showFullScreen()
    qtbot.waitExposed(kiosk)
    kiosk.close()  # refused: the passphrase prompt opens instead
    assert kiosk.isVisible() and not kiosk.unlocked and kiosk.passphrase_dialog.isVisible()
    kiosk.passphrase_dialog.reject()
    assert kiosk.isVisible()
    qtbot.mouseClick(kiosk.exit_button, Qt.LeftButton)  # the discreet "Researcher" button
    dialog = kiosk.passphrase_dialog
    assert dialog.isVisible()
    _unlock(qtbot, kiosk, "")
    assert kiosk.isVisible()
    _unlock(qtbot, kiosk, PASS.upper())
    assert kiosk.isVisible()
    _unlock(qtbot, kiosk)
    assert not kiosk.isVisible() and kiosk.unlocked


def test_time_limit_saves_the_answer_so_far(qtbot, quiz_project, tmp_path):
    _ctx(quiz_project, tmp_path, time_limit=1)
    session = QuizSession.create(quiz_project.db, "tiny", seed=2)
    kiosk = KioskWindow(session)
    _track(qtbot, kiosk)
    kiosk.show()
    _consent_and_start(qtbot, kiosk)
    assert kiosk.trial.timer_label.isVisible() and "Time left 0:01" in kiosk.trial.timer_label.text()
    _type_guess(qtbot, kiosk.trial, "jap")
    qtbot.waitUntil(lambda: kiosk.page() == "message", timeout=5000)
    assert "Time is up" in kiosk.message.title.text()
    row = quiz_project.db.execute("SELECT id, timed_out, confidence FROM trials").fetchone()
    assert row[1:] == (1, None)
    labels = [r[0] for r in quiz_project.db.execute("SELECT label FROM guesses WHERE trial_id = ?", [row[0]])]
    assert labels == ["Japan"]


def test_four_view_study_with_feedback(qtbot, quiz_project, tmp_path):
    install_study(quiz_project, studies_dir() / "geoscenes_4view.toml")
    session = QuizSession.create(quiz_project.db, "geoscenes-4view", seed=5)
    kiosk = KioskWindow(session)
    _track(qtbot, kiosk)
    kiosk.resize(1200, 800)
    kiosk.show()
    _consent_and_start(qtbot, kiosk)
    trial = kiosk.trial
    assert set(trial.editors) == {"north", "east", "south", "west"}
    spec = trial.spec
    _type_guess(qtbot, trial, "spai")
    _type_guess(qtbot, trial, spec.label[:4])
    _draw(qtbot, trial.editors["west"], (20, 20), (60, 60))
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)  # refused: the box has no kind yet
    assert kiosk.page() == "trialWidget" and "kind" in trial.message.text()
    qtbot.keyClick(trial.editors["west"].kind_picker, Qt.Key_5)  # Vegetation / ground
    _confidence(qtbot, trial, 5)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    text = kiosk.message.body.toPlainText()
    assert f"The answer was {spec.label}" in text and "2nd guess: 2500 points" in text
    assert quiz_project.db.execute("SELECT view, tag FROM cue_boxes").fetchall() == [("west", "vegetation")]
    assert quiz_project.db.execute("SELECT views_shown FROM trials").fetchone()[0] == "north,east,south,west"


def test_no_answers_shown_without_feedback(qtbot, quiz_project, tmp_path):
    _ctx(quiz_project, tmp_path)
    session = QuizSession.create(quiz_project.db, "tiny", seed=9)
    kiosk = KioskWindow(session)
    _track(qtbot, kiosk)
    kiosk.show()
    _consent_and_start(qtbot, kiosk)
    shown = []
    while kiosk.page() in ("trialWidget", "message"):
        if kiosk.page() == "message":
            shown.append(kiosk.message.body.toPlainText())
            kiosk.message.button.click()
            continue
        shown.append(kiosk.trial.header.text() + kiosk.trial.message.text())
        _type_guess(qtbot, kiosk.trial, "fr")
        _confidence(qtbot, kiosk.trial, 1)
        kiosk.trial.try_submit()
    shown.append(kiosk.thanks.body.toPlainText())
    labels = {t.label for t in session.order}
    assert not any(label in text for label in labels for text in shown)
    assert "score" not in shown[-1].lower()


def test_resume_from_the_launcher(qtbot, quiz_project, tmp_path, main_window):
    ctx = _ctx(quiz_project, tmp_path)
    set_passphrase(quiz_project.db, PASS)
    session = QuizSession.create(quiz_project.db, "tiny", seed=4)
    session.accept_consent()
    session.begin_trials()
    for pos in (0, 1):
        session.submit(pos, TrialResponse(guesses=("France",), confidence=3))
    dlg = open_session_launcher(ctx, main_window)
    assert dlg.sessions.rowCount() == 1 and dlg.sessions.item(0, 0).text() == session.code
    assert dlg.sessions.item(0, 2).text() == "2/5"
    dlg.sessions.selectRow(0)
    press(qtbot, dlg, dlg.resume_button)
    assert dlg.kiosk is None and "Wrong" in dlg.error.text()
    qtbot.keyClicks(dlg.passphrase, PASS)
    press(qtbot, dlg, dlg.resume_button)
    kiosk = dlg.kiosk
    _track(qtbot, kiosk)
    assert kiosk.session.id == session.id and kiosk.page() == "message"
    assert "Welcome back" in kiosk.message.title.text()
    qtbot.keyClick(kiosk.message.button, Qt.Key_Space)
    assert kiosk.page() == "trialWidget" and kiosk.trial.spec.position == 2
    assert kiosk.trial.spec == session.order[2]
    kiosk.request_exit()
    _unlock(qtbot, kiosk)
    assert main_window.isVisible()


def test_launcher_sets_the_passphrase_first(qtbot, quiz_project, tmp_path, main_window):
    ctx = _ctx(quiz_project, tmp_path)
    dlg = open_session_launcher(ctx, main_window)
    press(qtbot, dlg, dlg.start_button)
    assert dlg.kiosk is None and "Set a researcher passphrase" in dlg.error.text()
    qtbot.keyClicks(dlg.new_pass, "abcd1")
    qtbot.keyClicks(dlg.confirm_pass, "abcd2")
    press(qtbot, dlg, dlg.set_pass_button)
    assert "differ" in dlg.error.text() and not has_passphrase(quiz_project.db)
    dlg.new_pass.setText("ab")
    dlg.confirm_pass.setText("ab")
    press(qtbot, dlg, dlg.set_pass_button)
    assert "at least 8" in dlg.error.text()
    dlg.new_pass.setText(PASS)
    dlg.confirm_pass.setText(PASS)
    press(qtbot, dlg, dlg.set_pass_button)
    assert has_passphrase(quiz_project.db) and dlg.error.text() == ""
    dlg.full_screen = False
    press(qtbot, dlg, dlg.start_button)  # the passphrase just set is filled in
    kiosk = dlg.kiosk
    _track(qtbot, kiosk)
    assert kiosk.page() == "consent"
    qtbot.mouseClick(kiosk.decline, Qt.LeftButton)
    assert kiosk.page() == "message" and "chose not to take part" in kiosk.message.body.toPlainText()
    assert quiz_project.db.execute("SELECT state FROM sessions").fetchone()[0] == "declined"
    kiosk.request_exit()
    _unlock(qtbot, kiosk)
    assert not kiosk.isVisible()


def test_session_on_real_geoscenes_images(qtbot, geoscenes_project_root, tmp_path):
    """Engineer B's GeoScenes project (rendered scenes with planted cues): one trial end to end."""
    import shutil

    from geoquiz.project import Project

    root = tmp_path / "geoscenes"
    shutil.copytree(geoscenes_project_root, root)
    with Project.open(root) as project:
        path = tmp_path / "g.toml"
        path.write_text(small_study_text().replace('split = "test"', 'split = "all"'))
        install_study(project, path)
        session = QuizSession.create(project.db, "tiny", seed=3)
        kiosk = KioskWindow(session)
        _track(qtbot, kiosk)
        kiosk.show()
        _consent_and_start(qtbot, kiosk)
        editor = kiosk.trial.editors[None]
        assert editor.image_size() == (224, 224)
        _type_guess(qtbot, kiosk.trial, "ind")
        _draw(qtbot, editor, (100, 150), (140, 200))
        qtbot.keyClick(editor.kind_picker, Qt.Key_1)  # Road markings
        _confidence(qtbot, kiosk.trial, 3)
        qtbot.keyClick(kiosk.trial.picker.search, Qt.Key_Return, Qt.ControlModifier)
        assert kiosk.page() == "message"  # practice finished
        row = project.db.execute(
            "SELECT t.kind, t.image_id, b.tag FROM trials t JOIN cue_boxes b ON b.trial_id = t.id"
        ).fetchone()
        assert row == ("practice", session.order[0].image_id, "road_markings")


def test_kiosk_hides_every_researcher_window_until_unlocked(qtbot, quiz_project, tmp_path, main_window):
    """A results window left open beside the main window must not stay reachable behind the kiosk."""
    ctx = _ctx(quiz_project, tmp_path)
    set_passphrase(quiz_project.db, PASS)
    review = QWidget()
    review.setWindowTitle("review: participants' answers")
    qtbot.addWidget(review)
    review.show()
    kiosk = _launch(qtbot, ctx, main_window)
    assert kiosk.isVisible() and not main_window.isVisible() and not review.isVisible()
    kiosk.close()
    with qtbot.waitSignal(kiosk.exited, timeout=2000):
        _unlock(qtbot, kiosk)
    assert main_window.isVisible() and review.isVisible()
