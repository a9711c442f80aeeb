"""The Model tab's register dialog, driven with real clicks and keys: a timm ViT and a CLIP folder
(transformers) registered from their native files, and a wrong file refused with the dialog kept."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from fixtures.model_families import require
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

SHOTS = Path(os.environ.get("GEOQUIZ_SHOTS", tempfile.gettempdir()))


@pytest.fixture
def view(qtbot, tmp_path, explain_project_root):
    from geoquiz.project import Project
    from ui.context import AppContext
    from ui.views.model_view import ModelView
    from ui.workers import wait_all

    root = tmp_path / "proj"
    shutil.copytree(explain_project_root, root)
    project = Project.open(root)
    v = ModelView(AppContext(project))
    qtbot.addWidget(v)
    v.resize(1366, 768)
    v.show()
    yield v
    wait_all()
    project.close()


def _fill(qtbot, dialog, kind_text: str, path: str, name: str, arch: str) -> None:
    qtbot.mouseClick(dialog.kind, Qt.LeftButton)  # focus; typing then picks the kind
    dialog.kind.hidePopup()
    qtbot.keyClicks(dialog.kind, kind_text)
    for widget, text in ((dialog.path, path), (dialog.name, name), (dialog.arch, arch)):
        widget.clear()
        qtbot.keyClicks(widget, text)


def _register(qtbot, dialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=60_000)


def test_register_timm_and_clip_models_through_the_dialog(qtbot, view, native_models, tmp_path):
    from geoquiz.models.store import get_model

    require("timm_vit")
    require("clip_hf")
    qtbot.mouseClick(view.register_button, Qt.LeftButton)
    from ui.dialogs.register_dialog import RegisterDialog

    dialog = view.findChild(RegisterDialog, "registerDialog")
    assert dialog is not None and dialog.isVisible()
    _fill(qtbot, dialog, "timm", str(native_models["timm_vit"].path), "vit", "test_vit")
    assert (
        dialog.kind.currentData() == "timm"
        and dialog.input_size.isVisible()
        and not dialog.prompt.isVisible()
    )
    dialog.dataset.setCurrentIndex(dialog.dataset.findData("tiny"))
    qtbot.keyClick(dialog.input_size.lineEdit(), Qt.Key_A, Qt.ControlModifier)
    qtbot.keyClicks(dialog.input_size.lineEdit(), "64")
    assert dialog.input_size.value() == 64
    dialog.grab().save(str(SHOTS / "register_timm.png"))
    _register(qtbot, dialog)
    assert not dialog.isVisible()
    info = get_model(view.ctx.project.db, "vit")
    assert info.arch == "timm:test_vit" and info.input_size == 64 and view.current_model.name == "vit"

    qtbot.mouseClick(view.register_button, Qt.LeftButton)
    dialog = [d for d in view.findChildren(RegisterDialog) if d.isVisible()][0]
    _fill(qtbot, dialog, "CLIP zero-shot, t", str(native_models["clip_hf"].path), "streetclip", "StreetCLIP")
    assert dialog.kind.currentData() == "clip" and dialog.prompt.isVisible()
    dialog.prompt.clear()
    qtbot.keyClicks(dialog.prompt, "a photo taken in {label}")
    dialog.dataset.setCurrentIndex(dialog.dataset.findData("tiny"))
    dialog.grab().save(str(SHOTS / "register_clip.png"))
    _register(qtbot, dialog)
    info = get_model(view.ctx.project.db, "streetclip")
    assert (
        info.arch == "clip:StreetCLIP"
        and info.metadata["spec"]["options"]["prompt"] == "a photo taken in {label}"
    )
    assert info.metadata["source"]["prompts"][0] == "a photo taken in France"
    view.grab().save(str(SHOTS / "model_view.png"))


def test_a_wrong_file_is_refused_and_the_dialog_stays(qtbot, view, native_models):
    from geoquiz.models.store import list_models
    from ui.dialogs.register_dialog import RegisterDialog

    require("timm_vit")
    dialog = view.register_dialog()
    assert isinstance(dialog, RegisterDialog)
    # ViT weights said to be a ConvNeXt: the message names the file and the keys
    _fill(qtbot, dialog, "timm", str(native_models["timm_vit"].path), "bad", "test_convnext")
    dialog.dataset.setCurrentIndex(dialog.dataset.findData("tiny"))
    _register(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.findChild(QMessageBox, "errorBox") is not None, timeout=10_000)
    box = dialog.findChild(QMessageBox, "errorBox")
    assert "test_vit.safetensors does not fit a timm:test_convnext network" in box.text()
    assert "missing keys: stem.0.weight" in box.text()
    box.close()
    assert dialog.isVisible() and dialog.buttons.isEnabled()
    assert "bad" not in {m.name for m in list_models(view.ctx.project.db)}
    # nothing chosen: said before any work
    dialog.path.clear()
    _register(qtbot, dialog)
    boxes = [b for b in dialog.findChildren(QMessageBox, "errorBox") if b.isVisible()]
    assert boxes and "Choose the model's file" in boxes[-1].text()
