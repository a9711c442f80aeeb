"""pyqtgraph drawings of the faithfulness charts (:mod:`geoquiz.faithfulness.figures` descriptions).

:class:`ChartPanel` is a ``GraphicsLayoutWidget`` with one plot per chart, side by side: grouped bars
(guided vs random) with error bars for the paper's Figure 2 / Figure 3 comparisons, or progressive
curves. :meth:`ChartPanel.export` writes the whole panel as PNG or SVG with pyqtgraph's exporters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from geoquiz.faithfulness.figures import BarChart, LineChart
from ui.plots.common import PageScrollMixin, legend_below, plain_axes


class ChartPanel(PageScrollMixin, pg.GraphicsLayoutWidget):
    """Charts side by side. ``set_charts([])`` shows an explanatory message instead."""

    def __init__(self, parent=None, empty_text: str = "No results yet") -> None:
        super().__init__(parent)
        self._page_scroll_init()
        self.setBackground("w")
        self.empty_text = empty_text
        self.charts: list[BarChart | LineChart] = []
        self.plots: list[pg.PlotItem] = []
        self.set_charts([])

    def set_charts(self, charts: list[BarChart | LineChart]) -> None:
        self.clear()
        self.charts = list(charts)
        self.plots = []
        if not charts:
            self.addLabel(self.empty_text, color="#666", size="11pt")
            return
        for i, chart in enumerate(charts):
            plot = self.addPlot(row=0, col=i, title=chart.title)
            plot.showGrid(y=True, alpha=0.25)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plain_axes(plot)
            entries = _draw_bars(plot, chart) if isinstance(chart, BarChart) else _draw_lines(plot, chart)
            legend_below(plot, entries, columns=1)
            plot.setYRange(0, chart.ymax * 1.05, padding=0)
            self.plots.append(plot)

    def export(self, path: str | Path, width: int = 1400) -> Path:
        """Write the panel to ``path`` (``.png`` or ``.svg``)."""
        import pyqtgraph.exporters as exporters

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".svg"):
            raise ValueError(f"{path}: export figures as .png or .svg")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.isVisible() or self.height() < 200:  # a hidden tab has never been laid out
            from PySide6.QtCore import QRectF

            self.resize(1200, 520)
            self.ci.setGeometry(QRectF(0, 0, 1200, 520))
            self.setSceneRect(QRectF(0, 0, 1200, 520))
        if suffix == ".png":
            exporter = exporters.ImageExporter(self.scene())
            exporter.parameters()["width"] = width
            exporter.export(str(path))
            return path
        try:
            exporters.SVGExporter(self.scene()).export(str(path))
        except ValueError:
            # pyqtgraph 0.14's SVG exporter cannot parse the closing "Z" of paths that Qt >= 6.10
            # writes; render the same scene through Qt's own SVG generator instead.
            self._export_svg_qt(path)
        return path

    def _export_svg_qt(self, path: Path) -> None:
        from PySide6.QtCore import QRectF, QSize
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        rect = (
            self.scene().itemsBoundingRect()
            if self.scene().sceneRect().isEmpty()
            else self.scene().sceneRect()
        )
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(QSize(int(rect.width()), int(rect.height())))
        generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        generator.setTitle("GeoQuiz faithfulness")
        painter = QPainter(generator)
        try:
            self.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        finally:
            painter.end()


def _draw_bars(plot: pg.PlotItem, chart: BarChart) -> list:
    entries = []
    n_series = max(1, len(chart.series))
    width = 0.8 / n_series
    xs = np.arange(len(chart.groups), dtype=float)
    for si, s in enumerate(chart.series):
        offset = (si - (n_series - 1) / 2) * width
        values = np.array(s.values, dtype=float)
        ok = ~np.isnan(values)
        if not ok.any():
            continue
        brush = pg.mkBrush(*s.colour)
        bars = pg.BarGraphItem(
            x=xs[ok] + offset, height=values[ok], width=width * 0.95, brush=brush, pen=pg.mkPen(None)
        )
        plot.addItem(bars)
        entries.append((bars, s.name))
        lo, hi = np.array(s.lo, dtype=float), np.array(s.hi, dtype=float)
        good = ok & ~np.isnan(lo) & ~np.isnan(hi)
        if good.any():
            err = pg.ErrorBarItem(
                x=xs[good] + offset,
                y=values[good],
                top=hi[good] - values[good],
                bottom=values[good] - lo[good],
                beam=width * 0.3,
                pen=pg.mkPen("k", width=1.5),
            )
            plot.addItem(err)
    axis = plot.getAxis("bottom")
    axis.setTicks([[(float(i), g) for i, g in enumerate(chart.groups)]])
    lines = max((g.count("\n") + 1 for g in chart.groups), default=1)
    if lines > 1:  # group names with a second line (e.g. the coverage) need a taller axis
        axis.setHeight(16 + 16 * lines)
    plot.setXRange(-0.6, len(chart.groups) - 0.4, padding=0)
    plot.setLabel("left", chart.ylabel)
    return entries


def _draw_lines(plot: pg.PlotItem, chart: LineChart) -> list:
    entries = []
    for line in chart.lines:
        style = Qt.DashLine if line.dashed else Qt.SolidLine
        ys = [v if not math.isnan(v) else 0.0 for v in line.ys]
        item = plot.plot(
            list(line.xs),
            ys,
            pen=pg.mkPen(color=line.colour, width=2, style=style),
            symbol="o",
            symbolSize=5,
            symbolBrush=pg.mkBrush(*line.colour),
        )
        entries.append((item, line.name))
    plot.setXRange(0, 1, padding=0.02)
    plot.setLabel("bottom", chart.xlabel)
    plot.setLabel("left", chart.ylabel)
    return entries
