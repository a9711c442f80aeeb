"""The participant's cue-box editor: draw, move, resize, retag and delete boxes, with undo/redo.

Built on :class:`ui.widgets.image_canvas.ImageCanvas` for the image, zoom and fit; scene coordinates
are image pixels, so a box's rectangle *is* its :class:`geoquiz.boxes.Box` (XYXY, inclusive-exclusive,
rounded outwards and clipped to the image).

Mouse: left-drag on the image draws a box (when drawing is enabled); left-drag inside a box moves it,
on a corner handle resizes it; right- or middle-drag pans; the wheel zooms; double-click fits.
Keys (editor focused): Delete/Backspace removes the selected box, arrows move it by 1 px (Shift: 10),
Ctrl+arrows grow/shrink it, Escape deselects, +/-/0 zoom in/out/fit, Ctrl+Z / Ctrl+Y (or
Ctrl+Shift+Z) undo and redo. Every change is a :class:`QUndoCommand` on the
shared stack given to the constructor (one stack per trial, across the four views of a location).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QKeySequence, QPen, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from geoquiz.boxes import Box
from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS, CueBox
from ui.widgets.image_canvas import ImageCanvas
from ui.widgets.palette import tag_colour

HANDLE_PX = 7.0  # corner handle size on screen
MIN_SIZE = 2.0  # smallest box side in image pixels


class CueBoxItem(QGraphicsRectItem):
    """One box. Geometry lives in ``rect()`` (scene = image pixels; ``pos()`` stays at 0, 0)."""

    def __init__(self, rect: QRectF, tag: str) -> None:
        super().__init__(rect)
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setZValue(50)
        self.label = QGraphicsSimpleTextItem("", self)
        self.label.setFlag(QGraphicsItem.ItemIgnoresTransformations, True)
        self.label_back = QGraphicsRectItem(self.label)
        self.label_back.setFlag(QGraphicsItem.ItemStacksBehindParent, True)
        self.label_back.setPen(QPen(Qt.NoPen))
        self.tag = tag
        self.set_tag(tag)

    def set_tag(self, tag: str) -> None:
        self.tag = tag
        color = QColor(tag_colour(tag))
        self.label.setText(CUE_TAG_LABELS.get(tag, tag))
        self.label.setBrush(QBrush(QColor("black")))
        self.label_back.setRect(self.label.boundingRect().adjusted(-2, -1, 2, 1))
        self.label_back.setBrush(QBrush(color))
        self._update_pen()
        self._place_label()

    def setRect(self, rect: QRectF) -> None:
        super().setRect(rect)
        self._place_label()

    def _place_label(self) -> None:
        self.label.setPos(self.rect().topLeft())

    def _update_pen(self) -> None:
        pen = QPen(QColor(tag_colour(self.tag)), 3 if self.isSelected() else 2)
        pen.setCosmetic(True)
        if self.isSelected():
            pen.setStyle(Qt.DashLine)
        self.setPen(pen)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemSelectedHasChanged:
            self._update_pen()
        return super().itemChange(change, value)

    def paint(self, painter, option, widget=None) -> None:
        super().paint(painter, option, widget)
        if self.isSelected():
            scale = painter.worldTransform().m11() or 1.0
            size = HANDLE_PX / scale
            painter.setBrush(QBrush(QColor(tag_colour(self.tag))))
            painter.setPen(QPen(QColor("black"), 0))
            for corner in _corners(self.rect()):
                painter.drawRect(QRectF(corner.x() - size / 2, corner.y() - size / 2, size, size))

    def box(self) -> Box:
        r = self.rect()
        return Box.from_float(r.left(), r.top(), r.right(), r.bottom())


def _corners(r: QRectF) -> list[QPointF]:
    return [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]


# -- undo commands --------------------------------------------------------------------------------


class _AddBox(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem) -> None:
        super().__init__(f"add {CUE_TAG_LABELS.get(item.tag, item.tag)} box")
        self.editor, self.item = editor, item

    def redo(self) -> None:
        self.editor._attach(self.item)
        self.editor.select(self.item)

    def undo(self) -> None:
        self.editor._detach(self.item)


class _DeleteBox(_AddBox):
    def __init__(self, editor: BoxEditor, item: CueBoxItem) -> None:
        super().__init__(editor, item)
        self.setText(f"delete {CUE_TAG_LABELS.get(item.tag, item.tag)} box")

    def redo(self) -> None:
        self.editor._detach(self.item)

    def undo(self) -> None:
        self.editor._attach(self.item)
        self.editor.select(self.item)


class _SetRect(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem, old: QRectF, new: QRectF, text: str) -> None:
        super().__init__(text)
        self.editor, self.item, self.old, self.new = editor, item, QRectF(old), QRectF(new)

    def redo(self) -> None:
        self.item.setRect(self.new)
        self.editor.boxesChanged.emit()

    def undo(self) -> None:
        self.item.setRect(self.old)
        self.editor.boxesChanged.emit()


class _SetTag(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem, old: str, new: str) -> None:
        super().__init__(f"tag box as {CUE_TAG_LABELS.get(new, new)}")
        self.editor, self.item, self.old, self.new = editor, item, old, new

    def redo(self) -> None:
        self.item.set_tag(self.new)
        self.editor._tag_changed(self.item)

    def undo(self) -> None:
        self.item.set_tag(self.old)
        self.editor._tag_changed(self.item)


# -- the editor -----------------------------------------------------------------------------------


class BoxEditor(ImageCanvas):
    """An image with editable cue boxes. ``view`` (north/east/south/west or None) is copied into every
    :class:`CueBox` returned by :meth:`cue_boxes`.

    Signals: ``boxesChanged()`` after any change; ``selectedTagChanged(str)`` when the selected box
    (or its tag) changes (empty string when nothing is selected); ``activated()`` when the participant
    starts working in this editor (used to route the tag palette in 4-view trials).
    """

    boxesChanged = Signal()
    selectedTagChanged = Signal(str)
    activated = Signal()

    def __init__(
        self, undo_stack: QUndoStack, view: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"boxEditor_{view or 'single'}")
        self.undo_stack = undo_stack
        self.view_name = view
        self.current_tag = CUE_TAGS[0]
        self._items: list[CueBoxItem] = []
        self._drawing_enabled = True
        self._mode: str | None = None  # draw | move | resize | pan
        self._press_scene = QPointF()
        self._press_view = QPointF()
        self._press_rect = QRectF()
        self._active: CueBoxItem | None = None
        self._anchor = QPointF()
        self._draw_item: QGraphicsRectItem | None = None
        self.setDragMode(QGraphicsView.NoDrag)
        self.setFocusPolicy(Qt.StrongFocus)
        self.scene().selectionChanged.connect(self._selection_changed)

    # -- public API ------------------------------------------------------------------------------
    def set_drawing_enabled(self, enabled: bool) -> None:
        """Off: the image can still be zoomed and panned, but no boxes can be drawn or edited."""
        self._drawing_enabled = bool(enabled)
        self.setCursor(Qt.CrossCursor if enabled else Qt.ArrowCursor)

    def set_current_tag(self, tag: str) -> None:
        """The tag of the next drawn box; also retags the selected box (undoable)."""
        if tag not in CUE_TAGS:
            raise ValueError(f"unknown cue tag {tag!r}")
        self.current_tag = tag
        item = self.selected_item()
        if item is not None and item.tag != tag:
            self.undo_stack.push(_SetTag(self, item, item.tag, tag))

    def add_cue_box(self, box: Box, tag: str | None = None) -> CueBoxItem:
        """Add a box (undoable) and select it."""
        item = CueBoxItem(QRectF(box.x0, box.y0, box.width, box.height), tag or self.current_tag)
        self.undo_stack.push(_AddBox(self, item))  # attaches and selects it
        return item

    def delete_selected(self) -> bool:
        item = self.selected_item()
        if item is None:
            return False
        self.undo_stack.push(_DeleteBox(self, item))
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
        """The boxes drawn, in image pixels, clipped to the image; empty boxes are left out."""
        w, h = self.image_size()
        out = []
        for item in self._items:
            box = item.box().clip(w, h) if w else item.box()
            if box.area > 0:
                out.append(CueBox(box, item.tag, view=self.view_name))
        return out

    # -- attach/detach (called by undo commands only) -------------------------------------------
    def _attach(self, item: CueBoxItem) -> None:
        if item not in self._items:
            self.scene().addItem(item)
            self._items.append(item)
        self.boxesChanged.emit()

    def _detach(self, item: CueBoxItem) -> None:
        if item in self._items:
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
        if item is not None:
            self.current_tag = item.tag
        self.selectedTagChanged.emit(item.tag if item is not None else "")

    # -- mouse -----------------------------------------------------------------------------------
    def _handle_at(self, item: CueBoxItem, pos: QPointF) -> QPointF | None:
        """The corner opposite the handle under ``pos`` (the resize anchor), or None."""
        tol = HANDLE_PX / max(self.zoom(), 1e-6)
        corners = _corners(item.rect())
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
                pen = QPen(QColor(tag_colour(self.current_tag)), 2, Qt.DashLine)
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
                self.add_cue_box(Box.from_float(rect.left(), rect.top(), rect.right(), rect.bottom()))
        elif mode in ("move", "resize") and self._active is not None:
            item, old = self._active, self._press_rect
            new = QRectF(item.rect())
            if new.width() < MIN_SIZE or new.height() < MIN_SIZE:
                item.setRect(old)
            elif new != old:
                item.setRect(old)  # the command applies the change, so undo/redo stay in step
                self.undo_stack.push(
                    _SetRect(self, item, old, new, "move box" if mode == "move" else "resize box")
                )
        self._active = None
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self._item_at(self.mapToScene(event.position().toPoint())):
            event.accept()
            return
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
        if item is not None and self._drawing_enabled and key in (Qt.Key_Delete, Qt.Key_Backspace):
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
            if mods & Qt.ControlModifier:
                new = old.adjusted(0, 0, dx, dy)
                w, h = self.image_size()
                new.setRight(min(max(new.right(), new.left() + MIN_SIZE), w))
                new.setBottom(min(max(new.bottom(), new.top() + MIN_SIZE), h))
                text = "resize box"
            else:
                new, text = self._moved(old, QPointF(dx, dy)), "move box"
            if new != old:
                self.undo_stack.push(_SetRect(self, item, old, new, text))
        elif key == Qt.Key_Escape and item is not None:
            self.select(None)
        elif event.matches(QKeySequence.Undo):
            self.undo_stack.undo()
        elif event.matches(QKeySequence.Redo) or (key == Qt.Key_Z and mods & Qt.ControlModifier):
            self.undo_stack.redo()
        elif key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_by(1.25)
        elif key == Qt.Key_Minus:
            self.zoom_by(0.8)
        elif key == Qt.Key_0:
            self.fit_to_view()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
