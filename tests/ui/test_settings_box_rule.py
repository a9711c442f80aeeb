"""Settings › Element extraction: the distinct-box rule and its thresholds are saved to project.toml."""

from __future__ import annotations

from PySide6.QtCore import Qt

from geoquiz.config import ElementSettings
from geoquiz.project import Project
from ui.context import AppContext


def test_box_rule_is_chosen_with_the_keyboard_and_saved(qtbot, tmp_path):
    from ui.dialogs.settings_dialog import open_settings_dialog

    root = tmp_path / "proj"
    ctx = AppContext()
    ctx.set_project(Project.open(root, create=True))
    dialog = open_settings_dialog(ctx, None)
    qtbot.addWidget(dialog)
    combo = dialog.box_rule
    assert combo.currentData() == "merge"  # the default
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key_Down)  # merge -> drop
    assert combo.currentData() == "drop"
    spin = dialog.element_inputs["box_iou"]
    spin.selectAll()
    qtbot.keyClicks(spin, "0.3")
    qtbot.keyClick(spin, Qt.Key_Tab)
    assert dialog.element_settings().box_iou == 0.3
    with qtbot.waitSignal(ctx.data_changed):
        dialog.save()
    with Project.open(root) as reread:
        assert reread.settings.elements.box_rule == "drop" and reread.settings.elements.box_iou == 0.3
    assert 'box_rule = "drop"' in (root / "project.toml").read_text()
    dialog.restore_element_defaults()
    assert dialog.element_settings() == ElementSettings()
    ctx.project.close()
