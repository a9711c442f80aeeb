"""The reusable image canvas: overlays land on image pixels; drawing, clicking and zooming work."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from geoquiz.boxes import Box
from ui.widgets.image_canvas import BoxOverlay, ImageCanvas, colormap, mask_outline


def test_colormap_and_outline():
    rgb = colormap(np.array([[0.0, 0.5, 1.0]]), "jet")
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (0, 0, 128) and tuple(rgb[0, 2]) == (128, 0, 0)  # dark blue -> dark red
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:5, 1:5] = True
    edge = mask_outline(mask)
    assert edge.sum() == 12 and not edge[2:4, 2:4].any()


def _scene_pixel(canvas: ImageCanvas, x: int, y: int) -> tuple[int, int, int]:
    canvas.resetTransform()
    img = canvas.grab().toImage()
    c = img.pixelColor(canvas.mapFromScene(x + 0.5, y + 0.5))
    return c.red(), c.green(), c.blue()


def test_overlays_render_at_image_pixels(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[:, :30] = (0, 200, 0)
    canvas.set_image(image)
    assert canvas.image_size() == (60, 40)
    assert canvas.zoom() > 1.0  # fitted into a 300 px view
    heat = np.zeros((4, 6), dtype=np.float32)  # low resolution: stretched over the image
    heat[:, 3:] = 1.0
    canvas.set_heatmap(heat, opacity=1.0)
    canvas.set_boxes([BoxOverlay(Box(5, 5, 20, 20), "1  0.90", key="first")])
    canvas.set_outlines([np.pad(np.ones((10, 10), bool), ((25, 5), (45, 5)))])
    assert [b.key for b in canvas.boxes()] == ["first"]
    r, g, b = _scene_pixel(canvas, 50, 10)
    assert r > 100 and b < 50  # opaque red heat over the right half
    assert _scene_pixel(canvas, 10, 30)[1] > 150  # zero attribution is transparent: green shows
    canvas.set_heatmap_opacity(0.0)
    assert _scene_pixel(canvas, 10, 30)[1] > 150  # the green image shows through
    canvas.set_heatmap(None)
    assert canvas.heatmap() is None


def test_draw_mode_emits_a_clipped_box(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 200)
    canvas.show()
    canvas.set_image(np.full((50, 50, 3), 128, dtype=np.uint8))
    canvas.set_zoom(2.0)
    canvas.set_draw_mode(True)
    start = canvas.mapFromScene(10, 10)
    end = canvas.mapFromScene(30, 25)
    with qtbot.waitSignal(canvas.boxDrawn) as blocker:
        qtbot.mousePress(canvas.viewport(), Qt.LeftButton, pos=start)
        qtbot.mouseMove(canvas.viewport(), pos=end)
        qtbot.mouseRelease(canvas.viewport(), Qt.LeftButton, pos=end)
    box = blocker.args[0]
    assert isinstance(box, Box)
    assert abs(box.x0 - 10) <= 1 and abs(box.y0 - 10) <= 1 and abs(box.x1 - 30) <= 1 and abs(box.y1 - 25) <= 1


def test_clicking_a_box_reports_its_key(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(200, 200)
    canvas.show()
    canvas.set_image(np.zeros((50, 50, 3), dtype=np.uint8))
    canvas.set_boxes([BoxOverlay(Box(10, 10, 40, 40), key=7)])
    with qtbot.waitSignal(canvas.boxClicked) as blocker:
        qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=canvas.mapFromScene(25, 25))
    assert blocker.args == [7]
    canvas.zoom_by(2.0)
    assert not canvas._fit
    canvas.fit_to_view()
    assert canvas._fit
    assert isinstance(canvas.mapFromScene(0, 0), QPoint)


def test_fit_limit_and_wheel_zoom_keep_the_api(qtbot):
    """Other views keep filling the view; with a fit limit of 1 a small picture stays at its size,
    a large one is still shrunk to fit; the wheel keeps the point under the cursor."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    canvas.set_image(np.zeros((100, 100, 3), dtype=np.uint8))
    assert canvas.fit_limit() is None and canvas.zoom() > 2.5  # default: filled, as before
    canvas.set_fit_limit(1.0)
    assert canvas.zoom() == 1.0
    canvas.set_image(np.zeros((600, 800, 3), dtype=np.uint8))
    assert canvas.zoom() < 0.5  # too big for the view: shrunk to show it whole
    pos = canvas.mapFromScene(QPointF(700, 100))
    event = QWheelEvent(
        QPointF(pos),
        QPointF(canvas.viewport().mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 360),
        Qt.NoButton,
        Qt.NoModifier,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)
    after = canvas.mapFromScene(QPointF(700, 100))
    assert not canvas._fit and abs(after.x() - pos.x()) <= 1 and abs(after.y() - pos.y()) <= 1
    canvas.set_zoom(2.0)
    assert canvas.zoom() == 2.0


def _label_rects(canvas):
    """Each box label's rectangle on the screen (viewport pixels)."""
    from PySide6.QtCore import QRect

    out = []
    for item in canvas._box_items:
        text = item.label_item
        at = canvas.mapFromScene(text.scenePos())
        r = text.boundingRect()
        out.append(QRect(at.x(), at.y(), int(r.width()), int(r.height())))
    return out


def test_labels_of_adjacent_boxes_do_not_cover_each_other(qtbot):
    """Element boxes side by side (corners a few pixels apart): each label moves to a free corner of
    its box, the first keeps the top-left; after zooming in they still keep apart."""
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    canvas.show()
    canvas.set_image(np.zeros((224, 224, 3), dtype=np.uint8))
    boxes = [Box(20, 20, 120, 120), Box(26, 24, 130, 126), Box(22, 30, 118, 128)]
    canvas.set_boxes([BoxOverlay(b, f"{i + 1}  sign 0.9{i}") for i, b in enumerate(boxes)])
    rects = _label_rects(canvas)
    first, corner = (
        canvas.mapFromScene(canvas._box_items[0].label_item.scenePos()),
        canvas.mapFromScene(20, 20),
    )
    assert 0 <= first.x() - corner.x() <= 3 and 0 <= first.y() - corner.y() <= 2  # the first: its top-left
    assert not any(rects[i].intersects(rects[j]) for i in range(3) for j in range(i + 1, 3)), rects
    for rect, box in zip(rects, boxes):  # inside its own box
        top_left, bottom_right = canvas.mapFromScene(box.x0, box.y0), canvas.mapFromScene(box.x1, box.y1)
        assert top_left.x() - 1 <= rect.left() and rect.right() <= bottom_right.x() + 1
    canvas.set_zoom(canvas.zoom() * 2.5)
    rects = _label_rects(canvas)
    assert not any(rects[i].intersects(rects[j]) for i in range(3) for j in range(i + 1, 3)), rects


def test_labels_sit_above_every_box_and_go_with_their_boxes(qtbot):
    """A later box's outline is never drawn across an earlier box's label; hiding or clearing the
    boxes hides or removes their labels too."""
    from PySide6.QtWidgets import QGraphicsSimpleTextItem

    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    canvas.set_image(np.zeros((100, 100, 3), dtype=np.uint8))
    canvas.set_boxes([BoxOverlay(Box(10, 10, 40, 40), "1  0.9"), BoxOverlay(Box(12, 12, 60, 60), "2  0.8")])
    labels = [i for i in canvas.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]
    assert len(labels) == 2
    assert min(t.zValue() for t in labels) > max(b.zValue() for b in canvas._box_items)
    canvas.set_boxes_visible(False)
    assert not any(t.isVisible() for t in labels)
    canvas.set_boxes([])
    assert not [i for i in canvas.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]
