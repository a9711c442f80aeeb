"""What every GeoQuiz chart shares: a clean start for each drawing, a clear empty state, legends
outside the data, plain tick values, and wheel events that scroll the page.

* :func:`reset` clears a plot *and* undoes what the last drawing changed: the legend below the plot,
  hidden axes, a fixed range (an empty-state message fixes the range; without the reset, auto-range
  stayed off and the next data drew outside the view, so a chart looked empty until a restart).
* :func:`message` shows the empty state: axes hidden, one centred line of text.
* :func:`legend_below` puts the legend in the plot's own layout, under the x axis, never on the data;
  it is part of the figure, so PNG / SVG exports carry it.
* :class:`PageScrollMixin`: over a chart the mouse wheel scrolls the page (the chart lives in a
  scroll area); with Ctrl held, or once the chart was clicked (it has focus), the wheel zooms it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractScrollArea, QApplication

_LEGEND_ROW = 4  # PlotItem's layout: 0 title, 1 top axis, 2 view box, 3 bottom axis


def plain_axes(plot: pg.PlotItem) -> None:
    """Tick values as they are: pyqtgraph otherwise rescales an axis whose values stay below 1 (a
    loss of 0.5 reads "500", and its "(x0.001)" unit is cut off in a narrow chart)."""
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setSIPrefixEnableRanges(())
        axis.enableAutoSIPrefix(False)


def _remove_legend(plot: pg.PlotItem) -> None:
    legend = getattr(plot, "_geoquiz_legend", None)
    if legend is not None:
        plot.layout.removeItem(legend)
        if legend.scene() is not None:
            legend.scene().removeItem(legend)
        plot._geoquiz_legend = None
    if plot.legend is not None:  # one made by addLegend (inside the view box): not used any more
        plot.legend.clear()


def reset(plot: pg.PlotItem) -> None:
    """Clear ``plot`` for a new drawing: items, legend, title, ticks; axes shown, auto-range on."""
    plot.clear()
    _remove_legend(plot)
    for side in ("left", "bottom"):
        plot.showAxis(side)
        plot.getAxis(side).setTicks(None)
        plot.setLabel(side, "")
    plain_axes(plot)
    plot.setTitle(None)
    plot.enableAutoRange()


def message(plot: pg.PlotItem, text: str) -> bool:
    """The empty state: no axes, ``text`` in grey in the middle. Returns False (nothing drawn)."""
    reset(plot)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    item = pg.TextItem(text, color="#666666", anchor=(0.5, 0.5))
    plot.addItem(item)
    item.setPos(0.5, 0.5)
    plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    return False


def legend_below(
    plot: pg.PlotItem, entries: Sequence[tuple[Any, str]], columns: int | None = None
) -> pg.LegendItem:
    """A legend of ``(plot item, name)`` entries under the plot's x axis (not over the data), in as
    many columns as fit the plot's width (at most ``columns``)."""
    _remove_legend(plot)
    widest = max((len(name) for _, name in entries), default=0) * 7 + 34  # swatch + text, in pixels
    width = plot.width() or plot.vb.width() or 0
    fit = max(1, int(width // widest)) if width > 0 else 2
    count = max(1, min(len(entries), columns or 4, fit))
    legend = pg.LegendItem(labelTextColor="#222", colCount=count, frame=False)
    for item, name in entries:
        if isinstance(getattr(item, "opts", None), dict):
            item.opts["name"] = name  # item.name(), as when the legend is made by pyqtgraph itself
        legend.addItem(item, name)
    plot.layout.addItem(legend, _LEGEND_ROW, 1, alignment=Qt.AlignHCenter)
    plot._geoquiz_legend = legend
    return legend


class PageScrollMixin:
    """For a pyqtgraph view inside a scroll area: the wheel scrolls the page unless Ctrl is held or
    the chart has focus (click it to zoom with the wheel; click elsewhere to scroll again)."""

    def _page_scroll_init(self) -> None:
        self.setFocusPolicy(Qt.ClickFocus)
        self.setToolTip("Scroll to move the page; click the chart (or hold Ctrl) to zoom it with the wheel")

    def wheelEvent(self, event) -> None:
        if self.hasFocus() or event.modifiers() & Qt.ControlModifier:
            super().wheelEvent(event)
            return
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()
            return
        # the page behind the chart scrolls, as far as the wheel scrolls it over its margin
        bar = area.verticalScrollBar()
        notches = event.angleDelta().y() / 120.0
        bar.setValue(bar.value() - round(notches * QApplication.wheelScrollLines() * bar.singleStep()))
        event.accept()


class ChartWidget(PageScrollMixin, pg.PlotWidget):
    """A white :class:`pyqtgraph.PlotWidget` whose wheel scrolls the page (see :class:`PageScrollMixin`)."""

    def __init__(self, parent: Any = None, **kwargs: Any) -> None:
        super().__init__(parent, background="w", **kwargs)
        self._page_scroll_init()


__all__ = ["ChartWidget", "PageScrollMixin", "legend_below", "message", "plain_axes", "reset"]
