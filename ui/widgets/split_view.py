"""The layout of the analysis views (Faithfulness, Causal): a scrollable column of controls beside
the results, in a splitter whose two halves never collapse."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QSplitter, QVBoxLayout, QWidget


def controls_beside_results(
    view: QWidget,
    controls: Sequence[QWidget],
    results: Sequence[QWidget],
    *,
    min_controls_width: int = 280,
    stretch_last_control: bool = False,
) -> QSplitter:
    """Lay ``view`` out: ``controls`` stacked top to bottom in a column that scrolls vertically
    (never sideways; the last control takes the spare height when ``stretch_last_control``, else
    the column ends in empty space), beside ``results`` stacked (the last takes the spare height).
    The results side takes the width a wider window gives. Returns the splitter."""
    inner = QWidget(view)
    column = QVBoxLayout(inner)
    column.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(controls):
        column.addWidget(widget, 1 if stretch_last_control and i == len(controls) - 1 else 0)
    if not stretch_last_control:
        column.addStretch(1)
    left = QScrollArea(view)
    left.setWidgetResizable(True)
    left.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    left.setWidget(inner)
    left.setMinimumWidth(min_controls_width)
    right = QWidget(view)
    stack = QVBoxLayout(right)
    for i, widget in enumerate(results):
        stack.addWidget(widget, 1 if i == len(results) - 1 else 0)
    splitter = QSplitter(Qt.Horizontal, view)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setChildrenCollapsible(False)
    layout = QVBoxLayout(view)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(splitter)
    return splitter


__all__ = ["controls_beside_results"]
