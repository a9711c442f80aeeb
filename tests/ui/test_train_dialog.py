"""Model › Train a model…: the form holds every TrainConfig setting with the papers' defaults, a real
2-epoch resnet10 run streams its epochs to the curves and registers the model, Cancel leaves no model
(and a resumable state), and errors (existing name, missing file, unfetchable ImageNet weights) are
shown in the dialog."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from PySide6.QtCore import Qt

from geoquiz.models.store import get_model, list_models
from geoquiz.models.training import TrainConfig

FAST = {"input_size": 32, "color_jitter": (0.0, 0.0, 0.0, 0.0)}  # jitter is the slow part on a CPU


@pytest.fixture
def ctx(tmp_path, tiny_project_root):
    from geoquiz.project import Project
    from ui.context import AppContext

    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    project = Project.open(root)
    yield AppContext(project)
    from ui.workers import wait_all

    wait_all()
    project.close()


@pytest.fixture
def dialog(qtbot, ctx):
    from ui.dialogs.train_dialog import open_train_dialog

    d = open_train_dialog(ctx, None)
    qtbot.addWidget(d)
    return d


def _fill(d, name: str, *, dataset: str = "tiny", epochs: int = 2, **extra) -> None:
    d.form.name_edit.setText(name)
    d.form.dataset_box.setCurrentIndex(d.form.dataset_box.findData(dataset))
    d.form.arch_box.setCurrentIndex(d.form.arch_box.findData(extra.pop("arch", "resnet10")))
    d.form.epochs.setValue(epochs)
    d.form.input_size.setValue(extra.pop("input_size", FAST["input_size"]))
    for box, v in zip(d.form.jitter, extra.pop("color_jitter", FAST["color_jitter"])):
        box.setValue(v)
    assert not extra


def _curve(panel, name: str):
    return next(item for item in panel.plot.listDataItems() if item.name() == name)


def test_form_covers_every_setting_with_the_papers_defaults(dialog, qtbot):
    from geoquiz.models.registry import ARCHS
    from ui.dialogs.train_form import ARCHS as DIALOG_ARCHS
    from ui.dialogs.train_form import NO_IMAGENET

    assert set(dialog.form.config_values()) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert dialog.form.config() == TrainConfig()  # resnet50, ImageNet init, 224 px, lr 3e-4, wd 0.02, ...
    assert list(DIALOG_ARCHS) == list(ARCHS) and NO_IMAGENET == {
        a for a, (_, w) in ARCHS.items() if w is None
    }
    assert dialog.form.lr.text() == "0.0003"
    # the CAM layer: layer4 by default, one key press away from the finer layer3
    assert dialog.form.target_layer_box.currentData() == "layer4"
    dialog.form.target_layer_box.setFocus()
    qtbot.keyClick(dialog.form.target_layer_box, Qt.Key_Down)
    assert dialog.form.config().target_layer == "layer3"
    qtbot.keyClick(dialog.form.target_layer_box, Qt.Key_Up)
    # precision: float32 by default, "auto" (bfloat16 where native) one key press away
    assert dialog.form.config().precision == "fp32"
    dialog.form.precision_box.setFocus()
    qtbot.keyClick(dialog.form.precision_box, Qt.Key_Down)
    assert dialog.form.config().precision == "auto"
    qtbot.keyClick(dialog.form.precision_box, Qt.Key_Up)

    def enabled(box):
        return {box.itemData(i) for i in range(box.count()) if box.model().item(i).isEnabled()}

    assert dialog.form.dataset_box.currentData() == "tiny" and enabled(dialog.form.integration_box) == {
        "single"
    }
    assert not dialog.form.pooling_box.isEnabled()
    dialog.form.dataset_box.setCurrentIndex(dialog.form.dataset_box.findData("tiny4"))
    assert enabled(dialog.form.integration_box) == {"single", "early", "medium"}
    dialog.form.integration_box.setCurrentIndex(dialog.form.integration_box.findData("medium"))
    assert dialog.form.pooling_box.isEnabled() and dialog.form.config().integration == "medium"
    dialog.form.dataset_box.setCurrentIndex(dialog.form.dataset_box.findData("tiny"))  # back to single-view
    assert dialog.form.integration_box.currentData() == "single" and not dialog.form.pooling_box.isEnabled()
    dialog.form.arch_box.setCurrentIndex(dialog.form.arch_box.findData("resnet10"))  # no ImageNet weights
    assert dialog.form.init_box.currentData() == "scratch" and "imagenet" not in enabled(dialog.form.init_box)
    dialog.form.init_box.setCurrentIndex(dialog.form.init_box.findData("file"))
    assert dialog.form.init_path.isVisibleTo(dialog.form)
    assert dialog.form.val_hint.text() == "Validation on the 18 images of split 'val'."


def test_training_streams_epochs_and_registers_the_model(qtbot, dialog, ctx):
    changes, live = [], []
    ctx.data_changed.connect(changes.append)
    dialog.relay.epoch.connect(lambda _run, _entry: live.append(dialog.result is None))
    _fill(dialog, "tiny-r10")
    worker = dialog.start_training()
    assert worker is not None and dialog.running and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert dialog.error is None, dialog.error
    assert [h["epoch"] for h in dialog.history] == [1, 2] and live == [
        True,
        True,
    ]  # delivered as they happened
    for panel, names in (
        (dialog.loss_panel, ("train loss", "val loss")),
        (dialog.acc_panel, ("train accuracy", "val accuracy")),
    ):
        for name in names:
            x, y = _curve(panel, name).getData()
            assert list(x) == [1.0, 2.0] and len(y) == 2
    best = dialog.result["best_epoch"]
    assert best in (1, 2) and dialog.best_label.text().startswith(f"Best epoch {best}:")
    info = get_model(ctx.project.db, "tiny-r10")
    assert (info.arch, info.integration, info.input_size, info.dataset) == ("resnet10", "single", 32, "tiny")
    assert (
        len(info.metadata["training"]["history"]) == 2 and info.metadata["training"]["config"]["epochs"] == 2
    )
    assert changes == ["models"] and "registered" in dialog.status.text()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    # the same name again: refused up front, clearly, without starting a worker
    assert dialog.start_training() is None
    assert dialog.error_label.isVisible() and "already exists" in dialog.error_label.text()
    assert dialog.form.name_hint.isVisible()


def test_cancel_leaves_no_model_then_resume_finishes(qtbot, dialog, ctx):
    from geoquiz.models.jobs import training_path
    from geoquiz.models.training import resume_path

    _fill(dialog, "stopped", epochs=50)
    dialog.start_training()
    qtbot.waitUntil(lambda: len(dialog.history) >= 1, timeout=120_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    assert dialog.result is None and dialog.error is None and "Cancelled" in dialog.status.text()
    assert "stopped" not in {m.name for m in list_models(ctx.project.db)}
    assert resume_path(training_path(ctx.project, "stopped")).exists()
    assert "resumed" in dialog.form.name_hint.text()  # the form offers to resume it
    # resume: same model settings, the run continues from its saved epoch and ends one epoch later
    done = max(h["epoch"] for h in dialog.history)
    dialog.form.epochs.setValue(done + 1)
    dialog.form.resume.setChecked(True)
    dialog.start_training()
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert dialog.error is None, dialog.error
    assert [h["epoch"] for h in dialog.history] == [done + 1]
    assert len(get_model(ctx.project.db, "stopped").metadata["training"]["history"]) == done + 1


def test_errors_are_shown_in_the_dialog(qtbot, dialog, ctx, tmp_path, monkeypatch):
    _fill(dialog, "")
    assert dialog.start_training() is None and "name" in dialog.error_label.text()
    _fill(dialog, "from-file")
    dialog.form.init_box.setCurrentIndex(dialog.form.init_box.findData("file"))
    dialog.form.init_path.setText(str(tmp_path / "missing.pt"))
    assert dialog.start_training() is None and "does not exist" in dialog.error_label.text()
    # ImageNet weights that cannot be fetched: the worker's error reaches the dialog, nothing registered
    monkeypatch.setenv("GEOQUIZ_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _fill(dialog, "imagenet", arch="resnet18")
    dialog.form.init_box.setCurrentIndex(dialog.form.init_box.findData("imagenet"))
    assert dialog.start_training() is not None
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    assert dialog.error is not None and "could not be downloaded" in dialog.error
    assert dialog.error_label.isVisible() and "resnet18" in dialog.error_label.text()
    assert list_models(ctx.project.db) == [] and dialog.start_button.isEnabled()


def test_closing_during_a_run_cancels_it(qtbot, dialog, ctx):
    _fill(dialog, "closed", epochs=50)
    dialog.start_training()
    qtbot.waitUntil(lambda: len(dialog.history) >= 1, timeout=120_000)
    dialog.close()
    assert dialog.isVisible()  # stays until the worker has stopped
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60_000)
    assert list_models(ctx.project.db) == []


def test_a_timm_architecture_typed_in_trains_and_registers(qtbot, dialog, ctx):
    """The architecture field takes any timm / torchvision name: typed with the keyboard, the form
    explains where its weights come from, leaves ImageNet and the ResNet CAM layers out, names an
    unknown family in words, and a real 1-epoch run registers the timm model."""
    form = dialog.form
    _fill(dialog, "tiny-timm", epochs=1)
    line = form.arch_box.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "nonsense:net")
    assert "Unknown architecture 'nonsense:net'" in form.arch_hint.text() and form.arch_hint.isVisible()
    with pytest.raises(Exception, match="unknown architecture 'nonsense:net'"):
        form.config()
    line.selectAll()
    qtbot.keyClicks(line, "timm:resnet18")
    assert form.arch() == "timm:resnet18" and "A timm model" in form.arch_hint.text()
    assert not form.target_layer_box.isEnabled()
    assert form.init_box.currentData() == "scratch"  # ImageNet: not for timm / torchvision (no download)
    assert not form.init_box.model().item(form.init_box.findData("imagenet")).isEnabled()
    line.selectAll()
    qtbot.keyClicks(line, "clip:StreetCLIP")
    with pytest.raises(Exception, match="zero-shot"):
        form.config()
    line.selectAll()
    qtbot.keyClicks(line, "timm:resnet18")
    assert form.config().arch == "timm:resnet18" and form.config().target_layer == "layer4"
    worker = dialog.start_training()
    assert worker is not None
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    assert dialog.error is None, dialog.error
    info = get_model(ctx.project.db, "tiny-timm")
    assert info.arch == "timm:resnet18" and info.input_size == 32
    line.selectAll()
    qtbot.keyClicks(line, "resnet18")
    assert form.target_layer_box.isEnabled() and not form.arch_hint.isVisible()
