"""The Dashboards' "Both ways" panel: does the model need people's cues, and do people need the
model's evidence? (:mod:`geoquiz.agreement.both_ways`).

For the dashboard's study (and model): two bar panels (intact / evidence removed / random removed at
equal coverage, per direction; the whiskers are the 95 % CI of the paired difference), the headline
sentences, the overall table, and "Export CSV…" for the tidy per item and overall table
(``both_ways.csv``, columns in docs/codebook.md). The table is computed in a worker on a snapshot
connection; this widget only draws it. It is its own widget so the Dashboards view hooks it with a
few lines (:meth:`BothWaysPanel.load` on every reload).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.plots.faithfulness_plots import ChartPanel
from ui.workers import Latest, show_error

OVERALL_COLUMNS = (
    ("direction", "Direction"),
    ("who", "Who"),
    ("test", "Test"),
    ("measure", "Measure"),
    ("intact_value", "Intact"),
    ("removed_value", "Evidence removed"),
    ("random_value", "Random removed"),
    ("removed_minus_random", "Removed - random"),
    ("ci_low", "CI low"),
    ("ci_high", "CI high"),
    ("p_value", "p"),
    ("n", "Items"),
    ("removed_coverage", "Coverage"),
)


def both_ways_job(db_path: str, study: str, model: str | None, *, reporter=None):
    """Worker job: the both-ways table of ``study`` from a snapshot of the project database."""
    from geoquiz.agreement.both_ways import both_ways_table
    from geoquiz.study.snapshot import read_snapshot

    with read_snapshot(db_path, what="compare both ways") as conn:
        return both_ways_table(conn, study, model=model, n_boot=1000)


def headline_text(table) -> str:
    """The two headline numbers in words (HTML)."""
    from geoquiz.agreement.both_ways import headline

    parts = []
    for direction, (what, unit) in {
        "model_needs_people": ("Model without people's cue boxes", "true-class probability"),
        "people_need_model": ("People without the model's top elements", "top-1 accuracy"),
    }.items():
        row = headline(table)[direction]
        if row is None:
            parts.append(f"<b>{what}</b>: no data yet.")
            continue
        parts.append(
            f"<b>{what}</b>: {unit} {row['removed_value']:.3f} vs {row['random_value']:.3f} with random boxes "
            f"of the same coverage: <b>{row['removed_minus_random']:+.3f}</b> "
            f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p_value']:.2g}, {int(row['n'])} items."
        )
    return "<br>".join(parts)


class BothWaysPanel(QGroupBox):
    """See the module doc. ``table`` is the last table shown (a DataFrame) or None."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__("Both ways: who needs whose cues?", parent)
        self.setObjectName("bothWaysPanel")
        self.ctx = ctx
        self.job = Latest()
        self.table = None
        self.status = QLabel("Choose a study.", self)
        self.status.setObjectName("bothWaysStatus")
        self.status.setWordWrap(True)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setObjectName("bothWaysExport")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_dialog)
        self.chart = ChartPanel(
            self, "No data: run the faithfulness tests with participants' boxes, or an ablation study"
        )
        self.chart.setObjectName("bothWaysChart")
        self.chart.setMinimumHeight(260)
        self.overall = QTableWidget(self)
        self.overall.setObjectName("bothWaysTable")
        self.overall.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.overall.setMinimumHeight(120)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.chart, 2)
        layout.addWidget(self.overall, 1)

    def load(self, model: str | None, study: str | None) -> None:
        """Compute the table for ``study`` (and ``model``) in a worker, then draw it."""
        self.table = None
        self.export_button.setEnabled(False)
        if self.ctx.project is None or study is None:
            self.status.setText("Choose a study to compare both ways.")
            self._draw(None)
            return
        self.status.setText("Loading…")
        self.job.start(
            both_ways_job,
            str(self.ctx.project.db_path),
            study,
            model,
            on_result=self.show_table,
            on_error=lambda message, _tb: self._failed(message),
        )

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self._draw(None)

    def show_table(self, table) -> None:
        self.table = table
        self.status.setText(headline_text(table))
        self.export_button.setEnabled(True)
        self._draw(table)

    def _draw(self, table) -> None:
        from geoquiz.agreement.both_ways import (
            DIRECTION_LABELS,
            MEASURE_LABELS,
            TEST_LABELS,
            WHO_LABELS,
            both_ways_charts,
        )

        labels = {
            "direction": DIRECTION_LABELS,
            "who": WHO_LABELS,
            "test": TEST_LABELS,
            "measure": MEASURE_LABELS,
        }

        self.chart.set_charts(both_ways_charts(table) if table is not None else [])
        rows = [] if table is None else table[table["scope"] == "overall"].to_dict(orient="records")
        top_k = "k" if table is None else table.attrs.get("top_k", "k")
        self.overall.clear()
        self.overall.setColumnCount(len(OVERALL_COLUMNS))
        self.overall.setHorizontalHeaderLabels([h for _, h in OVERALL_COLUMNS])
        self.overall.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (key, _) in enumerate(OVERALL_COLUMNS):
                value = row.get(key)
                if key in labels:
                    text = labels[key].get(value, str(value)).replace("Top-k", f"Top-{top_k}")
                elif value is None or (isinstance(value, float) and value != value):
                    text = ""
                elif isinstance(value, float):
                    text = (
                        f"{value:+.3f}"
                        if key in ("removed_minus_random", "ci_low", "ci_high")
                        else f"{value:.3g}"
                    )
                else:
                    text = str(value)
                self.overall.setItem(r, c, QTableWidgetItem(text))
        self.overall.resizeColumnsToContents()

    def export_to(self, path: str | Path) -> Path | None:
        """Write the table shown as CSV (small: written at once)."""
        from geoquiz.agreement.both_ways import write_both_ways
        from geoquiz.errors import GeoQuizError

        if self.table is None:
            return None
        try:
            written = write_both_ways(self.table, path)
        except GeoQuizError as exc:
            show_error(self, "Export failed", str(exc))
            return None
        self.status.setText(self.status.text() + f"<br>Wrote {written}")
        return written

    def export_dialog(self) -> None:
        start = (
            str(self.ctx.root / "exports" / "both_ways.csv")
            if self.ctx.project is not None
            else "both_ways.csv"
        )
        path, _ = QFileDialog.getSaveFileName(self, "Export both ways as CSV", start, "CSV (*.csv)")
        if path:
            self.export_to(path)
