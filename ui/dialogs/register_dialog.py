"""Model tab › Register checkpoint…: add a GeoQuiz checkpoint, or a model trained elsewhere (timm,
torchvision, a CLIP zero-shot geolocator such as StreetCLIP), to the project.

The person picks the kind, the file (or, for transformers CLIP, the folder), a name, the dataset whose
classes the model predicts (for CLIP: the labels put into the prompt template), and for the other
families the architecture name and optionally the input size. "Register" runs
:func:`geoquiz.models.store.register_model` or :func:`geoquiz.models.importing.import_model` in a
worker (the conversion reads the whole model): on success ``registered(name)`` is emitted,
``ctx.data_changed("models")`` too, and the dialog closes; on error a message box names the problem
and the dialog stays open with its settings, nothing written.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoquiz.models.store import ModelInfo
from ui.context import AppContext
from ui.workers import Worker, project_job, show_error, start

#: kind -> (label, architecture prefix, placeholder of the architecture field)
KINDS = {
    "geoquiz": ("GeoQuiz checkpoint (.pt)", "", ""),
    "timm": ("timm classifier (.safetensors / .pth)", "timm:", "e.g. convnext_tiny, vit_base_patch16_224"),
    "torchvision": ("torchvision classifier (.pth)", "torchvision:", "e.g. efficientnet_b0, vit_b_16"),
    "clip": ("CLIP zero-shot, transformers folder (StreetCLIP)", "clip:", "a label, e.g. StreetCLIP"),
    "open_clip": ("CLIP zero-shot, open_clip weights file", "clip:", "a label, e.g. ViT-B-32-laion"),
}
DEFAULT_PROMPT = (
    "a street view photo in {label}"  # geoquiz.models.families.clip.DEFAULT_PROMPT, torch-free here
)
NO_CHECK = "(do not check classes)"


@project_job
def register_job(project, name: str, settings: dict, *, reporter=None) -> str:
    """Worker job: register a GeoQuiz checkpoint (``settings``: kind "geoquiz", path, dataset or
    None), or convert and register a model from elsewhere (kind, path, arch, dataset, input_size,
    options)."""
    if settings["kind"] == "geoquiz":
        from geoquiz.models.store import register_model

        register_model(project, name, settings["path"], dataset=settings["dataset"])
    else:
        from geoquiz.models.importing import import_model

        import_model(
            project,
            name,
            settings["path"],
            arch=settings["arch"],
            dataset=settings["dataset"],
            input_size=settings["input_size"] or None,
            options=settings["options"],
        )
    return name


def confirm_remove(parent: QWidget, info: ModelInfo) -> bool:
    """Ask before removing a model from the project (its checkpoint file is kept)."""
    answer = QMessageBox.question(
        parent,
        "Remove model",
        f"Remove model “{info.name}” from the project?\n\nIts stored predictions, evaluations and cached "
        f"explanations are removed too; the checkpoint file {info.path} is kept.",
    )
    return answer == QMessageBox.Yes


class RegisterDialog(QDialog):
    """Register a model file; emits ``registered(name)`` once it is in the project."""

    registered = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("registerDialog")
        self.setWindowTitle("Register a model")
        self.ctx = ctx
        self.worker: Worker | None = None
        self.kind = QComboBox(self)
        self.kind.setObjectName("registerKind")
        for key, (label, _, _) in KINDS.items():
            self.kind.addItem(label, key)
        self.path = QLineEdit(self)
        self.path.setObjectName("registerPath")
        browse = QPushButton("Browse…", self)
        browse.setObjectName("registerBrowse")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.name = QLineEdit(self)
        self.name.setObjectName("registerName")
        self.arch = QLineEdit(self)
        self.arch.setObjectName("registerArch")
        self.dataset = QComboBox(self)
        self.dataset.setObjectName("registerDataset")
        self.prompt = QLineEdit(DEFAULT_PROMPT, self)
        self.prompt.setObjectName("registerPrompt")
        self.prompt.setToolTip("{label} is replaced by each class label of the dataset")
        self.open_clip_model = QLineEdit(self)
        self.open_clip_model.setObjectName("registerOpenClipModel")
        self.open_clip_model.setPlaceholderText("open_clip model config, e.g. ViT-B-32")
        self.input_size = QSpinBox(self)
        self.input_size.setObjectName("registerInputSize")
        self.input_size.setRange(0, 1024)
        self.input_size.setSpecialValueText("the model's own")
        self.hint = QLabel(self)
        self.hint.setObjectName("registerHint")
        self.hint.setWordWrap(True)
        self.form = QFormLayout()
        self.form.addRow("Kind", self.kind)
        self.form.addRow("File or folder", path_row)
        self.form.addRow("Model name", self.name)
        self.form.addRow("Architecture", self.arch)
        self.form.addRow("Classes of dataset", self.dataset)
        self.form.addRow("Prompt template", self.prompt)
        self.form.addRow("open_clip model", self.open_clip_model)
        self.form.addRow("Input size", self.input_size)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.button(QDialogButtonBox.Ok).setText("Register")
        self.buttons.button(QDialogButtonBox.Ok).setObjectName("registerOk")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(620)
        self._fill_datasets()
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _fill_datasets(self) -> None:
        from geoquiz.data.dataset import list_datasets

        self.dataset.addItem(NO_CHECK, None)
        for info in list_datasets(self.ctx.project.db) if self.ctx.project is not None else []:
            self.dataset.addItem(f"{info.name}  ({len(info.classes)} classes)", info.name)
        self.dataset.setCurrentIndex(1 if self.dataset.count() > 1 else 0)

    def _kind_changed(self) -> None:
        key = self.kind.currentData()
        _, _, placeholder = KINDS[key]
        self.arch.setPlaceholderText(placeholder)
        clip = key in ("clip", "open_clip")
        for widget, visible in (
            (self.arch, key != "geoquiz"),
            (self.prompt, clip),
            (self.open_clip_model, key == "open_clip"),
            (self.input_size, key in ("timm", "torchvision")),
        ):
            self.form.setRowVisible(widget, visible)
        hints = {
            "geoquiz": "A checkpoint GeoQuiz wrote (geoquiz train, or another project).",
            "timm": "A timm state dict whose classifier has one output per class of the dataset, in its order. "
            "GeoQuiz converts it into the project's models folder.",
            "torchvision": "A torchvision state dict whose last linear layer has one output per class of the dataset.",
            "clip": "The folder of a transformers CLIPModel (config.json, weights, tokenizer), e.g. StreetCLIP. "
            "Each class label of the dataset is put into the prompt template; the text embeddings are computed "
            "once and stored with the model.",
            "open_clip": "An open_clip weights file and the name of its model config.",
        }
        self.hint.setText(hints[key] + "  See docs/models.md.")
        self.adjustSize()

    def browse(self) -> None:
        start_dir = str(self.ctx.root) if self.ctx.project is not None else ""
        if self.kind.currentData() == "clip":
            path = QFileDialog.getExistingDirectory(self, "transformers CLIP folder", start_dir)
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Model weights", start_dir, "Weights (*.pt *.pth *.bin *.safetensors);;All files (*)"
            )
        if path:
            self.path.setText(path)
            if not self.name.text().strip():
                self.name.setText(Path(path).stem)

    def settings(self) -> dict:
        """The chosen settings as the worker job takes them (``ValueError`` saying what is missing)."""
        key = self.kind.currentData()
        path, name = self.path.text().strip(), self.name.text().strip()
        arch_name = self.arch.text().strip()
        problems = []
        if not path:
            problems.append("choose the model's file" + (" or folder" if key == "clip" else ""))
        if not name:
            problems.append("give the model a name")
        if key != "geoquiz" and not arch_name:
            problems.append("give the architecture (or, for CLIP, a label)")
        if key != "geoquiz" and self.dataset.currentData() is None:
            problems.append("choose the dataset whose classes the model predicts")
        if key == "open_clip" and not self.open_clip_model.text().strip():
            problems.append("give the open_clip model config name")
        if problems:
            raise ValueError("; ".join(problems).capitalize() + ".")
        options: dict = {}
        if key in ("clip", "open_clip"):
            options = {
                "backend": "transformers" if key == "clip" else "open_clip",
                "prompt": self.prompt.text(),
            }
            if key == "open_clip":
                options["model"] = self.open_clip_model.text().strip()
        prefix = KINDS[key][1]
        return {
            "kind": key,
            "path": path,
            "arch": arch_name if arch_name.startswith(prefix) else prefix + arch_name,
            "dataset": self.dataset.currentData(),
            "input_size": self.input_size.value(),
            "options": options,
        }

    def submit(self) -> Worker | None:
        """Check the settings and register in a worker (the dialog stays open until it succeeds)."""
        if self.worker is not None or self.ctx.project is None:
            return None
        try:
            settings = self.settings()
        except ValueError as exc:
            show_error(self, "Register a model", str(exc))
            return None
        name = self.name.text().strip()
        self.buttons.setEnabled(False)
        self.hint.setText(f"Reading {Path(settings['path']).name}…")
        self.worker = start(
            register_job, str(self.ctx.root), name, settings, on_result=self._done, on_error=self._failed
        )
        return self.worker

    def _done(self, name: str) -> None:
        self.worker = None
        self.ctx.data_changed.emit("models")
        self.registered.emit(name)
        self.accept()

    def _failed(self, message: str, _tb: str) -> None:
        self.worker = None
        self.buttons.setEnabled(True)
        self._kind_changed()
        show_error(self, "Cannot register the model", message)
