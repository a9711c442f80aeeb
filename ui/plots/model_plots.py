"""pyqtgraph drawings of a classifier: its training curves and the metrics of a stored evaluation.

Inputs are the library's plain data: a training ``history`` (list of per-epoch dicts from
:func:`geoquiz.models.training.train`, ``epoch`` counted from 1, accuracies in [0, 1]) and an
evaluation's metrics dict (:func:`geoquiz.models.metrics.compute_metrics`). Each ``draw_*`` clears a
:class:`pyqtgraph.PlotItem` and returns False, with a message in the plot, when there is nothing to
draw. ROC curves, the confusion matrix, the feature map and the bars reuse
:mod:`ui.plots.dashboard_plots` (which also holds :class:`PlotPanel` and the PNG / SVG export).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from geoquiz.study.accuracy import wilson_interval
from geoquiz.study.dashboard_data import Bar
from ui.plots.common import legend_below, message, reset
from ui.plots.dashboard_plots import draw_bars, draw_confusion, draw_embedding_map, draw_roc_curves

TRAIN_COLOUR, VAL_COLOUR, BEST_COLOUR = "#1f77b4", "#ff7f0e", "#2ca02c"
RIGHT_COLOUR, WRONG_COLOUR = "#2ca02c", "#d62728"


def best_entry(history: Sequence[dict]) -> dict | None:
    """The last epoch flagged ``best`` (the checkpoint that was kept), or None."""
    best = [h for h in history if h.get("best")]
    return best[-1] if best else None


def _curves(plot: pg.PlotItem, history: Sequence[dict], key: str, y_label: str, empty: str) -> bool:
    reset(plot)
    if not history:
        return message(plot, empty)
    entries = []
    epochs = np.array([h["epoch"] for h in history], dtype=float)
    values = []
    for split, colour in (("train", TRAIN_COLOUR), ("val", VAL_COLOUR)):
        y = np.array([h.get(f"{split}_{key}", np.nan) for h in history], dtype=float)
        values.append(y)
        item = plot.plot(
            epochs,
            y,
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolSize=6,
            symbolBrush=colour,
            symbolPen=None,
        )
        entries.append((item, f"{split} {'accuracy' if key == 'acc' else key}"))
    best = best_entry(history)
    if best is not None:
        pen = pg.mkPen(BEST_COLOUR, width=1.5, style=Qt.DashLine)
        plot.addItem(pg.InfiniteLine(pos=best["epoch"], angle=90, pen=pen))
        entries.append((plot.plot([], [], pen=pen), f"kept: epoch {best['epoch']}"))  # the line's entry
    legend_below(plot, entries, columns=3)
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    axis = plot.getAxis("bottom")
    last = float(epochs.max())
    axis.setTicks([[(e, str(e)) for e in range(1, int(last) + 1)]] if last <= 12 else None)  # whole epochs
    plot.setXRange(0.5, max(last, 2.0) + 0.5, padding=0)
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    if key == "acc" or finite.size == 0:
        plot.setYRange(0, 1.05, padding=0)
    else:
        low, high = float(finite.min()), float(finite.max())
        plot.setYRange(low, high if high > low else low + 1.0, padding=0.08)
    return True


def draw_loss_curves(plot: pg.PlotItem, history: Sequence[dict]) -> bool:
    """Train and validation loss per epoch, the kept (best) epoch marked."""
    return _curves(plot, history, "loss", "loss (cross-entropy)", "no training history")


def draw_accuracy_curves(plot: pg.PlotItem, history: Sequence[dict]) -> bool:
    """Train and validation top-1 accuracy per epoch, the kept (best) epoch marked."""
    return _curves(plot, history, "acc", "top-1 accuracy", "no training history")


def draw_eval_roc(plot: pg.PlotItem, metrics: dict | None) -> bool:
    """One-vs-rest ROC per class, AUC in the legend (classes without both outcomes are skipped)."""
    if not metrics:
        return message(plot, "no evaluation selected")
    return draw_roc_curves(plot, metrics.get("roc") or {})


def draw_eval_confusion(plot: pg.PlotItem, metrics: dict | None) -> bool:
    """Confusion matrix (rows = true class, columns = the model's top class) with counts."""
    if not metrics or not metrics.get("confusion"):
        return draw_confusion(plot, None, [], [], x_label="")
    classes = list(metrics.get("classes") or [])
    return draw_confusion(
        plot, np.asarray(metrics["confusion"]), classes, classes, x_label="model's top class"
    )


def draw_eval_confidence(plot: pg.PlotItem, metrics: dict | None) -> bool:
    """Histogram of the top-1 probability when the top-1 guess is right vs wrong, means as lines."""
    reset(plot)
    conf = (metrics or {}).get("confidence")
    if not conf or conf.get("n_right", 0) + conf.get("n_wrong", 0) == 0:
        return message(plot, "no evaluation selected")
    edges = np.asarray(conf["bin_edges"], dtype=float)
    entries = []
    for key, colour in (("right", RIGHT_COLOUR), ("wrong", WRONG_COLOUR)):
        counts = np.asarray(conf[f"hist_{key}"], dtype=float)
        mean = conf.get(f"mean_{key}")
        name = f"{key} (n={conf[f'n_{key}']}" + (f", mean {mean:.2f})" if mean is not None else ")")
        if counts.sum() == 0:  # keep the legend entry ("wrong (n=0)") without a flat line at 0
            entries.append((plot.plot([], [], pen=pg.mkPen(colour, width=2)), name))
            continue
        item = plot.plot(
            edges,
            counts,
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(colour + "55"),
            pen=pg.mkPen(colour, width=2),
        )
        entries.append((item, name))
        if mean is not None:
            plot.addItem(
                pg.InfiniteLine(pos=mean, angle=90, pen=pg.mkPen(colour, width=2, style=Qt.DashLine))
            )
    legend_below(plot, entries)
    plot.setLabel("bottom", "confidence (top-1 probability)")
    plot.setLabel("left", "predictions")
    top = max(max(conf["hist_right"], default=0), max(conf["hist_wrong"], default=0), 1)
    plot.setRange(xRange=(0, 1), yRange=(0, top * 1.05), padding=0.02)
    return True


def draw_eval_embedding(plot: pg.PlotItem, metrics: dict | None) -> bool:
    """2-D PCA (or t-SNE) of penultimate features, one colour per true class."""
    emb = (metrics or {}).get("embedding")
    if not emb or not emb.get("coords"):
        return draw_embedding_map(plot, None)
    classes = list(metrics.get("classes") or [])
    labels = [classes[i] if isinstance(i, int) and 0 <= i < len(classes) else str(i) for i in emb["labels"]]
    return draw_embedding_map(
        plot,
        {
            "coords": np.asarray(emb["coords"], dtype=float),
            "labels": labels,
            "method": emb.get("method", "pca"),
            "info": emb.get("info", {}),
        },
    )


def shown_topk(metrics: dict) -> list[tuple[str, str]]:
    """``[(metrics key, label)]`` of the top-k accuracies worth showing: top-1 always, top-5 only when
    the model has more than 5 classes (with 5 or fewer it is 100 % by construction)."""
    n_classes = len(metrics.get("classes") or [])
    return [("top1", "top-1")] + ([("top5", "top-5")] if n_classes > 5 else [])


def accuracy_bars(metrics: dict) -> list[Bar]:
    """Top-1 (and top-5 when it means something: :func:`shown_topk`) accuracy, then top-1 accuracy
    per true class, with 95 % Wilson intervals."""
    n = int(metrics.get("n") or 0)
    bars = []
    for key, group in shown_topk(metrics):
        value = metrics.get(key)
        if value is not None and n:
            low, high = wilson_interval(value * n, n)
            bars.append(Bar(group, "all samples", float(value), low, high, n))
    cm = np.asarray(metrics.get("confusion") or [], dtype=float)
    for i, cls in enumerate(metrics.get("classes") or []):
        support = int(cm[i].sum()) if cm.ndim == 2 and i < len(cm) else 0
        if support:
            low, high = wilson_interval(cm[i, i], support)
            bars.append(Bar(cls, "per class (top-1)", float(cm[i, i] / support), low, high, support))
    return bars


def draw_eval_accuracy(plot: pg.PlotItem, metrics: dict | None) -> bool:
    """Top-1 (top-5) accuracy and per-class top-1 accuracy (95 % CI whiskers)."""
    if not metrics:
        return message(plot, "no evaluation selected")
    return draw_bars(plot, accuracy_bars(metrics), y_label="accuracy", empty="no samples")


#: Figures of one evaluation: (key, title, draw function taking the metrics dict).
EVAL_FIGURES: list[tuple[str, str, Callable[[pg.PlotItem, dict | None], bool]]] = [
    ("eval_accuracy", "Accuracy (95% CI)", draw_eval_accuracy),
    ("eval_roc", "ROC, one vs rest", draw_eval_roc),
    ("eval_confusion", "Confusion matrix", draw_eval_confusion),
    ("eval_confidence", "Confidence: right vs wrong", draw_eval_confidence),
    ("eval_embedding", "Feature map (2-D)", draw_eval_embedding),
]

#: Training figures: (key, title, draw function taking the history list).
TRAIN_FIGURES: list[tuple[str, str, Callable[[pg.PlotItem, Sequence[dict]], bool]]] = [
    ("train_loss", "Training loss", draw_loss_curves),
    ("train_accuracy", "Training accuracy", draw_accuracy_curves),
]


def metrics_summary(metrics: dict[str, Any]) -> str:
    """One line: ``n``, top-1 (top-5 when the model has more than 5 classes) and macro AUC."""
    parts = [f"{metrics.get('dataset', '?')}/{metrics.get('split', '?')}", f"n = {metrics.get('n', 0)}"]
    for key, name in shown_topk(metrics):
        if metrics.get(key) is not None:
            parts.append(f"{name} {metrics[key]:.1%}")
    if metrics.get("macro_auc") is not None:
        parts.append(f"macro AUC {metrics['macro_auc']:.3f}")
    return " · ".join(parts)


__all__ = [
    "EVAL_FIGURES",
    "TRAIN_FIGURES",
    "accuracy_bars",
    "best_entry",
    "draw_accuracy_curves",
    "draw_loss_curves",
    "metrics_summary",
    "shown_topk",
]
