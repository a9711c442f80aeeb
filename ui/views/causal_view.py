"""The Causal tab: which planted cue does the model actually use, and do the explanations find it?

Left: the model, a GeoScenes dataset (only datasets the generator made: their scenes can be
re-rendered), the split and an image limit; **Compute** re-renders every image without each planted
cue object and each cue tag and stores the drop of the true-class probability per cue
(:func:`geoquiz.ground_truth.causal.run_causal`; resumable: only missing images are computed, and a
cancel keeps what was stored). Below, the attribution methods and a segmenter and **Score
explanations** (:func:`geoquiz.ground_truth.versus.versus_on_dataset`).

Right: "Cue importance" (per tag: mean drop with its 95 % CI, how often removing the tag flips the
top-1, the most important single object's drop) and "Explanations vs causal truth" (per method x
segmenter x measure: value with CI, random baseline, paired sign-flip p). Every computation runs in a worker
(:mod:`ui.workers`) on its own project connection.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTabWidget,
    QWidget,
)

from geoquiz.attribution import REGISTRY as METHOD_REGISTRY
from geoquiz.ground_truth.versus import MEASURE_LABELS
from geoquiz.segmentation import SEGMENTERS
from geoquiz.types import CUE_TAG_LABELS
from ui.context import AppContext
from ui.views.faithfulness_form import check_list, checked_keys, display_name, fill_combo
from ui.widgets.job_controls import JobControls
from ui.widgets.result_table import fill_table
from ui.widgets.split_view import controls_beside_results
from ui.workers import Latest, project_job, show_error

SPLIT_CHOICES = ("test", "val", "train", "all")
TAG_COLUMNS = (
    ("tag", "Cue tag"),
    ("n", "Images"),
    ("drop", "Mean drop"),
    ("lo", "CI low"),
    ("hi", "CI high"),
    ("flip_rate", "Flips top-1"),
    ("object_drop", "Best object drop"),
)
SCORE_COLUMNS = (
    ("method", "Method"),
    ("segmenter", "Segmenter"),
    ("measure", "Measure"),
    ("n", "Images"),
    ("value", "Value"),
    ("lo", "CI low"),
    ("hi", "CI high"),
    ("random", "Random"),
    ("diff", "Diff."),
    ("p_value", "p (paired)"),
)


def _split(text: str) -> str | None:
    return None if text == "all" else text


# ------------------------------------------------------------------ jobs (run in worker threads)


@project_job
def causal_run_job(project, model: str, dataset: str, split: str, limit: int | None, reporter=None) -> dict:
    """Compute (and store) the missing counterfactuals, then summarise the stored ones per tag."""
    from geoquiz.ground_truth.causal import run_causal, stored_units, tag_summary

    summary = run_causal(project, model, dataset, _split(split), limit=limit, reporter=reporter)
    units = stored_units(project, model, dataset, _split(split))
    return {"summary": summary.as_dict(), "tags": tag_summary(units), "n_units": len(units)}


@project_job
def causal_show_job(project, model: str, dataset: str, split: str, reporter=None) -> dict:
    from geoquiz.ground_truth.causal import stored_units, tag_summary

    units = stored_units(project, model, dataset, _split(split))
    return {"summary": None, "tags": tag_summary(units), "n_units": len(units)}


@project_job
def causal_score_job(
    project, model: str, dataset: str, split: str, methods, segmenters, limit: int | None, reporter=None
) -> dict:
    from geoquiz.ground_truth.versus import versus_on_dataset

    result = versus_on_dataset(
        project, model, dataset, _split(split), methods, segmenters, limit=limit, reporter=reporter
    )
    return {
        "rows": result.summary(),
        "n": len(result.records),
        "images": len({r.key for r in result.records}),
        "wrong": len(result.wrong),
        "missing": len(result.missing),
    }


# ------------------------------------------------------------------ the view


def _cell(value) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def _label(key: str, value) -> str:
    """Cue tags, methods and segmenters by their display names (ids stay in the data)."""
    if key == "tag":
        return CUE_TAG_LABELS.get(value, value)
    if key in ("method", "segmenter"):
        return display_name(key, value)
    if key == "measure":
        return MEASURE_LABELS.get(value, value)
    return _cell(value)


class CausalView(QWidget):
    """Compute counterfactual cue importance and score explanations against it (module docstring)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("causalView")
        self.ctx = ctx
        self.show_job = Latest()
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("causalModel")
        self.dataset_box = QComboBox(self)
        self.dataset_box.setObjectName("causalDataset")
        self.split_box = QComboBox(self)
        self.split_box.setObjectName("causalSplit")
        self.split_box.addItems(list(SPLIT_CHOICES))
        self.limit_spin = QSpinBox(self)
        self.limit_spin.setObjectName("causalLimit")
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setToolTip("At most this many images, balanced over the classes")
        target = QGroupBox("Causal ground truth", self)
        form = QFormLayout(target)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_box)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Split", self.split_box)
        form.addRow("Max images", self.limit_spin)
        self.run_controls = JobControls(
            "Compute",
            self,
            names=("causalRun", "causalCancel", "causalProgress", "causalStatus"),
            error_title="Causal ground truth failed",
        )
        self.run_controls.finished.connect(self._shown)
        self.run_controls.cancelled.connect(
            lambda: self.run_controls.set_status("Cancelled; the images computed so far are kept.")
        )
        self.run_controls.run_button.clicked.connect(self.start_run)
        form.addRow(self.run_controls)

        methods = [(name, info.label) for name, info in METHOD_REGISTRY.items()]
        self.methods_list = check_list(methods, ("gradcampp",), self, "causalMethods")
        self.segmenter_box = QComboBox(self)
        self.segmenter_box.setObjectName("causalSegmenter")
        fill_combo(self.segmenter_box, [(name, info.display_name) for name, info in SEGMENTERS.items()])
        score_box = QGroupBox("Explanations vs causal truth", self)
        score_form = QFormLayout(score_box)
        score_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        score_form.addRow("Methods", self.methods_list)
        score_form.addRow("Segmenter", self.segmenter_box)
        self.score_controls = JobControls(
            "Score explanations",
            self,
            names=("causalScore", "causalScoreCancel", "causalScoreProgress", "causalScoreStatus"),
            error_title="Scoring failed",
        )
        self.score_controls.finished.connect(self._scored)
        self.score_controls.run_button.clicked.connect(self.start_score)
        score_form.addRow(self.score_controls)

        self.summary_label = QLabel(
            "Compute the causal ground truth of a model on a GeoScenes dataset.", self
        )
        self.summary_label.setObjectName("causalSummary")
        self.summary_label.setWordWrap(True)
        self.tag_table = self._table("causalTagTable")
        self.score_table = self._table("causalScoreTable")
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("causalTabs")
        self.tabs.addTab(self.tag_table, "Cue importance")
        self.tabs.addTab(self.score_table, "Explanations vs causal truth")
        controls_beside_results(
            self, [target, score_box], [self.summary_label, self.tabs], min_controls_width=300
        )

        for box in (self.model_box, self.dataset_box, self.split_box):
            box.currentIndexChanged.connect(self._selection_changed)
        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(lambda kind: self.refresh() if kind in ("models", "datasets") else None)
        self.refresh()

    def _table(self, name: str) -> QTableWidget:
        table = QTableWidget(self)
        table.setObjectName(name)
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        return table

    # ------------------------------------------------------------- listing
    def refresh(self) -> None:
        """Models and GeoScenes datasets from the project (cheap SQL on the GUI connection)."""
        project = self.ctx.project
        runnable = project is not None
        if project is not None:
            from geoquiz.data.dataset import list_datasets
            from geoquiz.models.store import list_models

            fill_combo(self.model_box, [(m.name, m.name) for m in list_models(project.db)])
            scenes = [d.name for d in list_datasets(project.db) if d.params.get("generator") == "geoscenes"]
            fill_combo(self.dataset_box, [(n, n) for n in scenes])
            runnable = self.model_box.currentData() is not None and self.dataset_box.currentData() is not None
            if self.dataset_box.currentData() is None:
                self.summary_label.setText(
                    "No GeoScenes dataset in this project: causal ground truth re-renders GeoScenes images "
                    "(geoquiz groundtruth scenes, or the demo project)."
                )
        self.run_controls.set_runnable(runnable)
        self.score_controls.set_runnable(runnable)
        self._selection_changed()

    def _choice(self) -> tuple[str, str, str]:
        return self.model_box.currentData(), self.dataset_box.currentData(), self.split_box.currentText()

    def _selection_changed(self) -> None:
        """Show what is stored for the current choice (a quick query in a worker)."""
        model, dataset, split = self._choice()
        if self.ctx.project is None or model is None or dataset is None or self.run_controls.busy:
            return
        self.show_job.start(
            causal_show_job,
            self.ctx.root,
            model,
            dataset,
            split,
            on_result=self._shown,
            on_error=lambda message, _tb: show_error(self.window(), "Causal ground truth", message),
        )

    # ------------------------------------------------------------- running
    def start_run(self) -> None:
        model, dataset, split = self._choice()
        if model is None or dataset is None:
            return
        limit = self.limit_spin.value() or None
        self.show_job.cancel()
        self.run_controls.start(causal_run_job, self.ctx.root, model, dataset, split, limit)

    def start_score(self) -> None:
        model, dataset, split = self._choice()
        methods = checked_keys(self.methods_list)
        if model is None or dataset is None or not methods:
            self.score_controls.set_status("Tick at least one attribution method.")
            return
        segmenters = [self.segmenter_box.currentData()]
        limit = self.limit_spin.value() or None
        self.score_controls.start(
            causal_score_job, self.ctx.root, model, dataset, split, methods, segmenters, limit
        )

    def _shown(self, result: dict) -> None:
        fill_table(self.tag_table, result["tags"], TAG_COLUMNS, shown=_label)
        text = f"{result['n_units']} images with causal ground truth stored for this model and split."
        if result["summary"] is not None:
            s = result["summary"]
            text += f" This run: {s['done']} computed, {s['skipped']} already stored, {s['failed']} failed."
            for f in s["failures"][:3]:
                text += f"\n{f['key']}: {f['error']}"
        self.summary_label.setText(text)
        if not self.run_controls.busy:
            self.run_controls.set_status(
                f"{result['n_units']} images stored; Compute adds any missing ones."
                if result["n_units"]
                else "Nothing stored yet: press Compute."
            )
        self.tabs.setCurrentWidget(self.tag_table)

    def _scored(self, result: dict) -> None:
        fill_table(self.score_table, result["rows"], SCORE_COLUMNS, shown=_label)
        self.summary_label.setText(
            f"{result['images']} correctly classified images scored ({result['n']} explanations); "
            f"{result['wrong']} misclassified images left out, "
            f"{result['missing']} without causal ground truth."
        )
        self.tabs.setCurrentWidget(self.score_table)
