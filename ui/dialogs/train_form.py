"""The training form: one editor per :class:`geoquiz.models.training.TrainConfig` field, initialised
from ``TrainConfig()`` (the papers' recipe), plus the model name, the dataset, "resume an interrupted
run" and "replace a model with this name", on three tabs (Model, Recipe, Data & run).

The choices stay consistent: the integrations offered follow the dataset (``single`` for a
single-view dataset; ``single``, ``early`` or ``medium`` for a 4-view one), pooling only applies to
``medium``, an architecture without ImageNet weights cannot start from them, and hints say when a
model of that name exists, when an interrupted run can be resumed and where validation comes from.
Used by :mod:`ui.dialogs.train_dialog`; opening it does not import torch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QWidget,
)

from geoquiz.data.dataset import DatasetInfo, list_datasets
from geoquiz.errors import GeoQuizError
from geoquiz.models.spec import TARGET_LAYERS
from geoquiz.models.training import TrainConfig
from geoquiz.types import SPLITS
from ui.context import AppContext

#: geoquiz.models.registry.ARCHS keys, listed here so that opening the dialog does not import torch
#: (a test checks they match). ``resnet10`` has no ImageNet weights.
ARCHS = ("resnet10", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
#: Examples of the other trainable families, listed under the ResNets (any timm / torchvision
#: classifier name may be typed; geoquiz.models.families)
OTHER_ARCHS = ("timm:convnext_tiny", "timm:vit_small_patch16_224", "torchvision:efficientnet_b0")
NO_IMAGENET = {"resnet10"}
INTEGRATIONS = {
    "single": "single — one image per sample",
    "early": "early — 4 views side by side in one image",
    "medium": "medium — shared backbone per view, pooled features",
}
INITS = (
    ("imagenet", "ImageNet weights (torchvision)"),
    ("scratch", "Random (from scratch)"),
    ("file", "Local weights file…"),
)


class SciSpinBox(QDoubleSpinBox):
    """A positive number shown as ``3e-04``; the arrows multiply or divide it by 2."""

    def __init__(self, value: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(1e-9, 10.0)
        self.setValue(value)

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        return float(text)

    def validate(self, text: str, pos: int):
        try:
            ok = 0 < float(text) <= 10
        except ValueError:
            ok = False
        return (QValidator.Acceptable if ok else QValidator.Intermediate, text, pos)

    def stepBy(self, steps: int) -> None:
        self.setValue(self.value() * 2.0**steps)


def _spin(lo: int, hi: int, value: int, name: str, *, suffix: str = "", step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setObjectName(name)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    return box


def _dspin(
    lo: float, hi: float, value: float, name: str, *, step: float = 0.05, decimals: int = 3
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


#: How the CAM layer choices are shown.
CAM_LAYER_TEXT = {
    "layer4": "layer4 (last stage, the papers')",
    "layer3": "layer3 (2x finer map)",
    "layer2": "layer2 (4x finer map)",
}
PRECISION_TEXT = {
    "fp32": "float32 (exact on any hardware)",
    "auto": "auto — bfloat16 where it runs natively",
    "bf16": "bfloat16 mixed precision",
}


def _arch_hint(arch: str) -> str:
    """What the form says under the architecture ("" for a ResNet)."""
    if arch in ARCHS:
        return ""
    from geoquiz.models.families import family_name, family_status

    try:
        family = family_name(arch)
    except GeoQuizError as exc:
        return str(exc).capitalize()
    status = family_status(family)
    if status != "ready":
        return f"{family}: {status}."
    if family == "clip":
        return "CLIP models are zero-shot: they are registered, not trained."
    return (
        f"A {family} model: initial weights from a local file, or random (GeoQuiz downloads none); "
        "CAM methods read its last feature stage."
    )


def _hint(parent: QWidget, name: str = "") -> QLabel:
    """A grey, wrapping line under a field that says what the choice means."""
    label = QLabel(parent)
    if name:
        label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #666")
    return label


def _combo(items: list[tuple[str, str]], value: str, name: str) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    for key, text in items:
        box.addItem(text, key)
    box.setCurrentIndex(max(0, box.findData(value)))
    return box


class TrainForm(QTabWidget):
    """The settings of a run; :meth:`check` turns them into ``(name, dataset, TrainConfig)``."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainTabs")
        self.ctx = ctx
        self.datasets: dict[str, DatasetInfo] = {}
        self.addTab(self._model_tab(), "Model")
        self.addTab(self._recipe_tab(), "Recipe")
        self.addTab(self._run_tab(), "Data && run")
        for sig in (
            self.dataset_box.currentIndexChanged,
            self.integration_box.currentIndexChanged,
            self.arch_box.currentIndexChanged,
            self.init_box.currentIndexChanged,
            self.val_split_box.currentIndexChanged,
            self.train_split_box.currentIndexChanged,
        ):
            sig.connect(self.update_form)
        self.name_edit.textChanged.connect(self.update_form)
        self.arch_box.editTextChanged.connect(self.update_form)
        ctx.data_changed.connect(self._data_changed)
        ctx.project_changed.connect(self.refresh_datasets)
        self.refresh_datasets()

    # -- tabs ---------------------------------------------------------------------------------
    def _model_tab(self) -> QWidget:
        d = TrainConfig()
        w = QWidget(self)
        form = QFormLayout(w)
        self.name_edit = QLineEdit(w)
        self.name_edit.setObjectName("trainName")
        self.name_edit.setPlaceholderText("a short name, e.g. resnet50-geoscenes")
        self.name_hint = _hint(w, "trainNameHint")
        self.dataset_box = QComboBox(w)
        self.dataset_box.setObjectName("trainDataset")
        self.dataset_hint = _hint(w)
        self.arch_box = _combo([(a, a) for a in (*ARCHS, *OTHER_ARCHS)], d.arch, "trainArch")
        self.arch_box.setEditable(True)
        self.arch_box.setInsertPolicy(QComboBox.NoInsert)
        self.arch_box.setToolTip(
            "A ResNet, or any timm or torchvision classifier typed as timm:NAME or torchvision:NAME "
            "(their starting weights come from a local file: GeoQuiz downloads none)."
        )
        self.arch_hint = _hint(w, "trainArchHint")
        self.integration_box = _combo(list(INTEGRATIONS.items()), d.integration, "trainIntegration")
        self.pooling_box = _combo(
            [("mean", "mean of the 4 views"), ("concat", "concatenate the 4 views")],
            d.pooling,
            "trainPooling",
        )
        self.target_layer_box = _combo(
            [(layer, CAM_LAYER_TEXT.get(layer, layer)) for layer in TARGET_LAYERS],
            d.target_layer,
            "trainCamLayer",
        )
        self.target_layer_box.setToolTip(
            "The ResNet stage Grad-CAM, Grad-CAM++ and Score-CAM read: an earlier stage gives a finer map "
            "(at 224 px: layer4 7x7, layer3 14x14); it changes no weight."
        )
        self.init_box = _combo(list(INITS), d.init, "trainInit")
        self.init_path = QLineEdit(w)
        self.init_path.setObjectName("trainInitPath")
        self.init_path.setPlaceholderText(
            "a GeoQuiz checkpoint or a torchvision ResNet state_dict (.pt/.pth)"
        )
        browse = QPushButton("Browse…", w)
        browse.clicked.connect(self._browse_init)
        self.init_row = QWidget(w)
        row = QHBoxLayout(self.init_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.init_path, 1)
        row.addWidget(browse)
        self.input_size = _spin(16, 1024, d.input_size, "trainInputSize", suffix=" px", step=16)
        self.device_box = QComboBox(w)
        self.device_box.setObjectName("trainDevice")
        self.device_box.setEditable(True)
        self.device_box.addItems(["auto", "cpu", "cuda", "mps"])
        self.device_box.setCurrentText(d.device)
        self.device_box.setToolTip("auto = CUDA when available, else CPU; or e.g. cuda:1")
        self.precision_box = _combo(list(PRECISION_TEXT.items()), d.precision, "trainPrecision")
        self.precision_box.setToolTip(
            "Mixed precision runs the forward pass in bfloat16 (weights and loss stay float32): about twice "
            "as fast on a GPU or a CPU with AVX512-BF16 / AMX, slower where bfloat16 is emulated."
        )
        form.addRow("Name", self.name_edit)
        form.addRow("", self.name_hint)
        form.addRow("Dataset", self.dataset_box)
        form.addRow("", self.dataset_hint)
        form.addRow("Architecture", self.arch_box)
        form.addRow("", self.arch_hint)
        form.addRow("Integration", self.integration_box)
        form.addRow("4-view pooling", self.pooling_box)
        form.addRow("CAM layer", self.target_layer_box)
        form.addRow("Initial weights", self.init_box)
        form.addRow("Weights file", self.init_row)
        form.addRow("Input size", self.input_size)
        form.addRow("Device", self.device_box)
        form.addRow("Precision", self.precision_box)
        note = QLabel(
            "Defaults are the papers' recipe: ResNet-50 fine-tuned from ImageNet at 224 px, AdamW (lr 3e-4, "
            "weight decay 0.02), label smoothing 0.1, flip and colour jitter, up to 300 epochs with early "
            "stopping on validation loss (patience 30). The best epoch's weights are kept.",
            w,
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #666; margin-top: 12px")
        form.addRow(note)
        self.model_form = form
        return w

    def _recipe_tab(self) -> QWidget:
        d = TrainConfig()
        w = QWidget(self)
        form = QFormLayout(w)
        self.epochs = _spin(1, 100_000, d.epochs, "trainEpochs")
        self.patience = _spin(1, 100_000, d.patience, "trainPatience", suffix=" epochs")
        self.min_delta = _dspin(0.0, 10.0, d.min_delta, "trainMinDelta", step=0.001, decimals=4)
        self.batch_size = _spin(1, 4096, d.batch_size, "trainBatch")
        self.lr = SciSpinBox(d.lr, w)
        self.lr.setObjectName("trainLr")
        self.weight_decay = _dspin(0.0, 1.0, d.weight_decay, "trainWeightDecay", step=0.005, decimals=4)
        self.beta1 = _dspin(0.0, 0.9999, d.betas[0], "trainBeta1", step=0.01, decimals=4)
        self.beta2 = _dspin(0.0, 0.9999, d.betas[1], "trainBeta2", step=0.001, decimals=4)
        betas = QWidget(w)
        bl = QHBoxLayout(betas)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.beta1)
        bl.addWidget(self.beta2)
        self.scheduler_box = _combo(
            [("none", "constant"), ("cosine", "cosine annealing to 0")], d.scheduler, "trainScheduler"
        )
        self.label_smoothing = _dspin(
            0.0, 0.99, d.label_smoothing, "trainLabelSmoothing", step=0.05, decimals=3
        )
        self.hflip = QCheckBox("random horizontal flip (mirrors driving side and script)", w)
        self.hflip.setObjectName("trainHflip")
        self.hflip.setChecked(d.hflip)
        self.jitter = [
            _dspin(0.0, 0.5 if i == 3 else 2.0, v, f"trainJitter{i}", step=0.05, decimals=2)
            for i, v in enumerate(d.color_jitter)
        ]
        jitter = QWidget(w)
        jl = QHBoxLayout(jitter)
        jl.setContentsMargins(0, 0, 0, 0)
        for box, tip in zip(self.jitter, ("brightness", "contrast", "saturation", "hue")):
            box.setToolTip(tip)
            box.setPrefix(f"{tip[0].upper()} ")
            jl.addWidget(box)
        self.random_crop = _dspin(
            0.0, 0.95, getattr(d, "random_crop", 0.0), "trainRandomCrop", step=0.05, decimals=2
        )
        self.random_crop.setSpecialValueText("off")
        self.random_crop.setToolTip("random resized crop: the smallest kept fraction of the area (0 = off)")
        self.normalization_box = _combo(
            [("imagenet", "ImageNet statistics"), ("dataset", "statistics of the training images")],
            d.normalization,
            "trainNormalization",
        )
        self.seed = _spin(0, 2**31 - 1, d.seed, "trainSeed")
        form.addRow("Max. epochs", self.epochs)
        form.addRow("Early-stopping patience", self.patience)
        form.addRow("Min. improvement", self.min_delta)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate (AdamW)", self.lr)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("AdamW betas", betas)
        form.addRow("LR schedule", self.scheduler_box)
        form.addRow("Label smoothing", self.label_smoothing)
        form.addRow("Flip", self.hflip)
        form.addRow("Colour jitter (B, C, S, H)", jitter)
        form.addRow("Random crop (min. area)", self.random_crop)
        form.addRow("Normalisation", self.normalization_box)
        form.addRow("Seed", self.seed)
        return w

    def _run_tab(self) -> QWidget:
        d = TrainConfig()
        w = QWidget(self)
        form = QFormLayout(w)
        splits = [(s, s) for s in SPLITS]
        self.train_split_box = _combo(splits, d.train_split, "trainTrainSplit")
        self.val_split_box = _combo(splits, d.val_split, "trainValSplit")
        self.val_fraction = _dspin(0.01, 0.99, d.val_fraction, "trainValFraction", step=0.05, decimals=2)
        self.val_hint = _hint(w, "trainValHint")
        self.cache_images = QCheckBox("keep resized training images in memory", w)
        self.cache_images.setObjectName("trainCache")
        self.cache_images.setChecked(d.cache_images)
        self.num_workers = _spin(0, 64, d.num_workers, "trainNumWorkers")
        self.num_workers.setSpecialValueText("0 (load in the training thread)")
        self.max_seconds = _spin(0, 10**7, int(d.max_seconds), "trainMaxSeconds", suffix=" s", step=60)
        self.max_seconds.setSpecialValueText("no limit")
        self.resume = QCheckBox("Resume an interrupted run of this name", w)
        self.resume.setObjectName("trainResume")
        self.resume.setToolTip(
            "Continue a cancelled or crashed run from its last finished epoch (same model settings)"
        )
        self.overwrite = QCheckBox("Replace an existing model with this name when the run ends", w)
        self.overwrite.setObjectName("trainOverwrite")
        form.addRow("Training split", self.train_split_box)
        form.addRow("Validation split", self.val_split_box)
        form.addRow("Held-out fraction", self.val_fraction)
        form.addRow("", self.val_hint)
        form.addRow("Image cache", self.cache_images)
        form.addRow("Loader workers", self.num_workers)
        form.addRow("Time budget", self.max_seconds)
        form.addRow(self.resume)
        form.addRow(self.overwrite)
        return w

    def _browse_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Initial weights", "", "PyTorch weights (*.pt *.pth);;All files (*)"
        )
        if path:
            self.init_path.setText(path)

    def refresh_datasets(self) -> None:
        """Re-read the project's datasets (keeping the current choice)."""
        previous = self.dataset_box.currentData()
        project = self.ctx.project
        infos = list_datasets(project.db) if project is not None else []
        self.datasets = {i.name: i for i in infos}
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        for info in infos:
            unit = f"{info.n_locations} locations" if info.is_four_view else f"{info.n_images} images"
            self.dataset_box.addItem(
                f"{info.name}  ({'4-view' if info.is_four_view else 'single-view'}, {unit})", info.name
            )
        self.dataset_box.setCurrentIndex(max(0, self.dataset_box.findData(previous)))
        self.dataset_box.blockSignals(False)
        self.update_form()

    def _data_changed(self, kind: str) -> None:
        if kind == "datasets":
            self.refresh_datasets()
        elif kind == "models":
            self.update_form()

    @property
    def dataset(self) -> DatasetInfo | None:
        return self.datasets.get(self.dataset_box.currentData())

    def update_form(self, *_: object) -> None:
        """Keep choices consistent: integrations that fit the dataset, pooling, ImageNet, hints."""
        info = self.dataset
        four = info is not None and info.is_four_view
        model = self.integration_box.model()
        for i in range(self.integration_box.count()):
            key = self.integration_box.itemData(i)
            model.item(i).setEnabled(key == "single" or four)
        if not four and self.integration_box.currentData() != "single":
            self.integration_box.setCurrentIndex(self.integration_box.findData("single"))
        self.pooling_box.setEnabled(self.integration_box.currentData() == "medium")
        arch = self.arch()
        resnet = arch in ARCHS
        no_imagenet = arch in NO_IMAGENET or not resnet
        self.target_layer_box.setEnabled(resnet)
        self.arch_hint.setText(_arch_hint(arch))
        self.model_form.setRowVisible(self.arch_hint, bool(self.arch_hint.text()))
        self.init_box.model().item(self.init_box.findData("imagenet")).setEnabled(not no_imagenet)
        if no_imagenet and self.init_box.currentData() == "imagenet":
            self.init_box.setCurrentIndex(self.init_box.findData("scratch"))
        self.model_form.setRowVisible(self.init_row, self.init_box.currentData() == "file")
        if info is None:
            self.dataset_hint.setText(
                "This project has no dataset yet: import one first (File › Import dataset…)."
            )
        else:
            kind = (
                "4-view: single, early or medium integration" if four else "single-view: single integration"
            )
            self.dataset_hint.setText(f"{len(info.classes)} classes ({', '.join(info.classes)}); {kind}")
            val = self.val_split_box.currentData()
            if info.splits.get(val, 0):
                self.val_hint.setText(f"Validation on the {info.splits[val]} images of split {val!r}.")
            else:
                self.val_hint.setText(
                    f"{info.name!r} has no {val!r} images: the held-out fraction of each class of "
                    f"{self.train_split_box.currentData()!r} is used for validation."
                )
        self.update_name_hint()

    def update_name_hint(self) -> None:
        name = self.name_edit.text().strip()
        hints = []
        if name and self.ctx.project is not None:
            from geoquiz.models.jobs import training_path
            from geoquiz.models.store import list_models
            from geoquiz.models.training import resume_path

            if any(m.name == name for m in list_models(self.ctx.project.db)):
                hints.append(
                    "A model with this name exists: choose another name or tick “Replace” (Data & run)."
                )
            if resume_path(training_path(self.ctx.project, name)).exists():
                hints.append("An interrupted run of this name can be resumed (tick “Resume”, Data & run).")
        self.name_hint.setText(" ".join(hints))
        self.name_hint.setVisible(bool(hints))

    # -- values -------------------------------------------------------------------------------
    def config_values(self) -> dict[str, Any]:
        """Every TrainConfig field from the widgets (``init`` is the file path when "file")."""
        init = self.init_box.currentData()
        values = {
            "arch": self.arch(),
            "integration": self.integration_box.currentData(),
            "pooling": self.pooling_box.currentData(),
            "target_layer": self.target_layer_box.currentData() if self.arch() in ARCHS else "layer4",
            "precision": self.precision_box.currentData(),
            "init": self.init_path.text().strip() if init == "file" else init,
            "input_size": self.input_size.value(),
            "epochs": self.epochs.value(),
            "patience": self.patience.value(),
            "min_delta": self.min_delta.value(),
            "batch_size": self.batch_size.value(),
            "lr": self.lr.value(),
            "weight_decay": self.weight_decay.value(),
            "betas": (self.beta1.value(), self.beta2.value()),
            "label_smoothing": self.label_smoothing.value(),
            "hflip": self.hflip.isChecked(),
            "color_jitter": tuple(b.value() for b in self.jitter),
            "random_crop": self.random_crop.value(),
            "normalization": self.normalization_box.currentData(),
            "scheduler": self.scheduler_box.currentData(),
            "seed": self.seed.value(),
            "train_split": self.train_split_box.currentData(),
            "val_split": self.val_split_box.currentData(),
            "val_fraction": self.val_fraction.value(),
            "cache_images": self.cache_images.isChecked(),
            "num_workers": self.num_workers.value(),
            "max_seconds": float(self.max_seconds.value()),
            "device": self.device_box.currentText().strip() or "auto",
            "model_options": {},  # the form trains ResNets; timm / torchvision options: geoquiz train
        }
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        return {k: v for k, v in values.items() if k in known}

    def arch(self) -> str:
        """The architecture chosen or typed."""
        return self.arch_box.currentText().strip()

    def config(self) -> TrainConfig:
        """The TrainConfig of the form (:class:`GeoQuizError` naming every invalid setting)."""
        from geoquiz.models.families import family_name, family_status

        family = family_name(self.arch())  # an unknown name: the known forms, in words
        if family == "clip":
            raise GeoQuizError(
                "CLIP models are zero-shot: register one (geoquiz models register, docs/models.md) instead "
                "of training it."
            )
        status = family_status(family)
        if status != "ready":
            raise GeoQuizError(f"{self.arch()}: {status}")
        return TrainConfig(**self.config_values())

    def check(self) -> tuple[str, str, TrainConfig]:
        """``(name, dataset, config)`` or :class:`GeoQuizError` with what to fix."""
        if self.ctx.project is None:
            raise GeoQuizError("Open a project first.")
        name = self.name_edit.text().strip()
        if not name:
            raise GeoQuizError("Give the model a name.")
        info = self.dataset
        if info is None:
            raise GeoQuizError("Choose a dataset (import one first with File › Import dataset…).")
        from geoquiz.models.store import list_models

        if not self.overwrite.isChecked() and any(m.name == name for m in list_models(self.ctx.project.db)):
            raise GeoQuizError(
                f"A model named {name!r} already exists in this project. Choose another name, or tick "
                "“Replace an existing model with this name” (Data & run)."
            )
        if self.init_box.currentData() == "file":
            path = self.init_path.text().strip()
            if not path:
                raise GeoQuizError("Choose the initial weights file, or another initialisation.")
            if not Path(path).expanduser().is_file():
                raise GeoQuizError(f"The initial weights file {path} does not exist.")
        return name, info.name, self.config()
