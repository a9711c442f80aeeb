"""The Dashboards tab (researchers only): people vs model accuracy, per-class comparison, ROC curves,
confusion matrices, deletion / insertion results, PCA scatter, response-time and confidence histograms.

The data is gathered in a worker on a snapshot connection of its own
(:func:`geoquiz.study.snapshot.read_snapshot`, :func:`geoquiz.study.dashboard_data.load_dashboard`:
counts, histograms and accuracies computed by SQLite, so it takes a fraction of a second on 100,000
trials); the GUI thread only draws it (:mod:`ui.plots.dashboard_plots`). Every figure can be saved
as PNG or SVG, one by one or all at once.
Reloads on ``ctx.project_changed`` and on data changes (sessions, models, evaluations, agreement).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from geoquiz.study.dashboard_data import DashboardData
from geoquiz.study.review_data import list_model_names, list_study_slugs
from ui.context import AppContext
from ui.plots.dashboard_plots import FIGURES, PlotPanel
from ui.views.both_ways_panel import BothWaysPanel
from ui.widgets.responsive_grid import ResponsiveGrid
from ui.workers import show_error, start

ALL_STUDIES = "All studies"
NO_MODEL = "(no model)"
RELOAD_ON = {"sessions", "studies", "models", "evaluations", "agreement", "datasets", "explanations"}


def load_job(db_path: str, model: str | None, study: str | None, *, reporter=None) -> DashboardData:
    """Worker job: collect the dashboard data from a snapshot of the project database."""
    from geoquiz.study.dashboard_data import load_dashboard
    from geoquiz.study.snapshot import read_snapshot

    with read_snapshot(db_path, what="load the dashboards") as conn:
        return load_dashboard(conn, model=model, study=study)


class DashboardView(QWidget):
    """Model / study pickers, then a scrolling grid of figures."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dashboardView")
        self.ctx = ctx
        self.worker = None
        self._loading = 0
        self.data: DashboardData | None = None
        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("dashboardModel")
        self.study_combo = QComboBox(self)
        self.study_combo.setObjectName("dashboardStudy")
        for combo in (self.model_combo, self.study_combo):
            combo.setMinimumContentsLength(14)
            combo.activated.connect(lambda _=0: self.reload())
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setObjectName("dashboardRefresh")
        self.refresh_button.clicked.connect(self.reload)
        self.save_all_button = QPushButton("Save all figures…", self)
        self.save_all_button.setObjectName("dashboardSaveAll")
        self.save_all_button.clicked.connect(self.save_all_dialog)
        self.status = QLabel(self)
        self.status.setObjectName("dashboardStatus")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:", self))
        top.addWidget(self.model_combo)
        top.addWidget(QLabel("Study:", self))
        top.addWidget(self.study_combo)
        top.addWidget(self.refresh_button)
        top.addWidget(self.save_all_button)
        top.addWidget(self.status, 1)

        self.panels: dict[str, PlotPanel] = {}
        grid_host = ResponsiveGrid(self)
        for key, title, _ in FIGURES:
            panel = PlotPanel(key, title, grid_host)
            self.panels[key] = panel
            grid_host.add(panel)
        page = QWidget(self)  # the charts' grid, then the both-ways panel across the whole width
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(grid_host)
        self.both_ways = BothWaysPanel(ctx, page)  # both directions of reliance, for the chosen study
        page_layout.addWidget(self.both_ways)
        scroll = QScrollArea(self)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        ctx.project_changed.connect(self.on_project_changed)
        ctx.data_changed.connect(self.on_data_changed)
        self.on_project_changed()

    # -- pickers and loading ----------------------------------------------------------------------
    def _fill(self, combo: QComboBox, first: str, names: list[str]) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([first, *names])
        index = combo.findText(current)
        if index < 0 and first == NO_MODEL and names:
            index = 1
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def on_project_changed(self) -> None:
        project = self.ctx.project
        if project is None:
            self.status.setText("No project open")
            return
        self._fill(self.model_combo, NO_MODEL, list_model_names(project.db))
        self._fill(self.study_combo, ALL_STUDIES, list_study_slugs(project.db))
        self.reload()

    def on_data_changed(self, kind: str) -> None:
        if kind in RELOAD_ON:
            self.on_project_changed()

    def selection(self) -> tuple[str | None, str | None]:
        model = self.model_combo.currentText()
        study = self.study_combo.currentText()
        return (None if model in ("", NO_MODEL) else model, None if study in ("", ALL_STUDIES) else study)

    def reload(self) -> None:
        if self.ctx.project is None:
            return
        model, study = self.selection()
        self.both_ways.load(model, study)
        self.status.setText("Loading…")
        self._loading += 1
        self.worker = start(
            load_job,
            str(self.ctx.project.db_path),
            model,
            study,
            on_result=lambda data, n=self._loading: self.show_data(data, n),
            on_error=self._failed,
        )

    def _failed(self, message: str, _tb: str) -> None:
        self.status.setText("Could not load the dashboards")
        show_error(self, "Dashboards", message)

    # -- drawing ----------------------------------------------------------------------------------
    def show_data(self, data: DashboardData, loading: int | None = None) -> None:
        if loading is not None and loading != self._loading:
            return  # a newer choice of model / study is loading
        self.data = data
        drawn = 0
        for key, _title, draw in FIGURES:
            plot = self.panels[key].plot
            drawn += bool(draw(plot, data))
            # the range now, not at the next paint: a chart below the fold (the page scrolls) is not
            # painted until it is scrolled to, and its range is read before that (tests, exports)
            plot.getViewBox().updateAutoRange()
        kappa = "" if data.kappa is None else f"; Fleiss' kappa of first guesses {data.kappa:.2f}"
        notes = ("; " + "; ".join(data.notes)) if data.notes else ""
        self.status.setText(f"{drawn} of {len(FIGURES)} figures have data{kappa}{notes}")

    def save_all(self, folder: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
        """Save every figure to ``folder`` as ``<figure>.<format>``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [panel.save(folder / f"{key}.{fmt}") for key, panel in self.panels.items() for fmt in formats]

    def save_all_dialog(self) -> None:
        start_dir = str(self.ctx.root / "exports") if self.ctx.project is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Save all figures to", start_dir)
        if folder:
            files = self.save_all(folder)
            self.status.setText(f"Saved {len(files)} files to {folder}")
