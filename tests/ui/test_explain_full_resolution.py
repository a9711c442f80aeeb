"""The Explain tab shows the ORIGINAL image: a 200 x 120 picture explained by a 64 px model is drawn
at 200 x 120, with the heatmap upsampled to it and the element boxes at the mapped coordinates
(ImageFrame: x * 200 / 64, y * 120 / 64, rounded outwards). Driven through the real widgets."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt

from geoquiz.project import Project

W, H = 200, 120


@pytest.fixture(scope="module")
def wide_root(tmp_path_factory):
    """The explain fixture project plus dataset ``wide``: three non-square 200 x 120 images."""
    from fixtures.explain import EXPLAIN_CLASSES, build_explain_project

    from geoquiz.data.imageio import write_image
    from geoquiz.data.store import store_dataset
    from geoquiz.types import ImageItem

    root = build_explain_project(tmp_path_factory.mktemp("wide") / "proj")
    rng = np.random.default_rng(3)
    items = []
    for i, label in enumerate(EXPLAIN_CLASSES):
        img = rng.integers(0, 90, size=(H, W, 3), dtype=np.uint8)
        img[20 + 10 * i : 60 + 10 * i, 120:170] = (250, 240, 40)  # a bright sign-like patch
        path = write_image(root / "datasets" / "wide" / f"wide{i}.png", img)
        items.append(ImageItem(f"wide{i}", str(path), label, "test"))
    with Project.open(root) as project:
        store_dataset(project, "wide", "single", items, source="test", classes=list(EXPLAIN_CLASSES))
    return root


def test_explain_shows_the_original_image_with_mapped_maps_and_boxes(qtbot, wide_root):
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer, ImageFrame
    from ui.context import AppContext
    from ui.views.explain_view import ExplainView
    from ui.workers import wait_all

    ctx = AppContext(Project.open(wide_root))
    try:
        view = ExplainView(ctx)
        qtbot.addWidget(view)
        view.resize(1100, 700)
        view.show()
        view.model_combo.setCurrentIndex(view.model_combo.findData("single"))
        view.dataset_combo.setCurrentIndex(view.dataset_combo.findData("wide"))
        assert view.sample_list.count() == 3
        view.method_combo.setCurrentIndex(view.method_combo.findData("gradcam"))
        view.segmenter_combo.setCurrentIndex(view.segmenter_combo.findData("default"))
        view.sample_list.setCurrentRow(0)
        qtbot.mouseClick(view.explain_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: view.result is not None, timeout=60000)
        result, canvas = view.result, view.canvases[0]

        # the picture itself, not the model's 64 px input: the pixmap has the image's own size
        assert result.model_size == 64 and result.images[0].shape == (H, W, 3)
        pixmap = canvas._image_item.pixmap()
        assert (pixmap.width(), pixmap.height()) == (W, H) and canvas.sceneRect() == QRectF(0, 0, W, H)
        # the heatmap was upsampled to the image (drawn 1:1, not stretched by the canvas)
        heat = canvas._heat_item.pixmap()
        assert canvas.heatmap().shape == (H, W) and (heat.width(), heat.height()) == (W, H)
        assert canvas._heat_item.transform().isIdentity()
        # segment outlines drawn 1:1 at the image's resolution (masks mapped, then outlined)
        assert result.segments[0] and all(m.shape == (64, 64) for m in result.segments[0])
        outline = canvas._outline_item.pixmap()
        assert result.outlines[0].shape == (H, W) and (outline.width(), outline.height()) == (W, H)
        assert canvas._outline_item.transform().isIdentity() and result.outlines[0].any()
        assert f"{W} x {H} px" in view.status.text() and "64 px" in view.status.text()

        # each element box sits where ImageFrame maps the model-frame box (computed independently)
        item = load_items(ctx.project.db, "wide", "test")[0]
        model_frame = Explainer(ctx.project, "single").elements(item, "gradcam", "default")
        assert model_frame, "a Grad-CAM map always gives at least one element"
        frame = ImageFrame(64, W, H)
        expected = {e.rank: frame.box(e.box) for e in model_frame}
        drawn = {b.key: b.box for b in canvas.boxes()}
        assert drawn == expected
        assert all(expected[e.rank] != e.box for e in model_frame)  # really mapped (3.125 x 1.875)
        top = canvas._box_items[0]
        box = expected[top.overlay.key]
        assert top.rect() == QRectF(box.x0, box.y0, box.width, box.height)  # scene = image pixels
        # the table lists the boxes in image pixels too
        assert view.table.item(0, 7).text() == str(expected[int(view.table.item(0, 0).text())].as_tuple())
    finally:
        wait_all(30000)
        ctx.project.close()
