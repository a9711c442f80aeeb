"""The compact cue-kind picker that appears next to a box, as in labelme / X-AnyLabeling: one row per
kind (:data:`geoquiz.types.CUE_TAGS`, in order, numbered 1-9). Click a row or press its number to
choose; Esc (or the Cancel row) cancels. No kind is pre-selected for a new box; when the kind of an
existing box is being changed, its current kind is shown checked.

The picker is a child of the top-level window (so it is never clipped by a small 4-view cell) and
takes the keyboard focus while it is open; :meth:`KindPicker.open_at` places it beside a rectangle
given in the window's coordinates.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS
from ui.widgets.palette import tag_colour

GAP = 8  # pixels between the box and the picker


def kind_for_key(key: int) -> str | None:
    """The cue tag for a digit key (``Qt.Key_1`` .. ``Qt.Key_9``), else None."""
    n = key - int(Qt.Key_1)
    return CUE_TAGS[n] if 0 <= n < len(CUE_TAGS) else None


class KindPicker(QFrame):
    """See the module docstring. ``chosen(tag)`` or ``cancelled()`` fires once per opening."""

    chosen = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kindPicker")
        self.setFrameShape(QFrame.StyledPanel)
        self.setAutoFillBackground(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setStyleSheet(
            "#kindPicker { background: #fafafa; border: 1px solid #606060; border-radius: 4px; }"
            "#kindPicker QPushButton { text-align: left; padding: 2px 10px 2px 6px; border: none;"
            " background: transparent; }"
            "#kindPicker QPushButton:hover { background: #dde8f6; }"
            "#kindPicker QPushButton:checked { background: #c6d9f1; font-weight: bold; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(0)
        self.title = QLabel("<b>What kind of clue?</b>", self)
        self.title.setContentsMargins(6, 2, 6, 4)
        layout.addWidget(self.title)
        self.buttons: dict[str, QPushButton] = {}
        for n, tag in enumerate(CUE_TAGS, 1):
            button = QPushButton(f"{n}   {CUE_TAG_LABELS[tag]}", self)
            button.setObjectName(f"kind_{tag}")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.NoFocus)
            button.setAutoDefault(False)
            button.setStyleSheet(f"border-left: 8px solid {tag_colour(tag)};")
            button.clicked.connect(lambda _checked=False, t=tag: self.choose(t))
            self.buttons[tag] = button
            layout.addWidget(button)
        self.cancel_button = QPushButton("Esc  Cancel", self)
        self.cancel_button.setObjectName("kindCancel")
        self.cancel_button.setFocusPolicy(Qt.NoFocus)
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setStyleSheet("color: #555555; border-left: 8px solid transparent;")
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(self.cancel_button)
        self.hide()

    def open_at(self, anchor: QRect, current: str | None = None) -> None:
        """Show beside ``anchor`` (parent coordinates): to its right when there is room, else to its
        left, else over its right edge; always inside the parent. ``current`` is shown checked."""
        for tag, button in self.buttons.items():
            button.setChecked(tag == current)
        self.title.setText("<b>Change the kind</b>" if current else "<b>What kind of clue?</b>")
        self.adjustSize()
        size = self.sizeHint()
        area = self.parentWidget().rect() if self.parentWidget() is not None else QRect(0, 0, 4000, 4000)
        x = anchor.right() + GAP
        if x + size.width() > area.right():
            x = anchor.left() - GAP - size.width()
        if x < area.left():
            x = area.right() - size.width()
        y = min(max(anchor.top(), area.top()), area.bottom() - size.height())
        self.setGeometry(max(x, area.left()), max(y, area.top()), size.width(), size.height())
        self.show()
        self.raise_()
        self.setFocus(Qt.PopupFocusReason)

    def choose(self, tag: str) -> None:
        if self.isVisible():
            self.hide()
            self.chosen.emit(tag)

    def cancel(self) -> None:
        if self.isVisible():
            self.hide()
            self.cancelled.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        tag = kind_for_key(event.key())
        if tag is not None and not event.modifiers() & (Qt.ControlModifier | Qt.AltModifier):
            self.choose(tag)
        elif event.key() == Qt.Key_Escape:
            self.cancel()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
