"""Result tables: a pandas frame shown in a read-only ``QTableWidget`` by chosen columns.

Numbers are shown to 3 decimals (``p_*`` columns to 3 significant digits, ``*diff*`` columns with
their sign), booleans as yes / no, and the ids of some columns by name (methods, segmenters, tests,
cue tags); the ids stay in the data and the CSVs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from geoquiz.types import CUE_TAG_LABELS

TEST_LABELS = {"deletion": "Deletion", "insertion": "Insertion"}


def shown_value(key: str, value: Any) -> str:
    """How the cell ``value`` of column ``key`` is shown."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if key.startswith("p_"):
            return f"{value:.3g}"
        return f"{value:+.3f}" if "diff" in key else f"{value:.3f}"
    text = str(value)
    if key in ("method", "segmenter"):
        from geoquiz.faithfulness.figures import display_name

        return display_name(key, text)
    if key == "test":
        return TEST_LABELS.get(text, text)
    if key == "cue_tag":
        return CUE_TAG_LABELS.get(text, text)
    return text


def fill_table(
    table: QTableWidget,
    data,
    columns: Sequence[tuple[str, str]],
    shown: Callable[[str, Any], str] = shown_value,
) -> None:
    """Show the ``columns`` (``(key, header)`` pairs) of ``data`` (a frame or a list of dicts) in
    ``table``, each cell as ``shown(key, value)`` with the value itself under ``Qt.UserRole``; None or
    no rows leaves the headers only."""
    table.clear()
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels([h for _, h in columns])
    if data is None or not len(data):
        rows = []
    else:
        rows = data.to_dict(orient="records") if hasattr(data, "to_dict") else list(data)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, (key, _) in enumerate(columns):
            value = row.get(key)
            item = QTableWidgetItem(shown(key, value))
            item.setData(Qt.UserRole, value)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
