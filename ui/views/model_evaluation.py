"""The Model tab's evaluation panel: the selected model's stored evaluations, and "Evaluate" (dataset,
split, 2-D embedding) running :func:`geoquiz.models.evaluation.evaluate_model` in a worker with
progress and cancel.

Signals: ``metricsLoaded(dict)`` with ``{"model", "evaluations", "metrics"}`` whenever the shown
evaluation changes (only the latest request counts), ``message(str)`` for the tab's status line.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from geoquiz.models.store import ModelInfo
from ui.plots.model_plots import metrics_summary
from ui.widgets.job_controls import JobControls
from ui.workers import Latest, Worker, project_job

EVAL_COLUMNS = ("#", "Dataset", "Split", "n", "Top-1", "Top-5", "Created")
EVAL_SPLITS = (("test", "test"), ("val", "val"), ("train", "train"), ("all", "all splits"))
EMBEDDINGS = (("pca", "PCA"), ("tsne", "t-SNE"))


@project_job
def load_evaluations_job(project, model: str, evaluation_id: int | None, *, reporter=None) -> dict:
    """Worker job: the model's stored evaluations and the metrics of one (the newest by default)."""
    from geoquiz.models.evaluation import list_evaluations, load_evaluation

    evaluations = list_evaluations(project.db, model)
    metrics = None
    if evaluations:
        metrics = load_evaluation(project.db, model, evaluation_id=evaluation_id) if evaluation_id else None
        metrics = metrics or load_evaluation(project.db, model)
    return {"model": model, "evaluations": evaluations, "metrics": metrics}


@project_job
def evaluate_job(project, model: str, dataset: str, split: str, embedding: str, *, reporter=None) -> dict:
    """Worker job: evaluate ``model`` on ``dataset``/``split`` and store the result; its metrics."""
    from geoquiz.models.evaluation import evaluate_model

    return evaluate_model(project, model, dataset, split, reporter=reporter, embedding=embedding)


def table_item(value: Any, data: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem("" if value is None else str(value))
    item.setFlags(Qt.ItemIsSelectable | Qt.ItemIsEnabled)
    if data is not None:
        item.setData(Qt.UserRole, data)
    return item


def make_table(columns: tuple[str, ...], name: str, parent: QWidget) -> QTableWidget:
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


class EvaluationPanel(QWidget):
    """See the module docstring. ``root()`` gives the project folder for the workers."""

    metricsLoaded = Signal(dict)
    message = Signal(str)

    def __init__(self, root_of: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._root_of = root_of
        self.model: ModelInfo | None = None
        self.loader = Latest()
        self._want_evaluation: int | None = None

        self.table = make_table(EVAL_COLUMNS, "evaluationTable", self)
        self.table.itemSelectionChanged.connect(self._selected)
        box = QGroupBox("Evaluate the selected model", self)
        form = QFormLayout(box)
        self.dataset = QComboBox(box)
        self.dataset.setObjectName("evalDataset")
        self.split = QComboBox(box)
        self.split.setObjectName("evalSplit")
        for key, text in EVAL_SPLITS:
            self.split.addItem(text, key)
        self.embedding = QComboBox(box)
        self.embedding.setObjectName("evalEmbedding")
        for key, text in EMBEDDINGS:
            self.embedding.addItem(text, key)
        self.controls = JobControls(
            "Evaluate",
            box,
            names=("evalStart", "evalCancel", "evalProgress", "evalStatus"),
            show_errors=False,
            status_below=False,
        )
        self.controls.run_button.clicked.connect(self.evaluate)
        self.controls.statusChanged.connect(self.message)
        self.controls.finished.connect(self._evaluated)
        self.controls.failed.connect(
            lambda m, _tb: self.message.emit(
                f"<span style='color:#b00020'><b>Evaluation failed:</b> {html.escape(m)}</span>"
            )
        )
        self.controls.cancelled.connect(
            lambda: self.message.emit("Evaluation cancelled; nothing was stored.")
        )
        row = QHBoxLayout()
        row.addWidget(self.split, 1)
        row.addWidget(QLabel("2-D map", box))
        row.addWidget(self.embedding, 1)
        form.addRow("Dataset", self.dataset)
        form.addRow("Split", row)
        form.addRow(self.controls)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Evaluations</b> of the selected model", self))
        layout.addWidget(self.table, 1)
        layout.addWidget(box)

    @property
    def busy(self) -> bool:
        return self.controls.busy

    def set_datasets(self, names_and_kinds: list[tuple[str, str]]) -> None:
        previous = self.dataset.currentData()
        self.dataset.clear()
        for name, kind in names_and_kinds:
            self.dataset.addItem(f"{name}  ({kind})", name)
        self.dataset.setCurrentIndex(max(0, self.dataset.findData(previous)))

    def set_model(self, info: ModelInfo | None) -> None:
        """Show ``info``'s evaluations (the newest selected); None clears the panel."""
        self.model = info
        self.controls.set_runnable(info is not None)
        if info is None:
            self.loader.cancel()
            self.show_result({"model": None, "evaluations": [], "metrics": None})
            return
        if info.dataset:
            self.dataset.setCurrentIndex(max(0, self.dataset.findData(info.dataset)))
        self.load(None)

    def load(self, evaluation_id: int | None) -> None:
        """Read the model's evaluations (and the metrics of ``evaluation_id``, default the newest)."""
        if self.model is None:
            return
        self.loader.start(
            load_evaluations_job,
            str(self._root_of()),
            self.model.name,
            evaluation_id,
            on_result=self.show_result,
            on_error=lambda msg, _tb: self.message.emit(f"Cannot read the evaluations: {html.escape(msg)}"),
        )

    def reload_after_change(self) -> None:
        """The project's evaluations changed: reload, showing the one just computed if it is ours."""
        wanted, self._want_evaluation = self._want_evaluation, None
        self.load(wanted)

    def show_result(self, result: dict) -> None:
        metrics = result["metrics"]
        current = metrics.get("evaluation_id") if metrics else None
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for e in result["evaluations"]:
            r = self.table.rowCount()
            self.table.insertRow(r)
            pct = [None if e[k] is None else f"{e[k]:.1%}" for k in ("top1", "top5")]
            for c, value in enumerate(
                (e["id"], e["dataset"], e["split"], e["n"], *pct, (e["created_at"] or "")[:16])
            ):
                self.table.setItem(r, c, table_item(value, e["id"] if c == 0 else None))
            if e["id"] == current:
                self.table.selectRow(r)
        self.table.blockSignals(False)
        # top-5 is 100 % by construction with 5 classes or fewer: no column for it then
        self.table.setColumnHidden(
            EVAL_COLUMNS.index("Top-5"), self.model is None or len(self.model.classes) <= 5
        )
        self.metricsLoaded.emit(result)

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.load(self.table.item(rows[0].row(), 0).data(Qt.UserRole))

    # -- evaluating ---------------------------------------------------------------------------
    def evaluate(self) -> Worker | None:
        """Evaluate the selected model on the chosen dataset / split in a worker."""
        info, dataset = self.model, self.dataset.currentData()
        if self.busy:
            return None
        if info is None or dataset is None:
            self.message.emit("Choose a model and a dataset first.")
            return None
        split, embedding = self.split.currentData(), self.embedding.currentData()
        self.message.emit(f"Evaluating {info.name} on {dataset}/{split}…")
        return self.controls.start(evaluate_job, str(self._root_of()), info.name, dataset, split, embedding)

    def cancel(self) -> None:
        if self.busy:
            self.controls.cancel()
            self.message.emit("Cancelling the evaluation…")

    def _evaluated(self, metrics: dict) -> None:
        self.message.emit(f"Evaluated {metrics['model']}: {metrics_summary(metrics)}")
        same = self.model is not None and self.model.name == metrics["model"]
        self._want_evaluation = metrics.get("evaluation_id") if same else None
