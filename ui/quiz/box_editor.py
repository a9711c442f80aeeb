"""The participant's cue-box editor: draw, move, resize, tag and delete boxes, with undo/redo.

Built on :class:`ui.widgets.image_canvas.ImageCanvas` for the image, zoom and fit; scene coordinates
are image pixels, so a box's rectangle *is* its :class:`geoquiz.boxes.Box` (XYXY, inclusive-exclusive,
rounded outwards and clipped to the image). The picture is fitted but never upscaled
(``set_fit_limit(1.0)``): a picture that fits is shown at its native size.

Tagging works as in labelme / X-AnyLabeling. After a box is drawn it is *pending* (grey, labelled
"?") and the :class:`~ui.quiz.kind_picker.KindPicker` opens beside it: a click or a key 1-9 gives
it its kind and adds it (one undo step), Esc (or a click elsewhere on the picture) discards it.
There is no default kind, and a new box is not left selected, so choosing a kind never re-tags a box
the participant did not pick. To change the kind of an existing box, select it (click) and press
1-9, double-click it (the picker opens), or call :meth:`BoxEditor.retag_selected`; with nothing
selected nothing changes. Every box shows its kind as a label at its top-left corner, updated at once.

Mouse: left-drag on the image draws a box (when drawing is enabled); left-drag inside a box moves it,
on a corner handle resizes it; right- or middle-drag pans; the wheel zooms around the cursor;
double-click on the picture fits it, on a box opens the kind picker.
Keys (editor focused): 1-9 choose the kind (new or selected box), Delete/Backspace removes the
selected box, arrows move it by 1 px (Shift: 10), Alt+arrows grow/shrink it, Escape discards a
pending box or deselects, +/-/0 zoom in/out/fit, Ctrl+Z / Ctrl+Y (or Ctrl+Shift+Z) undo and redo.
(Ctrl+Up / Ctrl+Down belong to the trial: they reorder the guesses.) Every change is a
:class:`QUndoCommand` on the shared stack given to the constructor (one stack per trial, across the
four views of a location); undoing never selects a box.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QPen, QUndoStack
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsView, QWidget

from geoquiz.boxes import Box
from geoquiz.types import CUE_TAGS, CueBox
from ui.quiz.box_items import (
    HANDLE_PX,
    PENDING_COLOUR,
    AddBox,
    CueBoxItem,
    DeleteBox,
    SetRect,
    SetTag,
    box_corners,
)
from ui.quiz.kind_picker import KindPicker, kind_for_key
from ui.widgets.image_canvas import ImageCanvas

MIN_SIZE = 2.0  # smallest box side in image pixels


class BoxEditor(ImageCanvas):
    """An image with editable cue boxes. ``view`` (north/east/south/west or None) is copied into every
    :class:`CueBox` returned by :meth:`cue_boxes`.

    Signals: ``boxesChanged()`` after any change; ``selectedTagChanged(str)`` when the selected box
    (or its tag) changes (empty string when nothing is selected); ``pendingChanged(bool)`` when a
    drawn box starts or stops waiting for its kind; ``activated()`` when the participant starts
    working in this editor (the trial uses it to keep one active editor among four views).
    """

    boxesChanged = Signal()
    selectedTagChanged = Signal(str)
    pendingChanged = Signal(bool)
    activated = Signal()

    def __init__(
        self, undo_stack: QUndoStack, view: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"boxEditor_{view or 'single'}")
        self.set_fit_limit(1.0)  # never upscale a picture to fill the view
        self.undo_stack = undo_stack
        self.view_name = view
        self._items: list[CueBoxItem] = []
        self._drawing_enabled = True
        self._mode: str | None = None  # draw | move | resize | pan
        self._press_scene = QPointF()
        self._press_view = QPointF()
        self._press_rect = QRectF()
        self._active: CueBoxItem | None = None
        self._anchor = QPointF()
        self._draw_item: QGraphicsRectItem | None = None
        self._pending: CueBoxItem | None = None
        self._picker_for: CueBoxItem | None = None  # the box the open picker is about
        self.kind_picker = KindPicker(self)
        self.kind_picker.chosen.connect(self._picker_chosen)
        self.kind_picker.cancelled.connect(self._picker_cancelled)
        self.setDragMode(QGraphicsView.NoDrag)
        self.setFocusPolicy(Qt.StrongFocus)
        self.scene().selectionChanged.connect(self._selection_changed)
        for signal in (
            self.zoomChanged,
            self.horizontalScrollBar().valueChanged,
            self.verticalScrollBar().valueChanged,
        ):
            signal.connect(lambda _v: self._view_moved())
        self.boxesChanged.connect(self._place_labels)

    # -- public API ------------------------------------------------------------------------------
    def set_drawing_enabled(self, enabled: bool) -> None:
        """Off: the image can still be zoomed and panned, but no boxes can be drawn or edited."""
        self._drawing_enabled = bool(enabled)
        self.setCursor(Qt.CrossCursor if enabled else Qt.ArrowCursor)
        if not enabled:
            self.cancel_pending()

    def add_cue_box(self, box: Box, tag: str) -> CueBoxItem:
        """Add a box of kind ``tag`` (undoable). It is not selected."""
        if tag not in CUE_TAGS:
            raise ValueError(f"unknown cue tag {tag!r}")
        item = CueBoxItem(QRectF(box.x0, box.y0, box.width, box.height), tag)
        self.undo_stack.push(AddBox(self, item))
        return item

    def retag_selected(self, tag: str) -> bool:
        """Give the selected box kind ``tag`` (undoable). False, and nothing changes, when no box is
        selected."""
        if tag not in CUE_TAGS:
            raise ValueError(f"unknown cue tag {tag!r}")
        item = self.selected_item()
        if item is None:
            return False
        if item.tag != tag:
            self.undo_stack.push(SetTag(self, item, item.tag, tag))
        return True

    def choose_kind(self, tag: str) -> bool:
        """What a key 1-9 does: the kind of the pending box (which is then added), else of the
        selected box; False when there is neither."""
        if self._pending is not None:
            self._finish_pending(tag)
            return True
        return self.retag_selected(tag)

    def pending_item(self) -> CueBoxItem | None:
        """The drawn box waiting for its kind, if any (not yet a cue box)."""
        return self._pending

    def has_pending(self) -> bool:
        return self._pending is not None

    def cancel_pending(self) -> None:
        """Discard the box waiting for its kind (and close the picker)."""
        self._close_picker()
        item, self._pending = self._pending, None
        if item is not None:
            self.scene().removeItem(item)
            self.pendingChanged.emit(False)

    def open_kind_picker(self, item: CueBoxItem | None = None) -> bool:
        """Open the picker beside ``item`` (default: the selected box) to change its kind."""
        item = item or self.selected_item()
        if item is None or not self._drawing_enabled:
            return False
        self.select(item)
        self._picker_for = item
        self._place_picker(show=True)
        return True

    def clear_boxes(self) -> None:
        """Remove every box (not undoable: used when a new trial is loaded)."""
        self.cancel_pending()
        for item in list(self._items):
            self._detach(item)

    def delete_selected(self) -> bool:
        item = self.selected_item()
        if item is None:
            return False
        self.undo_stack.push(DeleteBox(self, item))
        return True

    def selected_item(self) -> CueBoxItem | None:
        return next((it for it in self._items if it.isSelected()), None)

    def select(self, item: CueBoxItem | None) -> None:
        self.scene().clearSelection()
        if item is not None:
            item.setSelected(True)

    def box_items(self) -> list[CueBoxItem]:
        return list(self._items)

    def cue_boxes(self) -> list[CueBox]:
        """The boxes with a kind, in image pixels, clipped to the image; empty boxes are left out.
        A pending box (no kind chosen yet) is not a cue box."""
        w, h = self.image_size()
        out = []
        for item in self._items:
            box = item.box().clip(w, h) if w else item.box()
            if box.area > 0:
                out.append(CueBox(box, item.tag, view=self.view_name))
        return out

    # -- the kind picker -------------------------------------------------------------------------
    def _finish_pending(self, tag: str) -> None:
        self._close_picker()
        item, self._pending = self._pending, None
        self.scene().removeItem(item)
        item.setFlag(QGraphicsItem.ItemIsSelectable, True)
        item.set_tag(tag)
        self.undo_stack.push(AddBox(self, item))  # attaches it, not selected
        self.pendingChanged.emit(False)

    def _picker_chosen(self, tag: str) -> None:
        target, self._picker_for = self._picker_for, None
        if target is self._pending and target is not None:
            self._finish_pending(tag)
        elif target is not None and target in self._items:
            self.select(target)
            self.retag_selected(tag)
        self.setFocus(Qt.OtherFocusReason)

    def _picker_cancelled(self) -> None:
        target, self._picker_for = self._picker_for, None
        if target is not None and target is self._pending:
            self.cancel_pending()
        self.setFocus(Qt.OtherFocusReason)

    def _close_picker(self) -> None:
        self._picker_for = None
        self.kind_picker.hide()

    def _place_picker(self, show: bool = False) -> None:
        """Put the picker beside its box (in the top-level window, so a small view never clips it)."""
        item = self._picker_for
        if item is None or (not show and not self.kind_picker.isVisible()):
            return
        window = self.window()
        if self.kind_picker.parentWidget() is not window:
            self.kind_picker.setParent(window)
        r = self.mapFromScene(item.rect()).boundingRect()
        top_left = self.viewport().mapTo(window, r.topLeft())
        vp = QRect(self.viewport().mapTo(window, self.viewport().rect().topLeft()), self.viewport().size())
        anchor = QRect(top_left, r.size()).intersected(vp)
        self.kind_picker.open_at(vp if anchor.isEmpty() else anchor, item.tag)

    def hideEvent(self, event) -> None:
        """The trial left the screen: a box still waiting for its kind is dropped, the picker closes."""
        self.cancel_pending()
        super().hideEvent(event)

    def _view_moved(self) -> None:
        self._place_picker()
        self._place_labels()

    def _place_labels(self) -> None:
        """Each label above its box when the box's top is far enough from the top of the view."""
        items = self._items + ([self._pending] if self._pending is not None else [])
        for item in items:
            top = self.mapFromScene(item.rect().topLeft()).y()
            item.set_label_above(top >= item.label_height() + 2)

    # -- attach/detach (called by undo commands only) -------------------------------------------
    def _attach(self, item: CueBoxItem) -> None:
        if item not in self._items:
            item.set_label_font(self.font())
            self.scene().addItem(item)
            self._items.append(item)
        self.boxesChanged.emit()

    def _detach(self, item: CueBoxItem) -> None:
        if item in self._items:
            if item is self._picker_for:
                self._close_picker()
            item.setSelected(False)
            self.scene().removeItem(item)
            self._items.remove(item)
        self.boxesChanged.emit()

    def _tag_changed(self, item: CueBoxItem) -> None:
        if item.isSelected():
            self.selectedTagChanged.emit(item.tag)
        self.boxesChanged.emit()

    def _selection_changed(self) -> None:
        item = self.selected_item()
        if (
            self._picker_for is not None
            and self._picker_for is not self._pending
            and item is not self._picker_for
        ):
            self._close_picker()
        self.selectedTagChanged.emit(item.tag if item is not None else "")

    # -- mouse -----------------------------------------------------------------------------------
    def _handle_at(self, item: CueBoxItem, pos: QPointF) -> QPointF | None:
        """The corner opposite the handle under ``pos`` (the resize anchor), or None."""
        tol = HANDLE_PX / max(self.zoom(), 1e-6)
        corners = box_corners(item.rect())
        for n, corner in enumerate(corners):
            if abs(corner.x() - pos.x()) <= tol and abs(corner.y() - pos.y()) <= tol:
                return corners[(n + 2) % 4]
        return None

    def _item_at(self, pos: QPointF) -> CueBoxItem | None:
        selected = self.selected_item()
        if selected is not None and self._handle_at(selected, pos) is not None:
            return selected
        hits = [it for it in self._items if it.rect().contains(pos)]
        return min(hits, key=lambda it: it.rect().width() * it.rect().height()) if hits else None

    def mousePressEvent(self, event) -> None:
        self.setFocus(Qt.MouseFocusReason)
        self.activated.emit()
        pos = self.mapToScene(event.position().toPoint())
        self._press_scene, self._press_view = pos, event.position()
        if self._pending is not None and event.button() == Qt.LeftButton:
            self.cancel_pending()  # a click beside the picker discards the box, like Esc
            event.accept()
            return
        if self.kind_picker.isVisible():
            self._close_picker()
        if event.button() in (Qt.RightButton, Qt.MiddleButton):
            self._mode = "pan"
            self.setCursor(Qt.ClosedHandCursor)
        elif event.button() == Qt.LeftButton and self._drawing_enabled and self.image() is not None:
            item = self._item_at(pos)
            if item is not None:
                self.select(item)
                self._active, self._press_rect = item, QRectF(item.rect())
                anchor = self._handle_at(item, pos)
                self._mode = "resize" if anchor is not None else "move"
                self._anchor = anchor or QPointF()
            else:
                self.select(None)
                self._mode = "draw"
                start = self._clamp(pos)
                pen = QPen(QColor(PENDING_COLOUR), 2, Qt.DashLine)
                pen.setCosmetic(True)
                self._draw_item = self.scene().addRect(QRectF(start, start), pen)
                self._draw_item.setZValue(60)
                self._press_scene = start
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if self._mode == "pan":
            delta = event.position() - self._press_view
            self._press_view = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
        elif self._mode == "draw" and self._draw_item is not None:
            self._draw_item.setRect(QRectF(self._press_scene, self._clamp(pos)).normalized())
        elif self._mode == "move" and self._active is not None:
            self._active.setRect(self._moved(self._press_rect, pos - self._press_scene))
        elif self._mode == "resize" and self._active is not None:
            self._active.setRect(QRectF(self._anchor, self._clamp(pos)).normalized())
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        mode, self._mode = self._mode, None
        if mode == "pan":
            self.setCursor(Qt.CrossCursor if self._drawing_enabled else Qt.ArrowCursor)
        elif mode == "draw" and self._draw_item is not None:
            rect = self._draw_item.rect()
            self.scene().removeItem(self._draw_item)
            self._draw_item = None
            if rect.width() >= MIN_SIZE and rect.height() >= MIN_SIZE:
                self._start_pending(Box.from_float(rect.left(), rect.top(), rect.right(), rect.bottom()))
        elif mode in ("move", "resize") and self._active is not None:
            item, old = self._active, self._press_rect
            new = QRectF(item.rect())
            if new.width() < MIN_SIZE or new.height() < MIN_SIZE:
                item.setRect(old)
            elif new != old:
                item.setRect(old)  # the command applies the change, so undo/redo stay in step
                self.undo_stack.push(
                    SetRect(self, item, old, new, "move box" if mode == "move" else "resize box")
                )
        self._active = None
        event.accept()

    def _start_pending(self, box: Box) -> None:
        """A box was drawn: show it as pending and ask for its kind."""
        w, h = self.image_size()
        box = box.clip(w, h)
        item = CueBoxItem(QRectF(box.x0, box.y0, box.width, box.height), None)
        item.setFlag(QGraphicsItem.ItemIsSelectable, False)
        item.set_label_font(self.font())
        self.scene().addItem(item)
        self._pending = item
        self._place_labels()
        self._picker_for = item
        self.pendingChanged.emit(True)
        self._place_picker(show=True)

    def mouseDoubleClickEvent(self, event) -> None:
        item = self._item_at(self.mapToScene(event.position().toPoint()))
        if event.button() == Qt.LeftButton and item is not None:
            self.open_kind_picker(item)
            event.accept()
            return
        if self._pending is None:
            super().mouseDoubleClickEvent(event)

    def _clamp(self, p: QPointF) -> QPointF:
        w, h = self.image_size()
        return QPointF(min(max(p.x(), 0.0), float(w)), min(max(p.y(), 0.0), float(h)))

    def _moved(self, rect: QRectF, delta: QPointF) -> QRectF:
        w, h = self.image_size()
        dx = min(max(delta.x(), -rect.left()), w - rect.right())
        dy = min(max(delta.y(), -rect.top()), h - rect.bottom())
        return rect.translated(dx, dy)

    # -- keyboard --------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.selected_item()
        key, mods = event.key(), event.modifiers()
        kind = kind_for_key(key) if not mods & (Qt.ControlModifier | Qt.AltModifier) else None
        if kind is not None and self._drawing_enabled and (self._pending is not None or item is not None):
            self.choose_kind(kind)
        elif key == Qt.Key_Escape and self._pending is not None:
            self.cancel_pending()
        elif key == Qt.Key_Escape and self.kind_picker.isVisible():
            self._close_picker()
        elif item is not None and self._drawing_enabled and key in (Qt.Key_Delete, Qt.Key_Backspace):
            self.delete_selected()
        elif (
            item is not None
            and self._drawing_enabled
            and key in (Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down)
        ):
            step = 10.0 if mods & Qt.ShiftModifier else 1.0
            dx = {Qt.Key_Left: -step, Qt.Key_Right: step}.get(key, 0.0)
            dy = {Qt.Key_Up: -step, Qt.Key_Down: step}.get(key, 0.0)
            old = QRectF(item.rect())
            if mods & Qt.AltModifier:
                new = old.adjusted(0, 0, dx, dy)
                w, h = self.image_size()
                new.setRight(min(max(new.right(), new.left() + MIN_SIZE), w))
                new.setBottom(min(max(new.bottom(), new.top() + MIN_SIZE), h))
                text = "resize box"
            else:
                new, text = self._moved(old, QPointF(dx, dy)), "move box"
            if new != old:
                self.undo_stack.push(SetRect(self, item, old, new, text))
                self.ensureVisible(new, 8, 8)
        elif key == Qt.Key_Escape and item is not None:
            self.select(None)
        elif event.matches(QKeySequence.Undo):
            self.undo_stack.undo()
        elif event.matches(QKeySequence.Redo) or (key == Qt.Key_Z and mods & Qt.ControlModifier):
            self.undo_stack.redo()
        elif key in (Qt.Key_Plus, Qt.Key_Equal, Qt.Key_Minus):
            factor = 0.8 if key == Qt.Key_Minus else 1.25
            if item is not None:  # zoom on the selected box: it comes to the centre of the view
                self.zoom_at(factor, None, item.rect().center())
            else:
                self.zoom_by(factor)
        elif key == Qt.Key_0:
            self.fit_to_view()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
