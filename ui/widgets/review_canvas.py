"""The review canvas: :class:`ui.widgets.image_canvas.ImageCanvas` plus a second map
layer for the participants' box density, a caption, and helpers that turn cue boxes and model
elements into coloured, labelled :class:`BoxOverlay` lists.

Layers, bottom to top: the image, the attribution heatmap (``set_heatmap``, jet colours), the box
density (``set_density``: one colour whose opacity follows the density), the outline layer, boxes.
All coordinates are the image's pixels (XYXY, inclusive-exclusive).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtGui import QColor, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QWidget

from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS, CueBox, Element
from ui.widgets.image_canvas import BoxOverlay, ImageCanvas, to_qimage
from ui.widgets.palette import tag_colour

ELEMENT_COLOUR = "#ffffff"
DENSITY_COLOUR = "#00e676"


def legend_html() -> str:
    """A one-line HTML legend: a coloured square per cue tag, the model's elements, planted cues."""
    parts = [f'<span style="color:{tag_colour(t)}">&#9632;</span>&nbsp;{CUE_TAG_LABELS[t]}' for t in CUE_TAGS]
    parts.append('<span style="background:#444;color:#fff">&nbsp;1&nbsp;0.82&nbsp;</span>&nbsp;model element')
    parts.append("dashed&nbsp;=&nbsp;planted cue")
    return " &nbsp; ".join(parts)


def human_overlays(cues: Sequence[CueBox], *, labels: bool = True) -> list[BoxOverlay]:
    """Participants' boxes, coloured by tag (labelled with the tag when ``labels``)."""
    return [
        BoxOverlay(
            c.box,
            CUE_TAG_LABELS.get(c.tag, c.tag) if labels else "",
            tag_colour(c.tag),
            2.0,
            False,
            ("human", i),
        )
        for i, c in enumerate(cues)
    ]


def planted_overlays(cues: Sequence[CueBox]) -> list[BoxOverlay]:
    """Planted (GeoScenes) cues: dashed, coloured by tag, unlabelled (the legend says dashed = planted)."""
    return [BoxOverlay(c.box, "", tag_colour(c.tag), 1.5, True, ("planted", i)) for i, c in enumerate(cues)]


def element_name(e: Element) -> str:
    """``concept (Tag label)`` of an element named by a concept segmenter (SAM3); '' otherwise."""
    if not e.concept:
        return ""
    return f"{e.concept} ({CUE_TAG_LABELS.get(e.tag, e.tag)})" if e.tag else e.concept


def element_label(e: Element) -> str:
    """A box label: ``rank  score``, then the concept of a named element."""
    base = f"{e.rank}  {e.score:.2f}"
    return f"{base}  {e.concept}" if e.concept else base


def element_overlays(elements: Sequence[Element]) -> list[BoxOverlay]:
    """The model's elements, labelled ``rank  score`` (and their concept when named), best first."""
    ordered = sorted(elements, key=lambda e: e.rank)
    return [
        BoxOverlay(e.box, element_label(e), ELEMENT_COLOUR, 3.0, False, ("element", e.rank)) for e in ordered
    ]


class ReviewCanvas(ImageCanvas):
    """An :class:`ImageCanvas` with a second map layer for the participants' box density."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewCanvas")
        self._density_item = QGraphicsPixmapItem()
        self._density_item.setZValue(15)
        self.scene().addItem(self._density_item)
        self._density: np.ndarray | None = None

    def set_image(self, image: np.ndarray | None) -> None:
        super().set_image(image)
        self._fit_density()

    def set_density(
        self, values: np.ndarray | None, colour: str = DENSITY_COLOUR, max_alpha: int = 170
    ) -> None:
        """Overlay a float HxW density in [0, 1] as ``colour`` with opacity ``values * max_alpha``
        (any resolution; stretched over the image). None removes it."""
        self._density = None if values is None else np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
        if self._density is None:
            self._density_item.setPixmap(QPixmap())
            return
        c = QColor(colour)
        rgba = np.zeros(self._density.shape + (4,), dtype=np.uint8)
        rgba[..., 0], rgba[..., 1], rgba[..., 2] = c.red(), c.green(), c.blue()
        rgba[..., 3] = (self._density * max_alpha + 0.5).astype(np.uint8)
        self._density_item.setPixmap(QPixmap.fromImage(to_qimage(rgba)))
        self._fit_density()

    def density(self) -> np.ndarray | None:
        return self._density

    def set_density_visible(self, visible: bool) -> None:
        self._density_item.setVisible(bool(visible))

    def _fit_density(self) -> None:
        w, h = self.image_size()
        pm = self._density_item.pixmap()
        if pm.isNull() or w == 0:
            self._density_item.setTransform(QTransform())
        else:
            self._density_item.setTransform(QTransform.fromScale(w / pm.width(), h / pm.height()))
