"""The Faithfulness tab: run the deletion / insertion grid and compare guided vs random boxes.

Left: the run's settings (model, dataset, split, methods, segmenters, fill, repeats, seed, limit,
top-p or a sweep on the val split), Run / Cancel with a progress bar, and the list of past runs
with CSV and figure export. Right: the paper's Figure 2 (methods, one segmenter) and Figure 3
(segmenters, one method) grouped bars with 95% CIs, the progressive curves, the paired
comparison table, the segments and coverage of each segmenter, and for runs with participants' cue
boxes the model's elements vs people's boxes vs random at equal coverage (``faithfulness_people``). Every computation runs in a worker (:mod:`ui.workers`) that opens its own project
connection; the view only lists rows and draws what comes back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from geoquiz.faithfulness.request import GridRequest
from ui.context import AppContext
from ui.plots.faithfulness_plots import ChartPanel
from ui.views.faithfulness_form import FaithfulnessForm, display_name, fill_combo
from ui.views.faithfulness_people import PeoplePage, results_extra
from ui.widgets.job_controls import JobControls
from ui.widgets.method_params import MethodParamsEditor
from ui.widgets.result_table import fill_table
from ui.widgets.split_view import controls_beside_results
from ui.workers import Latest, project_job, show_error, start

COMPARISON_COLUMNS = (
    ("method", "Method"),
    ("segmenter", "Segmenter"),
    ("test", "Test"),
    ("n", "Images"),
    ("guided_accuracy", "Guided acc."),
    ("random_accuracy", "Random acc."),
    ("diff_accuracy", "Diff."),
    ("diff_accuracy_lo", "CI low"),
    ("diff_accuracy_hi", "CI high"),
    ("p_accuracy", "Wilcoxon p"),
    ("guided_true_prob", "Guided prob."),
    ("random_true_prob", "Random prob."),
    ("p_true_prob", "p (prob.)"),
    ("expected", "Faithful direction"),
)


# ------------------------------------------------------------------ jobs (run in worker threads)


@project_job
def grid_job(project, request: GridRequest, reporter=None) -> int:
    """Run a request (top-p sweep first when asked, then the grid: the library's policy). The run id."""
    from geoquiz.faithfulness.request import run_request

    return run_request(project, request, reporter=reporter).run_id


@project_job
def results_job(project, run_id: int, reporter=None) -> dict:
    """Load a run and compute its statistics (bootstrap CIs, Wilcoxon, curve AUCs)."""
    from geoquiz.faithfulness import stats, store
    from geoquiz.progress import step

    run = store.get_run(project.db, run_id)
    step(reporter, 0, 3, "loading results")
    df = store.load_run(project.db, run_id)
    curves = store.load_curves(project.db, run_id)
    step(reporter, 1, 3, "statistics")
    out = {"run": run, "summary": None, "comparison": None, "curves": None, "segmenters": None}
    if len(df):
        out["summary"] = stats.summarise(df)
        out["comparison"] = stats.compare(df)
        out["segmenters"] = stats.segmenter_summary(df)
        out["people"] = results_extra(df)
    if len(curves):
        step(reporter, 2, 3, "curves")
        out["curves"] = stats.curve_summary(curves)
    step(reporter, 3, 3, "done")
    return out


@project_job
def export_csv_job(project, run_id: int, out_dir: Path, reporter=None) -> list[Path]:
    from geoquiz.faithfulness.export import export_run

    return export_run(project.db, run_id, out_dir, formats=["csv"], reporter=reporter)


# ------------------------------------------------------------------ the view


class FaithfulnessView(QWidget):
    """Run the faithfulness grid, browse past runs, and show Figure 2 / 3 bars and curves."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("faithfulnessView")
        self.ctx = ctx
        self.results_job = Latest()
        self.results: dict | None = None
        self.current_run: int | None = None

        # --- a new run
        self.form = FaithfulnessForm(self)
        self.model_box = self.form.model_box
        self.controls = JobControls("Run", self, error_title="Evaluation failed")
        self.controls.run_button.clicked.connect(self.start_run)
        self.controls.finished.connect(self._run_finished)
        self.controls.failed.connect(lambda *_: self._run_ended("The evaluation failed."))
        self.controls.cancelled.connect(
            lambda: self._run_ended(
                "Cancelled; the images evaluated so far are kept and the run can be resumed."
            )
        )
        self.status_label = self.controls.status
        # Score-CAM channels, SmoothGrad samples ...: a button beside Run opening a small dialog
        self.method_params = MethodParamsEditor(self.form)
        self.form.layout().addRow("Parameters", self.method_params)

        # --- past runs
        self.runs_list = QListWidget(self)
        self.runs_list.setObjectName("runsList")
        self.runs_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.runs_list.currentItemChanged.connect(self._run_selected)
        self.export_csv_button = QPushButton("Export CSV…", self)
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.clicked.connect(self._choose_csv_dir)
        self.export_fig_button = QPushButton("Export figures…", self)
        self.export_fig_button.setObjectName("exportFiguresButton")
        self.export_fig_button.clicked.connect(self._choose_figure_dir)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_csv_button)
        export_row.addWidget(self.export_fig_button)
        runs_box = QGroupBox("Past runs", self)
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.addWidget(self.runs_list)
        runs_layout.addLayout(export_row)

        # --- results
        self.fig2_segmenter = QComboBox(self)
        self.fig2_segmenter.setObjectName("fig2Segmenter")
        self.fig3_method = QComboBox(self)
        self.fig3_method.setObjectName("fig3Method")
        self.curve_method = QComboBox(self)
        self.curve_method.setObjectName("curveMethod")
        self.curve_segmenter = QComboBox(self)
        self.curve_segmenter.setObjectName("curveSegmenter")
        self.metric_box = QComboBox(self)
        self.metric_box.setObjectName("metricSelector")
        self.metric_box.addItem("accuracy", "accuracy")
        self.metric_box.addItem("true-class probability", "true_prob")
        for box in (
            self.fig2_segmenter,
            self.fig3_method,
            self.curve_method,
            self.curve_segmenter,
            self.metric_box,
        ):
            box.currentIndexChanged.connect(self._redraw)
        self.fig2 = ChartPanel(self, "Run the grid or pick a past run")
        self.fig2.setObjectName("figure2")
        self.fig3 = ChartPanel(self, "Run the grid or pick a past run")
        self.fig3.setObjectName("figure3")
        self.curves = ChartPanel(self, "No curves in this run")
        self.curves.setObjectName("curvesPanel")
        self.segments_panel = ChartPanel(self, "Run the grid or pick a past run")
        self.segments_panel.setObjectName("segmentsPanel")
        self.table = QTableWidget(self)
        self.table.setObjectName("comparisonTable")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("runSummary")
        self.summary_label.setWordWrap(True)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("resultTabs")
        self.tabs.addTab(
            self._page(self.fig2, ("Segmenter", self.fig2_segmenter), ("Metric", self.metric_box)),
            "Methods (Fig. 2)",
        )
        self.tabs.addTab(self._page(self.fig3, ("Method", self.fig3_method)), "Segmenters (Fig. 3)")
        self.tabs.addTab(
            self._page(self.curves, ("Method", self.curve_method), ("Segmenter", self.curve_segmenter)),
            "Curves",
        )
        self.tabs.addTab(self.table, "Guided vs random")
        # segment counts and coverage per segmenter (Fig. 3's method): paper 000 ties SAM3's results to them
        self.tabs.addTab(self.segments_panel, "Segments && coverage")
        self.people_page = PeoplePage(self)  # model elements vs people's boxes vs random
        self.tabs.addTab(self.people_page, "Model vs people")
        controls_beside_results(
            self,
            [self.form, self.controls, runs_box],
            [self.summary_label, self.tabs],
            stretch_last_control=True,
        )

        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

    @property
    def worker(self):
        return self.controls.worker

    def _page(self, panel: ChartPanel, *controls: tuple[str, QWidget]) -> QWidget:
        page = QWidget(self)
        v = QVBoxLayout(page)
        row = QHBoxLayout()
        for text, widget in controls:
            row.addWidget(QLabel(text, page))
            row.addWidget(widget)
        row.addStretch(1)
        v.addLayout(row)
        v.addWidget(panel, 1)
        return page

    # ------------------------------------------------------------- listing
    def _data_changed(self, kind: str) -> None:
        if kind in ("models", "datasets", "evaluations", "settings", "studies"):
            self.refresh()

    def refresh(self) -> None:
        """Reload models, datasets and past runs from the project (cheap SQL on the GUI connection)."""
        project = self.ctx.project
        self.controls.set_runnable(project is not None)
        if project is None:
            return
        from geoquiz.faithfulness.store import list_runs

        self.form.refresh(project)
        selected = self.current_run
        self.runs_list.blockSignals(True)
        self.runs_list.clear()
        for run in list_runs(project.db):
            if run.kind == "p_sweep":
                text = f"#{run.id} p-sweep {run.dataset}/{run.split}: p = {run.summary.get('chosen_top_p')} ({run.status})"
            else:
                c = run.config
                cells = f"{len(c.get('methods', []))}x{len(c.get('segmenters', []))}"
                text = f"#{run.id} {run.dataset}/{run.split} {cells} {c.get('fill')}: {run.status}, {run.n_units} img"
            item = QListWidgetItem(text, self.runs_list)
            item.setToolTip(run.title() + f"\n{run.status}, {run.n_units} images, {run.created_at[:19]}")
            item.setData(Qt.UserRole, run.id)
            item.setData(Qt.UserRole + 1, run.kind)
            if run.id == selected:
                self.runs_list.setCurrentItem(item)
        self.runs_list.blockSignals(False)
        self._update_export_buttons()

    @staticmethod
    def _fill_combo(box: QComboBox, names: list[str], labels: dict[str, str] | None = None) -> None:
        fill_combo(box, [(n, (labels or {}).get(n, n)) for n in names])

    def _update_export_buttons(self) -> None:
        item = self.runs_list.currentItem()
        is_grid = item is not None and item.data(Qt.UserRole + 1) == "grid"
        self.export_csv_button.setEnabled(is_grid)
        self.export_fig_button.setEnabled(is_grid and self.results is not None)

    # ------------------------------------------------------------- running
    def run_options(self) -> GridRequest:
        """The request from the form and the method parameters (ValueError for missing choices)."""
        return dataclasses.replace(self.form.request(), method_params=self.method_params.values())

    def start_run(self) -> None:
        if self.ctx.project is None or self.controls.busy:
            return
        try:
            request = self.run_options()
        except ValueError as exc:
            show_error(self, "Cannot start the evaluation", str(exc))
            return
        self.controls.start(grid_job, self.ctx.root, request)

    def cancel_run(self) -> None:
        self.controls.cancel()

    def _run_ended(self, text: str) -> None:
        self.status_label.setText(text)
        self.ctx.data_changed.emit("evaluations")

    def _run_finished(self, run_id: int) -> None:
        self.current_run = run_id
        self._run_ended(f"Run #{run_id} finished.")
        self.load_run(run_id)

    # ------------------------------------------------------------- results
    def _run_selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        self._update_export_buttons()
        if item is None:
            return
        run_id = int(item.data(Qt.UserRole))
        if item.data(Qt.UserRole + 1) == "grid":
            self.load_run(run_id)
        else:
            self._show_sweep(run_id)

    def load_run(self, run_id: int) -> None:
        """Compute a run's statistics in a worker, then draw them."""
        if self.ctx.project is None:
            return
        self.current_run = run_id
        self.summary_label.setText(f"Loading run #{run_id}…")
        self.results_job.start(
            results_job,
            self.ctx.root,
            run_id,
            on_result=self._show_results,
            on_error=lambda m, _t: show_error(self, "Cannot load the run", m),
        )

    def _show_sweep(self, run_id: int) -> None:
        from geoquiz.faithfulness.store import get_run

        run = get_run(self.ctx.project.db, run_id)
        points = run.summary.get("points", [])
        lines = [
            f"p = {p['top_p']:g}%: coverage {p['coverage']:.3f}, excess {p['excess']:+.3f}" for p in points
        ]
        self.summary_label.setText(
            f"Top-p sweep #{run_id} on {run.dataset}/{run.split}: chosen p = {run.summary.get('chosen_top_p')}\n"
            + "; ".join(lines)
        )

    def _show_results(self, results: dict) -> None:
        self.results = results
        run = results["run"]
        if run.id != self.current_run:
            return
        s = run.summary
        self.summary_label.setText(
            f"Run #{run.id}: {run.model} on {run.dataset}/{run.split}, fill {run.config.get('fill')}, "
            f"{run.config.get('repeats')} random repeats, top-p {run.config['params']['top_p']:g}% "
            f"({(s.get('top_p_source') or {}).get('kind', 'settings')}), {run.n_units} images, status {run.status}"
            + (f"; {run.method_params_text()}" if run.method_params_text() else "")
        )
        summary = results["summary"]
        for box, column in (
            (self.fig2_segmenter, "segmenter"),
            (self.fig3_method, "method"),
            (self.curve_method, "method"),
            (self.curve_segmenter, "segmenter"),
        ):
            names = list(dict.fromkeys(summary[column])) if summary is not None else []
            self._fill_combo(box, names, {n: display_name(column, n) for n in names})
        if summary is not None and "gradcampp" in list(summary["method"]):
            self.fig3_method.blockSignals(True)
            self.fig3_method.setCurrentIndex(self.fig3_method.findData("gradcampp"))
            self.fig3_method.blockSignals(False)
        fill_table(self.table, results["comparison"], COMPARISON_COLUMNS)
        self.people_page.show_results(results.get("people"))
        self._redraw()
        self._update_export_buttons()

    def _redraw(self) -> None:
        from geoquiz.faithfulness.figures import comparison_charts, curve_charts, segmenter_charts

        if not self.results or self.results["summary"] is None:
            for panel in (self.fig2, self.fig3, self.curves, self.segments_panel):
                panel.set_charts([])
            return
        summary, metric = self.results["summary"], self.metric_box.currentData()
        self.fig2.set_charts(
            comparison_charts(
                summary, group_by="method", fixed=self.fig2_segmenter.currentData() or None, metric=metric
            )
        )
        self.fig3.set_charts(
            comparison_charts(
                summary, group_by="segmenter", fixed=self.fig3_method.currentData() or None, metric=metric
            )
        )
        segmenters = self.results.get("segmenters")
        self.segments_panel.set_charts(
            segmenter_charts(segmenters, method=self.fig3_method.currentData() or None)
            if segmenters is not None
            else []
        )
        curves = self.results["curves"]
        self.curves.set_charts(
            curve_charts(
                curves,
                method=self.curve_method.currentData() or None,
                segmenter=self.curve_segmenter.currentData() or None,
            )
            if curves is not None
            else []
        )

    # ------------------------------------------------------------- export
    def _choose_csv_dir(self) -> None:
        out = QFileDialog.getExistingDirectory(self, "Export the run's results as CSV to…")
        if out:
            self.export_csv_to(Path(out))

    def _choose_figure_dir(self) -> None:
        out = QFileDialog.getExistingDirectory(self, "Export the figures (PNG and SVG) to…")
        if out:
            self.export_figures_to(Path(out))

    def export_csv_to(self, out_dir: Path):
        """Write the selected run's CSVs in a worker; returns the worker."""
        if self.current_run is None:
            return None
        run_id = self.current_run
        return start(
            export_csv_job,
            self.ctx.root,
            run_id,
            out_dir,
            on_result=lambda paths: self.status_label.setText(
                f"Exported {len(paths)} CSV files to {out_dir}"
            ),
            on_error=lambda m, _t: show_error(self, "Export failed", m),
        )

    def export_figures_to(self, out_dir: Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
        """Write the figures as shown (Figure 2, Figure 3, curves) with pyqtgraph's exporters."""
        if self.results is None:
            return []
        written = []
        try:
            panels = (
                ("figure2", self.fig2),
                ("figure3", self.fig3),
                ("curve_plot", self.curves),
                ("segmenters", self.segments_panel),
                ("sources", self.people_page.chart),
            )
            for name, panel in panels:
                if not panel.charts:
                    continue
                for fmt in formats:
                    written.append(panel.export(out_dir / f"faithfulness_run{self.current_run}_{name}.{fmt}"))
        except (OSError, ValueError) as exc:
            show_error(self, "Export failed", str(exc))
        self.status_label.setText(f"Exported {len(written)} figure files to {out_dir}")
        return written
