"""pyqtgraph drawings for the researcher dashboards, and PNG / SVG export of any of them.

Each ``draw_*`` function clears a :class:`pyqtgraph.PlotItem` and draws one figure from a
:class:`geoquiz.study.dashboard_data.DashboardData` (which does all the computing); it returns False
when there is nothing to draw (the panel then shows why). :class:`PlotPanel` is a titled plot with
"PNG…" and "SVG…" buttons; :func:`export_plot` writes a plot to a file by its suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from geoquiz.study.dashboard_data import Bar, DashboardData, Histogram
from ui.plots.common import ChartWidget, legend_below, message, reset

SERIES_COLOURS = {
    "people": "#1f77b4",
    "model": "#ff7f0e",
    "deletion:guided": "#d62728",
    "deletion:random": "#ff9896",
    "insertion:guided": "#2ca02c",
    "insertion:random": "#98df8a",
}
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _colour(name: str, i: int) -> str:
    return SERIES_COLOURS.get(name, PALETTE[i % len(PALETTE)])


_message = message  # the empty state (ui.plots.common)


def _count_axis(plot: pg.PlotItem, side: str, top: float) -> None:
    """Whole-number ticks on a count axis (no "10.000")."""
    step = max(1, int(np.ceil(top / 5)))
    plot.getAxis(side).setTicks([[(v, str(v)) for v in range(0, int(top) + step + 1, step)]])


def draw_bars(
    plot: pg.PlotItem,
    bars: Sequence[Bar],
    *,
    y_label: str = "accuracy",
    empty: str = "no data",
    labels: dict[str, str] | None = None,
) -> bool:
    """Grouped bars (``group`` on the x axis, one colour per ``series``) with 95 % interval whiskers;
    the legend under the plot."""
    reset(plot)
    bars = [b for b in bars if b.value is not None]
    if not bars:
        return _message(plot, empty)
    groups = list(dict.fromkeys(b.group for b in bars))
    series = list(dict.fromkeys(b.series for b in bars))
    width = 0.8 / len(series)
    entries = []
    for s_i, name in enumerate(series):
        mine = [b for b in bars if b.series == name]
        x = np.array([groups.index(b.group) - 0.4 + width * (s_i + 0.5) for b in mine])
        y = np.array([b.value for b in mine], dtype=float)
        colour = _colour(name, s_i)
        item = pg.BarGraphItem(x=x, height=y, width=width * 0.9, brush=colour, pen=colour)
        plot.addItem(item)
        entries.append((item, (labels or {}).get(name, name)))
        low = np.array([b.value - (b.low if b.low is not None else b.value) for b in mine])
        high = np.array([(b.high if b.high is not None else b.value) - b.value for b in mine])
        plot.addItem(
            pg.ErrorBarItem(x=x, y=y, bottom=low, top=high, beam=width * 0.3, pen=pg.mkPen("#333333"))
        )
    if len(series) > 1:
        legend_below(plot, entries)
    plot.getAxis("bottom").setTicks([[(i, (labels or {}).get(g, g)) for i, g in enumerate(groups)]])
    plot.setLabel("left", y_label)
    plot.getAxis("left").setTicks([[(v / 5, f"{v / 5:.1f}") for v in range(6)]])
    plot.setYRange(0, 1.05, padding=0)
    plot.setXRange(-0.6, len(groups) - 0.4, padding=0)
    return True


def draw_accuracy(plot: pg.PlotItem, data: DashboardData) -> bool:
    drawn = draw_bars(plot, data.accuracy, empty="no answers yet")
    if drawn and data.n_shared_items:
        plot.setTitle(f"people vs model on the same {data.n_shared_items} items")
    return drawn


def draw_per_class(plot: pg.PlotItem, data: DashboardData) -> bool:
    return draw_bars(plot, data.per_class, y_label="top-1 accuracy", empty="no answers yet")


SELECTION_LABELS = {"guided": "model's elements", "random": "random boxes"}


def faithfulness_labels(bars: Sequence[Bar]) -> dict[str, str]:
    """Display names of the faithfulness bars: ``"gradcampp/default"`` -> ``"Grad-CAM++ × Default
    (superpixels)"``, ``"deletion:guided"`` -> ``"deletion, model's elements"`` (the data keep the ids)."""
    from geoquiz.attribution import method_label
    from geoquiz.segmentation import segmenter_label

    out: dict[str, str] = {}
    for b in bars:
        method, _, segmenter = b.group.partition("/")
        out[b.group] = f"{method_label(method)} × {segmenter_label(segmenter)}" if segmenter else b.group
        test, _, selection = b.series.partition(":")
        out[b.series] = f"{test}, {SELECTION_LABELS.get(selection, selection)}" if selection else b.series
    return out


def draw_faithfulness(plot: pg.PlotItem, data: DashboardData) -> bool:
    drawn = draw_bars(
        plot,
        data.faithfulness,
        y_label="accuracy after perturbation",
        empty="no faithfulness run",
        labels=faithfulness_labels(data.faithfulness),
    )
    if drawn and data.faithfulness_run is not None:
        plot.setTitle(f"faithfulness run #{data.faithfulness_run}")
    return drawn


def draw_roc(plot: pg.PlotItem, data: DashboardData) -> bool:
    """One-vs-rest ROC curve per class (from the model's newest evaluation), with the diagonal."""
    return draw_roc_curves(plot, data.roc)


def draw_roc_curves(plot: pg.PlotItem, roc: dict[str, dict]) -> bool:
    """ROC curves ``{class: {"fpr", "tpr", "auc"}}`` (as in model metrics), AUC in the legend."""
    reset(plot)
    curves = {c: r for c, r in roc.items() if r.get("fpr")}
    if not curves:
        return _message(plot, "no evaluation with ROC curves")
    plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999999", style=pg.QtCore.Qt.DashLine))
    entries = []
    for i, (cls, r) in enumerate(curves.items()):
        auc = r.get("auc")
        name = f"{cls} (AUC {auc:.2f})" if auc is not None else cls
        entries.append(
            (plot.plot(r["fpr"], r["tpr"], pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2)), name)
        )
    legend_below(plot, entries, columns=min(len(entries), 3))
    plot.setLabel("bottom", "false positive rate")
    plot.setLabel("left", "true positive rate")
    plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)
    return True


def draw_confusion(
    plot: pg.PlotItem, matrix: np.ndarray | None, rows: Sequence[str], cols: Sequence[str], *, x_label: str
) -> bool:
    """A confusion matrix (rows = true class, top to bottom; columns = answer), shaded by row share,
    with the counts written in the cells."""
    reset(plot)
    if matrix is None or matrix.size == 0 or matrix.sum() == 0:
        return _message(plot, "no answers yet")
    m = np.asarray(matrix, dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    img = pg.ImageItem(share.T)  # ImageItem indexes [x, y]: x = answer column, y = true row
    img.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
    img.setLevels((0, 1))
    plot.addItem(img)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            text = pg.TextItem(str(int(m[i, j])), color="w" if share[i, j] < 0.6 else "k", anchor=(0.5, 0.5))
            text.setPos(j + 0.5, i + 0.5)
            plot.addItem(text)
    plot.invertY(True)
    plot.getAxis("bottom").setTicks([[(j + 0.5, c) for j, c in enumerate(cols)]])
    plot.getAxis("left").setTicks([[(i + 0.5, r) for i, r in enumerate(rows)]])
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", "true class")
    plot.setRange(xRange=(0, m.shape[1]), yRange=(0, m.shape[0]), padding=0.02)
    return True


def draw_model_confusion(plot: pg.PlotItem, data: DashboardData) -> bool:
    if data.model_confusion is None:
        return draw_confusion(plot, None, [], [], x_label="")
    names = data.classes[: data.model_confusion.shape[0]]
    return draw_confusion(plot, data.model_confusion, names, names, x_label="model's top class")


def draw_human_confusion(plot: pg.PlotItem, data: DashboardData) -> bool:
    return draw_confusion(
        plot,
        data.human_confusion,
        data.classes,
        data.human_confusion_guesses,
        x_label="participants' first guess",
    )


def draw_embedding(plot: pg.PlotItem, data: DashboardData) -> bool:
    """2-D map (PCA) of the model's penultimate features, one colour per true class."""
    return draw_embedding_map(plot, data.embedding)


def draw_embedding_map(plot: pg.PlotItem, emb: dict | None) -> bool:
    """``{"coords": (N, 2) array, "labels": N class names, "method", "info"}``, one colour per class."""
    reset(plot)
    if not emb:
        return _message(plot, "no evaluation with a feature map")
    coords, labels = emb["coords"], np.asarray(emb["labels"])
    entries = []
    for i, cls in enumerate(dict.fromkeys(emb["labels"])):
        pts = coords[labels == cls]
        colour = PALETTE[i % len(PALETTE)]
        item = pg.ScatterPlotItem(pts[:, 0], pts[:, 1], size=7, brush=colour, pen=None)
        plot.addItem(item)
        entries.append((item, cls))
    legend_below(plot, entries)
    ratios = emb.get("info", {}).get("explained_variance_ratio") or []
    axis = [f"{emb.get('method', 'pca').upper()} {k + 1}" for k in range(2)]
    if len(ratios) >= 2:
        axis = [f"{a} ({r:.0%})" for a, r in zip(axis, ratios)]
    for side, text in (("bottom", axis[0]), ("left", axis[1])):
        plot.setLabel(side, text)
    plot.autoRange()
    return True


def _histogram(plot: pg.PlotItem, series: dict[str, Histogram], *, density: bool = False) -> None:
    """Step histograms of binned counts (computed by the data layer), one colour per series."""
    entries = []
    for i, (name, hist) in enumerate(series.items()):
        counts = hist.counts.astype(np.float64) if density else hist.counts
        if density and hist.n:
            counts = counts / hist.n
        colour = _colour(name, i)
        item = plot.plot(
            hist.edges,
            counts,
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(colour + "66"),
            pen=pg.mkPen(colour, width=2),
        )
        entries.append((item, f"{name} (n={hist.n})"))
    legend_below(plot, entries)


def draw_response_times(plot: pg.PlotItem, data: DashboardData) -> bool:
    """Histogram of the main trials' response times in seconds."""
    reset(plot)
    if data.response_times.n == 0:
        return _message(plot, "no answers yet")
    _histogram(plot, {"people": data.response_times})
    plot.setLabel("bottom", "response time (s)")
    plot.setLabel("left", "trials")
    _count_axis(plot, "left", float(data.response_times.counts.max(initial=0)))
    return True


def draw_human_confidence(plot: pg.PlotItem, data: DashboardData) -> bool:
    """How often each self-rated confidence level was chosen."""
    reset(plot)
    levels = data.human_confidence
    if not levels:
        return _message(plot, "no confidence ratings")
    top = max(levels)
    counts = np.array([levels.get(k, 0) for k in range(1, top + 1)])
    plot.addItem(
        pg.BarGraphItem(x=np.arange(1, top + 1), height=counts, width=0.8, brush=SERIES_COLOURS["people"])
    )
    plot.getAxis("bottom").setTicks([[(k, str(k)) for k in range(1, top + 1)]])
    plot.setLabel("bottom", "confidence (1 = lowest)")
    plot.setLabel("left", "trials")
    _count_axis(plot, "left", float(counts.max(initial=0)))
    return True


def draw_model_confidence(plot: pg.PlotItem, data: DashboardData) -> bool:
    """The model's top-1 probability when it is right vs wrong (share of predictions per bin)."""
    reset(plot)
    hists = data.model_confidence
    if not hists or sum(h.n for h in hists.values()) == 0:
        return _message(plot, "no stored predictions")
    _histogram(plot, {name: hists[name] for name in ("right", "wrong") if name in hists}, density=True)
    plot.setLabel("bottom", "model confidence (top-1 probability)")
    plot.setLabel("left", "share of predictions")
    return True


#: The dashboard's figures: (key, title, draw function).
FIGURES: list[tuple[str, str, Callable[[pg.PlotItem, DashboardData], bool]]] = [
    ("accuracy", "Accuracy: people vs model (95% CI)", draw_accuracy),
    ("per_class", "Top-1 accuracy per class (95% CI)", draw_per_class),
    ("roc", "Model ROC curves (one vs rest)", draw_roc),
    ("model_confusion", "Model confusion matrix", draw_model_confusion),
    ("human_confusion", "Participants' confusion matrix", draw_human_confusion),
    ("faithfulness", "Deletion / insertion: guided vs random boxes", draw_faithfulness),
    ("embedding", "PCA of penultimate features", draw_embedding),
    ("response_times", "Response times", draw_response_times),
    ("human_confidence", "Participants' confidence", draw_human_confidence),
    ("model_confidence", "Model confidence when right vs wrong", draw_model_confidence),
]


def _qt_svg(plot: pg.PlotItem, path: Path) -> None:
    """Render the plot's part of its scene into an SVG file with Qt's own SVG generator."""
    from PySide6.QtCore import QRect, QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    rect = plot.sceneBoundingRect()
    w, h = max(int(rect.width()), 1), max(int(rect.height()), 1)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(w, h))
    gen.setViewBox(QRect(0, 0, w, h))
    gen.setTitle(plot.titleLabel.text or "GeoQuiz figure")
    painter = QPainter(gen)
    try:
        plot.scene().render(painter, QRectF(0, 0, w, h), rect)
    finally:
        painter.end()


def export_plot(plot: pg.PlotItem, path: str | Path, width: int = 1200) -> Path:
    """Write ``plot`` to ``path``: SVG for ``.svg``, otherwise a PNG ``width`` pixels wide.

    SVG goes through ``pyqtgraph.exporters.SVGExporter``; pyqtgraph 0.14 cannot parse the path data
    newer Qt versions write (``ValueError`` in its coordinate fix-up), and then the plot is rendered
    with Qt's ``QSvgGenerator`` instead (still vector graphics, same content).
    """
    path = Path(path)
    if path.suffix.lower() == ".svg":
        try:
            pg.exporters.SVGExporter(plot).export(str(path))
        except ValueError:
            _qt_svg(plot, path)
    else:
        exporter = pg.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = int(width)
        exporter.export(str(path if path.suffix else path.with_suffix(".png")))
    return path


class PlotPanel(QWidget):
    """A titled pyqtgraph plot with buttons to save it as PNG or SVG."""

    def __init__(self, key: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key, self.title = key, title
        self.setObjectName(f"plot_{key}")
        self.widget = ChartWidget()
        self.widget.setMinimumSize(300, 240)
        self.widget.setMaximumHeight(380)  # one chart never takes a whole screen in a single column
        self.plot: pg.PlotItem = self.widget.getPlotItem()
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        header = QHBoxLayout()
        label = QLabel(f"<b>{title}</b>", self)
        header.addWidget(label, 1)
        for fmt in ("PNG", "SVG"):
            button = QPushButton(f"{fmt}…", self)
            button.setObjectName(f"save_{key}_{fmt.lower()}")
            button.setToolTip(f"Save this figure as {fmt}")
            button.clicked.connect(lambda _=False, f=fmt.lower(): self.save_dialog(f))
            header.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.widget, 1)

    def save(self, path: str | Path) -> Path:
        return export_plot(self.plot, path)

    def save_dialog(self, fmt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save {self.title}", f"{self.key}.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            self.save(path)
