"""The Faithfulness tab: run the deletion / insertion grid and compare guided vs random boxes.

Left: the run's settings (model, dataset, split, methods, segmenters, fill, repeats, seed, limit,
top-p or a sweep on the val split), Run / Cancel with a progress bar, and the list of past runs
with CSV and figure export. Right: the paper's Figure 2 (methods, one segmenter) and Figure 3
(segmenters, one method) grouped bars with 95% CIs, the progressive curves, and the paired
comparison table. Every computation runs in a worker (:mod:`ui.workers`) that opens its own project
connection; the view only lists rows and draws what comes back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from geoquiz.types import SPLITS
from ui.context import AppContext
from ui.plots.faithfulness_plots import ChartPanel
from ui.widgets.method_params import MethodParamsEditor
from ui.workers import show_error, start

#: Contract names (geoquiz.attribution.METHODS / geoquiz.segmentation.SEGMENTERS), listed without
#: importing those packages (they pull in torch, which the window must not load at startup).
METHODS = ("gradcam", "gradcampp", "scorecam", "smoothgrad", "ig")
SEGMENTERS = ("default", "mobilesam_vit_t", "sam_vit_b", "sam_vit_l", "sam_vit_h", "sam2_hiera_t")
FILLS = ("blur", "mean", "black", "road")
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


def grid_job(root: Path, options: dict, reporter=None) -> int:
    """Optionally sweep top-p on val, then run the grid. Returns the run id."""
    import dataclasses

    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.project import Project

    options = dict(options)
    with Project.open(root) as project:
        params = dataclasses.replace(project.settings.elements, top_p=options.pop("top_p"))
        source = {"kind": "option"}
        if options.pop("choose_p"):
            from geoquiz.faithfulness.sweep import sweep_top_p

            res = sweep_top_p(
                project,
                options["model_name"],
                options["dataset"],
                split="val",
                method="gradcampp" if "gradcampp" in options["methods"] else options["methods"][0],
                segmenter=options["segmenters"][0],
                fill=options["fill"],
                seed=options["seed"],
                params=params,
                limit=options["limit"],
                reporter=reporter,
            )
            params = dataclasses.replace(params, top_p=res.chosen_top_p)
            source = {"kind": "sweep", "run_id": res.run_id, "split": "val"}
        return run_grid(project, **options, params=params, top_p_source=source, reporter=reporter)


def results_job(root: Path, run_id: int, reporter=None) -> dict:
    """Load a run and compute its statistics (bootstrap CIs, Wilcoxon, curve AUCs)."""
    from geoquiz.faithfulness import stats, store
    from geoquiz.progress import step
    from geoquiz.project import Project

    with Project.open(root) as project:
        run = store.get_run(project.db, run_id)
        step(reporter, 0, 3, "loading results")
        df = store.load_run(project.db, run_id)
        curves = store.load_curves(project.db, run_id)
        step(reporter, 1, 3, "statistics")
        out = {"run": run, "summary": None, "comparison": None, "curves": None}
        if len(df):
            out["summary"] = stats.summarise(df)
            out["comparison"] = stats.compare(df)
        if len(curves):
            step(reporter, 2, 3, "curves")
            out["curves"] = stats.curve_summary(curves)
        step(reporter, 3, 3, "done")
        return out


def export_csv_job(root: Path, run_id: int, out_dir: Path, reporter=None) -> list[Path]:
    from geoquiz.faithfulness.export import export_run
    from geoquiz.project import Project

    with Project.open(root) as project:
        return export_run(project.db, run_id, out_dir, formats=["csv"], reporter=reporter)


# ------------------------------------------------------------------ the view


def _check_list(names: tuple[str, ...], checked: tuple[str, ...], parent: QWidget, name: str) -> QListWidget:
    widget = QListWidget(parent)
    widget.setObjectName(name)
    for n in names:
        item = QListWidgetItem(n, widget)
        item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
        item.setCheckState(Qt.Checked if n in checked else Qt.Unchecked)
    widget.setMaximumHeight(22 * len(names) + 6)
    return widget


def _checked(widget: QListWidget) -> list[str]:
    return [
        widget.item(i).text()
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.Checked and widget.item(i).flags() & Qt.ItemIsEnabled
    ]


class FaithfulnessView(QWidget):
    """Run the faithfulness grid, browse past runs, and show Figure 2 / 3 bars and curves."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("faithfulnessView")
        self.ctx = ctx
        self.worker = None
        self.results_worker = None
        self.results: dict | None = None
        self.current_run: int | None = None

        # --- settings
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("modelSelector")
        self.dataset_box = QComboBox(self)
        self.dataset_box.setObjectName("datasetSelector")
        self.split_box = QComboBox(self)
        self.split_box.setObjectName("splitSelector")
        self.split_box.addItems(list(SPLITS))
        self.split_box.setCurrentText("test")
        self.methods_list = _check_list(METHODS, ("gradcampp",), self, "methodsList")
        self.segmenters_list = _check_list(SEGMENTERS, ("default",), self, "segmentersList")
        self.fill_box = QComboBox(self)
        self.fill_box.setObjectName("fillSelector")
        self.fill_box.addItems(list(FILLS))
        self.repeats_spin = QSpinBox(self)
        self.repeats_spin.setObjectName("repeatsSpin")
        self.repeats_spin.setRange(0, 100)
        self.repeats_spin.setValue(10)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.limit_spin = QSpinBox(self)
        self.limit_spin.setObjectName("limitSpin")
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.top_p_spin = QDoubleSpinBox(self)
        self.top_p_spin.setObjectName("topPSpin")
        self.top_p_spin.setRange(0.5, 100.0)
        self.top_p_spin.setSuffix(" %")
        self.choose_p_check = QCheckBox("choose p on the val split first", self)
        self.choose_p_check.setObjectName("chooseP")
        self.curves_check = QCheckBox("progressive curves", self)
        self.curves_check.setObjectName("curvesCheck")
        self.curves_check.setChecked(True)
        self.method_params = MethodParamsEditor(self)  # Score-CAM channels, SmoothGrad samples ...

        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Split", self.split_box)
        form.addRow("Methods", self.methods_list)
        form.addRow("Segmenters", self.segmenters_list)
        form.addRow("Fill", self.fill_box)
        form.addRow("Random repeats", self.repeats_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Max images", self.limit_spin)
        form.addRow("Top-p", self.top_p_spin)
        form.addRow("", self.choose_p_check)
        form.addRow("", self.curves_check)
        settings = QGroupBox("New run", self)
        settings.setLayout(form)

        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("runButton")
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_run)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("runProgress")
        self.progress.setValue(0)
        self.status_label = QLabel("", self)
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.method_params)

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

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(settings)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status_label)
        left_layout.addWidget(runs_box, 1)

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
            "By method (Fig. 2)",
        )
        self.tabs.addTab(self._page(self.fig3, ("Method", self.fig3_method)), "By segmenter (Fig. 3)")
        self.tabs.addTab(
            self._page(self.curves, ("Method", self.curve_method), ("Segmenter", self.curve_segmenter)),
            "Curves",
        )
        self.tabs.addTab(self.table, "Guided vs random")
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.summary_label)
        right_layout.addWidget(self.tabs, 1)

        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

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
        if kind in ("models", "datasets", "evaluations"):
            self.refresh()

    def refresh(self) -> None:
        """Reload models, datasets and past runs from the project (cheap SQL on the GUI connection)."""
        project = self.ctx.project
        enabled = project is not None
        self.run_button.setEnabled(enabled and self.worker is None)
        if project is None:
            return
        from geoquiz.data.dataset import list_datasets
        from geoquiz.faithfulness.store import list_runs

        try:
            from geoquiz.models.store import list_models

            models = list_models(project.db)
        except ImportError:  # the models package is not installed in this build
            models = []
        self._fill_combo(self.model_box, [m.name for m in models])
        self._fill_combo(self.dataset_box, [d.name for d in list_datasets(project.db)])
        self.top_p_spin.setValue(project.settings.elements.top_p)
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
    def _fill_combo(box: QComboBox, names: list[str]) -> None:
        current = box.currentText()
        box.blockSignals(True)
        box.clear()
        box.addItems(names)
        if current in names:
            box.setCurrentText(current)
        box.blockSignals(False)

    def _update_export_buttons(self) -> None:
        item = self.runs_list.currentItem()
        is_grid = item is not None and item.data(Qt.UserRole + 1) == "grid"
        self.export_csv_button.setEnabled(is_grid)
        self.export_fig_button.setEnabled(is_grid and self.results is not None)

    # ------------------------------------------------------------- running
    def run_options(self) -> dict:
        """The grid's keyword arguments from the controls (raises ValueError for missing choices)."""
        methods, segmenters = _checked(self.methods_list), _checked(self.segmenters_list)
        if not self.model_box.currentText():
            raise ValueError("The project has no model yet: train or register one first.")
        if not self.dataset_box.currentText():
            raise ValueError("The project has no dataset yet: import one first.")
        if not methods or not segmenters:
            raise ValueError("Tick at least one attribution method and one segmenter.")
        return {
            "model_name": self.model_box.currentText(),
            "dataset": self.dataset_box.currentText(),
            "split": self.split_box.currentText(),
            "methods": methods,
            "segmenters": segmenters,
            "fill": self.fill_box.currentText(),
            "repeats": self.repeats_spin.value(),
            "seed": self.seed_spin.value(),
            "limit": self.limit_spin.value() or None,
            "curves": self.curves_check.isChecked(),
            "top_p": self.top_p_spin.value(),
            "choose_p": self.choose_p_check.isChecked(),
            "method_params": self.method_params.values(),
        }

    def start_run(self) -> None:
        if self.ctx.project is None or self.worker is not None:
            return
        try:
            options = self.run_options()
        except ValueError as exc:
            show_error(self, "Cannot start the evaluation", str(exc))
            return
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status_label.setText("Starting…")
        self.worker = start(
            grid_job,
            self.ctx.root,
            options,
            on_result=self._run_finished,
            on_error=self._run_failed,
            on_progress=self._progress,
            on_cancelled=self._run_cancelled,
        )

    def cancel_run(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status_label.setText("Cancelling…")

    def _progress(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total) if total > 0 else 0)
        self.status_label.setText(f"{done}/{total} {message}")

    def _job_over(self, text: str) -> None:
        self.worker = None
        self.run_button.setEnabled(self.ctx.project is not None)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.status_label.setText(text)

    def _run_finished(self, run_id: int) -> None:
        self._job_over(f"Run #{run_id} finished.")
        self.current_run = run_id
        self.ctx.data_changed.emit("evaluations")
        self.refresh()
        self.load_run(run_id)

    def _run_failed(self, message: str, _traceback: str) -> None:
        self._job_over("The evaluation failed.")
        self.ctx.data_changed.emit("evaluations")
        show_error(self, "Evaluation failed", message)

    def _run_cancelled(self) -> None:
        self._job_over("Cancelled; the images evaluated so far are kept and the run can be resumed.")
        self.ctx.data_changed.emit("evaluations")

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
        self.results_worker = start(
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
            self._fill_combo(box, names)
        if summary is not None and "gradcampp" in list(summary["method"]):
            self.fig3_method.blockSignals(True)
            self.fig3_method.setCurrentText("gradcampp")
            self.fig3_method.blockSignals(False)
        self._fill_table(results["comparison"])
        self._redraw()
        self._update_export_buttons()

    def _redraw(self) -> None:
        from geoquiz.faithfulness.figures import comparison_charts, curve_charts

        if not self.results or self.results["summary"] is None:
            for panel in (self.fig2, self.fig3, self.curves):
                panel.set_charts([])
            return
        summary, metric = self.results["summary"], self.metric_box.currentData()
        self.fig2.set_charts(
            comparison_charts(
                summary, group_by="method", fixed=self.fig2_segmenter.currentText() or None, metric=metric
            )
        )
        self.fig3.set_charts(
            comparison_charts(
                summary, group_by="segmenter", fixed=self.fig3_method.currentText() or None, metric=metric
            )
        )
        curves = self.results["curves"]
        self.curves.set_charts(
            curve_charts(
                curves,
                method=self.curve_method.currentText() or None,
                segmenter=self.curve_segmenter.currentText() or None,
            )
            if curves is not None
            else []
        )

    def _fill_table(self, comparison) -> None:
        self.table.clear()
        self.table.setColumnCount(len(COMPARISON_COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in COMPARISON_COLUMNS])
        rows = [] if comparison is None else comparison.to_dict(orient="records")
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (key, _) in enumerate(COMPARISON_COLUMNS):
                value = row.get(key)
                if isinstance(value, bool):
                    text = "yes" if value else "no"
                elif isinstance(value, float):
                    text = (
                        f"{value:.3g}"
                        if key.startswith("p_")
                        else f"{value:+.3f}"
                        if "diff" in key
                        else f"{value:.3f}"
                    )
                else:
                    text = str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

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
            for name, panel in (("figure2", self.fig2), ("figure3", self.fig3), ("curve_plot", self.curves)):
                if not panel.charts:
                    continue
                for fmt in formats:
                    written.append(panel.export(out_dir / f"faithfulness_run{self.current_run}_{name}.{fmt}"))
        except (OSError, ValueError) as exc:
            show_error(self, "Export failed", str(exc))
        self.status_label.setText(f"Exported {len(written)} figure files to {out_dir}")
        return written
