"""An item's attribution maps and elements in the pixel frame of the images shown to participants
(:func:`build_views`, through :class:`geoquiz.explain.frames.ImageFrame`: maps resized bilinearly
with pixel centres aligned, boxes rescaled outwards and clipped)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.types import VIEWS, CueBox, Element, Heatmap, ImageItem, Location


@dataclass
class View:
    """One image of an item in the participants' pixel frame."""

    name: str | None
    width: int
    height: int
    heat: np.ndarray | None
    elements: list[Element]
    planted: list[CueBox]


def _image_size(item: ImageItem) -> tuple[int, int]:
    if item.width and item.height:
        return int(item.width), int(item.height)
    from geoquiz.data.imageio import image_size

    return image_size(item.path)


def build_views(
    item: ImageItem | Location, heatmaps: Sequence[Heatmap], elements: Sequence[Element]
) -> list[View]:
    """Put an item's maps and elements in its images' pixel frames (one entry per view).

    The model frame is the map's ``S x S`` (the elements' frame too); a view without a map keeps its
    elements as they are (already in the image frame)."""
    from geoquiz.explain.frames import ImageFrame, box_to_image, heatmap_to_image

    images = [item] if isinstance(item, ImageItem) else [item.views[v] for v in VIEWS if v in item.views]
    maps = {h.view: h for h in heatmaps}
    out = []
    for image in images:
        name = None if isinstance(item, ImageItem) else image.view
        width, height = _image_size(image)
        heat = maps.get(name) or (maps.get(None) if len(images) == 1 else None)
        els = [e for e in elements if (e.view == name or len(images) == 1)]
        values = None
        if heat is not None:
            h, w = heat.values.shape
            if w == h:  # the model-input frame S x S
                frame = ImageFrame(w, width, height)
                els = [frame.element(e) for e in els]
                values = frame.heatmap(heat).values
            else:  # a non-square map: the same rules per axis
                els = [dataclasses.replace(e, box=box_to_image(e.box, (w, h), width, height)) for e in els]
                values = heatmap_to_image(heat.values, width, height)
        out.append(View(name, width, height, values, els, list(image.cues)))
    return out
