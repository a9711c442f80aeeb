"""A reusable image canvas: zoom/pan, heatmap overlay, segment outlines, box overlays, box drawing.

Scene coordinates are **image pixel coordinates** of the image given to :meth:`ImageCanvas.set_image`
(x to the right, y down; pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)``), so a
:class:`geoquiz.boxes.Box` is drawn exactly where it is. Overlays given at another resolution (a
224x224 heatmap over a 640x480 photo) are stretched over the whole image.

Typical use::

    canvas = ImageCanvas()
    canvas.set_image(rgb_uint8_hwc)
    canvas.set_heatmap(values_float_hw_0_1, opacity=0.5)          # None removes it
    canvas.set_outlines([mask1, mask2])                            # bool HxW masks
    canvas.set_boxes([BoxOverlay(Box(10, 10, 60, 40), "1  0.82")])
    canvas.set_draw_mode(True); canvas.boxDrawn.connect(on_box)    # rubber-band drawing (quiz)

Mouse: wheel zooms around the cursor (the image point under it stays put, to within a pixel),
left-drag pans (or draws a box in draw mode), double-click fits the image to the view.
:meth:`ImageCanvas.set_fit_limit` caps the fitted zoom (the quiz uses 1.0: a picture that fits is
shown at its native size, never upscaled). Signals: ``boxDrawn(Box)``, ``boxClicked(key)`` (the
:attr:`BoxOverlay.key` of the clicked box), ``zoomChanged(float)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from geoquiz.boxes import Box
from ui.widgets.label_layout import place_labels


@dataclass(frozen=True)
class BoxOverlay:
    """A box to draw: ``label`` is shown at its top-left corner; ``key`` comes back in ``boxClicked``."""

    box: Box
    label: str = ""
    color: str = "#ffd400"
    width: float = 2.0
    dashed: bool = False
    key: Any = None


def colormap(values: np.ndarray, name: str = "jet") -> np.ndarray:
    """Map float HxW values in [0, 1] to RGB uint8 HxWx3 (``jet``, ``hot`` or ``gray``)."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    if name == "jet":
        rgb = np.stack([np.clip(1.5 - np.abs(4 * v - c), 0, 1) for c in (3.0, 2.0, 1.0)], axis=-1)
    elif name == "hot":
        rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1)
    elif name == "gray":
        rgb = np.repeat(v[..., None], 3, axis=-1)
    else:
        raise ValueError(f"unknown colormap {name!r}; use jet, hot or gray")
    return (rgb * 255 + 0.5).astype(np.uint8)


def heat_rgba(values: np.ndarray, name: str = "jet") -> np.ndarray:
    """RGBA uint8 HxWx4: the colormap of ``values`` with alpha equal to the value, so weak attribution
    is transparent and the scene shows through it (the layer's opacity then scales the whole)."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    alpha = (v * 255 + 0.5).astype(np.uint8)
    return np.concatenate([colormap(v, name), alpha[..., None]], axis=-1)


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Bool HxW: the pixels of ``mask`` with a 4-neighbour outside it (or on the image border)."""
    m = np.asarray(mask, dtype=bool)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    return m & ~inner


def to_qimage(array: np.ndarray) -> QImage:
    """RGB uint8 HxWx3 or RGBA HxWx4 (or gray HxW) -> a QImage that owns its pixels."""
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if a.ndim == 2:
        a = np.ascontiguousarray(np.repeat(a[..., None], 3, axis=-1))
    h, w, c = a.shape
    fmt = {3: QImage.Format_RGB888, 4: QImage.Format_RGBA8888}.get(c)
    if fmt is None:
        raise ValueError(f"expected 3 or 4 channels, got {c}")
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


class _BoxItem(QGraphicsRectItem):
    def __init__(self, overlay: BoxOverlay) -> None:
        b = overlay.box
        super().__init__(QRectF(b.x0, b.y0, b.width, b.height))
        self.overlay = overlay
        pen = QPen(QColor(overlay.color), overlay.width)
        pen.setCosmetic(True)
        if overlay.dashed:
            pen.setStyle(Qt.DashLine)
        self.setPen(pen)
        self.setZValue(30)
        self.label_item: QGraphicsSimpleTextItem | None = None
        if overlay.label:
            # an item of its own above every box (not a child of this one), so that no other box's
            # outline is drawn across it; the canvas adds, places, shows and removes it with the box
            text = QGraphicsSimpleTextItem(overlay.label)
            text.setZValue(31)
            text.setBrush(QBrush(QColor("black")))
            text.setFlag(QGraphicsItem.ItemIgnoresTransformations, True)
            text.setPos(b.x0, b.y0)
            back = QGraphicsRectItem(text.boundingRect().adjusted(-2, -1, 2, 1), text)
            back.setBrush(QBrush(QColor(overlay.color)))
            back.setPen(QPen(Qt.NoPen))
            back.setFlag(QGraphicsItem.ItemStacksBehindParent, True)
            self.label_item = text


class ImageCanvas(QGraphicsView):
    """See the module docstring. All setters may be called before or after :meth:`set_image`."""

    boxDrawn = Signal(object)
    boxClicked = Signal(object)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageCanvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.NoAnchor)  # zoom_at anchors exactly
        self.setResizeAnchor(QGraphicsView.NoAnchor)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setBackgroundBrush(QBrush(QColor("#202020")))
        self.setMinimumSize(120, 120)
        self._image: np.ndarray | None = None
        self._image_item = QGraphicsPixmapItem()
        self._heat_item = QGraphicsPixmapItem()
        self._outline_item = QGraphicsPixmapItem()
        for z, item in ((0, self._image_item), (10, self._heat_item), (20, self._outline_item)):
            item.setZValue(z)
            item.setTransformationMode(Qt.SmoothTransformation if z < 20 else Qt.FastTransformation)
            self._scene.addItem(item)
        self._heat_values: np.ndarray | None = None
        self._heat_colormap = "jet"
        self._opacity = 0.5
        self._box_items: list[_BoxItem] = []
        self.zoomChanged.connect(lambda _zoom: self._place_labels())
        self._fit = True
        self._fit_limit: float | None = None
        self._draw_mode = False
        self._draw_color = "#00ff66"
        self._draw_start: QPointF | None = None
        self._draw_item: QGraphicsRectItem | None = None

    # --- image and overlays -----------------------------------------------------------------
    def image(self) -> np.ndarray | None:
        return self._image

    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` of the current image (0, 0 when none)."""
        return (0, 0) if self._image is None else (self._image.shape[1], self._image.shape[0])

    def set_image(self, image: np.ndarray | None) -> None:
        """Show an RGB uint8 HWC image (None clears). Overlays are kept; the view is fitted."""
        self._image = None if image is None else np.asarray(image)
        if self._image is None:
            self._image_item.setPixmap(QPixmap())
        else:
            self._image_item.setPixmap(QPixmap.fromImage(to_qimage(self._image)))
        w, h = self.image_size()
        self._scene.setSceneRect(QRectF(0, 0, w, h))
        self._stretch(self._heat_item)
        self._stretch(self._outline_item)
        self.fit_to_view()

    def _stretch(self, item: QGraphicsPixmapItem) -> None:
        w, h = self.image_size()
        pm = item.pixmap()
        if pm.isNull() or w == 0:
            item.setTransform(QTransform())
            return
        item.setTransform(QTransform.fromScale(w / pm.width(), h / pm.height()))

    def set_heatmap(
        self, values: np.ndarray | None, opacity: float | None = None, colormap_name: str = "jet"
    ) -> None:
        """Overlay a float HxW map in [0, 1] (any resolution; stretched over the image). None removes it."""
        self._heat_values = None if values is None else np.asarray(values, dtype=np.float32)
        self._heat_colormap = colormap_name
        if opacity is not None:
            self._opacity = float(opacity)
        if self._heat_values is None:
            self._heat_item.setPixmap(QPixmap())
        else:
            self._heat_item.setPixmap(
                QPixmap.fromImage(to_qimage(heat_rgba(self._heat_values, colormap_name)))
            )
        self._heat_item.setOpacity(self._opacity)
        self._stretch(self._heat_item)

    def heatmap(self) -> np.ndarray | None:
        return self._heat_values

    def set_heatmap_opacity(self, opacity: float) -> None:
        """Opacity of the heatmap layer, 0 (invisible) to 1 (opaque)."""
        self._opacity = float(min(max(opacity, 0.0), 1.0))
        self._heat_item.setOpacity(self._opacity)

    def heatmap_opacity(self) -> float:
        return self._opacity

    def set_heatmap_visible(self, visible: bool) -> None:
        self._heat_item.setVisible(bool(visible))

    def set_outlines(self, masks: Sequence[np.ndarray] | np.ndarray | None, color: str = "#00e5ff") -> None:
        """Draw the outlines of bool HxW masks (a list, a stack NxHxW, or an int label image HxW)."""
        if masks is None or (not isinstance(masks, np.ndarray) and len(masks) == 0):
            self._outline_item.setPixmap(QPixmap())
            return
        if isinstance(masks, np.ndarray) and masks.ndim == 2 and masks.dtype != bool:
            labels = masks
            edge = np.zeros(labels.shape, dtype=bool)
            edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
            edge[1:, :] |= labels[1:, :] != labels[:-1, :]
        else:
            stack = [masks] if isinstance(masks, np.ndarray) and masks.ndim == 2 else list(masks)
            edge = np.zeros(np.asarray(stack[0]).shape, dtype=bool)
            for m in stack:
                edge |= mask_outline(m)
        self.set_outline_edges(edge, color)

    def set_outline_edges(self, edge: np.ndarray | None, color: str = "#00e5ff") -> None:
        """Draw a ready bool HxW edge map (e.g. outlines already mapped to the image's pixels)."""
        if edge is None:
            self._outline_item.setPixmap(QPixmap())
            return
        edge = np.asarray(edge, dtype=bool)
        c = QColor(color)
        rgba = np.zeros(edge.shape + (4,), dtype=np.uint8)
        rgba[edge] = (c.red(), c.green(), c.blue(), 230)
        self._outline_item.setPixmap(QPixmap.fromImage(to_qimage(rgba)))
        self._stretch(self._outline_item)

    def set_outlines_visible(self, visible: bool) -> None:
        self._outline_item.setVisible(bool(visible))

    def set_boxes(self, boxes: Sequence[BoxOverlay]) -> None:
        """Replace the box overlays."""
        self.clear_boxes()
        for b in boxes:
            self._add_item(b)
        self._place_labels()

    def add_box(self, overlay: BoxOverlay) -> None:
        self._add_item(overlay)
        self._place_labels()

    def _add_item(self, overlay: BoxOverlay) -> None:
        item = _BoxItem(overlay)
        self._scene.addItem(item)
        if item.label_item is not None:
            self._scene.addItem(item.label_item)
        self._box_items.append(item)

    def _place_labels(self) -> None:
        """Keep the box labels apart on the screen (:func:`ui.widgets.label_layout.place_labels`:
        the first keeps the top-left of its box, later ones take a free corner inside or just
        outside theirs, on the image). Labels keep their screen size at any zoom, so this runs
        again whenever the zoom changes."""
        z = max(self.zoom(), 1e-9)
        texts = [item.label_item for item in self._box_items]
        boxes = [
            None
            if t is None
            else QRectF(*item.overlay.box.as_tuple()[:2], item.overlay.box.width, item.overlay.box.height)
            for item, t in zip(self._box_items, texts)
        ]
        sizes = [
            (0.0, 0.0)
            if t is None
            else ((t.boundingRect().width() + 4) / z, (t.boundingRect().height() + 2) / z)
            for t in texts
        ]
        bounds = self._scene.sceneRect()
        rects = place_labels(boxes, sizes, bounds if bounds.width() > 0 else None)
        for text, rect in zip(texts, rects):
            if text is not None and rect is not None:
                text.setPos(rect.left() + 2 / z, rect.top() + 1 / z)  # inside its background margins

    def clear_boxes(self) -> None:
        for item in self._box_items:
            self._scene.removeItem(item)
            if item.label_item is not None:
                self._scene.removeItem(item.label_item)
        self._box_items.clear()

    def boxes(self) -> list[BoxOverlay]:
        return [item.overlay for item in self._box_items]

    def set_boxes_visible(self, visible: bool) -> None:
        for item in self._box_items:
            item.setVisible(bool(visible))
            if item.label_item is not None:
                item.label_item.setVisible(bool(visible))

    # --- zoom -------------------------------------------------------------------------------
    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    def set_fit_limit(self, max_scale: float | None) -> None:
        """The largest zoom :meth:`fit_to_view` may use (None: fill the view, the default). ``1.0``
        shows an image that fits at its native size (1 image pixel = 1 screen pixel) instead of
        upscaling it; larger images are still shrunk to show them whole."""
        self._fit_limit = None if max_scale is None else float(max_scale)
        if self._fit:
            self.fit_to_view()

    def fit_limit(self) -> float | None:
        return self._fit_limit

    def fit_to_view(self) -> None:
        """Show the whole image, centred (and keep fitting it when the widget is resized)."""
        self._fit = True
        rect = self._scene.sceneRect()
        self.setSceneRect(rect)
        if rect.width() > 0 and rect.height() > 0:
            self.fitInView(rect, Qt.KeepAspectRatio)
            if self._fit_limit is not None and self.zoom() > self._fit_limit:
                self.setTransform(QTransform.fromScale(self._fit_limit, self._fit_limit))
            self.centerOn(rect.center())
            self.zoomChanged.emit(self.zoom())

    def set_zoom(self, scale: float) -> None:
        """Zoom to ``scale`` screen pixels per image pixel, keeping the centre of the view in place."""
        self.zoom_at(scale / max(self.zoom(), 1e-9))

    def zoom_by(self, factor: float) -> None:
        self.zoom_at(factor)

    def zoom_at(self, factor: float, pos: QPointF | None = None, scene_point: QPointF | None = None) -> None:
        """Multiply the zoom by ``factor`` (clamped to 0.02..64) keeping the image point under the
        viewport position ``pos`` (default: the viewport centre) where it is, to within a pixel.
        ``scene_point`` (image pixels), when given, is the point to bring to ``pos`` instead."""
        vp = self.viewport().rect()
        pos = QPointF(vp.center()) if pos is None else QPointF(pos)
        anchor = self._view_to_scene(pos) if scene_point is None else QPointF(scene_point)
        new = float(min(max(self.zoom() * factor, 0.02), 64.0))
        self._fit = False
        self.setTransform(QTransform.fromScale(new, new))
        self._pan_margins()
        self._bring(anchor, pos)
        self.zoomChanged.emit(self.zoom())

    def _view_to_scene(self, pos: QPointF) -> QPointF:
        """Viewport position (float) -> scene point, exactly (``mapToScene`` rounds to whole pixels)."""
        return self.viewportTransform().inverted()[0].map(QPointF(pos))

    def _bring(self, scene_point: QPointF, pos: QPointF) -> None:
        """Scroll so that ``scene_point`` lands at viewport position ``pos`` (scroll bars are whole
        pixels, so to within one pixel)."""
        for _ in range(2):  # a second pass absorbs a scroll bar clamping on the first
            at = self.viewportTransform().map(scene_point)
            dx, dy = round(at.x() - pos.x()), round(at.y() - pos.y())
            if not dx and not dy:
                return
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + dx)
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + dy)

    def _pan_margins(self) -> None:
        """While zoomed by hand, let the image move a whole viewport past each edge, so any image
        point can sit under the cursor (the view never re-centres a small image under it)."""
        w, h = self.image_size()
        s = max(self.zoom(), 1e-9)
        mx, my = self.viewport().width() / s, self.viewport().height() / s
        self.setSceneRect(QRectF(-mx, -my, w + 2 * mx, h + 2 * my))

    def resizeEvent(self, event) -> None:
        centre = self._view_to_scene(QPointF(self.viewport().rect().center()))
        super().resizeEvent(event)
        if self._fit:
            self.fit_to_view()
        elif self._image is not None:
            self._pan_margins()
            self._bring(centre, QPointF(self.viewport().rect().center()))

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_at(1.15**steps, event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit_to_view()
        event.accept()

    # --- box drawing and clicking -----------------------------------------------------------
    def set_draw_mode(self, enabled: bool, color: str = "#00ff66") -> None:
        """When on, left-drag draws a box (emitted as ``boxDrawn(Box)``) instead of panning."""
        self._draw_mode = bool(enabled)
        self._draw_color = color
        self.setDragMode(QGraphicsView.NoDrag if enabled else QGraphicsView.ScrollHandDrag)
        self.setCursor(Qt.CrossCursor if enabled else Qt.ArrowCursor)

    def draw_mode(self) -> bool:
        return self._draw_mode

    def _clamp(self, p: QPointF) -> QPointF:
        w, h = self.image_size()
        return QPointF(min(max(p.x(), 0.0), float(w)), min(max(p.y(), 0.0), float(h)))

    def mousePressEvent(self, event) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.LeftButton and self._draw_mode and self._image is not None:
            self._draw_start = self._clamp(pos)
            pen = QPen(QColor(self._draw_color), 2)
            pen.setCosmetic(True)
            self._draw_item = self._scene.addRect(QRectF(self._draw_start, self._draw_start), pen)
            self._draw_item.setZValue(40)
            event.accept()
            return
        if event.button() == Qt.LeftButton:
            for item in self._scene.items(pos):
                if isinstance(item, _BoxItem):
                    self.boxClicked.emit(item.overlay.key)
                    break
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._draw_start is not None and self._draw_item is not None:
            end = self._clamp(self.mapToScene(event.position().toPoint()))
            self._draw_item.setRect(QRectF(self._draw_start, end).normalized())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._draw_start is not None and self._draw_item is not None:
            rect = self._draw_item.rect()
            self._scene.removeItem(self._draw_item)
            self._draw_item, self._draw_start = None, None
            w, h = self.image_size()
            box = Box.from_float(rect.left(), rect.top(), rect.right(), rect.bottom()).clip(w, h)
            if box.width >= 2 and box.height >= 2:
                self.boxDrawn.emit(box)
            event.accept()
            return
        super().mouseReleaseEvent(event)
