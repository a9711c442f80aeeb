"""The Review tab (researchers only): one image or 4-view location at a time, people vs the model.

Overlays to toggle: the model's attribution heatmap (method picker), its elements (ranked, with
scores), every participant's cue boxes coloured by tag and their density, and the planted cues of
GeoScenes. Side panels: the model's top-5 probabilities against the share of participants' first
guesses, the participants' answers and rationales, and the item's stored agreement numbers (with a
button that computes them for the chosen model, method, segmenter and study).

Nothing heavy runs on the GUI thread: the item list (one grouped query,
:func:`geoquiz.study.review_data.reviewable_items`) loads in a worker, the selected item (images,
its answers, stored prediction and agreement rows: indexed look-ups of that item only) in another,
the explanation (maps and elements via geoquiz.explain, torch) in a third; results for a list or an
item that is no longer wanted are dropped. The list and item workers read through a snapshot
connection (:func:`geoquiz.study.snapshot.read_snapshot`), which opens in a millisecond. Participants
never see this tab: the kiosk (ui.quiz) is a separate full-screen window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from geoquiz import agreement as ag
from geoquiz.attribution import METHODS, method_label  # torch-free at import time
from geoquiz.segmentation import SEGMENTERS, segmenter_label
from geoquiz.study.review_data import (
    HumanAnswer,
    ItemRef,
    ItemSummary,
    list_model_names,
    list_study_slugs,
)
from geoquiz.types import VIEWS, CueBox, Element, Prediction
from ui.context import AppContext
from ui.views.review_panels import AgreementTable, GuessChart, RationaleList
from ui.widgets.review_canvas import (
    ReviewCanvas,
    element_overlays,
    human_overlays,
    legend_html,
    planted_overlays,
)
from ui.workers import run_with_progress, show_error, start

ALL_STUDIES = "All studies"
NO_MODEL = "(no model)"
#: The overlay layers: (key, label, shown when the tab opens). The default view compares the two
#: sides: the model's heatmap and top elements against the participants' boxes.
OVERLAYS = (
    ("heatmap", "Heatmap", True),
    ("elements", "Model elements", True),
    ("human", "Participants' boxes", True),
    ("density", "Box density", False),
    ("planted", "Planted cues", False),
)


@dataclass
class ViewData:
    """One image of the item: its view name (None for single images), pixels and boxes."""

    name: str | None
    image: np.ndarray
    planted: list[CueBox]
    human: list[CueBox] = field(default_factory=list)
    heat: np.ndarray | None = None
    elements: list[Element] = field(default_factory=list)
    density: np.ndarray | None = None  # share of participants whose boxes cover each pixel (H, W)


@dataclass
class ItemBundle:
    ref: ItemRef
    key: str
    label: str
    views: list[ViewData]
    answers: list[HumanAnswer]
    prediction: Prediction | None
    agreement: list[dict[str, Any]]
    run_id: int | None
    model_fits: bool


def items_job(db_path: str, study: str | None, *, reporter=None) -> list[ItemSummary]:
    """Worker job: the answered items of ``study`` (or of every study) for the list."""
    from geoquiz.study.review_data import reviewable_items
    from geoquiz.study.snapshot import read_snapshot

    with read_snapshot(db_path, what="list the answered items") as conn:
        return reviewable_items(conn, study=study)


def load_item_job(
    db_path: str,
    ref: ItemRef,
    model: str | None,
    study: str | None,
    method: str,
    segmenter: str,
    *,
    reporter=None,
) -> ItemBundle:
    """Worker job: the item's images, answers, stored prediction and stored agreement rows (this
    item's rows only, found through indexes)."""
    from geoquiz.data.imageio import read_image
    from geoquiz.study import review_data as rd
    from geoquiz.study.snapshot import read_snapshot
    from geoquiz.types import ImageItem

    with read_snapshot(db_path, what="load the item") as db:
        item = rd.load_item(db, ref)
        answers = rd.load_answers(db, ref, study=study).get(ref, [])
        prediction, rows, run_id, fits = None, [], None, False
        if model is not None:
            fits = (rd.model_row(db, model)["integration"] == "single") == (ref.kind == "image")
            prediction = rd.load_prediction(db, model, ref)
            run_id = rd.latest_agreement_run(db, model, method=method, segmenter=segmenter, study=study)
            if run_id is None:
                run_id = rd.latest_agreement_run(db, model, study=study)
            rows = rd.item_agreement(db, run_id, ref) if run_id is not None else []
    images = [item] if isinstance(item, ImageItem) else [item.views[v] for v in VIEWS if v in item.views]
    views = []
    for i, image in enumerate(images):
        name = None if isinstance(item, ImageItem) else image.view
        human = [c for a in answers for c in a.cues if name is None or c.view == name]
        pixels = read_image(image.path)
        density = None
        if human:  # computed here, off the GUI thread
            sets = [[c.box for c in a.cues if name is None or c.view == name] for a in answers]
            density = ag.participant_density(sets, *pixels.shape[:2])
        views.append(ViewData(name, pixels, list(image.cues), human, density=density))
        if reporter is not None:
            reporter.step(i + 1, len(images), f"loaded {image.key}")
    return ItemBundle(ref, item.key, item.label, views, answers, prediction, rows, run_id, fits)


def explain_job(root: str, model: str, ref: ItemRef, method: str, segmenter: str, *, reporter=None) -> dict:
    """Worker job: attribution maps and elements of the item (via geoquiz.explain, cached), in the
    images' pixel frames, plus the model's prediction."""
    from geoquiz.agreement import ExplainerEvidence, build_views
    from geoquiz.project import Project
    from geoquiz.study.review_data import load_item

    with Project.open(root) as project:
        item = load_item(project.db, ref)
        evidence = ExplainerEvidence(project, model)
        if reporter is not None:
            reporter.step(0, 3, f"{method} map")
        heat = evidence.heatmaps(item, method)
        if reporter is not None:
            reporter.step(1, 3, f"{segmenter} elements")
        views = build_views(item, heat, evidence.elements(item, method, segmenter))
        if reporter is not None:
            reporter.step(2, 3, "prediction")
        prediction = evidence.predict(item)
    return {"views": {v.name: (v.heat, v.elements) for v in views}, "prediction": prediction}


def compute_job(
    root: str, model: str, method: str, segmenter: str, study: str | None, *, reporter=None
) -> int:
    from geoquiz.agreement import compute_agreement
    from geoquiz.project import Project

    with Project.open(root) as project:
        return compute_agreement(
            project, model, method=method, segmenter=segmenter, study=study, reporter=reporter
        )


class ReviewView(QWidget):
    """Item list | canvases with overlays | guesses, rationales and agreement."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewView")
        self.ctx = ctx
        self.bundle: ItemBundle | None = None
        self.list_worker = self.item_worker = self.explain_worker = None
        self._listing = 0
        self.explain_error: str | None = None
        self._request = 0

        self.study_combo, self.model_combo = QComboBox(self), QComboBox(self)
        self.method_combo, self.segmenter_combo = QComboBox(self), QComboBox(self)
        for name, combo in (
            ("reviewStudy", self.study_combo),
            ("reviewModel", self.model_combo),
            ("reviewMethod", self.method_combo),
            ("reviewSegmenter", self.segmenter_combo),
        ):
            combo.setObjectName(name)
        for method in METHODS:  # shown by name, chosen by id
            self.method_combo.addItem(method_label(method), method)
        for name in SEGMENTERS:
            self.segmenter_combo.addItem(segmenter_label(name), name)
        self.study_combo.activated.connect(lambda _=0: self.refresh_items())
        for combo in (self.model_combo, self.method_combo, self.segmenter_combo):
            combo.activated.connect(lambda _=0: self.load_current())
        self.compute_button = QPushButton("Compute agreement", self)
        self.compute_button.setObjectName("computeAgreement")
        self.compute_button.setToolTip(
            "Measure agreement on every answered item for this model, method, segmenter and study"
        )
        self.compute_button.clicked.connect(self.compute_agreement)
        top = QHBoxLayout()
        for text, combo in (
            ("Study", self.study_combo),
            ("Model", self.model_combo),
            ("Method", self.method_combo),
            ("Segmenter", self.segmenter_combo),
        ):
            top.addWidget(QLabel(text + ":", self))
            top.addWidget(combo)
        top.addWidget(self.compute_button)
        top.addStretch(1)

        self.toggles: dict[str, QCheckBox] = {}
        toggles = QGridLayout()  # two rows, so the canvas column stays narrow on a laptop screen
        toggles.setContentsMargins(0, 0, 0, 0)
        for i, (key, text, shown) in enumerate(OVERLAYS):
            box = QCheckBox(text, self)
            box.setObjectName(f"show_{key}")
            box.setChecked(shown)
            box.toggled.connect(lambda _=False: self.apply_overlays())
            toggles.addWidget(box, i // 3, i % 3)
            self.toggles[key] = box
        self.opacity = QSlider(Qt.Horizontal, self)
        self.opacity.setObjectName("heatOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setMinimumWidth(80)
        self.opacity.setMaximumWidth(140)
        self.opacity.valueChanged.connect(lambda v: [c.set_heatmap_opacity(v / 100) for c in self.canvases])
        opacity = QHBoxLayout()
        opacity.addWidget(QLabel("Heat opacity", self))
        opacity.addWidget(self.opacity)
        toggles.addLayout(opacity, 1, 2)
        toggles.setColumnStretch(3, 1)

        self.items = QListWidget(self)
        self.items.setObjectName("reviewItems")
        # one line per entry: Qt lays thousands of them out without measuring each
        self.items.setUniformItemSizes(True)
        self.items.setMinimumWidth(150)
        self.items.currentItemChanged.connect(lambda *_: self.load_current())
        self.canvases = [ReviewCanvas(self) for _ in VIEWS]
        self.captions = [QLabel(self) for _ in VIEWS]
        self.cells: list[QWidget] = []
        canvas_host = QWidget(self)
        grid = QGridLayout(canvas_host)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (canvas, caption) in enumerate(zip(self.canvases, self.captions)):
            cell = QWidget(canvas_host)
            cl = QVBoxLayout(cell)
            cl.setContentsMargins(0, 0, 0, 0)
            cl.setSpacing(1)
            cl.addWidget(caption)
            cl.addWidget(canvas, 1)
            grid.addWidget(cell, i // 2, i % 2)
            self.cells.append(cell)
        self.legend = QLabel(legend_html(), self)
        self.legend.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setObjectName("reviewStatus")
        self.status.setWordWrap(True)
        centre = QWidget(self)
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addLayout(toggles)
        cv.addWidget(canvas_host, 1)
        cv.addWidget(self.legend)
        cv.addWidget(self.status)

        self.chart = GuessChart(self)
        self.rationales = RationaleList(self)
        self.agreement = AgreementTable(self)
        side = QTabWidget(self)
        side.setObjectName("reviewSide")
        side.addTab(self.rationales, "Rationales")
        side.addTab(self.agreement, "Agreement")
        right = QSplitter(Qt.Vertical, self)
        right.addWidget(self.chart)
        right.addWidget(side)
        right.setMinimumWidth(300)
        right.setChildrenCollapsible(False)
        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(self.items)
        splitter.addWidget(centre)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([180, 640, 360])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        ctx.project_changed.connect(self.on_project_changed)
        ctx.data_changed.connect(self.on_data_changed)
        self.on_project_changed()

    # -- choices ----------------------------------------------------------------------------------
    def _refill(self, combo: QComboBox, first: str, names: list[str]) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems([first, *names])
        index = combo.findText(current)
        combo.setCurrentIndex(index if index >= 0 else (1 if first == NO_MODEL and names else 0))
        combo.blockSignals(False)

    def on_project_changed(self) -> None:
        if self.ctx.project is None:
            return
        self._refill(self.study_combo, ALL_STUDIES, list_study_slugs(self.ctx.project.db))
        self._refill(self.model_combo, NO_MODEL, list_model_names(self.ctx.project.db))
        self.refresh_items()

    def on_data_changed(self, kind: str) -> None:
        if kind in ("sessions", "studies", "models", "datasets"):
            self.on_project_changed()
        elif kind in ("agreement", "explanations"):
            self.load_current()

    def choice(self) -> dict[str, Any]:
        model, study = self.model_combo.currentText(), self.study_combo.currentText()
        return {
            "model": None if model in ("", NO_MODEL) else model,
            "study": None if study in ("", ALL_STUDIES) else study,
            "method": self.method_combo.currentData(),
            "segmenter": self.segmenter_combo.currentData(),
        }

    def refresh_items(self) -> None:
        """Reload the item list in a worker; the current item stays selected if it is still there."""
        if self.ctx.project is None:
            return
        self._listing += 1
        listing = self._listing
        self.status.setText("Loading the answered items…")
        self.list_worker = start(
            items_job,
            str(self.ctx.project.db_path),
            self.choice()["study"],
            on_result=lambda items, n=listing: self.show_items(items, n),
            on_error=lambda m, tb: self.status.setText(f"Could not list the items: {m}"),
        )

    def show_items(self, items: list[ItemSummary], listing: int | None = None) -> None:
        if listing is not None and listing != self._listing:
            return
        current = self.current_ref()
        self.items.blockSignals(True)
        self.items.clear()
        for s in items:
            kind = "location" if s.ref.kind == "location" else "image"
            entry = QListWidgetItem(f"{s.key} — {s.label} ({s.n_trials})")
            entry.setToolTip(f"{s.key}: {s.dataset}, {kind}, true class {s.label}, {s.n_trials} answer(s)")
            entry.setData(Qt.UserRole, s.ref)
            self.items.addItem(entry)
            if s.ref == current:
                self.items.setCurrentItem(entry)
        self.items.blockSignals(False)
        if self.items.currentItem() is None and self.items.count():
            self.items.setCurrentRow(0)
        elif not self.items.count():
            self.status.setText("No answered items yet: run a quiz session first (Study menu).")
        else:
            self.load_current()

    def current_ref(self) -> ItemRef | None:
        entry = self.items.currentItem()
        return None if entry is None else entry.data(Qt.UserRole)

    # -- loading ----------------------------------------------------------------------------------
    def load_current(self) -> None:
        ref = self.current_ref()
        if ref is None or self.ctx.project is None:
            return
        self._request += 1
        request, c = self._request, self.choice()
        self.status.setText(f"Loading {ref.kind} {ref.id}…")
        self.item_worker = start(
            load_item_job,
            str(self.ctx.project.db_path),
            ref,
            c["model"],
            c["study"],
            c["method"],
            c["segmenter"],
            on_result=lambda b, r=request: self.show_bundle(b, r),
            on_error=lambda m, tb: self.status.setText(f"Could not load the item: {m}"),
        )

    def show_bundle(self, bundle: ItemBundle, request: int | None = None) -> None:
        if request is not None and request != self._request:
            return
        self.bundle = bundle
        single = bundle.views[0].name is None
        for i, cell in enumerate(self.cells):
            cell.setVisible(i < len(bundle.views))
        for canvas, caption, view in zip(self.canvases, self.captions, bundle.views):
            caption.setText("" if single else f"<b>{view.name}</b>")
            caption.setVisible(not single)
            canvas.set_image(view.image)
            canvas.set_heatmap(None)
            canvas.set_density(view.density)
        self.apply_overlays()
        self.chart.show_guesses(bundle.prediction, bundle.answers, bundle.label)
        self.rationales.show_answers(bundle.answers, bundle.label)
        self.agreement.show_rows(bundle.agreement)
        c = self.choice()
        run = (
            f"agreement run {bundle.run_id}" if bundle.run_id else "no agreement run yet (Compute agreement)"
        )
        self.status.setText(
            f"{bundle.key}: true class {bundle.label}, {len(bundle.answers)} answer(s); {run}"
        )
        if c["model"] is not None and bundle.model_fits:
            self.explain_error = None
            self.explain_worker = start(
                explain_job,
                str(self.ctx.root),
                c["model"],
                bundle.ref,
                c["method"],
                c["segmenter"],
                on_result=lambda r, q=self._request: self.show_explanation(r, q),
                on_error=lambda m, tb, q=self._request: self._explain_failed(m, q),
            )
        elif c["model"] is not None:
            self.status.setText(self.status.text() + f"; model {c['model']} does not take this kind of item")

    def show_explanation(self, result: dict, request: int | None = None) -> None:
        if self.bundle is None or (request is not None and request != self._request):
            return
        for view in self.bundle.views:
            view.heat, view.elements = result["views"].get(view.name, (None, []))
        if self.bundle.prediction is None:
            self.bundle.prediction = result["prediction"]
            self.chart.show_guesses(self.bundle.prediction, self.bundle.answers, self.bundle.label)
        for canvas, view in zip(self.canvases, self.bundle.views):
            canvas.set_heatmap(view.heat, opacity=self.opacity.value() / 100)
        self.apply_overlays()

    def _explain_failed(self, message: str, request: int) -> None:
        if request == self._request:
            self.explain_error = message
            self.status.setText(self.status.text() + f"; no explanation: {message}")

    def apply_overlays(self) -> None:
        """Show the layers that are ticked."""
        if self.bundle is None:
            return
        on = {k: b.isChecked() for k, b in self.toggles.items()}
        for canvas, view in zip(self.canvases, self.bundle.views):
            boxes = planted_overlays(view.planted) if on["planted"] else []
            boxes += human_overlays(view.human, labels=len(view.human) <= 6) if on["human"] else []
            boxes += element_overlays(view.elements) if on["elements"] else []
            canvas.set_boxes(boxes)
            canvas.set_heatmap_visible(on["heatmap"])
            canvas.set_density_visible(on["density"])

    # -- agreement --------------------------------------------------------------------------------
    def compute_agreement(self) -> None:
        c = self.choice()
        if self.ctx.project is None or c["model"] is None:
            show_error(
                self, "Compute agreement", "Choose a model first (train or register one in the Model tab)."
            )
            return
        run_with_progress(
            self,
            "Computing agreement",
            compute_job,
            str(self.ctx.root),
            c["model"],
            c["method"],
            c["segmenter"],
            c["study"],
            on_result=lambda _run: self.ctx.data_changed.emit("agreement"),
        )
