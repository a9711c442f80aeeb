"""A grid of equally sized panels (charts) that uses as many columns as the width allows, so a row of
charts never runs off a laptop screen: two columns of 400 px charts in a wide window, one column in
a narrow one (the page then scrolls vertically, never sideways)."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget


class ResponsiveGrid(QWidget):
    """``add(panel)`` in reading order; columns = ``width // min_column_width`` (1 to ``max_columns``)."""

    def __init__(
        self, parent: QWidget | None = None, *, min_column_width: int = 420, max_columns: int = 2
    ) -> None:
        super().__init__(parent)
        self.min_column_width = min_column_width
        self.max_columns = max_columns
        self.panels: list[QWidget] = []
        self.grid = QGridLayout(self)
        self._columns = 0

    def add(self, panel: QWidget) -> None:
        panel.setParent(self)
        self.panels.append(panel)
        self._arrange(force=True)

    def columns(self) -> int:
        return max(1, min(self.max_columns, self.width() // max(self.min_column_width, 1)))

    def _arrange(self, force: bool = False) -> None:
        columns = self.columns()
        if columns == self._columns and not force:
            return
        self._columns = columns
        for panel in self.panels:
            self.grid.removeWidget(panel)
        for i, panel in enumerate(self.panels):
            self.grid.addWidget(panel, i // columns, i % columns)
        for c in range(self.max_columns):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()
