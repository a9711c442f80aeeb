"""The Causal tab, driven by real clicks on a small GeoScenes project: Compute stores the
counterfactuals in a worker and fills the per-tag table, Score fills the measures table, Cancel keeps
what was stored, and scoring a model without causal truth shows an error box."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

CLASSES = ("France", "India", "Japan")


@pytest.fixture
def gs_project(project):
    import torch

    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    import_geoscenes(project, "gs", n_per_class=2, size=64, seed=0)
    spec = ModelSpec("resnet10", "single", CLASSES, input_size=64)
    for i, name in enumerate(("a-model", "b-model")):
        torch.manual_seed(i)
        path = save_checkpoint(project.root / "models" / f"{name}.pt", build_model(spec), spec)
        register_model(project, name, path, dataset="gs")
    return project


def _count(project) -> int:
    return project.db.execute("SELECT COUNT(*) FROM causal_units").fetchone()[0]


def _view(qtbot, project):
    from ui.context import AppContext
    from ui.views.causal_view import CausalView

    view = CausalView(AppContext(project))
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_compute_then_score_with_clicks(qtbot, gs_project):
    from ui.workers import wait_all

    view = _view(qtbot, gs_project)
    assert view.model_box.currentData() == "a-model" and view.dataset_box.currentData() == "gs"
    view.split_box.setFocus()
    qtbot.keyClicks(view.split_box, "all")  # keyboard search of the combo
    assert view.split_box.currentText() == "all"
    qtbot.mouseClick(view.run_controls.run_button, Qt.LeftButton)
    assert view.run_controls.busy and view.run_controls.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not view.run_controls.busy, timeout=60000)
    assert _count(gs_project) == 6
    tags = [view.tag_table.item(r, 0).data(Qt.UserRole) for r in range(view.tag_table.rowCount())]
    assert "road_markings" in tags and "(any single cue)" in tags
    assert "6 images with causal ground truth" in view.summary_label.text()

    # tick Grad-CAM (the list holds Grad-CAM++ ticked already) with a click on its check box
    methods = view.methods_list
    row = next(i for i in range(methods.count()) if methods.item(i).data(Qt.UserRole) == "gradcam")
    rect = methods.visualItemRect(methods.item(row))
    qtbot.mouseClick(methods.viewport(), Qt.LeftButton, pos=QPoint(rect.left() + 8, rect.center().y()))
    assert methods.item(row).checkState() == Qt.Checked
    qtbot.mouseClick(view.score_controls.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not view.score_controls.busy, timeout=120000)
    measures = {view.score_table.item(r, 2).data(Qt.UserRole) for r in range(view.score_table.rowCount())}
    assert {"causal_hit", "topk_share", "any_cue", "spearman_mass"} <= measures
    assert {view.score_table.item(r, 0).data(Qt.UserRole) for r in range(view.score_table.rowCount())} == {
        "gradcam",
        "gradcampp",
    }
    wait_all(10000)


def test_cancel_keeps_what_was_stored_and_errors_are_shown(qtbot, gs_project):
    from ui.workers import wait_all

    view = _view(qtbot, gs_project)
    view.split_box.setFocus()
    qtbot.keyClicks(view.split_box, "all")
    qtbot.mouseClick(view.run_controls.run_button, Qt.LeftButton)
    qtbot.mouseClick(view.run_controls.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not view.run_controls.busy, timeout=60000)
    assert "Cancelled" in view.run_controls.status.text()
    assert _count(gs_project) < 6
    # b-model has no causal truth: scoring it is refused with a message box
    view.model_box.setFocus()
    qtbot.keyClicks(view.model_box, "b")
    assert view.model_box.currentData() == "b-model"
    qtbot.mouseClick(view.score_controls.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not view.score_controls.busy, timeout=60000)
    boxes = [w for w in view.window().findChildren(QMessageBox) if w.objectName() == "errorBox"]
    assert boxes and "no causal ground truth stored" in boxes[-1].text()
    wait_all(10000)
