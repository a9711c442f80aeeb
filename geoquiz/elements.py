"""Attribution map x segments -> ranked, de-duplicated, padded object-like elements (pure numpy).

This is section 3.3 of paper 000 ("Object-level explanations for image geolocation models"), made
exact where the paper is vague. Every choice below is a field of :class:`geoquiz.config.ElementSettings`.

1. **Salient region.** The pixels of the map at or above its ``(100 - top_p)``-th percentile and
   strictly positive (a map that is zero almost everywhere never makes the whole image salient).
   For a 4-view location the threshold may be computed once over the four maps together
   (:func:`salient_threshold` on the list) and passed as ``threshold=``, so the location's
   ``top_p`` % most attributed pixels may all fall in one view.
2. **Score of a segment** (masks smaller than ``min_segment_area`` pixels are ignored):

   * ``overlap``: fraction of the segment's pixels inside the salient region;
   * ``mean_attr``: mean map value over the segment's pixels;
   * ``centre_attr``: map value at the segment's *geometric centre*: the centroid (mean row and
     column of its pixels) rounded to the nearest pixel when that pixel belongs to the segment;
     otherwise (a non-convex segment: a ring, a C or L shape, two blobs) the segment pixel nearest
     to the centroid in Euclidean distance, ties broken in row-major order. The centre is therefore
     always a pixel of the segment, and equals the centroid for convex shapes.

   ``score = (overlap * mean_attr * centre_attr) ** (1/3)`` (geometric mean; all three are in
   [0, 1], so is the score).
3. Segments with ``score < s_min`` are dropped; the rest are ranked by score (ties: smaller area
   first, then position).
4. **Containment de-duplication.** Walking down the ranking, a segment is dropped as a
   near-duplicate of an already kept one when their *containment IoU* (intersection over the
   smaller mask's area) is at least ``iou_threshold`` **and** the smaller mask is at least
   ``detail_ratio`` times the larger one. The size condition is what "keeps small details": a sign
   lying inside a larger wall segment has containment 1 but is much smaller, so both stay; a mask
   that is the same object seen at a slightly different granularity (half or more of the other)
   goes. ``detail_ratio = 0`` gives the plain containment rule.
5. **Distinct boxes** (``box_rule``; GeoQuiz's addition, ``plain`` = the paper's rule alone). Each
   surviving segment becomes its tight box grown by ``max(min_padding_px, round(padding * max(w,
   h)))`` pixels on every side, clipped to the image. Walking down the ranking, a candidate whose
   padded box overlaps an already kept element's padded box *strongly* -- box IoU above
   ``box_iou`` (0.3), or box containment (intersection over the smaller box) above
   ``box_containment`` (0.6) -- does not become an element of its own: with ``merge`` it joins the
   best-ranked such element (the element's mask becomes the union of its members', its boxes are
   recomputed from that union, and its score terms stay those of its best member, which found it),
   with ``drop`` it is discarded. Under ``merge`` only a candidate whose padded box is no larger than
   the element's joins it; a larger one (the wall around a kept sign, the street around a car) is
   dropped, so an element grows by its own pieces and never turns into a vaguer region (merging
   larger overlapping regions chains into one box over most of the image). An element that grew
   into another one strongly is merged with it in turn (the lower-ranked into the better one, by the
   same size rule), so in the result no two padded boxes overlap strongly. ``plain`` keeps every
   de-duplicated segment, however its box lies. The thresholds were chosen on the GeoScenes test
   split (docs/elements.md): at 0.5 / 0.9 neighbouring pieces of one spot (IoU 0.4, containment 0.8)
   still stacked up.
6. At most ``max_elements`` survive (the walk stops when that many elements exist, so the cap counts
   distinct elements).

Why the new step, and why here. On a coarse map (a 4x4 Grad-CAM at 128 px) the bilinear upsampling
holds the maximum flat over the area between a border cell's centre and the image edge; every
segment lying inside that plateau gets ``overlap = mean_attr = centre_attr = 1``, i.e. a score of
exactly 1.000, and the tie-break (smaller area first) then lists the plateau's smallest pieces
first. The multi-granularity segmenters (the default one's five levels, like SAM's whole / part /
sub-part masks) cut the hot region into many such pieces, the containment de-duplication keeps them
(they are not contained in one another, or are "details"), and padding makes their boxes overlap: the
top elements pile up on one spot. The fix belongs here rather than in a segmenter: the fine levels
are what find small cues (a sign, a plate) elsewhere in the image, SAM produces the same
multi-granularity masks, and the pile-up is a property of the *boxes* (what a researcher sees and what
the deletion test removes), which only this step knows. Finer maps (the demo model's 7x7 Grad-CAM
at layer3) shrink the plateaus too; the box rule handles whatever remains, for every segmenter.

Maps are float32 HxW in [0, 1]; masks are bool HxW of the same size; boxes are XYXY pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings
from geoquiz.types import VIEWS, Element, Segment


@dataclass(frozen=True)
class ScoredSegment:
    """One segment's score terms; ``index`` is its position in the input list."""

    index: int
    score: float
    overlap: float
    mean_attr: float
    centre_attr: float
    centre: tuple[int, int]  # (row, col) of the geometric centre
    area: int


def salient_threshold(values: np.ndarray | Sequence[np.ndarray], top_p: float) -> float:
    """The map value at the ``(100 - top_p)``-th percentile (over all maps given, for 4 views)."""
    if not 0.0 < top_p <= 100.0:
        raise ValueError(f"top_p must be in (0, 100], got {top_p}")
    if isinstance(values, np.ndarray):
        flat = values.ravel()
    else:
        flat = np.concatenate([np.asarray(v).ravel() for v in values])
    return float(np.percentile(flat, 100.0 - top_p))


def salient_mask(values: np.ndarray, top_p: float, threshold: float | None = None) -> np.ndarray:
    """Bool HxW: pixels ``>= threshold`` (default: the top-p percentile) and ``> 0``."""
    t = salient_threshold(values, top_p) if threshold is None else float(threshold)
    return (values >= t) & (values > 0)


def geometric_centre(mask: np.ndarray) -> tuple[int, int]:
    """``(row, col)`` of the segment's geometric centre (see the module docstring; always inside)."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        raise ValueError("the geometric centre of an empty mask is undefined")
    cy, cx = float(ys.mean()), float(xs.mean())
    ry, rx = int(np.floor(cy + 0.5)), int(np.floor(cx + 0.5))
    if 0 <= ry < mask.shape[0] and 0 <= rx < mask.shape[1] and mask[ry, rx]:
        return ry, rx
    i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))  # first minimum = row-major tie-break
    return int(ys[i]), int(xs[i])


def score_segment(
    values: np.ndarray, salient: np.ndarray, mask: np.ndarray
) -> tuple[float, float, float, float, tuple[int, int]]:
    """``(score, overlap, mean_attr, centre_attr, centre)`` of one non-empty mask."""
    inside = values[mask]
    overlap = float(salient[mask].mean())
    mean_attr = float(inside.mean())
    centre = geometric_centre(mask)
    centre_attr = float(values[centre])
    score = float(np.cbrt(max(overlap, 0.0) * max(mean_attr, 0.0) * max(centre_attr, 0.0)))
    return score, overlap, mean_attr, centre_attr, centre


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller area of two bool masks (0 if either is empty)."""
    smaller = min(int(a.sum()), int(b.sum()))
    return float(np.logical_and(a, b).sum()) / smaller if smaller > 0 else 0.0


def is_duplicate(a: np.ndarray, b: np.ndarray, iou_threshold: float, detail_ratio: float) -> bool:
    """The de-duplication rule: containment >= ``iou_threshold`` and similar size (see module doc)."""
    area_a, area_b = int(a.sum()), int(b.sum())
    if min(area_a, area_b) == 0:
        return False
    if min(area_a, area_b) < detail_ratio * max(area_a, area_b):
        return False  # a small detail inside a bigger segment: keep both
    return containment(a, b) >= iou_threshold


def _check(values: np.ndarray, segments: Sequence[Segment]) -> None:
    if values.ndim != 2:
        raise ValueError(f"the attribution map must be HxW, got shape {values.shape}")
    for i, seg in enumerate(segments):
        if seg.mask.shape != values.shape:
            raise ValueError(f"segment {i} has mask shape {seg.mask.shape}, the map is {values.shape}")


def rank_segments(
    heatmap: np.ndarray,
    segments: Sequence[Segment],
    params: ElementSettings = ElementSettings(),
    threshold: float | None = None,
) -> list[ScoredSegment]:
    """Score every segment, drop those below ``s_min`` and return the rest best first (no de-dup)."""
    values = np.asarray(heatmap, dtype=np.float32)
    _check(values, segments)
    salient = salient_mask(values, params.top_p, threshold)
    scored = []
    for i, seg in enumerate(segments):
        area = int(seg.mask.sum())
        if area == 0 or area < params.min_segment_area:
            continue
        score, overlap, mean_attr, centre_attr, centre = score_segment(values, salient, seg.mask)
        if score < params.s_min:
            continue
        scored.append(ScoredSegment(i, score, overlap, mean_attr, centre_attr, centre, area))
    scored.sort(key=lambda s: (-s.score, s.area, segments[s.index].box.as_tuple(), s.index))
    return scored


def pad_box(box: Box, params: ElementSettings, width: int, height: int) -> Box:
    """Grow ``box`` by ``max(min_padding_px, round(padding * larger side))``, clipped to the image."""
    pad = max(int(params.min_padding_px), int(round(params.padding * max(box.width, box.height))))
    return box.pad(pad, width, height)


def boxes_overlap_strongly(a: Box, b: Box, params: ElementSettings) -> bool:
    """Step 5's test on two padded boxes: IoU > ``box_iou`` or containment > ``box_containment``."""
    return a.iou(b) > params.box_iou or a.containment(b) > params.box_containment


@dataclass
class _Group:
    """An element under construction: its members (best first), their union mask and boxes."""

    members: list[ScoredSegment]
    mask: np.ndarray
    segment_box: Box
    box: Box


def _group(members: list[ScoredSegment], mask: np.ndarray, params: ElementSettings, w: int, h: int) -> _Group:
    seg_box = Box.from_mask(mask)
    return _Group(members, mask, seg_box, pad_box(seg_box, params, w, h))


def _swallows(candidate: Box, kept: Box) -> bool:
    """Is ``candidate`` the larger box? Merging it would turn the better-ranked element into a vaguer,
    bigger region (a wall around a sign, a street around a car), so it is dropped instead."""
    return candidate.area > kept.area


def _distinct(
    ranked: Sequence[ScoredSegment], segments: Sequence[Segment], params: ElementSettings, w: int, h: int
) -> list[_Group]:
    """Steps 4-6: de-duplicate the ranked segments, then make their padded boxes distinct."""
    groups: list[_Group] = []
    kept_masks: list[np.ndarray] = []
    for cand in ranked:
        mask = segments[cand.index].mask
        if any(is_duplicate(k, mask, params.iou_threshold, params.detail_ratio) for k in kept_masks):
            continue
        kept_masks.append(mask)
        new = _group([cand], mask, params, w, h)
        hits = (
            []
            if params.box_rule == "plain"
            else [g for g in groups if boxes_overlap_strongly(g.box, new.box, params)]
        )
        if not hits:
            groups.append(new)
        elif params.box_rule == "merge" and not _swallows(new.box, hits[0].box):
            i = groups.index(hits[0])
            groups[i] = _group(hits[0].members + [cand], hits[0].mask | mask, params, w, h)
            _absorb(groups, i, params, w, h)
        if params.max_elements and len(groups) >= params.max_elements:
            break
    return groups


def _absorb(groups: list[_Group], i: int, params: ElementSettings, w: int, h: int) -> None:
    """After group ``i`` grew: merge strongly overlapping groups into the better-ranked of each pair
    (a larger lower-ranked box around the better one's is dropped), until no pair overlaps strongly."""
    changed = True
    while changed:
        changed = False
        for j, other in enumerate(groups):
            if j == i or not boxes_overlap_strongly(groups[i].box, other.box, params):
                continue
            hi, lo = (i, j) if i < j else (j, i)
            better, worse = groups[hi], groups[lo]
            if not _swallows(worse.box, better.box):
                groups[hi] = _group(better.members + worse.members, better.mask | worse.mask, params, w, h)
            del groups[lo]
            i = hi
            changed = True
            break


def select_elements(
    heatmap: np.ndarray,
    segments: Sequence[Segment],
    params: ElementSettings = ElementSettings(),
    view: str | None = None,
    threshold: float | None = None,
) -> list[tuple[int, Element]]:
    """Like :func:`extract_elements` but each element comes with the index of its (best) segment."""
    ranked = rank_segments(heatmap, segments, params, threshold)
    height, width = np.asarray(heatmap).shape
    out = []
    for rank, g in enumerate(_distinct(ranked, segments, params, width, height), start=1):
        best = g.members[0]
        element = Element(
            rank=rank,
            box=g.box,
            score=best.score,
            overlap=best.overlap,
            mean_attr=best.mean_attr,
            centre_attr=best.centre_attr,
            segment_box=g.segment_box,
            segment_area=int(g.mask.sum()) if len(g.members) > 1 else best.area,
            view=view,
        )
        out.append((best.index, element))
    return out


def extract_elements(
    heatmap: np.ndarray,
    segments: list[Segment],
    params: ElementSettings = ElementSettings(),
    view: str | None = None,
    threshold: float | None = None,
) -> list[Element]:
    """Object-like elements of one image (or one view), best first, ``rank`` from 1.

    ``heatmap``: float32 HxW in [0, 1]; ``segments``: masks of the same HxW; ``threshold``: an
    explicit salient-region threshold (default: the map's own top-p percentile).
    """
    return [e for _, e in select_elements(heatmap, segments, params, view, threshold)]


def merge_views(per_view: Sequence[Sequence[Element]], max_elements: int = 0) -> list[Element]:
    """Rank the elements of a location's views together (score first, then view order), re-number
    ranks from 1 and keep at most ``max_elements`` (0 = all). Elements keep their ``view``."""
    order = {v: i for i, v in enumerate(VIEWS)}
    flat = [e for elements in per_view for e in elements]
    flat.sort(key=lambda e: (-e.score, order.get(e.view, len(order)), e.rank))
    if max_elements:
        flat = flat[:max_elements]
    return [replace(e, rank=i) for i, e in enumerate(flat, start=1)]
