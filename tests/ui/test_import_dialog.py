"""File › Import dataset…: the dialog runs the real importer in a worker, reports errors without
writing anything, and announces new datasets with ctx.data_changed("datasets")."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import write_png
from PySide6.QtWidgets import QApplication, QMessageBox

from geoquiz.data import dataset as ds
from geoquiz.types import VIEWS


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(6, 8, 3), dtype=np.uint8)


@pytest.fixture
def ctx(project):
    from ui.context import AppContext

    return AppContext(project)


def _run(qtbot, dialog):
    worker = dialog.start_import()
    assert worker is not None
    qtbot.waitUntil(lambda: dialog.import_result is not None or dialog.error is not None, timeout=15000)
    return worker


def _error_boxes():
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_import_dialog_folder_then_strict_failure(qtbot, ctx, tmp_path):
    from ui.dialogs.import_dialog import open_import_dialog

    for label in ("a", "b"):
        for i in range(3):
            write_png(tmp_path / "data" / label / f"{i}.png", _img(i))
    dialog = open_import_dialog(ctx, None)
    qtbot.addWidget(dialog)
    if os.environ.get("GEOQUIZ_SCREENSHOTS"):
        dialog.grab().save(str(tmp_path / "import_dialog.png"))
        print("screenshot in", tmp_path)
    assert not dialog.columns_group.isVisible()
    dialog.source_edit.setText(str(tmp_path / "data"))
    dialog._source_changed()
    assert dialog.name_edit.text() == "data"
    dialog.seed_spin.setValue(5)
    changes = []
    ctx.data_changed.connect(changes.append)
    _run(qtbot, dialog)
    assert dialog.error is None and changes == ["datasets"]
    info = ds.get_dataset(ctx.project.db, "data")
    assert info.n_images == 6 and info.split_seed == 5 and info.split_method == "stratified"
    assert "imported dataset 'data'" in dialog.summary_box.text()

    # a corrupt file in strict mode: the error is shown, nothing is written, the dialog stays usable
    (tmp_path / "data" / "b" / "bad.png").write_bytes(b"broken")
    again = open_import_dialog(ctx, None)
    qtbot.addWidget(again)
    again.name_edit.setText("second")
    again.source_edit.setText(str(tmp_path / "data"))
    _run(qtbot, again)
    assert "bad.png" in again.error and again.import_result is None
    assert [i.name for i in ds.list_datasets(ctx.project.db)] == ["data"]
    assert any("bad.png" in box.text() for box in _error_boxes())
    assert again.import_button.isEnabled() and changes == ["datasets"]
    again.skip_bad.setChecked(True)
    _run(qtbot, again)
    assert again.import_result.skipped and ds.get_dataset(ctx.project.db, "second").n_images == 6


def test_import_dialog_csv_columns_from_header_and_four_view_csv(qtbot, ctx, tmp_path):
    from ui.dialogs.import_dialog import open_import_dialog

    lines = ["loc,state,fold,n,e,s,w"]
    for i in range(2):
        for v in VIEWS:
            write_png(tmp_path / f"L{i}_{v}.png", _img(i))
        lines.append(f"L{i},Ohio,{'train' if i else 'test'}," + ",".join(f"L{i}_{v}.png" for v in VIEWS))
    (tmp_path / "locs.csv").write_text("\n".join(lines) + "\n")
    dialog = open_import_dialog(ctx, None)
    qtbot.addWidget(dialog)
    dialog.layout_box.setCurrentIndex(dialog.layout_box.findData("4view-csv"))
    assert dialog.columns_group.isVisibleTo(dialog)
    dialog.source_edit.setText(str(tmp_path / "locs.csv"))
    dialog._source_changed()
    box = dialog.column_boxes["label"]
    assert [box.itemText(i) for i in range(box.count())] == [
        "(none)",
        "loc",
        "state",
        "fold",
        "n",
        "e",
        "s",
        "w",
    ]
    assert dialog.column_boxes["id"].currentText() == "(none)"  # no 'id' column in this file
    dialog.column_boxes["id"].setCurrentText("loc")
    dialog.column_boxes["label"].setCurrentText("state")
    dialog.column_boxes["split"].setCurrentText("fold")
    for v, col in zip(VIEWS, "nesw"):
        dialog.column_boxes[f"view_{v}"].setCurrentText(col)
    dialog.split_column.setChecked(True)
    name, source, opts = dialog.options()
    assert opts["view_columns"] == {"north": "n", "east": "e", "south": "s", "west": "w"}
    assert opts["columns"]["latitude"] is None and opts["columns"]["split"] == "fold"
    _run(qtbot, dialog)
    assert dialog.error is None, dialog.error
    info = ds.get_dataset(ctx.project.db, "locs")
    assert (info.kind, info.n_locations, info.splits) == ("4view", 2, {"test": 4, "train": 4})

    # a missing column is reported by name
    again = open_import_dialog(ctx, None)
    qtbot.addWidget(again)
    again.layout_box.setCurrentIndex(again.layout_box.findData("csv"))
    again.name_edit.setText("flat")
    again.source_edit.setText(str(tmp_path / "locs.csv"))
    again.column_boxes["label"].setCurrentText("country")
    _run(qtbot, again)
    assert "missing column(s) 'id', 'country'" in again.error
