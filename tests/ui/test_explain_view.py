"""The Explain tab and the settings dialog, driven through their real widgets (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from geoquiz.project import Project


@pytest.fixture
def ctx(explain_project_root):
    from ui.context import AppContext

    context = AppContext(Project.open(explain_project_root))
    yield context
    from ui.workers import wait_all

    wait_all(30000)
    context.project.close()


def _select(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not in {combo.objectName()}"
    combo.setCurrentIndex(index)


def test_explain_single_image_in_a_worker(qtbot, ctx):
    from ui.views.explain_view import ExplainView

    view = ExplainView(ctx)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    assert view.model_combo.count() == 2
    _select(view.model_combo, "single")
    assert view.dataset_combo.currentData() == "tiny"
    assert view.sample_list.count() == 3  # the test split
    assert view.target_combo.count() == 4  # predicted + 3 classes
    _select(view.method_combo, "gradcampp")
    _select(view.segmenter_combo, "default")
    sam = view.segmenter_combo.findData("sam_vit_b")
    assert not view.segmenter_combo.model().item(sam).isEnabled()  # no checkpoint: not selectable
    assert view.segmenter_combo.itemText(sam) == "SAM ViT-B (not ready)"  # by name
    qtbot.mouseClick(view.explain_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=60000)
    result = view.result
    assert result.views == [None] and result.images[0].shape == (40, 40, 3)  # the original image
    assert view.canvases[0].isVisible() and not view.canvases[1].isVisible()
    assert view.canvases[0].heatmap() is not None
    assert view.table.rowCount() == len(result.elements)
    assert len(view.canvases[0].boxes()) == len(result.elements)
    assert view.status.text().startswith("Prediction:")
    view.opacity.setValue(20)
    assert view.canvases[0].heatmap_opacity() == pytest.approx(0.2)
    if result.elements:
        view.table.selectRow(0)
        assert max(b.width for b in view.canvases[0].boxes()) == 4.0
    view.show_elements.setChecked(False)
    assert view.canvases[0].boxes() == []


def test_explain_four_views_and_cancel(qtbot, ctx):
    from ui.views.explain_view import ExplainView

    view = ExplainView(ctx)
    qtbot.addWidget(view)
    view.show()
    _select(view.model_combo, "medium")
    assert view.dataset_combo.currentData() == "tiny4"
    view.split_combo.setCurrentText("all")
    assert view.sample_list.count() == 6
    _select(view.method_combo, "gradcam")
    _select(view.target_combo, "Japan")
    view.explain()
    qtbot.waitUntil(lambda: view.result is not None, timeout=60000)
    assert view.result.views == ["north", "east", "south", "west"] and view.result.target == "Japan"
    assert all(c.isVisible() for c in view.canvases) and all(c.image() is not None for c in view.canvases)
    per_canvas = sum(len(c.boxes()) for c in view.canvases)
    assert per_canvas == len(view.result.elements)
    # a slow job (Score-CAM) cancelled at once: the view says so and keeps the last result
    previous = view.result
    _select(view.method_combo, "scorecam")
    view.sample_list.setCurrentRow(1)
    view.explain()
    view.cancel()
    qtbot.waitUntil(lambda: view.status.text() == "Cancelled.", timeout=60000)
    assert view.result is previous and not view.progress.isVisible()


def test_settings_dialog_saves_paths_and_element_settings(qtbot, ctx, tmp_path, explain_project_root):
    from ui.dialogs.settings_dialog import open_settings_dialog
    from ui.views.explain_view import ExplainView

    view = ExplainView(ctx)
    qtbot.addWidget(view)
    ckpt = tmp_path / "sam_vit_b_01ec64.pth"
    ckpt.write_bytes(b"PK\x03\x04 pretend zip")
    dialog = open_settings_dialog(ctx, None)
    qtbot.addWidget(dialog)
    assert dialog.status_labels["sam_vit_b"].text().startswith("no checkpoint set")
    dialog.path_edits["sam_vit_b"].setText(str(tmp_path / "missing.pth"))
    assert dialog.status_labels["sam_vit_b"].text().startswith("checkpoint not found")
    dialog.path_edits["sam_vit_b"].setText(str(ckpt))
    assert dialog.status_labels["sam_vit_b"].text() == "✔ ready"
    dialog.element_inputs["top_p"].setValue(15.0)
    dialog.element_inputs["max_elements"].setValue(4)
    with qtbot.waitSignal(ctx.data_changed) as blocker:
        dialog.save()
    assert blocker.args == ["settings"]
    reread = Project.open(explain_project_root)
    try:
        assert reread.settings.segmenters.checkpoint("sam_vit_b") == str(ckpt)
        assert reread.settings.elements.top_p == 15.0 and reread.settings.elements.max_elements == 4
    finally:
        reread.close()
    sam = view.segmenter_combo.findData("sam_vit_b")
    assert view.segmenter_combo.model().item(sam).isEnabled()  # the view refreshed its statuses
    dialog.restore_element_defaults()
    assert dialog.element_settings().top_p == 20.0
