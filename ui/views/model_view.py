"""The Model tab: the project's classifiers, their training curves, evaluations and evaluation plots.

Left: the registered models (name, architecture, integration, classes, input size, dataset), the
selected model's training summary (:func:`geoquiz.models.summary.training_summary`), and the
evaluation panel (:mod:`ui.views.model_evaluation`: stored evaluations, "Evaluate" in a worker).
Right: the training curves from the checkpoint's metadata (``ModelInfo.metadata["training"]["history"]``)
and the selected evaluation's figures (top-1/top-k and per-class accuracy, ROC per class with AUC,
confusion matrix, confidence right vs wrong, PCA or t-SNE of penultimate features), each exportable
as PNG / SVG (:mod:`ui.plots.model_plots`). Register / remove: :mod:`ui.dialogs.register_model`.

Models are listed with a few cheap queries on the GUI thread's connection; evaluations (whose
metrics can be large) are read in a worker. Refreshes on ``ctx.project_changed`` and
``ctx.data_changed("models" | "evaluations" | "datasets")``.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from geoquiz.models.store import ModelInfo, list_models
from geoquiz.models.summary import training_summary
from ui.context import AppContext
from ui.dialogs.register_dialog import confirm_remove, register_job
from ui.plots.dashboard_plots import PlotPanel
from ui.plots.model_plots import EVAL_FIGURES, TRAIN_FIGURES, metrics_summary
from ui.views.model_evaluation import EvaluationPanel, make_table, table_item
from ui.widgets.responsive_grid import ResponsiveGrid
from ui.widgets.training_banner import TrainingBanner
from ui.workers import Worker, show_error, start

MODEL_COLUMNS = ("Name", "Arch", "Integration", "Classes", "Input", "Dataset")


def summary_html(info: ModelInfo) -> str:
    """:func:`training_summary` as rich text: the headline in bold, the recipe in grey."""
    lines = [html.escape(line) for line in training_summary(info)]
    lines[0] = f"<b>{lines[0]}</b>"
    if len(lines) in (2, 4):  # the imported-checkpoint note, or the training recipe
        lines[-1] = f"<span style='color:#666'>{lines[-1]}</span>"
    return "<br>".join(lines)


class ModelView(QWidget):
    """Models, their evaluations and the figures of the selected one."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelView")
        self.ctx = ctx
        self.models: dict[str, ModelInfo] = {}
        self.evaluations: list[dict] = []
        self.metrics: dict | None = None

        self.train_button = QPushButton("Train a model…", self)
        self.train_button.setObjectName("modelTrain")
        self.train_button.clicked.connect(self._open_train)
        self.register_button = QPushButton("Register checkpoint…", self)
        self.register_button.setObjectName("modelRegister")
        self.register_button.setToolTip(
            "Add a GeoQuiz checkpoint, or a timm / torchvision / CLIP model trained elsewhere, to this project"
        )
        self.register_button.clicked.connect(self.register_dialog)
        self.delete_button = QPushButton("Remove model…", self)
        self.delete_button.setObjectName("modelDelete")
        self.delete_button.setToolTip("Remove the selected model from the project (its file is kept)")
        self.delete_button.clicked.connect(lambda: self.remove_model(confirm=True))
        self.register_worker: Worker | None = None
        self.save_all_button = QPushButton("Save all figures…", self)
        self.save_all_button.setObjectName("modelSaveAll")
        self.save_all_button.clicked.connect(self.save_all_dialog)
        self.status = QLabel(self)
        self.status.setObjectName("modelStatus")
        top = QHBoxLayout()
        top.addWidget(self.train_button)
        top.addWidget(self.register_button)
        top.addWidget(self.delete_button)
        top.addWidget(self.save_all_button)
        top.addWidget(self.status, 1)

        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.model_table = make_table(MODEL_COLUMNS, "modelTable", left)
        self.model_table.itemSelectionChanged.connect(self._model_selected)
        self.model_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeToContents)  # elided
        self.model_table.horizontalHeader().setStretchLastSection(True)
        self.details = QLabel(left)
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.evaluation = EvaluationPanel(lambda: self.ctx.root, left)
        self.evaluation.metricsLoaded.connect(self._show_evaluations)
        self.evaluation.message.connect(self._set_status)
        self.evaluation.controls.finished.connect(lambda _m: self.ctx.data_changed.emit("evaluations"))
        # the panel's widgets, by their old names
        self.eval_table = self.evaluation.table
        self.eval_dataset, self.eval_split = self.evaluation.dataset, self.evaluation.split
        self.eval_embedding = self.evaluation.embedding
        self.evaluate_button = self.evaluation.controls.run_button
        self.cancel_button = self.evaluation.controls.cancel_button
        self.eval_progress = self.evaluation.controls.progress
        ll.addWidget(QLabel("<b>Models</b>", left))
        ll.addWidget(self.model_table, 3)
        ll.addWidget(self.details)
        ll.addWidget(self.evaluation, 3)

        plots = QWidget(self)
        plots_layout = QVBoxLayout(plots)
        self.eval_summary = QLabel(plots)
        self.eval_summary.setObjectName("evaluationSummary")
        self.eval_summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.eval_summary.setWordWrap(True)
        plots_layout.addWidget(self.eval_summary)
        grid = ResponsiveGrid(plots, min_column_width=330)
        plots_layout.addWidget(grid, 1)
        self.panels: dict[str, PlotPanel] = {}
        for key, title, _ in [*TRAIN_FIGURES, *EVAL_FIGURES]:
            panel = PlotPanel(key, title, grid)
            self.panels[key] = panel
            grid.add(panel)
        scroll = QScrollArea(self)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidgetResizable(True)
        scroll.setWidget(plots)
        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([400, 880])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(TrainingBanner(ctx, self, "Its curves and evaluation appear here when it is ready."))
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

    # -- listing ------------------------------------------------------------------------------
    @property
    def current_model(self) -> ModelInfo | None:
        rows = self.model_table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.models.get(self.model_table.item(rows[0].row(), 0).data(Qt.UserRole))

    def select_model(self, name: str) -> None:
        for r in range(self.model_table.rowCount()):
            if self.model_table.item(r, 0).data(Qt.UserRole) == name:
                self.model_table.selectRow(r)
                return
        raise KeyError(f"no model {name!r} in the table")

    def refresh(self) -> None:
        """Re-read models and datasets (keeping the selected model if it still exists)."""
        project = self.ctx.project
        previous = self.current_model.name if self.current_model else None
        infos = list_models(project.db) if project is not None else []
        self.models = {m.name: m for m in infos}
        self._fill_datasets()
        self.model_table.blockSignals(True)
        self.model_table.setRowCount(0)
        for m in infos:
            r = self.model_table.rowCount()
            self.model_table.insertRow(r)
            classes = (
                ", ".join(m.classes)
                if len(m.classes) <= 4
                else f"{len(m.classes)}: {', '.join(m.classes[:3])}, …"
            )
            for c, value in enumerate(
                (m.name, m.arch, m.integration, classes, f"{m.input_size}px", m.dataset or "—")
            ):
                self.model_table.setItem(r, c, table_item(value, m.name if c == 0 else None))
            self.model_table.item(r, 3).setToolTip(", ".join(m.classes))
        self.model_table.blockSignals(False)
        self.train_button.setEnabled(project is not None)
        self.register_button.setEnabled(project is not None)
        self.delete_button.setEnabled(bool(infos))
        if project is None:
            self.status.setText("No project open.")
        elif not infos:
            self.status.setText(
                "No model yet: train one (“Train a model…”) or register a checkpoint (“Register checkpoint…”)."
            )
        else:
            self.status.setText(f"{len(infos)} model(s)")
        if infos:
            self.select_model(previous if previous in self.models else infos[0].name)
        self._model_selected()

    def _fill_datasets(self) -> None:
        from geoquiz.data.dataset import list_datasets

        project = self.ctx.project
        infos = list_datasets(project.db) if project is not None else []
        self.evaluation.set_datasets([(info.name, info.kind) for info in infos])

    def _data_changed(self, kind: str) -> None:
        if kind in ("models", "datasets"):
            self.refresh()
        elif kind == "evaluations":
            self.evaluation.reload_after_change()

    def _model_selected(self) -> None:
        info = self.current_model
        history = ((info.metadata.get("training") or {}).get("history") or []) if info else []
        for key, _title, draw in TRAIN_FIGURES:
            draw(self.panels[key].plot, history)
        self.details.setText(summary_html(info) if info is not None else "")
        self.evaluation.set_model(info)

    # -- evaluations --------------------------------------------------------------------------
    def _show_evaluations(self, result: dict) -> None:
        self.evaluations = result["evaluations"]
        self.metrics = result["metrics"]
        self._draw_metrics()

    def _draw_metrics(self) -> None:
        for key, _title, draw in EVAL_FIGURES:
            draw(self.panels[key].plot, self.metrics)
        if self.metrics:
            self.eval_summary.setText(
                f"<b>Evaluation {self.metrics.get('evaluation_id')}</b>: {metrics_summary(self.metrics)}"
            )
        elif self.current_model is not None:
            self.eval_summary.setText("This model has no stored evaluation yet: use “Evaluate” on the left.")
        else:
            self.eval_summary.setText("")

    @property
    def _evaluating(self) -> bool:
        return self.evaluation.busy

    def evaluate(self) -> Worker | None:
        """Evaluate the selected model on the chosen dataset / split in a worker."""
        return self.evaluation.evaluate()

    def cancel_evaluation(self) -> None:
        self.evaluation.cancel()

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    # -- export -------------------------------------------------------------------------------
    def save_all(self, folder: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
        """Save every figure to ``folder`` as ``<model>_<figure>.<format>``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        prefix = (self.current_model.name + "_") if self.current_model else ""
        return [
            panel.save(folder / f"{prefix}{key}.{fmt}")
            for key, panel in self.panels.items()
            for fmt in formats
        ]

    def save_all_dialog(self) -> None:
        start_dir = str(self.ctx.root / "exports") if self.ctx.project is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Save all figures to", start_dir)
        if folder:
            files = self.save_all(folder)
            self._set_status(f"Saved {len(files)} files to {folder}")

    # ------------------------------------------------------------- register / remove
    def register_checkpoint(self, path: str | Path, name: str, dataset: str | None) -> Worker:
        """Validate and register ``path`` as model ``name`` in a worker; errors are shown."""

        def done(registered: str) -> None:
            self.register_worker = None
            self.ctx.data_changed.emit("models")
            self.refresh()
            self.select_model(registered)
            self._set_status(f"Registered model {registered}.")

        def failed(message: str, _tb: str) -> None:
            self.register_worker = None
            self._set_status("The checkpoint was not registered.")
            show_error(self, "Cannot register the checkpoint", message)

        self._set_status(f"Checking {Path(path).name}…")
        settings = {"kind": "geoquiz", "path": str(path), "dataset": dataset}
        self.register_worker = start(
            register_job, str(self.ctx.root), name, settings, on_result=done, on_error=failed
        )
        return self.register_worker

    def register_dialog(self):
        """Open the register dialog (a GeoQuiz checkpoint, or a timm / torchvision / CLIP model)."""
        from ui.dialogs.register_dialog import RegisterDialog

        if self.ctx.project is None:
            return None
        dialog = RegisterDialog(self.ctx, self)
        dialog.registered.connect(self._registered)
        dialog.open()
        return dialog

    def _registered(self, name: str) -> None:
        self.refresh()
        self.select_model(name)
        self._set_status(f"Registered model {name}.")

    def remove_model(self, confirm: bool = True) -> None:
        """Remove the selected model from the project (its checkpoint file stays on disk)."""
        from geoquiz.models.store import delete_model

        info = self.current_model
        if info is None or self.ctx.project is None:
            return
        if confirm and not confirm_remove(self, info):
            return
        delete_model(self.ctx.project, info.name)
        self.ctx.data_changed.emit("models")
        self.refresh()
        self._set_status(f"Removed model {info.name}.")

    def _open_train(self) -> None:
        from ui.dialogs.train_dialog import open_train_dialog

        open_train_dialog(self.ctx, self.window())
