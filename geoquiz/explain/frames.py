"""From the model-input frame to the image frame: maps, masks and boxes at the image's own resolution.

Explanations are computed where the model looks: each view resized (squashed, aspect ratio not
kept) to ``S x S``, ``S = spec.input_size`` (:meth:`geoquiz.explain.ExplainCore.model_views`). A
researcher looks at the original ``W x H`` image. The functions here map one frame to the other, the
same way everywhere GeoQuiz shows or exports an explanation (the ``elements`` export's ``x0``...
columns and the pointing game use the same box rule):

* **boxes**: ``x * W / S`` and ``y * H / S``, rounded outwards (a box never shrinks below what it
  covered), clipped to the image (:func:`box_to_image`);
* **maps**: bilinear resampling with pixel centres aligned (the centre of image pixel ``x`` reads the
  map at ``(x + 0.5) * S / W - 0.5``, the convention of the model's own resize), float32 ``H x W``
  in [0, 1] (:func:`heatmap_to_image`);
* **masks**: nearest neighbour with the same alignment, bool ``H x W`` (:func:`mask_to_image`).

:class:`ImageFrame` bundles ``S``, ``W`` and ``H`` and maps a :class:`~geoquiz.types.Heatmap`,
:class:`~geoquiz.types.Element` or :class:`~geoquiz.types.Segment` whole. Pure numpy + Pillow, no
torch, no Qt: views call it on the GUI thread.

    frame = ImageFrame.of(spec.input_size, image)        # or ImageFrame(S, width, height)
    full_map = frame.heatmap(heatmaps[0]).values          # H x W float32
    boxes = [frame.element(e).box for e in elements]      # in the image's pixels
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from geoquiz.boxes import Box
from geoquiz.types import Element, Heatmap, Segment


def box_to_image(box: Box, size: int | tuple[int, int], width: int, height: int) -> Box:
    """``box`` (XYXY at ``size x size``, or in a ``(w, h)`` frame) in a ``width x height`` image:
    scaled, rounded outwards, clipped. The one box mapping of GeoQuiz (the Explain and Review views,
    the agreement measures, the pointing game, the ``elements`` export)."""
    sw, sh = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if (sw, sh) == (width, height):
        return box.clip(width, height)
    return box.scale(width / sw, height / sh).clip(width, height)


def heatmap_to_image(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """A float ``S x S`` (or any ``h x w``) map resampled bilinearly to float32 ``height x width``,
    pixel centres aligned, values kept in the input's range."""
    from PIL import Image

    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a map must be 2-D, got shape {values.shape}")
    if values.shape == (height, width):
        return values.copy()
    out = np.asarray(Image.fromarray(values, mode="F").resize((int(width), int(height)), Image.BILINEAR))
    return np.clip(out, float(values.min()), float(values.max())).astype(np.float32)


def mask_to_image(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A bool mask resampled (nearest, pixel centres aligned) to bool ``height x width``."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    rows = np.clip(((np.arange(height) + 0.5) * h / height).astype(int), 0, h - 1)
    cols = np.clip(((np.arange(width) + 0.5) * w / width).astype(int), 0, w - 1)
    return mask[np.ix_(rows, cols)]


@dataclass(frozen=True)
class ImageFrame:
    """The model-input side ``size`` (``S``) and the image's ``width`` x ``height`` it maps to."""

    size: int
    width: int
    height: int

    @classmethod
    def of(cls, size: int, image: np.ndarray) -> ImageFrame:
        """The frame of an RGB HxWx3 ``image`` seen by a model with input side ``size``."""
        return cls(int(size), int(image.shape[1]), int(image.shape[0]))

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: image pixels per model-input pixel."""
        return self.width / self.size, self.height / self.size

    def box(self, box: Box) -> Box:
        return box_to_image(box, self.size, self.width, self.height)

    def heatmap(self, heatmap: Heatmap) -> Heatmap:
        """The same heatmap with ``values`` at ``height x width`` (float32, [0, 1])."""
        return dataclasses.replace(heatmap, values=heatmap_to_image(heatmap.values, self.width, self.height))

    def element(self, element: Element) -> Element:
        """The same element with ``box`` and ``segment_box`` in image pixels (``segment_area`` scaled
        by the pixel-area ratio and rounded; scores unchanged)."""
        sx, sy = self.scale
        return dataclasses.replace(
            element,
            box=self.box(element.box),
            segment_box=self.box(element.segment_box),
            segment_area=int(round(element.segment_area * sx * sy)),
        )

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """A bool ``S x S`` mask at ``height x width`` (nearest, pixel centres aligned)."""
        return mask_to_image(mask, self.width, self.height)

    def segment(self, segment: Segment) -> Segment:
        """The same segment with its mask at ``height x width`` (box and area recomputed)."""
        mask = self.mask(segment.mask)
        if not mask.any():  # a sliver thinner than one image pixel: keep it visible
            return dataclasses.replace(segment, mask=mask, box=self.box(segment.box), area=0)
        return Segment(mask=mask, box=Box.from_mask(mask), area=int(mask.sum()), quality=segment.quality)


__all__ = ["ImageFrame", "box_to_image", "heatmap_to_image", "mask_to_image"]
