"""SAM3 in the app, through the real widgets (offscreen): its checkpoint folder and the concept
vocabulary in File > Settings (typed, checked, saved), and named element boxes in the Explain tab
from a tiny random-weight SAM3 run by the Explain worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.sam3 import VOCAB_TOML
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from geoquiz.project import Project

pytest.importorskip("transformers")

SHOTS = os.environ.get("GEOQUIZ_SCREENSHOTS")  # a folder: save screenshots there to look at them


@pytest.fixture(scope="module")
def detecting_sam3(tmp_path_factory) -> Path:
    """A tiny SAM3 whose own scores pass the default threshold now and then (random detections)."""
    from geoquiz.segmentation.sam3 import build_tiny_sam3
    from geoquiz.segmentation.sam3_checkpoint import save_checkpoint_dir

    model, processor = build_tiny_sam3(seed=1, detections=True)
    return save_checkpoint_dir(model, processor, tmp_path_factory.mktemp("sam3ui") / "sam3")


@pytest.fixture
def ctx(explain_project_root):
    from ui.context import AppContext

    context = AppContext(Project.open(explain_project_root))
    yield context
    from ui.workers import wait_all

    wait_all(30000)
    context.project.close()


def _type(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key_Delete)
    qtbot.keyClicks(edit, text)


def _shot(widget, name: str, size: tuple[int, int]) -> None:
    if SHOTS:
        widget.resize(*size)
        widget.grab().save(str(Path(SHOTS) / f"{name}_{size[0]}x{size[1]}.png"))


def test_settings_take_the_sam3_folder_and_a_checked_vocabulary(
    qtbot, ctx, detecting_sam3, explain_project_root
):
    from ui.dialogs.settings_dialog import open_settings_dialog

    bad = explain_project_root / "bad_concepts.toml"
    bad.write_text('[concepts]\nsigns = ["stop sign"]\nkerbs = ["striped kerb"]\n', encoding="utf-8")
    (explain_project_root / "my_concepts.toml").write_text(VOCAB_TOML, encoding="utf-8")
    dialog = open_settings_dialog(ctx, None)
    qtbot.addWidget(dialog)
    assert dialog.status_labels["sam3"].text().startswith("no checkpoint set (official folder facebook/sam3)")
    _type(qtbot, dialog.path_edits["sam3"], str(detecting_sam3 / "config.json"))
    assert "is a file" in dialog.status_labels["sam3"].text()
    _type(qtbot, dialog.path_edits["sam3"], str(detecting_sam3))
    assert dialog.status_labels["sam3"].text() == "✔ ready"
    assert dialog.vocabulary_status.text().startswith("✔ ") and "concepts" in dialog.vocabulary_status.text()
    _type(qtbot, dialog.vocabulary_edit, "bad_concepts.toml")
    assert "bad_concepts.toml, line 3: unknown cue tag 'kerbs'" in dialog.vocabulary_status.text()
    save = dialog.findChild(QDialogButtonBox, "settingsButtons").button(QDialogButtonBox.Save)
    qtbot.mouseClick(save, Qt.LeftButton)
    box = dialog.findChild(QMessageBox, "errorBox")
    assert box is not None and box.isVisible() and "line 3" in box.text()
    box.close()
    assert Project.open(explain_project_root).settings.concepts.vocabulary == ""  # nothing saved
    _type(qtbot, dialog.vocabulary_edit, "my_concepts.toml")
    assert dialog.vocabulary_status.text() == "✔ 8 concepts, 5 cue tags"
    _shot(dialog, "settings_sam3", (1000, 620))
    with qtbot.waitSignal(ctx.data_changed):
        qtbot.mouseClick(save, Qt.LeftButton)
    reread = Project.open(explain_project_root)
    try:
        assert reread.settings.segmenters.checkpoint("sam3") == str(detecting_sam3)
        assert reread.settings.concepts.vocabulary == "my_concepts.toml"
    finally:
        reread.close()


def test_explain_tab_labels_sam3_boxes_with_their_concepts(qtbot, ctx, detecting_sam3):
    import dataclasses

    from geoquiz.config import ConceptSettings
    from ui.views.explain_view import ExplainView

    project = ctx.project
    project.save_settings(
        dataclasses.replace(
            project.settings,
            segmenters=project.settings.segmenters.replace(sam3=str(detecting_sam3)),
            elements=dataclasses.replace(project.settings.elements, s_min=0.0, top_p=60.0),
            concepts=ConceptSettings(""),
        )
    )
    view = ExplainView(ctx)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    view.model_combo.setCurrentIndex(view.model_combo.findData("single"))
    first = view.sample_list.item(0)
    qtbot.mouseClick(
        view.sample_list.viewport(), Qt.LeftButton, pos=view.sample_list.visualItemRect(first).center()
    )
    assert view.sample_list.currentRow() == 0
    combo = view.segmenter_combo
    assert combo.findData("sam3:guided") == -1  # prompted with concepts: no guided mode
    assert combo.model().item(combo.findData("sam3")).isEnabled()
    combo.setCurrentIndex(combo.findData("sam3"))
    view.method_combo.setCurrentIndex(view.method_combo.findData("gradcam"))
    qtbot.mouseClick(view.explain_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=120000)
    elements = [e for e, _ in view.result.elements]
    assert elements and all(e.concept and e.tag for e in elements)
    labels = [b.label for b in view.canvases[0].boxes()]
    assert sorted(labels) == sorted(f"{e.rank}  {e.score:.2f}  {e.concept}" for e in elements)
    header = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    col = header.index("Concept (tag)")
    assert view.table.item(0, col).text().startswith(elements[0].concept + " (")
    for size in ((1366, 768), (1920, 1080)):
        _shot(view, "explain_sam3", size)


def test_review_overlays_name_elements():
    from geoquiz.boxes import Box
    from geoquiz.types import Element
    from ui.widgets.review_canvas import element_name, element_overlays

    box = Box(0, 0, 4, 4)
    named = Element(1, box, 0.75, 1, 1, 1, box, 16, concept="utility pole", tag="poles", concept_score=0.8)
    plain = Element(2, box, 0.5, 1, 1, 1, box, 16)
    assert [o.label for o in element_overlays([plain, named])] == ["1  0.75  utility pole", "2  0.50"]
    assert element_name(named) == "utility pole (Poles / wires)" and element_name(plain) == ""


def test_faithfulness_tab_shows_segments_and_coverage_per_segmenter(qtbot, ctx, detecting_sam3):
    import dataclasses

    from geoquiz.config import ConceptSettings, ElementSettings
    from geoquiz.faithfulness.grid import run_grid
    from ui.views.faithfulness_view import FaithfulnessView

    project = ctx.project
    project.save_settings(
        dataclasses.replace(
            project.settings,
            segmenters=project.settings.segmenters.replace(sam3=str(detecting_sam3)),
            concepts=ConceptSettings(""),
        )
    )
    keep = ElementSettings(top_p=60.0, s_min=0.0)
    run_grid(
        project,
        "single",
        "tiny",
        "test",
        ["gradcampp"],
        ["default", "sam3"],
        repeats=1,
        curves=False,
        limit=3,
        params=keep,
        device="cpu",
    )
    view = FaithfulnessView(ctx)
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    item = view.runs_list.item(0)
    qtbot.mouseClick(
        view.runs_list.viewport(), Qt.LeftButton, pos=view.runs_list.visualItemRect(item).center()
    )
    qtbot.waitUntil(lambda: view.results is not None, timeout=60000)
    bar = view.tabs.tabBar()
    index = next(i for i in range(view.tabs.count()) if view.tabs.tabText(i).startswith("Segments"))
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
    assert view.tabs.currentWidget() is view.segments_panel
    counts, coverage = view.segments_panel.charts
    from geoquiz.segmentation import segmenter_label

    names = (segmenter_label("default"), segmenter_label("sam3"))  # shown by name, ids in the CSVs
    assert counts.groups == names and coverage.groups == names
    segs = dict(zip(counts.groups, counts.series[0].values, strict=True))
    assert all(segs[name] > 0 for name in names)
    assert all(0.0 < v <= 1.0 for v in coverage.series[0].values)
    for size in ((1366, 768), (1920, 1080)):
        _shot(view, "faithfulness_segments", size)
