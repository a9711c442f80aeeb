"""File › Settings…: segmenter checkpoints (with file or folder pickers and a ready / not-ready status
per segmenter), SAM3's concept vocabulary, and the element-extraction parameters; Save writes
``project.toml`` through ``Project.save_settings`` and emits ``ctx.data_changed("settings")``.

The status is :func:`geoquiz.segmentation.segmenter_status` (package installed, file set, exists and
is a PyTorch file; for SAM3 a Transformers SAM3 folder); it updates as paths are typed. A file of the
wrong SAM variant is reported when it is first loaded (the error names the official file). The
vocabulary is checked as it is typed (file and line of the first problem); an invalid one is not saved.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoquiz.config import ConceptSettings, ElementSettings, SegmenterSettings
from geoquiz.errors import GeoQuizError
from geoquiz.segmentation import SEGMENTERS, segmenter_status
from ui.workers import show_error

#: ElementSettings field -> (label, minimum, maximum, step or None for ints, tooltip)
ELEMENT_FIELDS: dict[str, tuple[str, float, float, float | None, str]] = {
    "top_p": (
        "Salient pixels, top-p (%)",
        0.5,
        100.0,
        1.0,
        "Percentage of the map's most attributed pixels that form the salient region.",
    ),
    "s_min": (
        "Minimum score s_min",
        0.0,
        1.0,
        0.05,
        "Segments scoring below this (geometric mean of overlap, mean and centre attribution) are dropped.",
    ),
    "iou_threshold": (
        "Containment IoU cut",
        0.0,
        1.0,
        0.05,
        "Intersection over the smaller segment at or above which two similar-sized segments are duplicates.",
    ),
    "detail_ratio": (
        "Detail size ratio",
        0.0,
        1.0,
        0.05,
        "A segment smaller than this fraction of an overlapping one is a detail and is kept.",
    ),
    "padding": (
        "Box padding (fraction)",
        0.0,
        1.0,
        0.05,
        "Padding added around each element box, as a fraction of its larger side.",
    ),
    "min_padding_px": ("Minimum padding (px)", 0, 100, None, "Padding is at least this many pixels."),
    "max_elements": (
        "Maximum elements (0 = all)",
        0,
        1000,
        None,
        "At most this many elements per image or location.",
    ),
    "min_segment_area": ("Minimum segment area (px)", 0, 100000, None, "Smaller segments are ignored."),
    "box_iou": (
        "Distinct boxes: IoU above",
        0.0,
        1.0,
        0.05,
        "Two padded element boxes whose IoU is above this are the same place (merged or dropped).",
    ),
    "box_containment": (
        "Distinct boxes: containment above",
        0.0,
        1.0,
        0.05,
        "A box lying inside another by more than this share of its area is the same place.",
    ),
}

#: ElementSettings.box_rule -> its label in the dialog
BOX_RULE_LABELS: dict[str, str] = {
    "merge": "merge overlapping boxes into one element",
    "drop": "drop the lower-ranked of overlapping boxes",
    "plain": "paper's rule only (boxes may pile up)",
}


class SettingsDialog(QDialog):
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.setMinimumWidth(760)
        settings = ctx.project.settings
        self.path_edits: dict[str, QLineEdit] = {}
        self.status_labels: dict[str, QLabel] = {}
        seg_box = QGroupBox("Segmenter checkpoints", self)
        grid = QGridLayout(seg_box)
        grid.addWidget(QLabel("<i>default</i> (weight-free) is always ready.", self), 0, 0, 1, 4)
        with_weights = [info for info in SEGMENTERS.values() if info.needs_checkpoint]
        for row, info in enumerate(with_weights, start=1):
            name = info.name
            label = QLabel(info.display_name, self)
            label.setToolTip(f"{name}: {info.description}; official file {info.official_file}; {info.source}")
            edit = QLineEdit(settings.segmenters.checkpoint(name), self)
            edit.setObjectName(f"path_{name}")
            edit.setPlaceholderText(info.official_file)
            edit.textChanged.connect(self.update_status)
            browse = QPushButton("Browse…", self)
            browse.setObjectName(f"browse_{name}")
            browse.clicked.connect(lambda _=False, n=name: self.browse(n))
            status = QLabel(self)
            status.setObjectName(f"status_{name}")
            status.setWordWrap(True)
            status.setMinimumWidth(220)
            grid.addWidget(label, row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(browse, row, 2)
            grid.addWidget(status, row, 3)
            self.path_edits[name] = edit
            self.status_labels[name] = status
        # the concept vocabulary SAM3 is prompted with ('' = GeoQuiz's assets/concepts.toml)
        row = len(with_weights) + 1
        vocab_label = QLabel("Concept vocabulary (SAM3)", self)
        vocab_label.setToolTip(
            'A TOML file of [concepts] cue_tag = ["concept", ...]; empty = GeoQuiz\'s own assets/concepts.toml. '
            "A relative path is relative to the project folder."
        )
        self.vocabulary_edit = QLineEdit(settings.concepts.vocabulary, self)
        self.vocabulary_edit.setObjectName("vocabularyPath")
        self.vocabulary_edit.setPlaceholderText("assets/concepts.toml (GeoQuiz's own)")
        self.vocabulary_edit.textChanged.connect(self.update_vocabulary_status)
        vocab_browse = QPushButton("Browse…", self)
        vocab_browse.setObjectName("browseVocabulary")
        vocab_browse.clicked.connect(self.browse_vocabulary)
        self.vocabulary_status = QLabel(self)
        self.vocabulary_status.setObjectName("vocabularyStatus")
        self.vocabulary_status.setWordWrap(True)
        grid.addWidget(vocab_label, row, 0)
        grid.addWidget(self.vocabulary_edit, row, 1)
        grid.addWidget(vocab_browse, row, 2)
        grid.addWidget(self.vocabulary_status, row, 3)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(3, 1)

        el_box = QGroupBox("Element extraction (paper 000, section 3.3)", self)
        form = QFormLayout(el_box)
        self.element_inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for name, (text, lo, hi, stepsize, tip) in ELEMENT_FIELDS.items():
            if stepsize is None:
                w = QSpinBox(self)
                w.setRange(int(lo), int(hi))
            else:
                w = QDoubleSpinBox(self)
                w.setRange(lo, hi)
                w.setSingleStep(stepsize)
                w.setDecimals(3)
            w.setObjectName(f"element_{name}")
            w.setToolTip(tip)
            w.setValue(getattr(settings.elements, name))
            form.addRow(text, w)
            self.element_inputs[name] = w
        self.box_rule = QComboBox(self)
        self.box_rule.setObjectName("element_box_rule")
        for rule, label in BOX_RULE_LABELS.items():
            self.box_rule.addItem(label, rule)
        self.box_rule.setCurrentIndex(max(0, self.box_rule.findData(settings.elements.box_rule)))
        self.box_rule.setToolTip(
            "After the paper's de-duplication, elements whose padded boxes overlap strongly (the two "
            "thresholds above) are merged or dropped, so the top boxes show different places."
        )
        form.addRow("Distinct boxes", self.box_rule)

        buttons = QDialogButtonBox(
            QDialogButtonBox.Save | QDialogButtonBox.Cancel | QDialogButtonBox.RestoreDefaults, self
        )
        buttons.setObjectName("settingsButtons")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(self.restore_element_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(seg_box)
        bottom = QHBoxLayout()
        bottom.addWidget(el_box)
        bottom.addStretch(1)
        layout.addLayout(bottom)
        layout.addWidget(buttons)
        self.update_status()
        self.update_vocabulary_status()

    def segmenter_settings(self) -> SegmenterSettings:
        current = self.ctx.project.settings.segmenters
        return current.replace(**{name: edit.text().strip() for name, edit in self.path_edits.items()})

    def element_settings(self) -> ElementSettings:
        values = {}
        for name, w in self.element_inputs.items():
            values[name] = int(w.value()) if isinstance(w, QSpinBox) else float(w.value())
        return ElementSettings(**values, box_rule=str(self.box_rule.currentData()))

    def update_status(self) -> None:
        status = segmenter_status(self.segmenter_settings())
        for name, label in self.status_labels.items():
            ok = status[name] == "ready"
            label.setText("✔ ready" if ok else status[name])
            label.setStyleSheet("color: #1b8a2f;" if ok else "color: #a05a00;")

    def browse(self, name: str) -> None:
        info = SEGMENTERS[name]
        title = f"Checkpoint for {name} ({info.official_file})"
        if info.checkpoint_kind == "directory":  # a model folder (SAM3: config.json + model.safetensors)
            path = QFileDialog.getExistingDirectory(self, title, self.path_edits[name].text())
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, title, self.path_edits[name].text(), "PyTorch checkpoints (*.pt *.pth);;All files (*)"
            )
        if path:
            self.path_edits[name].setText(path)

    def vocabulary_problem(self) -> str | None:
        """Why the vocabulary set cannot be used (file and line), or None."""
        from geoquiz.errors import ConfigError
        from geoquiz.segmentation.concepts import load_vocabulary, resolve_vocabulary_path

        try:
            self._vocabulary = load_vocabulary(
                resolve_vocabulary_path(self.vocabulary_edit.text(), self.ctx.project.root)
            )
        except ConfigError as exc:
            return str(exc)
        return None

    def update_vocabulary_status(self) -> None:
        problem = self.vocabulary_problem()
        if problem is None:
            v = self._vocabulary
            self.vocabulary_status.setText(f"✔ {len(v)} concepts, {len(v.counts())} cue tags")
            self.vocabulary_status.setToolTip(v.source)
        else:
            self.vocabulary_status.setText(problem.splitlines()[0])
            self.vocabulary_status.setToolTip(problem)
        self.vocabulary_status.setStyleSheet("color: #1b8a2f;" if problem is None else "color: #a05a00;")

    def browse_vocabulary(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Concept vocabulary", self.vocabulary_edit.text(), "TOML files (*.toml);;All files (*)"
        )
        if path:
            self.vocabulary_edit.setText(path)

    def restore_element_defaults(self) -> None:
        for name, w in self.element_inputs.items():
            w.setValue(getattr(ElementSettings(), name))
        self.box_rule.setCurrentIndex(self.box_rule.findData(ElementSettings().box_rule))

    def save(self) -> None:
        project = self.ctx.project
        problem = self.vocabulary_problem()
        if problem is not None:
            show_error(self, "Invalid concept vocabulary", problem)
            return
        try:
            new = dataclasses.replace(
                project.settings,
                segmenters=self.segmenter_settings(),
                elements=self.element_settings(),
                concepts=ConceptSettings(self.vocabulary_edit.text().strip()),
            )
            project.save_settings(new)
        except (OSError, ValueError, GeoQuizError) as exc:  # GeoQuizError: a read-only project
            show_error(self, "Cannot save settings", f"{project.root / 'project.toml'}: {exc}")
            return
        self.ctx.data_changed.emit("settings")
        self.accept()


def open_settings_dialog(ctx, parent: QWidget | None = None) -> SettingsDialog | None:
    """Open the settings dialog (window-modal, non-blocking) for the open project."""
    if ctx.project is None:
        show_error(parent, "Settings", "Open a project first: settings are stored in its project.toml.")
        return None
    dialog = SettingsDialog(ctx, parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose, False)
    dialog.open()
    return dialog
