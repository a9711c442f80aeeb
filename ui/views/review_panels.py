"""Side panels of the Review tab: the model's top classes against the participants' guesses (bar chart),
the participants' answers and rationales, and the item's stored agreement numbers."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QTextBrowser, QWidget

from geoquiz import agreement as ag
from geoquiz.agreement.labels import COUNT_METRICS, REFERENCE_LABELS, metric_label
from geoquiz.study.dashboard_data import Bar
from geoquiz.study.review_data import HumanAnswer
from geoquiz.types import CUE_TAG_LABELS, Prediction
from ui.plots.common import ChartWidget
from ui.plots.dashboard_plots import draw_bars


def guess_bars(prediction: Prediction | None, answers: Sequence[HumanAnswer], k: int = 5) -> list[Bar]:
    """Bars for the model's top-``k`` classes and every class people named first: the model's
    probability, and the share of participants naming the class first (Wilson 95 % interval)."""
    top = prediction.topk(k) if prediction is not None else []
    firsts = [a.top1 for a in answers if a.top1]
    labels = list(dict.fromkeys([c for c, _ in top] + sorted(set(firsts), key=lambda c: -firsts.count(c))))
    probs = dict(prediction.topk(len(prediction.classes))) if prediction is not None else {}
    bars = []
    for label in labels:
        if prediction is not None:
            bars.append(Bar(label, "model", probs.get(label, 0.0), None, None, 1))
        if answers:
            p = ag.proportion(a.top1 == label for a in answers)
            bars.append(Bar(label, "people", p.rate, p.low, p.high, p.n))
    return bars


class GuessChart(ChartWidget):
    """Model probability vs share of participants' first guesses, per class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guessChart")
        self.setMinimumHeight(200)
        self.bars: list[Bar] = []

    def show_guesses(self, prediction: Prediction | None, answers: Sequence[HumanAnswer], truth: str) -> None:
        self.bars = guess_bars(prediction, answers)
        plot = self.getPlotItem()
        labels = {"model": "model's probability", "people": "people's first guess"}
        if draw_bars(
            plot, self.bars, y_label="probability / share", empty="no model and no answers", labels=labels
        ):
            plot.setTitle(f"true class: {truth}", size="9pt")


class RationaleList(QTextBrowser):
    """Every participant's answer on the item: code, guesses (true class in bold), confidence,
    time, boxes and the rationale in their own words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rationales")
        self.setOpenLinks(False)

    def show_answers(self, answers: Sequence[HumanAnswer], truth: str) -> None:
        if not answers:
            self.setHtml("<i>No answers yet.</i>")
            return
        parts = []
        for a in answers:
            guesses = ", ".join(
                f"<b>{html.escape(g)}</b>" if g == truth else html.escape(g) for g in a.guesses
            )
            meta = [
                f"confidence {a.confidence}" if a.confidence is not None else "",
                f"{a.response_time_ms / 1000:.1f} s",
            ]
            meta += [f"{len(a.cues)} box(es)" if a.cues else "", "timed out" if a.timed_out else ""]
            text = html.escape(a.rationale).replace("\n", "<br>") or "<i>(no rationale)</i>"
            parts.append(
                f"<p><b>{html.escape(a.participant)}</b> ({html.escape(a.study)}): {guesses or '<i>no guess</i>'}"
                f" <span style='color:#777'>{' · '.join(m for m in meta if m)}</span><br>{text}</p>"
            )
        self.setHtml("".join(parts))


def _fmt(value: float | None, whole: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:.0f}" if whole else f"{value:.3f}"


class AgreementTable(QTableWidget):
    """The stored agreement rows of the current item: measure, compared with, value, 95 % CI, n."""

    HEADERS = ("measure", "vs", "tag", "value", "95% CI", "n")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setObjectName("agreementTable")
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def show_rows(self, rows: Sequence[dict]) -> None:
        """Rows of the ``agreement`` table: measures by their display names (the id in the tooltip),
        counts as whole numbers."""
        order = {"": 0, "human": 1, "planted": 2}
        rows = sorted(rows, key=lambda r: (order.get(r["reference"], 3), r["metric"] == "tag_overlap"))
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            whole = r["metric"] in COUNT_METRICS
            ci = f"{_fmt(r['ci_low'])} – {_fmt(r['ci_high'])}" if r["ci_low"] is not None else ""
            cells = (
                metric_label(r["metric"]),
                REFERENCE_LABELS.get(r["reference"], r["reference"]),
                CUE_TAG_LABELS.get(r["tag"], r["tag"]),
                _fmt(r["value"], whole),
                ci,
                "" if r["n"] is None else str(int(r["n"])),
            )
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 3:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.setItem(i, j, item)
            self.item(i, 0).setData(Qt.UserRole, (r["metric"], r["reference"], r["tag"]))
            self.item(i, 0).setToolTip(r["metric"])

    def value(self, metric: str, reference: str = "", tag: str = "") -> str | None:
        """The shown value text of one measure, by its ids (None when absent)."""
        for i in range(self.rowCount()):
            if self.item(i, 0).data(Qt.UserRole) == (metric, reference, tag or ""):
                return self.item(i, 3).text()
        return None
