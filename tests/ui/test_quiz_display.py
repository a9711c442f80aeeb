"""What the participant sees of a picture and how the trial answers the keyboard: 448 px pictures are
never upscaled at the kiosk's real sizes, wheel zoom keeps the point under the cursor, Ctrl+Up /
Ctrl+Down reorder the guesses from anywhere in the trial, and the trial clock stands still (and the
pause is recorded) while the researcher's prompt is open."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fixtures.quiz import small_study_text, study_448_text
from fixtures.quiz_ui import activate, confidence, consent_and_start, draw, track, type_guess
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QUndoStack, QWheelEvent
from PySide6.QtWidgets import QApplication

from geoquiz.study.events import session_events
from geoquiz.study.passphrase import set_passphrase
from geoquiz.study.session import QuizSession
from geoquiz.study.store import install_study
from ui.quiz.box_editor import BoxEditor
from ui.quiz.kiosk import KioskWindow


def _kiosk(qtbot, project, tmp_path, text: str, slug: str, size=(1366, 768)) -> KioskWindow:
    path = tmp_path / f"{slug}.toml"
    path.write_text(text)
    install_study(project, path)
    kiosk = KioskWindow(QuizSession.create(project.db, slug, seed=1))
    track(qtbot, kiosk)
    kiosk.resize(*size)
    kiosk.show()
    qtbot.waitExposed(kiosk)
    consent_and_start(qtbot, kiosk)
    return kiosk


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
@pytest.mark.parametrize("four_view", [False, True], ids=["single", "4view"])
def test_a_448_px_picture_is_never_upscaled(qtbot, quiz_project, tmp_path, size, four_view):
    slug = "big-4view" if four_view else "big"
    kiosk = _kiosk(qtbot, quiz_project, tmp_path, study_448_text(four_view=four_view), slug, size)
    assert kiosk.size().width() == size[0] and kiosk.page() == "trialWidget"
    for editor in kiosk.trial.editors.values():
        assert editor.image_size() == (448, 448)
        assert editor.zoom() <= 1.0  # screen pixels per image pixel: never above native
        shown = editor.mapFromScene(editor.sceneRect()).boundingRect()
        assert editor.viewport().rect().adjusted(-1, -1, 1, 1).contains(shown)  # the whole picture
    if not four_view:  # one picture has room for its native size at either screen size
        assert kiosk.trial.editors[None].zoom() == 1.0


def _wheel(editor, pos: QPoint, clicks: int) -> None:
    port = editor.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(port.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * clicks),
        Qt.NoButton,
        Qt.NoModifier,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(port, event)


def test_wheel_zoom_keeps_the_image_point_under_the_cursor(qtbot):
    editor = BoxEditor(QUndoStack())
    qtbot.addWidget(editor)
    editor.resize(900, 620)
    editor.show()
    qtbot.waitExposed(editor)
    editor.set_image(np.random.default_rng(0).integers(0, 255, (448, 448, 3), dtype=np.uint8))
    assert editor.zoom() == 1.0  # fitted, not upscaled: the picture sits in the middle of the view
    for point, clicks in [((30, 40), 3), ((400, 420), 2), ((224, 10), -4), ((5, 440), 5), ((300, 200), -2)]:
        pos = editor.mapFromScene(QPointF(*point))
        before = editor.zoom()
        _wheel(editor, pos, clicks)
        assert editor.zoom() == pytest.approx(before * 1.15**clicks)
        after = editor.mapFromScene(QPointF(*point))
        assert abs(after.x() - pos.x()) <= 1 and abs(after.y() - pos.y()) <= 1, (point, pos, after)
    qtbot.keyClick(editor, Qt.Key_0)  # back to the fitted view
    assert editor.zoom() == 1.0


def test_zoom_keys_bring_the_selected_box_into_view(qtbot):
    editor = BoxEditor(QUndoStack())
    qtbot.addWidget(editor)
    editor.resize(500, 400)
    editor.show()
    editor.set_image(np.zeros((448, 448, 3), dtype=np.uint8))
    draw(qtbot, editor, (380, 380), (430, 430))
    qtbot.keyClick(editor.kind_picker, Qt.Key_2)
    qtbot.mouseClick(editor.viewport(), Qt.LeftButton, pos=editor.mapFromScene(QPointF(400, 400)))
    for _ in range(6):
        qtbot.keyClick(editor, Qt.Key_Plus)
    box = editor.mapFromScene(editor.box_items()[0].rect()).boundingRect()
    assert editor.zoom() > 3 and editor.viewport().rect().intersects(box)


def test_ctrl_up_and_down_reorder_guesses_from_anywhere_in_the_trial(qtbot, quiz_project, tmp_path):
    kiosk = _kiosk(qtbot, quiz_project, tmp_path, small_study_text(), "tiny")
    activate(qtbot, kiosk)
    trial = kiosk.trial
    for text in ("fra", "ind", "jap"):
        type_guess(qtbot, trial, text)
    assert trial.picker.search.hasFocus()
    qtbot.keyClick(trial.picker.search, Qt.Key_Up, Qt.ControlModifier)  # right after typing
    assert trial.picker.guesses() == ("France", "Japan", "India")
    qtbot.mouseClick(trial.rationale, Qt.LeftButton)
    qtbot.keyClick(trial.rationale, Qt.Key_Up, Qt.ControlModifier)
    assert trial.picker.guesses() == ("Japan", "France", "India")
    assert trial.rationale.toPlainText() == ""  # the key went to the guesses, not into the text
    editor = trial.editors[None]
    qtbot.mouseClick(editor.viewport(), Qt.LeftButton, pos=editor.mapFromScene(QPointF(80, 60)))
    assert editor.hasFocus()
    qtbot.keyClick(editor, Qt.Key_Down, Qt.ControlModifier)
    assert trial.picker.guesses() == ("France", "Japan", "India")
    qtbot.mouseClick(
        trial.picker.picks.viewport(),
        Qt.LeftButton,
        pos=trial.picker.picks.visualItemRect(trial.picker.picks.item(2)).center(),
    )
    qtbot.keyClick(trial.picker.picks, Qt.Key_Up, Qt.ControlModifier)
    assert trial.picker.guesses() == ("France", "India", "Japan")


def test_the_clock_stands_still_while_the_researcher_prompt_is_open(qtbot, quiz_project, tmp_path):
    set_passphrase(quiz_project.db, "lab-key-42")
    kiosk = _kiosk(qtbot, quiz_project, tmp_path, small_study_text(time_limit=3), "tiny")
    shown = time.monotonic()  # just after the trial appeared
    trial = kiosk.trial
    assert trial.remaining_s == 3
    qtbot.mouseClick(kiosk.exit_button, Qt.LeftButton)  # the researcher's prompt
    dialog = kiosk.passphrase_dialog
    assert dialog.isVisible() and trial.is_paused()
    qtbot.wait(1600)
    assert trial.remaining_s == 3 and kiosk.page() == "trialWidget"  # the countdown stood still
    qtbot.keyClick(dialog.input, Qt.Key_Escape)  # the researcher goes away again
    assert not dialog.isVisible() and not trial.is_paused()
    (pause,) = session_events(quiz_project.db, kiosk.session.id, "pause")
    assert pause.position == trial.spec.position and pause.duration_ms >= 1500
    assert pause.detail == {"reason": "researcher prompt", "outcome": "resumed"}
    type_guess(qtbot, trial, "fra")
    confidence(qtbot, trial, 2)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    wall_ms = (time.monotonic() - shown) * 1000
    assert kiosk.page() == "message"  # practice over, answered in time
    (rt, timed_out) = quiz_project.db.execute("SELECT response_time_ms, timed_out FROM trials").fetchone()
    assert timed_out == 0 and rt + pause.duration_ms <= wall_ms + 50  # the pause is not answering time
