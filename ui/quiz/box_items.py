"""The graphics items and undo commands of the cue-box editor (:mod:`ui.quiz.box_editor`).

:class:`CueBoxItem` is one box on the picture: its rectangle is in image pixels (the scene), its kind
is shown as a label at its top-left corner that ignores the zoom, and ``tag`` None marks a pending
box (drawn, kind not chosen yet: grey, dashed, labelled "?"). The undo commands change the editor
only through ``_attach`` / ``_detach`` / ``_tag_changed`` and ``boxesChanged``, and never select.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen, QTransform, QUndoCommand
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from geoquiz.boxes import Box
from geoquiz.types import CUE_TAG_LABELS
from ui.widgets.palette import tag_colour

if TYPE_CHECKING:
    from ui.quiz.box_editor import BoxEditor

HANDLE_PX = 7.0  # corner handle size on screen
PENDING_COLOUR = "#f5f5f5"  # a drawn box waiting for its kind


class CueBoxItem(QGraphicsRectItem):
    """One box. Geometry lives in ``rect()`` (scene = image pixels; ``pos()`` stays at 0, 0).
    ``tag`` None is a pending box (drawn, kind not chosen yet): grey, dashed, labelled "?"."""

    def __init__(self, rect: QRectF, tag: str | None) -> None:
        super().__init__(rect)
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setZValue(50)
        self.label = QGraphicsSimpleTextItem("", self)
        self.label.setFlag(QGraphicsItem.ItemIgnoresTransformations, True)
        self.label_back = QGraphicsRectItem(self.label)
        self.label_back.setFlag(QGraphicsItem.ItemStacksBehindParent, True)
        self.label_back.setPen(QPen(Qt.NoPen))
        self._label_above = False
        self.tag = tag
        self.set_tag(tag)

    def set_tag(self, tag: str | None) -> None:
        self.tag = tag
        color = QColor(self.colour())
        self.label.setText("?" if tag is None else CUE_TAG_LABELS.get(tag, tag))
        self.label.setBrush(QBrush(QColor("black")))
        self.label_back.setRect(self.label.boundingRect().adjusted(-2, -1, 2, 1))
        self.label_back.setBrush(QBrush(color))
        self._update_pen()
        self._place_label()

    def set_label_font(self, font: QFont) -> None:
        """The font of the kind label (the editor's, so it is as legible as the rest of the screen)."""
        self.label.setFont(font)
        self.label_back.setRect(self.label.boundingRect().adjusted(-2, -1, 2, 1))
        self._place_label()

    def setRect(self, rect: QRectF) -> None:
        super().setRect(rect)
        self._place_label()

    def set_label_above(self, above: bool) -> None:
        """Put the label just above the box's top-left corner (so it never hides what the box holds)
        or, when there is no room above it on screen, inside the corner."""
        if above != self._label_above:
            self._label_above = above
            self._place_label()

    def label_height(self) -> float:
        """Height of the label on screen, in pixels (it ignores the zoom)."""
        return self.label_back.rect().height()

    def _place_label(self) -> None:
        self.label.setPos(self.rect().topLeft())
        # the label ignores the view's scale, so its own transform is in screen pixels
        shift = -self.label_back.rect().bottom() - 1 if self._label_above else 1
        self.label.setTransform(QTransform.fromTranslate(1, shift))

    def colour(self) -> str:
        return PENDING_COLOUR if self.tag is None else tag_colour(self.tag)

    def label_text(self) -> str:
        """The kind shown on the box ("?" while pending)."""
        return self.label.text()

    def _update_pen(self) -> None:
        pen = QPen(QColor(self.colour()), 3 if self.isSelected() or self.tag is None else 2)
        pen.setCosmetic(True)
        if self.isSelected() or self.tag is None:
            pen.setStyle(Qt.DashLine)
        self.setPen(pen)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemSelectedHasChanged:
            self._update_pen()
            self.setZValue(55 if self.isSelected() else 50)  # the selected box and its label on top
        return super().itemChange(change, value)

    def paint(self, painter, option, widget=None) -> None:
        super().paint(painter, option, widget)
        if self.isSelected():
            scale = painter.worldTransform().m11() or 1.0
            size = HANDLE_PX / scale
            painter.setBrush(QBrush(QColor(self.colour())))
            painter.setPen(QPen(QColor("black"), 0))
            for corner in box_corners(self.rect()):
                painter.drawRect(QRectF(corner.x() - size / 2, corner.y() - size / 2, size, size))

    def box(self) -> Box:
        r = self.rect()
        return Box.from_float(r.left(), r.top(), r.right(), r.bottom())


def box_corners(r: QRectF) -> list[QPointF]:
    return [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]


# -- undo commands --------------------------------------------------------------------------------


class AddBox(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem) -> None:
        super().__init__(f"add {CUE_TAG_LABELS.get(item.tag, item.tag)} box")
        self.editor, self.item = editor, item

    def redo(self) -> None:
        self.editor._attach(self.item)

    def undo(self) -> None:
        self.editor._detach(self.item)


class DeleteBox(AddBox):
    def __init__(self, editor: BoxEditor, item: CueBoxItem) -> None:
        super().__init__(editor, item)
        self.setText(f"delete {CUE_TAG_LABELS.get(item.tag, item.tag)} box")

    def redo(self) -> None:
        self.editor._detach(self.item)

    def undo(self) -> None:
        self.editor._attach(self.item)


class SetRect(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem, old: QRectF, new: QRectF, text: str) -> None:
        super().__init__(text)
        self.editor, self.item, self.old, self.new = editor, item, QRectF(old), QRectF(new)

    def redo(self) -> None:
        self.item.setRect(self.new)
        self.editor.boxesChanged.emit()

    def undo(self) -> None:
        self.item.setRect(self.old)
        self.editor.boxesChanged.emit()


class SetTag(QUndoCommand):
    def __init__(self, editor: BoxEditor, item: CueBoxItem, old: str, new: str) -> None:
        super().__init__(f"tag box as {CUE_TAG_LABELS.get(new, new)}")
        self.editor, self.item, self.old, self.new = editor, item, old, new

    def redo(self) -> None:
        self.item.set_tag(self.new)
        self.editor._tag_changed(self.item)

    def undo(self) -> None:
        self.item.set_tag(self.old)
        self.editor._tag_changed(self.item)
