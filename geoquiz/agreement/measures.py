"""Agreement between people and the model: pure measures on boxes and maps (one image).

Qt-free, torch-free, no database. Conventions (see :mod:`geoquiz.boxes`): boxes are XYXY integer
pixels, inclusive-exclusive, all in the *same* frame (the image's pixel grid); attribution maps are
float32 HxW in [0, 1] on that grid. "Human boxes" are the cue boxes participants drew; "model boxes"
are the model's elements. For a 4-view location call them per view and pool with :func:`pool_views`.

``mask_iou``
    IoU of the *union* of the human boxes and the union of the model boxes, as pixel masks.
``human_coverage``
    |H and M| / |H|: the fraction of the human-cited area that the model's elements cover (recall).
``model_coverage``
    |H and M| / |M|: the fraction of the model's element area inside human boxes (precision).
``human_best_iou`` / ``model_best_iou``
    Mean over human boxes of the best IoU with any model box, and vice versa.
``pointing_hit``
    Pointing game: does the centre of the model's top-ranked element fall inside any human box?
    (``tolerance`` pixels of slack, 0 by default.) :func:`heatmap_pointing_hit` is the classic
    variant using the attribution map's maximum.
``attribution_mass``
    Share of the attribution map's total mass inside the union of human boxes;
    ``mass_ratio`` divides it by the boxes' share of the image area (1 = no better than area).
``tag_overlap``
    Per cue tag, the fraction of the model's element area that overlaps boxes with that tag.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.types import CUE_TAGS, CueBox

# --------------------------------------------------------------------------------------------- boxes


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU, float64 array of shape (len(a), len(b))."""
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    for i, ba in enumerate(a):
        for j, bb in enumerate(b):
            out[i, j] = ba.iou(bb)
    return out


def best_iou(a: Sequence[Box], b: Sequence[Box]) -> float | None:
    """Mean over boxes of ``a`` of their best IoU with any box of ``b`` (None when ``a`` is empty;
    0 when ``b`` is empty)."""
    if not a:
        return None
    if not b:
        return 0.0
    return float(iou_matrix(a, b).max(axis=1).mean())


@dataclass(frozen=True)
class Overlap:
    """Pixel areas of two box unions on one image and their overlap (all in pixels)."""

    human_area: int
    model_area: int
    inter_area: int
    image_area: int

    @property
    def union_area(self) -> int:
        return self.human_area + self.model_area - self.inter_area

    @property
    def mask_iou(self) -> float | None:
        return self.inter_area / self.union_area if self.union_area else None

    @property
    def human_coverage(self) -> float | None:
        return self.inter_area / self.human_area if self.human_area else None

    @property
    def model_coverage(self) -> float | None:
        return self.inter_area / self.model_area if self.model_area else None

    def __add__(self, other: Overlap) -> Overlap:
        return Overlap(
            self.human_area + other.human_area,
            self.model_area + other.model_area,
            self.inter_area + other.inter_area,
            self.image_area + other.image_area,
        )


def overlap(human: Sequence[Box], model: Sequence[Box], height: int, width: int) -> Overlap:
    """Areas of the union of ``human`` boxes, of ``model`` boxes and of their intersection on an
    image of ``height`` x ``width`` pixels (boxes are clipped to the image)."""
    h = union_mask(list(human), height, width)
    m = union_mask(list(model), height, width)
    return Overlap(int(h.sum()), int(m.sum()), int((h & m).sum()), height * width)


def pool_views(parts: Iterable[Overlap]) -> Overlap:
    """Pool per-view overlaps of a 4-view location (areas add up; ratios are then taken on the sums)."""
    total = Overlap(0, 0, 0, 0)
    for p in parts:
        total = total + p
    return total


def mask_iou(human: Sequence[Box], model: Sequence[Box], height: int, width: int) -> float | None:
    """IoU of the two box unions as pixel masks (None when both are empty)."""
    return overlap(human, model, height, width).mask_iou


def coverage(of: Sequence[Box], by: Sequence[Box], height: int, width: int) -> float | None:
    """Fraction of the union of ``of`` covered by the union of ``by`` (None when ``of`` is empty)."""
    return overlap(of, by, height, width).human_coverage


def pointing_hit(top: Box | None, human: Sequence[Box], tolerance: float = 0.0) -> bool | None:
    """Pointing game: is the centre of the model's top element inside (or within ``tolerance``
    pixels of) any human box? None when there is no element or no human box (no trial)."""
    if top is None or not human:
        return None
    cx, cy = top.centre
    for b in human:
        dx = max(b.x0 - cx, 0.0, cx - b.x1)
        dy = max(b.y0 - cy, 0.0, cy - b.y1)
        inside = b.contains_point(cx, cy) if tolerance <= 0 else math.hypot(dx, dy) <= tolerance
        if inside:
            return True
    return False


def heatmap_pointing_hit(heatmap: np.ndarray, human: Sequence[Box], tolerance: float = 0.0) -> bool | None:
    """Classic pointing game: is the attribution map's maximum (first in row-major order on ties)
    inside any human box? ``heatmap`` is float HxW on the boxes' pixel grid."""
    if not human or heatmap.size == 0:
        return None
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return pointing_hit(Box(int(x), int(y), int(x) + 1, int(y) + 1), human, tolerance)


@dataclass(frozen=True)
class Mass:
    """Attribution mass inside a region: ``inside`` and ``total`` sums, ``area_fraction`` of pixels."""

    inside: float
    total: float
    area_fraction: float

    @property
    def fraction(self) -> float | None:
        return self.inside / self.total if self.total > 0 else None

    @property
    def ratio(self) -> float | None:
        """Mass fraction over area fraction (> 1: the map concentrates on the region)."""
        f = self.fraction
        return f / self.area_fraction if f is not None and self.area_fraction > 0 else None


def attribution_mass(heatmap: np.ndarray, boxes: Sequence[Box]) -> Mass:
    """Share of a float HxW attribution map's mass inside the union of ``boxes``."""
    values = np.asarray(heatmap, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"attribution map must be HxW, got shape {values.shape}")
    mask = union_mask(list(boxes), *values.shape)
    return Mass(float(values[mask].sum()), float(values.sum()), float(mask.mean()) if mask.size else 0.0)


def tag_overlap(model: Sequence[Box], cues: Sequence[CueBox], height: int, width: int) -> dict[str, float]:
    """For each tag present in ``cues``, the fraction of the model's element area (union) that
    overlaps the union of that tag's boxes. Tags are ordered by decreasing overlap. Empty when the
    model has no element area."""
    m = union_mask(list(model), height, width)
    area = int(m.sum())
    if area == 0:
        return {}
    out = {}
    for tag in CUE_TAGS:
        boxes = [c.box for c in cues if c.tag == tag]
        if boxes:
            out[tag] = float((m & union_mask(boxes, height, width)).sum()) / area
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], CUE_TAGS.index(kv[0]))))


def pool_tag_overlaps(parts: Iterable[tuple[dict[str, float], int]]) -> dict[str, float]:
    """Pool per-view :func:`tag_overlap` results weighted by each view's model element area."""
    sums: Counter[str] = Counter()
    total = 0
    for overlaps, area in parts:
        total += area
        for tag, value in overlaps.items():
            sums[tag] += value * area
    if total == 0:
        return {}
    out = {t: sums[t] / total for t in sums}
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], CUE_TAGS.index(kv[0]))))


def box_density(
    boxes: Sequence[Box], height: int, width: int, *, n: int | None = None, sigma: float = 0.0
) -> np.ndarray:
    """Density of (participants') boxes: float32 HxW in [0, 1], the number of boxes covering each
    pixel divided by ``n`` (default: the maximum count, so the peak is 1). ``sigma`` > 0 smooths
    with a Gaussian of that many pixels."""
    counts = np.zeros((height, width), dtype=np.float32)
    for b in boxes:
        c = b.clip(width, height)
        counts[c.y0 : c.y1, c.x0 : c.x1] += 1.0
    if sigma > 0 and counts.any():
        from scipy.ndimage import gaussian_filter

        counts = gaussian_filter(counts, sigma=sigma).astype(np.float32)
    denom = float(n) if n else float(counts.max())
    if denom <= 0:
        return counts
    return np.clip(counts / denom, 0.0, 1.0).astype(np.float32)


def participant_density(
    box_sets: Sequence[Sequence[Box]], height: int, width: int, *, sigma: float = 0.0
) -> np.ndarray:
    """Share of participants whose boxes cover each pixel: float32 HxW in [0, 1].

    ``box_sets`` holds one list of boxes per participant (an empty list counts: that participant
    marked nothing here); a participant's overlapping boxes count once. ``sigma`` > 0 smooths.
    """
    share = np.zeros((height, width), dtype=np.float32)
    if not box_sets:
        return share
    for boxes in box_sets:
        share += union_mask(list(boxes), height, width)
    share /= len(box_sets)
    if sigma > 0 and share.any():
        from scipy.ndimage import gaussian_filter

        share = gaussian_filter(share, sigma=sigma).astype(np.float32)
    return np.clip(share, 0.0, 1.0).astype(np.float32)


def rescale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """Map a box from a (width, height) grid to another (rounding outwards, clipped)."""
    from geoquiz.explain.frames import box_to_image

    if tuple(from_size) == tuple(to_size):
        return box
    return box_to_image(box, from_size, *to_size)
