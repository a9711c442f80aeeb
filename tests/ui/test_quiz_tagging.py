"""Cue-box tagging in the real kiosk, as in labelme / X-AnyLabeling: a kind picker opens beside each
drawn box, a kind is only ever changed on a box the participant selected, Esc cancels a new box,
undo/redo cover kind changes, and what is stored is what the participant chose."""

from __future__ import annotations

import pytest
from fixtures.quiz import small_study_text
from fixtures.quiz_ui import click_image, confidence, consent_and_start, draw, track, type_guess, vp
from PySide6.QtCore import QRect, Qt

from geoquiz.paths import studies_dir
from geoquiz.study.session import QuizSession
from geoquiz.study.store import install_study
from ui.quiz.kiosk import KioskWindow


@pytest.fixture
def kiosk(qtbot, quiz_project, tmp_path) -> KioskWindow:
    path = tmp_path / "tiny.toml"
    path.write_text(small_study_text())
    install_study(quiz_project, path)
    k = KioskWindow(QuizSession.create(quiz_project.db, "tiny", seed=1))
    track(qtbot, k)
    k.resize(1366, 768)
    k.show()
    qtbot.waitExposed(k)
    consent_and_start(qtbot, k)
    return k


def _stored(db) -> list[tuple]:
    return db.execute("SELECT tag, x0, y0, x1, y1 FROM cue_boxes ORDER BY x0").fetchall()


def _submit(qtbot, trial) -> None:
    type_guess(qtbot, trial, "ind")
    confidence(qtbot, trial, 3)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)


def test_each_box_keeps_the_kind_chosen_for_it(qtbot, kiosk, quiz_project):
    """The issue's case: box A tagged X, then the participant turns to the kind list before drawing
    box B. The list is off while no box is selected, so A keeps X; B gets Y from its own picker."""
    trial, editor = kiosk.trial, kiosk.trial.editors[None]
    picker = editor.kind_picker
    draw(qtbot, editor, (10, 60), (40, 110))  # box A
    assert picker.isVisible() and editor.pending_item() is not None
    assert editor.pending_item().label_text() == "?"  # no kind yet: none is pre-selected
    assert not any(b.isChecked() for b in picker.buttons.values())
    box_rect = editor.viewport().mapTo(kiosk, editor.mapFromScene(10, 60))
    assert not picker.geometry().intersects(
        QRect(box_rect, editor.viewport().mapTo(kiosk, vp(editor, 40, 110)))
    )
    assert kiosk.rect().contains(picker.geometry())
    qtbot.keyClick(picker, Qt.Key_5)  # Vegetation / ground
    assert editor.box_items()[0].label_text() == "Vegetation / ground"  # shown on the box at once

    assert not trial.tag_combo.isEnabled()  # choosing a kind "for the next box" is not possible
    qtbot.keyClick(trial.tag_combo, Qt.Key_Down)
    qtbot.keyClick(editor, Qt.Key_6)  # a kind key with nothing selected: no box changes
    draw(qtbot, editor, (100, 20), (150, 60))  # box B
    qtbot.mouseClick(picker.buttons["architecture"], Qt.LeftButton)
    assert [c.tag for c in editor.cue_boxes()] == ["vegetation", "architecture"]
    _submit(qtbot, trial)
    assert kiosk.page() == "message"
    assert _stored(quiz_project.db) == [("vegetation", 10, 60, 40, 110), ("architecture", 100, 20, 150, 60)]


def test_choosing_a_kind_with_nothing_selected_changes_no_box(qtbot, kiosk):
    trial, editor = kiosk.trial, kiosk.trial.editors[None]
    draw(qtbot, editor, (10, 10), (40, 40))
    qtbot.keyClick(editor.kind_picker, Qt.Key_1)
    draw(qtbot, editor, (60, 60), (90, 90))
    qtbot.keyClick(editor.kind_picker, Qt.Key_2)
    click_image(qtbot, editor, 130, 20)  # a click on empty picture: nothing selected
    before = [c.tag for c in editor.cue_boxes()]
    n_commands = trial.undo_stack.count()
    for key in (Qt.Key_1, Qt.Key_3, Qt.Key_9):
        qtbot.keyClick(editor, key)
    trial._tag_chosen(4)  # the kind list, even if it were reached, applies to the selection only
    assert editor.retag_selected("script") is False
    assert [c.tag for c in editor.cue_boxes()] == before == ["road_markings", "signs"]
    assert trial.undo_stack.count() == n_commands
    assert not trial.tag_combo.isEnabled() and trial.tag_combo.currentIndex() == -1


def test_undo_and_redo_restore_a_changed_kind(qtbot, kiosk):
    trial, editor = kiosk.trial, kiosk.trial.editors[None]
    draw(qtbot, editor, (20, 20), (70, 70))
    qtbot.keyClick(editor.kind_picker, Qt.Key_2)  # Signs
    qtbot.mouseDClick(editor.viewport(), Qt.LeftButton, pos=vp(editor, 45, 45))  # reopen the picker
    picker = editor.kind_picker
    assert picker.isVisible() and picker.buttons["signs"].isChecked()
    qtbot.keyClick(picker, Qt.Key_8)  # Script on signs
    item = editor.box_items()[0]
    assert item.tag == "script" and item.label_text() == "Script on signs"
    assert trial.tag_combo.currentData() == "script"  # the box is selected: the list shows its kind
    qtbot.mouseClick(trial.undo_button, Qt.LeftButton)
    assert item.tag == "signs" and item.label_text() == "Signs"
    assert trial.tag_combo.currentData() == "signs"
    qtbot.mouseClick(trial.redo_button, Qt.LeftButton)
    assert [c.tag for c in editor.cue_boxes()] == ["script"]
    trial.tag_combo.setFocus()
    qtbot.keyClick(trial.tag_combo, Qt.Key_Up)  # the kind list, by keyboard: the entry above Script
    assert [c.tag for c in editor.cue_boxes()] == ["vehicles"]
    qtbot.keyClick(editor, Qt.Key_Z, Qt.ControlModifier)
    assert [c.tag for c in editor.cue_boxes()] == ["script"]
    qtbot.keyClick(editor, Qt.Key_Z, Qt.ControlModifier)
    assert [c.tag for c in editor.cue_boxes()] == ["signs"]


def test_escape_or_a_click_elsewhere_discards_a_new_box(qtbot, kiosk):
    trial, editor = kiosk.trial, kiosk.trial.editors[None]
    picker = editor.kind_picker
    draw(qtbot, editor, (20, 20), (70, 70))
    qtbot.keyClick(picker, Qt.Key_Escape)
    assert editor.cue_boxes() == [] and not editor.has_pending() and not picker.isVisible()
    assert trial.undo_stack.count() == 0  # nothing to undo: the box never existed
    draw(qtbot, editor, (20, 20), (70, 70))
    click_image(qtbot, editor, 120, 100)  # a click beside the picker discards it too
    assert editor.cue_boxes() == [] and not editor.has_pending()
    draw(qtbot, editor, (20, 20), (70, 70))
    qtbot.mouseClick(picker.cancel_button, Qt.LeftButton)
    assert not editor.has_pending()

    draw(qtbot, editor, (20, 20), (70, 70))
    type_guess(qtbot, trial, "jap")
    confidence(qtbot, trial, 2)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    assert kiosk.page() == "trialWidget" and "kind" in trial.message.text()  # a box with no kind
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key_Escape)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    assert kiosk.page() == "message"
    assert _stored(kiosk.session.db) == []


def test_tagging_in_the_four_view_trial(qtbot, quiz_project):
    install_study(quiz_project, studies_dir() / "geoscenes_4view.toml")
    kiosk = KioskWindow(QuizSession.create(quiz_project.db, "geoscenes-4view", seed=2))
    track(qtbot, kiosk)
    kiosk.resize(1366, 768)
    kiosk.show()
    consent_and_start(qtbot, kiosk)
    trial = kiosk.trial
    north, east, south = trial.editors["north"], trial.editors["east"], trial.editors["south"]
    draw(qtbot, north, (10, 10), (60, 50))
    assert north.kind_picker.parentWidget() is kiosk  # beside the box, not clipped by the small view
    qtbot.keyClick(north.kind_picker, Qt.Key_3)  # Bollards
    draw(qtbot, east, (20, 20), (80, 80))  # pending in east ...
    draw(qtbot, south, (30, 30), (90, 70))  # ... is discarded when the participant moves to south
    assert not east.has_pending() and south.has_pending()
    qtbot.keyClick(south.kind_picker, Qt.Key_4)  # Poles
    click_image(qtbot, north, 30, 30)  # select the north box
    assert trial.tag_combo.currentData() == "bollards"
    qtbot.keyClick(north, Qt.Key_9)  # Other, on the selected north box only
    type_guess(qtbot, trial, "fra")
    confidence(qtbot, trial, 4)
    qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    rows = quiz_project.db.execute("SELECT view, tag FROM cue_boxes ORDER BY view").fetchall()
    assert rows == [("north", "other"), ("south", "poles")]
