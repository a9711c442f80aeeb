"""An item's attribution maps and elements in the pixel frame of the images shown to participants
(:func:`build_views`: maps resized bilinearly, boxes rescaled outwards)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.agreement import measures as ag
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


def _resize_map(values: np.ndarray, width: int, height: int) -> np.ndarray:
    if values.shape == (height, width):
        return values.astype(np.float32, copy=False)
    from PIL import Image

    img = Image.fromarray(np.asarray(values, dtype=np.float32), mode="F").resize(
        (width, height), Image.BILINEAR
    )
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def build_views(
    item: ImageItem | Location, heatmaps: Sequence[Heatmap], elements: Sequence[Element]
) -> list[View]:
    """Put an item's maps and elements in its images' pixel frames (one entry per view)."""
    images = [item] if isinstance(item, ImageItem) else [item.views[v] for v in VIEWS if v in item.views]
    maps = {h.view: h for h in heatmaps}
    out = []
    for image in images:
        name = None if isinstance(item, ImageItem) else image.view
        width, height = _image_size(image)
        heat = maps.get(name) or (maps.get(None) if len(images) == 1 else None)
        frame = (width, height)
        if heat is not None:
            frame = (heat.values.shape[1], heat.values.shape[0])
        els = [e for e in elements if (e.view == name or len(images) == 1)]
        els = [dataclasses.replace(e, box=ag.rescale_box(e.box, frame, (width, height))) for e in els]
        values = None if heat is None else _resize_map(heat.values, width, height)
        out.append(View(name, width, height, values, els, list(image.cues)))
    return out
