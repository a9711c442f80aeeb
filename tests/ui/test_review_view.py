"""The Review tab on the seeded study, offscreen: item list, overlays and their toggles, the density
layer, the guesses chart, rationales, agreement numbers, a 4-view location; grab() a PNG and check it."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.review_seed import FixedEvidence
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from geoquiz.agreement import AgreementConfig, build_views, compute_agreement
from geoquiz.study.review_data import load_item
from ui.context import AppContext
from ui.views.review_view import ReviewView
from ui.widgets.review_canvas import ReviewCanvas
from ui.workers import wait_all


@pytest.fixture
def review(qtbot, seeded):
    project, ids = seeded
    compute_agreement(project, "m1", evidence=FixedEvidence(project.db), config=AgreementConfig(n_boot=20))
    view = ReviewView(AppContext(project))
    qtbot.addWidget(view)
    view.resize(1400, 820)
    view.show()
    qtbot.waitUntil(lambda: view.bundle is not None, timeout=10000)
    yield view, project, ids
    wait_all()


def _explain(view: ReviewView, project) -> None:
    """Deliver the model's maps and elements as the explanation worker does (FixedEvidence stands in
    for geoquiz.explain, which computes them with torch)."""
    ev = FixedEvidence(project.db)
    item = load_item(project.db, view.bundle.ref)
    views = build_views(item, ev.heatmaps(item, "gradcam"), ev.elements(item, "gradcam", "default"))
    view.show_explanation(
        {"views": {v.name: (v.heat, v.elements) for v in views}, "prediction": ev.predict(item)}
    )


def _colours(path) -> int:
    img = QImage(str(path)).convertToFormat(QImage.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[
        :, : img.width() * 3
    ]
    rgb = arr.reshape(-1, 3).astype(np.uint32)
    return len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]))


def test_review_shows_an_image_with_every_layer(review, tmp_path, qtbot):
    view, project, ids = review
    assert view.items.count() == 6  # five images and one location have answers
    assert view.bundle.key == "img0" and view.model_combo.currentText() == "m1"
    # methods and segmenters by name; the choice passed on is the id
    assert view.method_combo.currentText() == "Grad-CAM" and view.choice()["method"] == "gradcam"
    assert (
        view.segmenter_combo.currentText() == "Default (superpixels)"
        and view.choice()["segmenter"] == "default"
    )
    canvas = view.canvases[0]
    assert canvas.image_size() == (64, 48) and view.cells[0].isVisible() and not view.cells[1].isVisible()
    # by default: heatmap, the model's elements and the participants' boxes; planted cues and the box
    # density are a click away
    shown = [key for key, box in view.toggles.items() if box.isChecked()]
    assert shown == ["heatmap", "elements", "human"]
    # the participants' boxes (P1 1, P2 2, P3 1) before the explanation arrives; then the planted cues
    kinds = [b.key[0] for b in canvas.boxes()]
    assert kinds.count("human") == 4 and "planted" not in kinds and "element" not in kinds
    qtbot.mouseClick(view.toggles["planted"], Qt.LeftButton, pos=view.toggles["planted"].rect().center())
    kinds = [b.key[0] for b in canvas.boxes()]
    assert kinds.count("planted") == 2 and kinds.count("human") == 4
    assert {b.color for b in canvas.boxes() if b.key[0] == "human"} >= {canvas.boxes()[2].color}
    density = canvas.density()
    # share of participants whose boxes cover the pixel: P1 and P2 at (5, 5), P2 and P3 at (25, 15)
    assert (
        density.shape == (48, 64)
        and density[5, 5] == pytest.approx(2 / 3)
        and density[15, 25] == pytest.approx(2 / 3)
    )
    assert density[40, 10] == 0 and density[5, 50] == pytest.approx(1 / 3)
    # the model's evidence: a heatmap and ranked, scored element boxes rescaled to the image
    _explain(view, project)
    elements = [b for b in canvas.boxes() if b.key[0] == "element"]
    assert [(b.label, b.box.as_tuple()) for b in elements] == [
        ("1  0.90", (0, 0, 16, 24)),
        ("2  0.60", (40, 0, 64, 12)),
    ]
    assert canvas.heatmap() is not None and canvas.heatmap().shape == (48, 64)
    # toggles
    view.toggles["human"].setChecked(False)
    assert [b.key[0] for b in canvas.boxes()].count("human") == 0
    view.toggles["elements"].setChecked(False)
    view.toggles["planted"].setChecked(False)
    assert canvas.boxes() == []
    view.toggles["heatmap"].setChecked(False)
    assert not canvas._heat_item.isVisible()
    view.toggles["density"].setChecked(False)
    assert not canvas._density_item.isVisible()
    for box in view.toggles.values():
        box.setChecked(True)
    # side panels: model probabilities vs share of first guesses, rationales, agreement numbers
    bars = {(b.group, b.series): b.value for b in view.chart.bars}
    assert bars[("France", "model")] == pytest.approx(0.7) and bars[("France", "people")] == pytest.approx(
        2 / 3
    )
    text = view.rationales.toPlainText()
    assert "P1-AAAA" in text and '=HYPERLINK("http://example.com","click")' in text and "P3-CCCC" in text
    assert view.agreement.value("pointing_hit", "human") == "1.000"
    assert view.agreement.value("fleiss_kappa") is None  # overall numbers are not per item
    assert "agreement run" in view.status.text()
    path = tmp_path / "review.png"
    assert view.grab().save(str(path))
    assert _colours(path) > 200  # a real picture, overlays and charts, not a blank widget


def test_review_location_shows_four_views(review, qtbot):
    view, project, ids = review
    row = next(i for i in range(view.items.count()) if view.items.item(i).text().startswith("loc0"))
    view.items.setCurrentRow(row)
    qtbot.waitUntil(lambda: view.bundle.ref.kind == "location", timeout=10000)
    assert all(cell.isVisible() for cell in view.cells)
    assert [c.text() for c in view.captions] == ["<b>north</b>", "<b>east</b>", "<b>south</b>", "<b>west</b>"]
    east = view.canvases[1]
    assert [b.key[0] for b in east.boxes()] == ["human", "human"]  # Q1's and Q2's pole boxes on east
    assert view.canvases[2].density() is not None and view.canvases[0].density() is None
    assert "does not take this kind of item" in view.status.text()  # m1 is a single-view model
    view.model_combo.setCurrentText("m4")
    view.load_current()
    qtbot.waitUntil(lambda: view.bundle.prediction is not None, timeout=10000)
    bars = {(b.group, b.series): b.value for b in view.chart.bars}
    assert bars[("France", "model")] == pytest.approx(0.7) and bars[("France", "people")] == 1.0


def test_review_filters_by_study_and_handles_an_empty_project(review, qtbot):
    view, project, ids = review
    view.study_combo.setCurrentText("pilot4")
    view.refresh_items()  # the list loads in a worker
    qtbot.waitUntil(lambda: view.items.count() == 1, timeout=10000)
    empty = ReviewView(AppContext(None))
    qtbot.addWidget(empty)
    assert empty.items.count() == 0 and isinstance(empty.canvases[0], ReviewCanvas)
