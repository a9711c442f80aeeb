"""The quiz's own widgets, driven with real mouse and key events: the box editor (draw, move,
resize, retag, delete, undo/redo) and the keyboard-only top-k guess picker."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QUndoStack

from geoquiz.boxes import Box
from geoquiz.types import CueBox
from ui.quiz.box_editor import BoxEditor
from ui.quiz.guess_picker import GuessPicker


@pytest.fixture
def editor(qtbot):
    stack = QUndoStack()
    ed = BoxEditor(stack, view="east")
    qtbot.addWidget(ed)
    ed.resize(420, 340)
    ed.show()
    ed.set_image(np.full((120, 160, 3), 128, dtype=np.uint8))
    qtbot.waitExposed(ed)
    ed.stack = stack  # keep the stack alive with the editor
    return ed


def _vp(ed: BoxEditor, x: float, y: float) -> QPoint:
    """Viewport position of image pixel (x, y)."""
    return ed.mapFromScene(QPointF(x, y))


def _drag(qtbot, ed: BoxEditor, start, end, button=Qt.LeftButton) -> None:
    vp = ed.viewport()
    qtbot.mousePress(vp, button, pos=_vp(ed, *start))
    qtbot.mouseMove(vp, _vp(ed, (start[0] + end[0]) / 2, (start[1] + end[1]) / 2))
    qtbot.mouseMove(vp, _vp(ed, *end))
    qtbot.mouseRelease(vp, button, pos=_vp(ed, *end))


def _near(box: Box, expected: tuple[int, int, int, int], tol: int = 2) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(box.as_tuple(), expected))


def _draw_and_pick(qtbot, ed: BoxEditor, start, end, key) -> None:
    _drag(qtbot, ed, start, end)
    assert ed.kind_picker.isVisible()
    qtbot.keyClick(ed.kind_picker, key)


def test_draw_move_resize_retag_delete_with_undo(qtbot, editor):
    ed, stack = editor, editor.undo_stack
    _draw_and_pick(qtbot, ed, (20, 20), (60, 50), Qt.Key_2)  # Signs
    (cb,) = ed.cue_boxes()
    assert cb.tag == "signs" and cb.view == "east" and _near(cb.box, (20, 20, 60, 50))
    assert ed.selected_item() is None  # a new box is not left selected

    _drag(qtbot, ed, (40, 35), (70, 45))  # drag inside the box: selects it and moves it by (+30, +10)
    assert _near(ed.cue_boxes()[0].box, (50, 30, 90, 60)) and ed.selected_item() is not None
    _drag(qtbot, ed, (90, 60), (110, 100))  # drag the bottom-right handle: resize
    moved_resized = ed.cue_boxes()[0].box
    assert _near(moved_resized, (50, 30, 110, 100))

    qtbot.keyClick(ed, Qt.Key_7)  # the selected box becomes Vehicles
    assert ed.cue_boxes()[0].tag == "vehicles" and ed.box_items()[0].label_text() == "Vehicles / driving side"
    qtbot.keyClick(ed, Qt.Key_Right, Qt.ShiftModifier)  # keyboard nudge, 10 px
    assert ed.cue_boxes()[0].box.x0 == moved_resized.x0 + 10
    qtbot.keyClick(ed, Qt.Key_Down, Qt.AltModifier)  # Alt+arrows grow the box
    assert ed.cue_boxes()[0].box.y1 == moved_resized.y1 + 1
    qtbot.keyClick(ed, Qt.Key_Delete)
    assert ed.cue_boxes() == []

    assert [stack.text(i) for i in range(stack.count())] == [
        "add Signs box",
        "move box",
        "resize box",
        "tag box as Vehicles / driving side",
        "move box",
        "resize box",
        "delete Vehicles / driving side box",
    ]
    stack.undo()  # undelete
    assert len(ed.cue_boxes()) == 1 and ed.selected_item() is None  # undo never selects
    stack.undo()  # un-grow
    stack.undo()  # un-nudge
    stack.undo()  # untag: the label follows at once
    assert ed.cue_boxes()[0].tag == "signs" and ed.cue_boxes()[0].box == moved_resized
    assert ed.box_items()[0].label_text() == "Signs"
    stack.undo()
    stack.undo()  # unresize, unmove
    assert _near(ed.cue_boxes()[0].box, (20, 20, 60, 50))
    stack.undo()  # undraw
    assert ed.cue_boxes() == []
    for _ in range(7):
        stack.redo()
    assert ed.cue_boxes() == []  # redone up to the delete
    stack.undo()
    assert ed.cue_boxes()[0].tag == "vehicles"


def test_boxes_are_clipped_and_tiny_drags_ignored(qtbot, editor):
    ed = editor
    _draw_and_pick(qtbot, ed, (150, 110), (400, 400), Qt.Key_1)  # dragged past the image edge
    (cb,) = ed.cue_boxes()
    assert cb.box.x1 == 160 and cb.box.y1 == 120 and cb.tag == "road_markings"
    _drag(qtbot, ed, (10, 10), (10.5, 10.5))  # a click, not a box
    assert len(ed.cue_boxes()) == 1 and not ed.kind_picker.isVisible()
    ed.add_cue_box(Box(0, 0, 30, 30), "other")
    assert [c.tag for c in ed.cue_boxes()] == ["road_markings", "other"]
    assert isinstance(ed.cue_boxes()[1], CueBox)


def test_pan_and_zoom_do_not_draw(qtbot, editor):
    ed = editor
    ed.zoom_by(3.0)
    before = ed.horizontalScrollBar().value()
    _drag(qtbot, ed, (60, 60), (20, 60), button=Qt.RightButton)
    assert ed.cue_boxes() == [] and ed.horizontalScrollBar().value() != before
    qtbot.keyClick(ed, Qt.Key_0)
    assert ed.zoom() < 3.0


def test_drawing_disabled_only_views(qtbot, editor):
    editor.set_drawing_enabled(False)
    _drag(qtbot, editor, (20, 20), (60, 50))
    assert editor.cue_boxes() == []


@pytest.fixture
def picker(qtbot):
    p = GuessPicker(["France", "India", "Jamaica", "Japan", "Spain", "Sweden"], k=3)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_picker_works_from_the_keyboard_alone(qtbot, picker):
    p = picker
    p.search.setFocus()
    qtbot.keyClicks(p.search, "fra")
    qtbot.keyClick(p.search, Qt.Key_Return)
    assert p.guesses() == ("France",) and p.search.text() == ""
    qtbot.keyClicks(p.search, "ja")  # Japan and Jamaica; Jamaica comes first alphabetically
    qtbot.keyClick(p.search, Qt.Key_Down)  # into the list
    qtbot.keyClick(p.option_list, Qt.Key_Down)  # Jamaica -> Japan
    qtbot.keyClick(p.option_list, Qt.Key_Return)
    assert p.guesses() == ("France", "Japan")
    qtbot.keyClicks(p.search, "sw")
    qtbot.keyClick(p.search, Qt.Key_Enter)
    assert p.guesses() == ("France", "Japan", "Sweden")
    qtbot.keyClicks(p.search, "spa")
    qtbot.keyClick(p.search, Qt.Key_Return)  # full: refused with a hint
    assert p.guesses() == ("France", "Japan", "Sweden") and "Remove one" in p.hint.text()
    p.picks.setFocus()
    p.picks.setCurrentRow(2)
    qtbot.keyClick(p.picks, Qt.Key_Up, Qt.ControlModifier)
    qtbot.keyClick(p.picks, Qt.Key_Up, Qt.AltModifier)
    assert p.guesses() == ("Sweden", "France", "Japan")
    qtbot.keyClick(p.picks, Qt.Key_Down, Qt.ControlModifier)
    assert p.guesses() == ("France", "Sweden", "Japan")
    qtbot.keyClick(p.picks, Qt.Key_Delete)
    assert p.guesses() == ("France", "Japan")
    assert [p.picks.item(i).text() for i in range(p.picks.count())] == ["1. France", "2. Japan"]


def test_picker_hides_picked_options_and_filters(qtbot, picker):
    p = picker
    p.add("Spain")
    visible = [
        p.option_list.item(i).text()
        for i in range(p.option_list.count())
        if not p.option_list.item(i).isHidden()
    ]
    assert "Spain" not in visible and len(visible) == 5
    qtbot.keyClicks(p.search, "DEN")  # case-insensitive, anywhere in the name
    visible = [
        p.option_list.item(i).text()
        for i in range(p.option_list.count())
        if not p.option_list.item(i).isHidden()
    ]
    assert visible == ["Sweden"]
    qtbot.keyClicks(p.search, "zzz")
    qtbot.keyClick(p.search, Qt.Key_Return)  # nothing matches: nothing added
    assert p.guesses() == ("Spain",)
    p.option_list.setFocus()
    qtbot.keyClick(p.option_list, Qt.Key_I)  # typing in the list goes on searching
    assert p.search.text().endswith("i")
