"""The Faithfulness tab's "Model vs people" page: for a run with participants' cue boxes
(``--selections model,human``), the model's elements vs people's boxes vs random boxes at equal
coverage on the same items (:func:`geoquiz.faithfulness.human_stats.sources`): bars with 95 % CIs per
test and the paired comparison table, plus the per participant and per cue tag tables.

The statistics come from the view's results worker (:func:`results_extra`); this page only draws.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.plots.faithfulness_plots import ChartPanel
from ui.widgets.result_table import fill_table

EMPTY = (
    "This run has no participants' boxes: run with \u201cParticipants' boxes\u201d ticked and a study chosen"
)

#: (column, header) of the side-by-side table.
SOURCE_COLUMNS = (
    ("name", "Boxes"),
    ("test", "Test"),
    ("n", "Items"),
    ("guided_coverage", "Coverage"),
    ("random_coverage", "Random cov."),
    ("guided_true_prob", "Boxes prob."),
    ("random_true_prob", "Random prob."),
    ("diff_true_prob", "Diff."),
    ("diff_true_prob_lo", "CI low"),
    ("diff_true_prob_hi", "CI high"),
    ("p_true_prob", "Wilcoxon p"),
    ("diff_accuracy", "Diff. acc."),
    ("expected", "Faithful direction"),
)
GROUP_COLUMNS = (
    ("test", "Test"),
    ("n", "n"),
    ("guided_true_prob", "Boxes prob."),
    ("random_true_prob", "Random prob."),
    ("diff_true_prob", "Diff."),
    ("diff_true_prob_lo", "CI low"),
    ("diff_true_prob_hi", "CI high"),
    ("p_true_prob", "Wilcoxon p"),
)


def results_extra(df) -> dict:
    """The statistics of people's boxes for a run's results frame (empty when it has none); called
    in the results worker."""
    from geoquiz.faithfulness import human_stats

    if not len(df) or not (df["selection_source"] == "human").any():
        return {}
    return {
        "sources": human_stats.sources(df),
        "sources_summary": human_stats.sources_summary(df),
        "by_participant": human_stats.by_participant(df),
        "by_tag": human_stats.by_tag(df),
    }


def _displayed(sources):
    """``sources`` with readable cell names (``People: union per item``, ``Grad-CAM++ × …``); the
    ids stay in the CSV's ``name``, ``method`` and ``segmenter``."""
    from geoquiz.faithfulness.figures import source_display

    if sources is None or not len(sources):
        return sources
    single = sources.loc[sources["source"] == "model", ["method", "segmenter"]].drop_duplicates()
    shown = sources.copy()
    shown["name"] = [
        source_display(m, s, single_model=len(single) == 1)
        for m, s in zip(shown["method"], shown["segmenter"])
    ]
    return shown


def _table(parent: QWidget, name: str) -> QTableWidget:
    table = QTableWidget(parent)
    table.setObjectName(name)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    return table


class PeoplePage(QWidget):
    """Model elements vs people's boxes vs random (see the module doc). :meth:`show` takes the
    results dict of the view (with :func:`results_extra`'s keys when the run has people's boxes)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("peoplePage")
        self.results: dict = {}
        self.metric_box = QComboBox(self)
        self.metric_box.setObjectName("peopleMetric")
        self.metric_box.addItem("true-class probability", "true_prob")
        self.metric_box.addItem("accuracy", "accuracy")
        self.metric_box.currentIndexChanged.connect(self._redraw)
        self.chart = ChartPanel(self, EMPTY)
        self.chart.setObjectName("sourcesPanel")
        self.chart.setMinimumHeight(280)
        self.table = _table(self, "sourcesTable")
        self.participants = _table(self, "peopleByParticipant")
        self.tags = _table(self, "peopleByTag")
        tables = QTabWidget(self)
        tables.addTab(self.table, "Side by side")
        tables.addTab(self.participants, "Per participant")
        tables.addTab(self.tags, "Per cue tag")
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric", self))
        row.addWidget(self.metric_box)
        row.addStretch(1)
        split = QSplitter(Qt.Vertical, self)
        split.addWidget(self.chart)
        split.addWidget(tables)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([420, 280])
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)

    def show_results(self, results: dict | None) -> None:
        self.results = results or {}
        fill_table(self.table, _displayed(self.results.get("sources")), SOURCE_COLUMNS)
        fill_table(
            self.participants,
            self.results.get("by_participant"),
            (("participant", "Participant"), *GROUP_COLUMNS),
        )
        fill_table(self.tags, self.results.get("by_tag"), (("cue_tag", "Cue tag"), *GROUP_COLUMNS))
        self._redraw()

    def _redraw(self) -> None:
        from geoquiz.faithfulness.figures import sources_charts

        summary = self.results.get("sources_summary")
        self.chart.set_charts(
            sources_charts(summary, metric=self.metric_box.currentData()) if summary is not None else []
        )
