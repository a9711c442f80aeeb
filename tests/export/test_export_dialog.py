"""File › Export study data…: the dialog runs the export in a worker and lists the files; a bad
folder is reported in a message box and the dialog stays usable."""

from __future__ import annotations

import pandas as pd
from PySide6.QtWidgets import QMessageBox

from ui.context import AppContext
from ui.dialogs.export_dialog import open_export_dialog
from ui.workers import wait_all


def test_export_dialog_exports_the_ticked_tables(qtbot, seeded, tmp_path):
    project, _ = seeded
    dialog = open_export_dialog(AppContext(project), None)
    qtbot.addWidget(dialog)
    assert dialog.folder.text().startswith(str(project.root / "exports" / "study-"))
    dialog.folder.setText(str(tmp_path / "out"))
    for name, box in dialog.checks.items():
        box.setChecked(name in ("trials", "coco"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: bool(dialog.files), timeout=15000)
    assert sorted(p.name for p in dialog.files) == sorted(
        ["trials.csv", "codebook.csv", "coco_boxes.json", "manifest.json"]
    )
    assert "Exported 4 files" in dialog.result.text()
    assert len(pd.read_csv(tmp_path / "out" / "trials.csv")) == 16
    qtbot.waitUntil(dialog.export_button.isEnabled, timeout=5000)
    wait_all()


def test_export_dialog_reports_a_bad_folder(qtbot, seeded, tmp_path):
    project, _ = seeded
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    dialog = open_export_dialog(AppContext(project), None)
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(blocker / "sub"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.findChild(QMessageBox, "errorBox") is not None, timeout=15000)
    box = dialog.findChild(QMessageBox, "errorBox")
    assert "cannot create the export folder" in box.text()
    assert "failed" in dialog.result.text() and not dialog.files
    for b in dialog.checks.values():
        b.setChecked(False)
    dialog.export_button.click()  # nothing ticked: refused with a message, no worker
    wait_all()
