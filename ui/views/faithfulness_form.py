"""The Faithfulness tab's "New run" form: what to evaluate, as a :class:`geoquiz.faithfulness.request.GridRequest`.

Methods and segmenters are listed from the library's registries (:data:`geoquiz.attribution.REGISTRY`,
:data:`geoquiz.segmentation.SEGMENTERS`) with their display names; a segmenter that cannot run yet
(package missing, no checkpoint set) is listed but disabled, its tooltip saying why. The ids go into
the request (and so into the stored run and the CSVs); the labels are only shown. "Boxes" chooses
whose boxes are tested: the model's elements and / or the cue boxes of a study's participants
(``GridRequest.selections`` and ``study``, the same fields as ``geoquiz evaluate --selections``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoquiz.attribution import REGISTRY as METHOD_REGISTRY
from geoquiz.faithfulness.perturb import FILLS
from geoquiz.faithfulness.request import GridRequest
from geoquiz.segmentation import SEGMENTERS
from geoquiz.types import SPLITS

FILL_LABELS = {
    "blur": "Blur (Gaussian)",
    "mean": "Mean colour of the split",
    "black": "Black",
    "road": "ROAD (neighbour interpolation)",
}


def display_name(kind: str, name: str) -> str:
    """The label of a ``method`` or ``segmenter`` id (the id itself when unknown)."""
    from geoquiz.attribution import method_label
    from geoquiz.segmentation import segmenter_label

    return method_label(name) if kind == "method" else segmenter_label(name) if kind == "segmenter" else name


def check_list(
    entries: list[tuple[str, str]], checked: tuple[str, ...], parent: QWidget, name: str
) -> QListWidget:
    """A list of checkable ``(id, label)`` entries; the id is in ``Qt.UserRole``."""
    widget = QListWidget(parent)
    widget.setObjectName(name)
    for key, label in entries:
        item = QListWidgetItem(label, widget)
        item.setData(Qt.UserRole, key)
        item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
        item.setCheckState(Qt.Checked if key in checked else Qt.Unchecked)
    widget.setMinimumHeight(22 * min(len(entries), 4) + 6)
    widget.setMaximumHeight(22 * len(entries) + 6)
    return widget


def checked_keys(widget: QListWidget) -> list[str]:
    return [
        widget.item(i).data(Qt.UserRole)
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.Checked and widget.item(i).flags() & Qt.ItemIsEnabled
    ]


def fill_combo(box: QComboBox, entries: list[tuple[str, str]]) -> None:
    """Replace ``box``'s ``(id, label)`` entries, keeping the current id when it is still there."""
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    for key, label in entries:
        box.addItem(label, key)
    index = box.findData(current)
    box.setCurrentIndex(index if index >= 0 else (0 if entries else -1))
    box.blockSignals(False)


class FaithfulnessForm(QGroupBox):
    """The settings of a new run. :meth:`request` reads them (ValueError names what is missing)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("New run", parent)
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("modelSelector")
        self.dataset_box = QComboBox(self)
        self.dataset_box.setObjectName("datasetSelector")
        self.split_box = QComboBox(self)
        self.split_box.setObjectName("splitSelector")
        self.split_box.addItems([*SPLITS, "all"])
        self.split_box.setCurrentText("test")
        methods = [(name, info.label) for name, info in METHOD_REGISTRY.items()]
        self.methods_list = check_list(methods, ("gradcampp",), self, "methodsList")
        segmenters = [(name, info.display_name) for name, info in SEGMENTERS.items()]
        self.segmenters_list = check_list(segmenters, ("default",), self, "segmentersList")
        self.fill_box = QComboBox(self)
        self.fill_box.setObjectName("fillSelector")
        for name in FILLS:
            self.fill_box.addItem(FILL_LABELS.get(name, name), name)
        self.repeats_spin = QSpinBox(self)
        self.repeats_spin.setObjectName("repeatsSpin")
        self.repeats_spin.setRange(0, 100)
        self.repeats_spin.setValue(10)
        self.repeats_spin.setToolTip("Random selections of matched coverage per image")
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.limit_spin = QSpinBox(self)
        self.limit_spin.setObjectName("limitSpin")
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setToolTip("Evaluate at most this many images, balanced over the classes")
        self.top_p_spin = QDoubleSpinBox(self)
        self.top_p_spin.setObjectName("topPSpin")
        self.top_p_spin.setRange(0.5, 100.0)
        self.top_p_spin.setSuffix(" %")
        self.top_p_spin.setToolTip("Share of the map's most attributed pixels kept as the salient region")
        self.choose_p_check = QCheckBox("choose p on the val split first", self)
        self.choose_p_check.setObjectName("chooseP")
        self.curves_check = QCheckBox("progressive curves", self)
        self.curves_check.setObjectName("curvesCheck")
        self.curves_check.setChecked(True)
        # whose boxes are tested: the model's elements and / or a study's participants' cue boxes
        self.model_check = QCheckBox("model elements", self)
        self.model_check.setObjectName("selectModel")
        self.model_check.setChecked(True)
        self.people_check = QCheckBox("participants' boxes", self)
        self.people_check.setObjectName("selectPeople")
        self.people_check.setToolTip(
            "Also test the cue boxes a study's participants drew (per trial, their union per item, per cue "
            "tag) against random boxes of the same coverage, on the items they answered"
        )
        self.study_box = QComboBox(self)
        self.study_box.setObjectName("peopleStudy")
        self.study_box.setEnabled(False)
        self.people_check.toggled.connect(self.study_box.setEnabled)
        boxes = QWidget(self)
        column = QVBoxLayout(boxes)  # one above the other: side by side they widen the narrow form
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.model_check)
        column.addWidget(self.people_check)

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_box)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("Split", self.split_box)
        form.addRow("Methods", self.methods_list)
        form.addRow("Segmenters", self.segmenters_list)
        form.addRow("Boxes", boxes)
        form.addRow("Study", self.study_box)
        form.addRow("Fill", self.fill_box)
        form.addRow("Random repeats", self.repeats_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Max images", self.limit_spin)
        form.addRow("Top-p", self.top_p_spin)
        form.addRow("", self.choose_p_check)
        form.addRow("", self.curves_check)

    def refresh(self, project) -> None:
        """Models, datasets, the project's top-p and which segmenters can run (cheap, no torch)."""
        from geoquiz.data.dataset import list_datasets
        from geoquiz.models.store import list_models
        from geoquiz.segmentation import segmenter_status

        fill_combo(self.model_box, [(m.name, m.name) for m in list_models(project.db)])
        fill_combo(self.dataset_box, [(d.name, d.name) for d in list_datasets(project.db)])
        slugs = [r[0] for r in project.db.execute("SELECT slug FROM studies ORDER BY slug")]
        fill_combo(self.study_box, [(slug, slug) for slug in slugs])
        self.top_p_spin.setValue(project.settings.elements.top_p)
        status = segmenter_status(project.settings.segmenters)
        for i in range(self.segmenters_list.count()):
            item = self.segmenters_list.item(i)
            reason = status.get(item.data(Qt.UserRole), "ready")
            ready = reason == "ready"
            flags = item.flags()
            item.setFlags(flags | Qt.ItemIsEnabled if ready else flags & ~Qt.ItemIsEnabled)
            item.setToolTip("" if ready else f"Not available: {reason} (File › Settings)")

    def request(self) -> GridRequest:
        """The request from the controls; ValueError says what is missing."""
        methods, segmenters = checked_keys(self.methods_list), checked_keys(self.segmenters_list)
        if self.model_box.currentData() is None:
            raise ValueError("The project has no model yet: train or register one first.")
        if self.dataset_box.currentData() is None:
            raise ValueError("The project has no dataset yet: import one first.")
        selections = tuple(
            name
            for name, box in (("model", self.model_check), ("human", self.people_check))
            if box.isChecked()
        )
        if not selections:
            raise ValueError("Tick the model's elements, the participants' boxes, or both.")
        if "model" in selections and (not methods or not segmenters):
            raise ValueError("Tick at least one attribution method and one segmenter.")
        study = self.study_box.currentData() if "human" in selections else None
        if "human" in selections and study is None:
            raise ValueError("Install a study first: the participants' boxes come from its answers.")
        return GridRequest(
            model_name=self.model_box.currentData(),
            dataset=self.dataset_box.currentData(),
            split=self.split_box.currentText(),
            methods=tuple(methods),
            segmenters=tuple(segmenters),
            fill=self.fill_box.currentData(),
            repeats=self.repeats_spin.value(),
            seed=self.seed_spin.value(),
            limit=self.limit_spin.value() or None,
            curves=self.curves_check.isChecked(),
            top_p=self.top_p_spin.value(),
            choose_p=self.choose_p_check.isChecked() and "model" in selections,
            selections=selections,
            study=study,
        )
