"""The Explain tab: pick a model, an image (or 4-view location), a method and a segmenter; see the
attribution heatmap, the segment outlines and the ranked element boxes with their scores, all over
the ORIGINAL image at its own resolution (computed at the model's input size, then mapped by
:class:`geoquiz.explain.frames.ImageFrame`).

Everything is computed by :func:`compute_explanation` in a worker (ui.workers): it opens its own
project connection and calls :class:`geoquiz.explain.Explainer`, so results are cached and the
window never freezes. A new request cancels the running one; Cancel stops it at its next step
(Score-CAM checks between batches). 4-view locations show one canvas per view (VIEWS order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from geoquiz.progress import step
from geoquiz.types import VIEWS, Element
from ui.widgets.image_canvas import BoxOverlay, ImageCanvas, mask_outline
from ui.widgets.review_canvas import element_label, element_name
from ui.widgets.training_banner import TrainingBanner
from ui.workers import Latest

METHOD_LABELS = {
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "smoothgrad": "SmoothGrad",
    "ig": "Integrated Gradients",
}
RANK_COLOURS = ("#ffd400", "#ff8c00", "#ff4fa0", "#b07cff", "#4fc3ff", "#7dff7a")


@dataclass
class ExplanationResult:
    """What the worker hands back, per view at the ORIGINAL image's resolution (``H x W``, not the
    model's ``S x S`` input): the image (RGB uint8 ``H x W x 3``), the heatmap upsampled to it
    (float32 ``H x W``), the segments' outlines (bool ``H x W``: the union of each mask's outline,
    masks mapped first) and the ranked elements with their boxes in image pixels (all mapped by
    :class:`geoquiz.explain.frames.ImageFrame`). ``segments``: the masks as computed, bool
    ``S x S`` (small; hundreds per view with SAM). ``model_size``: ``S``."""

    views: list[str | None]
    images: list[np.ndarray]
    heatmaps: list[np.ndarray]
    segments: list[list[np.ndarray]]
    outlines: list[np.ndarray | None]
    elements: list[tuple[Element, int]]
    prediction: list[tuple[str, float]]
    target: str
    stats: dict = field(default_factory=dict)
    model_size: int = 0


def compute_explanation(
    root: Path,
    model: str,
    kind: str,
    sample_id: int,
    method: str,
    segmenter: str,
    target: str | None,
    *,
    reporter=None,
) -> ExplanationResult:
    """Worker job (no Qt): explain one image (``kind='item'``) or location (``kind='location'``).

    Computed at the model's input size, then mapped to each view's original image (here, off the
    GUI thread): maps, segment masks and element boxes, see :class:`ExplanationResult`."""
    from geoquiz.data.dataset import get_item, get_location
    from geoquiz.data.imageio import read_image
    from geoquiz.explain import Explainer, ImageFrame
    from geoquiz.project import Project

    with Project.open(root) as project:
        sample = (
            get_location(project.db, sample_id) if kind == "location" else get_item(project.db, sample_id)
        )
        step(reporter, 0, 4, "loading the model")
        ex = Explainer(project, model)
        ex.check_segmenters([segmenter])  # a bad SAM checkpoint fails here, before the maps
        prediction = ex.predict(sample)
        step(reporter, 1, 4, f"attribution ({METHOD_LABELS.get(method, method)})")
        maps = ex.heatmaps(sample, method, target, reporter=reporter)
        step(reporter, 2, 4, f"segmenting ({segmenter})")
        segs = ex.segments(sample, segmenter, method=method, target=target, reporter=reporter)
        step(reporter, 3, 4, "elements")
        records = ex.element_records(sample, method, segmenter, target=target, reporter=reporter)
        size = ex.loaded_model.spec.input_size
        images = [read_image(it.path) for it in ex.sample_items(sample)]
        frames = [ImageFrame.of(size, image) for image in images]
        by_view = {h.view: frame for h, frame in zip(maps, frames)}
        step(reporter, 4, 4, "done")
        return ExplanationResult(
            views=[h.view for h in maps],
            images=images,
            heatmaps=[frame.heatmap(h).values for h, frame in zip(maps, frames)],
            segments=[[s.mask for s in view] for view in segs],
            outlines=[segment_outlines([s.mask for s in view], frame) for view, frame in zip(segs, frames)],
            elements=[(by_view[e.view].element(e), seg) for e, seg in records],
            prediction=prediction.topk(3),
            target=maps[0].target,
            stats=dict(ex.stats),
            model_size=size,
        )


def segment_outlines(masks: list[np.ndarray], frame: Any) -> np.ndarray | None:
    """Bool ``H x W``: the outlines of ``masks`` (bool ``S x S``) mapped to the image by ``frame``
    (an :class:`~geoquiz.explain.frames.ImageFrame`); None without masks."""
    if not masks:
        return None
    edge = np.zeros((frame.height, frame.width), dtype=bool)
    for m in masks:
        edge |= mask_outline(frame.mask(m))
    return edge


class ExplainView(QWidget):
    """See the module docstring. Widgets have object names for tests (``explainButton`` ...)."""

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("explainView")
        self.job = Latest()  # a new request replaces the running one
        self.result: ExplanationResult | None = None
        self._models: dict[str, tuple[str, tuple[str, ...]]] = {}  # name -> (integration, classes)
        self._build()
        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

    # --- layout -----------------------------------------------------------------------------
    def _combo(self, name: str) -> QComboBox:
        c = QComboBox(self)
        c.setObjectName(name)
        # long entries (segmenter names with their status) are elided, not widening the side panel
        c.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        c.setMinimumContentsLength(12)
        return c

    def _build(self) -> None:
        side = QWidget(self)
        form = QFormLayout()
        self.model_combo = self._combo("modelCombo")
        self.dataset_combo = self._combo("datasetCombo")
        self.split_combo = self._combo("splitCombo")
        self.split_combo.addItems(["test", "val", "train", "all"])
        self.method_combo = self._combo("methodCombo")
        for key, label in METHOD_LABELS.items():
            self.method_combo.addItem(label, key)
        self.segmenter_combo = self._combo("segmenterCombo")
        self.target_combo = self._combo("targetCombo")
        for label, w in (
            ("Model", self.model_combo),
            ("Dataset", self.dataset_combo),
            ("Split", self.split_combo),
            ("Method", self.method_combo),
            ("Segmenter", self.segmenter_combo),
            ("Explain class", self.target_combo),
        ):
            form.addRow(label, w)
        self.sample_list = QListWidget(self)
        self.sample_list.setObjectName("sampleList")
        self.explain_button = QPushButton("Explain", self)
        self.explain_button.setObjectName("explainButton")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("explainProgress")
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.opacity = QSlider(Qt.Horizontal, self)
        self.opacity.setObjectName("opacitySlider")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.show_heat = QCheckBox("Heatmap", self)
        self.show_segments = QCheckBox("Segment outlines", self)
        self.show_elements = QCheckBox("Element boxes", self)
        for box in (self.show_heat, self.show_elements):
            box.setChecked(True)
        self.status = QLabel("Pick an image and press Explain.", self)
        self.status.setObjectName("explainStatus")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.explain_button)
        buttons.addWidget(self.cancel_button)
        toggles = QGridLayout()
        toggles.addWidget(self.show_heat, 0, 0)
        toggles.addWidget(self.show_elements, 0, 1)
        toggles.addWidget(self.show_segments, 1, 0, 1, 2)
        lay = QVBoxLayout(side)
        lay.addLayout(form)
        lay.addWidget(self.sample_list, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(QLabel("Heatmap opacity", self))
        lay.addWidget(self.opacity)
        lay.addLayout(toggles)
        lay.addWidget(self.status)
        side.setMaximumWidth(340)

        self.canvases = [ImageCanvas(self) for _ in VIEWS]
        self.captions = [QLabel(v.capitalize(), self) for v in VIEWS]
        grid_host = QWidget(self)
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (canvas, caption) in enumerate(zip(self.canvases, self.captions)):
            canvas.setObjectName(f"explainCanvas{i}")
            canvas.boxClicked.connect(self._select_element)
            r, c = divmod(i, 2)
            grid.addWidget(caption, 2 * r, c)
            grid.addWidget(canvas, 2 * r + 1, c)
        self.table = QTableWidget(0, 8, self)
        self.table.setObjectName("elementTable")
        self.table.setHorizontalHeaderLabels(
            ["Rank", "View", "Score", "Overlap", "Mean", "Centre", "Concept (tag)", "Box (x0, y0, x1, y1)"]
        )
        self.table.horizontalHeaderItem(7).setToolTip("In the original image's pixels")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._draw_boxes)
        right = QSplitter(Qt.Vertical, self)
        right.addWidget(grid_host)
        right.addWidget(self.table)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(
            TrainingBanner(self.ctx, self, "Explanations of the demo model work once it is ready.")
        )
        main = QHBoxLayout()
        outer.addLayout(main, 1)
        main.addWidget(side)
        main.addWidget(right, 1)
        self._show_views(1)

        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.dataset_combo.currentIndexChanged.connect(self._load_samples)
        self.split_combo.currentIndexChanged.connect(self._load_samples)
        self.explain_button.clicked.connect(self.explain)
        self.sample_list.itemDoubleClicked.connect(lambda _item: self.explain())
        self.cancel_button.clicked.connect(self.cancel)
        self.opacity.valueChanged.connect(lambda v: [c.set_heatmap_opacity(v / 100) for c in self.canvases])
        self.show_heat.toggled.connect(lambda on: [c.set_heatmap_visible(on) for c in self.canvases])
        self.show_segments.toggled.connect(lambda on: [c.set_outlines_visible(on) for c in self.canvases])
        self.show_elements.toggled.connect(self._draw_boxes)

    def _show_views(self, n: int) -> None:
        for i, (canvas, caption) in enumerate(zip(self.canvases, self.captions)):
            canvas.setVisible(i < n)
            caption.setVisible(n > 1 and i < n)

    # --- data -------------------------------------------------------------------------------
    def _data_changed(self, kind: str) -> None:
        if kind in ("models", "datasets", "settings"):
            self.refresh()

    def refresh(self) -> None:
        """Reload models, datasets and segmenter statuses from the open project."""
        project = self.ctx.project
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.segmenter_combo.clear()
        if project is not None:
            from geoquiz.models.store import list_models

            models = list_models(project.db)
            self._models = {m.name: (m.integration, tuple(m.classes)) for m in models}
            for m in models:
                self.model_combo.addItem(f"{m.name} ({m.arch}, {m.integration})", m.name)
            self._fill_segmenters(project.settings.segmenters)
        self.model_combo.blockSignals(False)
        self._model_changed()

    def _fill_segmenters(self, settings) -> None:
        from geoquiz.segmentation import SEGMENTERS, segmenter_label, segmenter_status

        status = segmenter_status(settings)
        model = self.segmenter_combo.model()
        for name, info in SEGMENTERS.items():
            specs = [name] if info.family == "default" or info.concepts else [name, f"{name}:guided"]
            for spec in specs:
                ready = status[name] == "ready"
                label = segmenter_label(spec) if ready else f"{segmenter_label(spec)} (not ready)"
                self.segmenter_combo.addItem(label, spec)
                item = model.item(self.segmenter_combo.count() - 1)
                item.setEnabled(ready)
                item.setToolTip(info.description if ready else status[name])

    def _model_changed(self) -> None:
        data = self._models.get(self.model_combo.currentData())
        self.target_combo.clear()
        self.target_combo.addItem("Predicted class", None)
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        if data is not None and self.ctx.project is not None:
            from geoquiz.data.dataset import list_datasets

            integration, classes = data
            for c in classes:
                self.target_combo.addItem(c, c)
            want = "single" if integration == "single" else "4view"
            for d in list_datasets(self.ctx.project.db):
                if d.kind == want:
                    self.dataset_combo.addItem(f"{d.name} ({d.n_images} images)", d.name)
        self.dataset_combo.blockSignals(False)
        self._load_samples()

    def _load_samples(self) -> None:
        self.sample_list.clear()
        data, dataset = self._models.get(self.model_combo.currentData()), self.dataset_combo.currentData()
        if data is None or dataset is None or self.ctx.project is None:
            return
        from geoquiz.data.dataset import load_items, load_locations

        split = self.split_combo.currentText()
        split = None if split == "all" else split
        four = data[0] != "single"
        samples = (
            load_locations(self.ctx.project.db, dataset, split)
            if four
            else load_items(self.ctx.project.db, dataset, split)
        )
        for s in samples:
            item = QListWidgetItem(f"{s.key}  —  {s.label}")
            item.setData(Qt.UserRole, ("location" if four else "item", s.id))
            self.sample_list.addItem(item)
        if samples:
            self.sample_list.setCurrentRow(0)

    # --- jobs -------------------------------------------------------------------------------
    def explain(self) -> None:
        """Start computing the current selection (cancels a running job)."""
        model, item = self.model_combo.currentData(), self.sample_list.currentItem()
        segmenter = self.segmenter_combo.currentData()
        if model is None or item is None or segmenter is None or self.ctx.project is None:
            self.status.setText("Choose a model, an image and a segmenter first.")
            return
        kind, sample_id = item.data(Qt.UserRole)
        method = self.method_combo.currentData()
        self.status.setText(f"Explaining {item.text()} …")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.job.start(
            compute_explanation,
            self.ctx.root,
            model,
            kind,
            sample_id,
            method,
            segmenter,
            self.target_combo.currentData(),
            on_result=self._finished,
            on_error=self._failed,
            on_progress=self._progress,
            on_cancelled=self._cancelled,
        )

    @property
    def worker(self):
        return self.job.worker

    def cancel(self) -> None:
        if self.job.running:
            self.job.cancel()
            self._cancelled()

    def _progress(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(done, total))
        self.progress.setFormat(message or "%p%")

    def _end(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)

    def _failed(self, message: str, _tb: str = "") -> None:
        from ui.workers import show_error

        self._end()
        self.status.setText(f"Failed: {message}")
        show_error(self, "Explanation failed", message)

    def _cancelled(self) -> None:
        self._end()
        self.status.setText("Cancelled.")

    def _finished(self, result: ExplanationResult) -> None:
        self._end()
        self.show_result(result)

    # --- display ----------------------------------------------------------------------------
    def show_result(self, result: ExplanationResult) -> None:
        """Draw a result (also usable directly, e.g. by tests)."""
        self.result = result
        self._show_views(len(result.images))
        for i, canvas in enumerate(self.canvases[: len(result.images)]):
            canvas.set_image(result.images[i])
            canvas.set_heatmap(result.heatmaps[i], opacity=self.opacity.value() / 100)
            canvas.set_heatmap_visible(self.show_heat.isChecked())
            canvas.set_outline_edges(result.outlines[i])
            canvas.set_outlines_visible(self.show_segments.isChecked())
        self.table.setRowCount(len(result.elements))
        for row, (e, _seg) in enumerate(result.elements):
            values = [
                str(e.rank),
                e.view or "",
                f"{e.score:.3f}",
                f"{e.overlap:.2f}",
                f"{e.mean_attr:.2f}",
                f"{e.centre_attr:.2f}",
                element_name(e),
                str(e.box.as_tuple()),
            ]
            for col, text in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._draw_boxes()
        top = ", ".join(f"{label} {p:.0%}" for label, p in result.prediction)
        h, w = result.images[0].shape[:2]
        stats = result.stats
        cached = stats.get("maps_cached", 0) + stats.get("segmentations_cached", 0)
        self.status.setText(
            f"Prediction: {top}. Explained class: {result.target}. {len(result.elements)} element(s)"
            + (" (from the cache)." if cached and not stats.get("maps_computed") else ".")
            + (
                f" Shown at the image's {w} x {h} px; the model reads {result.model_size} px."
                if result.model_size
                else ""
            )
        )

    def _selected_rank(self) -> int | None:
        rows = {i.row() for i in self.table.selectedItems()}
        if not rows or self.result is None:
            return None
        return self.result.elements[min(rows)][0].rank

    def _draw_boxes(self) -> None:
        if self.result is None:
            return
        selected = self._selected_rank()
        views = self.result.views
        for i, canvas in enumerate(self.canvases[: len(views)]):
            overlays = []
            if self.show_elements.isChecked():
                for e, _ in self.result.elements:
                    if e.view != views[i]:
                        continue
                    colour = RANK_COLOURS[min(e.rank - 1, len(RANK_COLOURS) - 1)]
                    width = 4.0 if e.rank == selected else 2.0
                    overlays.append(
                        BoxOverlay(
                            e.box,
                            element_label(e),
                            colour,
                            width,
                            dashed=selected not in (None, e.rank),
                            key=e.rank,
                        )
                    )
            canvas.set_boxes(overlays)

    def _select_element(self, rank: Any) -> None:
        if self.result is None or rank is None:
            return
        for row, (e, _) in enumerate(self.result.elements):
            if e.rank == rank:
                self.table.selectRow(row)
                return
