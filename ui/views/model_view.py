"""The Model tab: the project's classifiers, their training curves, evaluations and evaluation plots.

Left: the registered models (name, architecture, integration, classes, input size, dataset), the
selected model's training summary, its stored evaluations, and "Evaluate" (dataset, split, 2-D
embedding) which runs :func:`geoquiz.models.evaluation.evaluate_model` in a worker with progress
and cancel. Right: the training curves from the checkpoint's metadata
(``ModelInfo.metadata["training"]["history"]``) and the selected evaluation's figures (top-1/top-5
and per-class accuracy, ROC per class with AUC, confusion matrix, confidence right vs wrong, PCA or
t-SNE of penultimate features), each exportable as PNG / SVG (:mod:`ui.plots.model_plots`).

Models are listed with a few cheap queries on the GUI thread's connection; evaluations (whose
metrics can be large) are read in a worker. Refreshes on ``ctx.project_changed`` and
``ctx.data_changed("models" | "evaluations" | "datasets")``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from geoquiz.models.store import ModelInfo, list_models
from ui.context import AppContext
from ui.plots.dashboard_plots import PlotPanel
from ui.plots.model_plots import EVAL_FIGURES, TRAIN_FIGURES, metrics_summary
from ui.widgets.training_banner import TrainingBanner
from ui.workers import Worker, show_error, start

MODEL_COLUMNS = ("Name", "Arch", "Integration", "Classes", "Input", "Dataset")
EVAL_COLUMNS = ("#", "Dataset", "Split", "n", "Top-1", "Top-5", "Created")
EVAL_SPLITS = (("test", "test"), ("val", "val"), ("train", "train"), ("all", "all splits"))
EMBEDDINGS = (("pca", "PCA"), ("tsne", "t-SNE"))
STOP_REASONS = {"epochs": "all epochs", "early_stopping": "early stopping", "time": "time budget"}


def load_evaluations_job(root: str, model: str, evaluation_id: int | None, *, reporter=None) -> dict:
    """Worker job: the model's stored evaluations and the metrics of one (the newest by default)."""
    from geoquiz.models.evaluation import list_evaluations, load_evaluation
    from geoquiz.project import Project

    with Project.open(root) as project:
        evaluations = list_evaluations(project.db, model)
        metrics = None
        if evaluations:
            metrics = (
                load_evaluation(project.db, model, evaluation_id=evaluation_id) if evaluation_id else None
            )
            metrics = metrics or load_evaluation(project.db, model)
    return {"model": model, "evaluations": evaluations, "metrics": metrics}


def evaluate_job(root: str, model: str, dataset: str, split: str, embedding: str, *, reporter=None) -> dict:
    """Worker job: evaluate ``model`` on ``dataset``/``split`` and store the result; its metrics."""
    from geoquiz.models.evaluation import evaluate_model
    from geoquiz.project import Project

    with Project.open(root) as project:
        return evaluate_model(project, model, dataset, split, reporter=reporter, embedding=embedding)


def register_job(root: str, name: str, path: str, dataset: str | None, *, reporter=None) -> str:
    """Worker job: validate a checkpoint file (classes checked against ``dataset``) and register it."""
    from geoquiz.models.store import register_model
    from geoquiz.project import Project

    with Project.open(root) as project:
        register_model(project, name, path, dataset=dataset)
    return name


def _item(value: Any, data: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem("" if value is None else str(value))
    item.setFlags(Qt.ItemIsSelectable | Qt.ItemIsEnabled)
    if data is not None:
        item.setData(Qt.UserRole, data)
    return item


def _table(columns: tuple[str, ...], name: str, parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeToContents)
    header.setStretchLastSection(True)
    header.setMinimumSectionSize(28)
    return table


def training_summary(info: ModelInfo) -> str:
    """A few lines on how the model was trained (from its checkpoint metadata), as HTML."""
    tr = info.metadata.get("training") or {}
    cfg = tr.get("config") or {}
    lines = [
        f"<b>{html.escape(info.name)}</b> · {info.arch}, {info.integration}, {info.input_size}px · created {info.created_at[:16]}"
    ]
    if not tr:
        return lines[0] + "<br><span style='color:#666'>No training record (an imported checkpoint).</span>"
    best = tr.get("best_epoch")
    history = tr.get("history") or []
    best_row = next((h for h in history if h.get("epoch") == best), None)
    stop = STOP_REASONS.get(tr.get("stop_reason"), tr.get("stop_reason") or "run not finished")
    scores = f": val loss {best_row['val_loss']:.4f}, val acc {best_row['val_acc']:.1%}" if best_row else ""
    lines.append(f"best epoch {best} of {len(history)}{scores} ({stop})")
    lines.append(
        f"trained on {html.escape(str(tr.get('dataset', '?')))}: {tr.get('n_train', '?')} train, {tr.get('n_val', '?')} val "
        f"({tr.get('val_source', cfg.get('val_split', '?'))})"
    )
    if cfg:
        lines.append(
            f"<span style='color:#666'>init {html.escape(str(cfg.get('init')))}, lr {cfg.get('lr')}, wd {cfg.get('weight_decay')}, "
            f"batch {cfg.get('batch_size')}, smoothing {cfg.get('label_smoothing')}, "
            f"norm {cfg.get('normalization')}, schedule {cfg.get('scheduler')}, seed {cfg.get('seed')}</span>"
        )
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
        self.eval_worker: Worker | None = None
        self.load_worker: Worker | None = None
        self._request = 0
        self._eval_running = False
        self._want_evaluation: int | None = None

        self.train_button = QPushButton("Train a model…", self)
        self.train_button.setObjectName("modelTrain")
        self.train_button.clicked.connect(self._open_train)
        self.register_button = QPushButton("Register checkpoint…", self)
        self.register_button.setObjectName("modelRegister")
        self.register_button.setToolTip("Add a GeoQuiz checkpoint file (.pt) to this project")
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
        self.model_table = _table(MODEL_COLUMNS, "modelTable", left)
        self.model_table.itemSelectionChanged.connect(self._model_selected)
        self.model_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.Stretch)  # classes: elided
        self.model_table.horizontalHeader().setStretchLastSection(False)
        self.details = QLabel(left)
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.eval_table = _table(EVAL_COLUMNS, "evaluationTable", left)
        self.eval_table.itemSelectionChanged.connect(self._evaluation_selected)
        ll.addWidget(QLabel("<b>Models</b>", left))
        ll.addWidget(self.model_table, 3)
        ll.addWidget(self.details)
        ll.addWidget(QLabel("<b>Evaluations</b> of the selected model", left))
        ll.addWidget(self.eval_table, 2)
        ll.addWidget(self._evaluate_box(left))

        plots = QWidget(self)
        grid = QGridLayout(plots)
        self.eval_summary = QLabel(plots)
        self.eval_summary.setObjectName("evaluationSummary")
        self.eval_summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        grid.addWidget(self.eval_summary, 0, 0, 1, 2)
        self.panels: dict[str, PlotPanel] = {}
        for i, (key, title, _) in enumerate([*TRAIN_FIGURES, *EVAL_FIGURES]):
            panel = PlotPanel(key, title, plots)
            self.panels[key] = panel
            grid.addWidget(panel, 1 + i // 2, i % 2)
        scroll = QScrollArea(self)
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

    def _evaluate_box(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Evaluate the selected model", parent)
        form = QFormLayout(box)
        self.eval_dataset = QComboBox(box)
        self.eval_dataset.setObjectName("evalDataset")
        self.eval_split = QComboBox(box)
        self.eval_split.setObjectName("evalSplit")
        for key, text in EVAL_SPLITS:
            self.eval_split.addItem(text, key)
        self.eval_embedding = QComboBox(box)
        self.eval_embedding.setObjectName("evalEmbedding")
        for key, text in EMBEDDINGS:
            self.eval_embedding.addItem(text, key)
        self.evaluate_button = QPushButton("Evaluate", box)
        self.evaluate_button.setObjectName("evalStart")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button = QPushButton("Cancel", box)
        self.cancel_button.setObjectName("evalCancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_evaluation)
        self.eval_progress = QProgressBar(box)
        self.eval_progress.setObjectName("evalProgress")
        self.eval_progress.setRange(0, 1)
        self.eval_progress.setValue(0)
        self.eval_progress.setFormat("")  # no "0%" while idle
        row = QHBoxLayout()
        row.addWidget(self.eval_split, 1)
        row.addWidget(QLabel("2-D map", box))
        row.addWidget(self.eval_embedding, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.eval_progress, 1)
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.cancel_button)
        form.addRow("Dataset", self.eval_dataset)
        form.addRow("Split", row)
        form.addRow(buttons)
        return box

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
                self.model_table.setItem(r, c, _item(value, m.name if c == 0 else None))
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

        previous = self.eval_dataset.currentData()
        project = self.ctx.project
        self.eval_dataset.clear()
        for info in list_datasets(project.db) if project is not None else []:
            self.eval_dataset.addItem(f"{info.name}  ({info.kind})", info.name)
        self.eval_dataset.setCurrentIndex(max(0, self.eval_dataset.findData(previous)))

    def _data_changed(self, kind: str) -> None:
        if kind in ("models", "datasets"):
            self.refresh()
        elif kind == "evaluations":
            wanted, self._want_evaluation = self._want_evaluation, None
            self._load_evaluations(wanted)

    def _model_selected(self) -> None:
        info = self.current_model
        self.evaluate_button.setEnabled(info is not None and not self._evaluating)
        history = ((info.metadata.get("training") or {}).get("history") or []) if info else []
        for key, _title, draw in TRAIN_FIGURES:
            draw(self.panels[key].plot, history)
        if info is None:
            self.details.setText("")
            self._show_evaluations({"model": None, "evaluations": [], "metrics": None})
            return
        self.details.setText(training_summary(info))
        if info.dataset:
            self.eval_dataset.setCurrentIndex(max(0, self.eval_dataset.findData(info.dataset)))
        self._load_evaluations(None)

    # -- evaluations --------------------------------------------------------------------------
    def _load_evaluations(self, evaluation_id: int | None) -> None:
        info = self.current_model
        if info is None or self.ctx.project is None:
            return
        self._request += 1
        req = self._request
        self.load_worker = start(
            load_evaluations_job,
            str(self.ctx.root),
            info.name,
            evaluation_id,
            on_result=lambda res: self._show_evaluations(res) if req == self._request else None,
            on_error=lambda msg, _tb: self._set_status(f"Cannot read the evaluations: {html.escape(msg)}"),
        )

    def _show_evaluations(self, result: dict) -> None:
        self.evaluations = result["evaluations"]
        self.metrics = result["metrics"]
        current = self.metrics.get("evaluation_id") if self.metrics else None
        self.eval_table.blockSignals(True)
        self.eval_table.setRowCount(0)
        for e in self.evaluations:
            r = self.eval_table.rowCount()
            self.eval_table.insertRow(r)
            pct = [None if e[k] is None else f"{e[k]:.1%}" for k in ("top1", "top5")]
            for c, value in enumerate(
                (e["id"], e["dataset"], e["split"], e["n"], *pct, (e["created_at"] or "")[:16])
            ):
                self.eval_table.setItem(r, c, _item(value, e["id"] if c == 0 else None))
            if e["id"] == current:
                self.eval_table.selectRow(r)
        self.eval_table.blockSignals(False)
        self._draw_metrics()

    def _evaluation_selected(self) -> None:
        rows = self.eval_table.selectionModel().selectedRows()
        if rows:
            self._load_evaluations(self.eval_table.item(rows[0].row(), 0).data(Qt.UserRole))

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
        return self._eval_running

    def evaluate(self) -> Worker | None:
        """Evaluate the selected model on the chosen dataset / split in a worker."""
        info, dataset = self.current_model, self.eval_dataset.currentData()
        if info is None or dataset is None or self.ctx.project is None or self._evaluating:
            self._set_status(
                "Choose a model and a dataset first." if not self._evaluating else self.status.text()
            )
            return None
        split, embedding = self.eval_split.currentData(), self.eval_embedding.currentData()
        self._eval_running = True
        self.evaluate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.eval_progress.setFormat("%p%")
        self.eval_progress.setRange(0, 0)
        self._set_status(f"Evaluating {info.name} on {dataset}/{split}…")
        self.eval_worker = start(
            evaluate_job,
            str(self.ctx.root),
            info.name,
            dataset,
            split,
            embedding,
            on_result=self._evaluated,
            on_error=self._evaluation_failed,
            on_progress=self._eval_progress,
            on_cancelled=self._evaluation_cancelled,
        )
        return self.eval_worker

    def cancel_evaluation(self) -> None:
        if self.eval_worker is not None:
            self.eval_worker.cancel()
            self._set_status("Cancelling the evaluation…")

    def _eval_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.eval_progress.setRange(0, total)
            self.eval_progress.setValue(min(done, total))
        if message:
            self._set_status(message)

    def _eval_ended(self) -> None:
        self._eval_running = False
        self.cancel_button.setEnabled(False)
        self.evaluate_button.setEnabled(self.current_model is not None)
        self.eval_progress.setRange(0, 1)
        self.eval_progress.setValue(0)
        self.eval_progress.setFormat("")

    def _evaluated(self, metrics: dict) -> None:
        self._eval_ended()
        self._set_status(f"Evaluated {metrics['model']}: {metrics_summary(metrics)}")
        self._want_evaluation = metrics.get("evaluation_id")
        if self.current_model is not None and self.current_model.name != metrics["model"]:
            self._want_evaluation = None
        self.ctx.data_changed.emit("evaluations")

    def _evaluation_failed(self, message: str, _tb: str) -> None:
        self._eval_ended()
        self._set_status(
            f"<span style='color:#b00020'><b>Evaluation failed:</b> {html.escape(message)}</span>"
        )

    def _evaluation_cancelled(self) -> None:
        self._eval_ended()
        self._set_status("Evaluation cancelled; nothing was stored.")

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
        self.register_worker = start(
            register_job, str(self.ctx.root), name, str(path), dataset, on_result=done, on_error=failed
        )
        return self.register_worker

    def register_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog, QInputDialog

        if self.ctx.project is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "GeoQuiz checkpoint", str(self.ctx.root), "Checkpoints (*.pt *.pth);;All files (*)"
        )
        if not path:
            return
        name, ok = QInputDialog.getText(self, "Register checkpoint", "Model name:", text=Path(path).stem)
        if not ok or not name.strip():
            return
        box = self.eval_dataset
        datasets = [
            "(do not check classes)",
            *[box.itemData(i) or box.itemText(i) for i in range(box.count())],
        ]
        dataset, ok = QInputDialog.getItem(
            self,
            "Register checkpoint",
            "Check its classes against dataset:",
            datasets,
            1 if len(datasets) > 1 else 0,
            False,
        )
        if ok:
            self.register_checkpoint(path, name.strip(), None if dataset == datasets[0] else dataset)

    def remove_model(self, confirm: bool = True) -> None:
        """Remove the selected model from the project (its checkpoint file stays on disk)."""
        from PySide6.QtWidgets import QMessageBox

        from geoquiz.models.store import delete_model

        info = self.current_model
        if info is None or self.ctx.project is None:
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                "Remove model",
                f"Remove model “{info.name}” from the project?\n\nIts stored predictions, evaluations and cached "
                f"explanations are removed too; the checkpoint file {info.path} is kept.",
            )
            if answer != QMessageBox.Yes:
                return
        delete_model(self.ctx.project, info.name)
        self.ctx.data_changed.emit("models")
        self.refresh()
        self._set_status(f"Removed model {info.name}.")

    def _open_train(self) -> None:
        from ui.dialogs.train_dialog import open_train_dialog

        open_train_dialog(self.ctx, self.window())
