"""The weight-free default segmenter: multi-scale Felzenszwalb + SLIC regions merged into objects.

Needs nothing but scikit-image, so the whole pipeline works out of the box. Like SAM's automatic
mask generator it returns *overlapping* candidate segments at several granularities, which the
element extraction then scores and de-duplicates:

* **Felzenszwalb** graph segmentation at each of ``felzenszwalb_scales`` (small scale = small
  regions), Gaussian pre-smoothing ``sigma``;
* **SLIC** superpixels (``slic_segments``, ``compactness``) merged greedily by mean CIELAB colour
  over their region adjacency graph (``skimage.graph.merge_hierarchical``) until the closest
  neighbours differ by more than each of ``merge_thresholds`` (Lab units): small, uniform parts
  (a sign face, a pole, a car body) merge into object-like regions;
* every region is hole-filled (text on a sign stays part of the sign), regions smaller than
  ``min_area_frac`` or larger than ``max_area_frac`` of the image are dropped, and a region whose
  IoU with an earlier one is at least ``dedup_iou`` is dropped as the same region found twice.

Images larger than ``max_side`` pixels are segmented at that size and the masks scaled back.
Typical CPU time at 224x224: ~0.1-0.3 s.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from geoquiz.boxes import Box
from geoquiz.segmentation.base import check_image, masks_to_segments
from geoquiz.types import Segment


@dataclass(frozen=True)
class DefaultSegmenterParams:
    felzenszwalb_scales: tuple[float, ...] = (60.0, 200.0, 600.0)
    sigma: float = 0.6
    slic_segments: int = 250
    compactness: float = 12.0
    merge_thresholds: tuple[float, ...] = (8.0, 16.0)
    min_area_frac: float = 0.0008
    max_area_frac: float = 0.5
    dedup_iou: float = 0.9
    max_side: int = 320


def _merge_mean_color(graph, src, dst) -> None:
    # not ``+=``: the arrays are shared with the un-merged graph that later thresholds copy
    graph.nodes[dst]["total color"] = graph.nodes[dst]["total color"] + graph.nodes[src]["total color"]
    graph.nodes[dst]["pixel count"] = graph.nodes[dst]["pixel count"] + graph.nodes[src]["pixel count"]
    graph.nodes[dst]["mean color"] = graph.nodes[dst]["total color"] / graph.nodes[dst]["pixel count"]


def _weight_mean_color(graph, src, dst, n) -> dict:
    diff = graph.nodes[dst]["mean color"] - graph.nodes[n]["mean color"]
    # = float(np.linalg.norm(diff)) (numpy computes a vector's 2-norm as sqrt(x.x) too), without its
    # per-call overhead: skimage calls this for every edge at every merge
    return {"weight": math.sqrt(float(diff.dot(diff)))}


def _mean_color_rag(lab: np.ndarray, labels: np.ndarray):
    """The region adjacency graph of ``skimage.graph.rag_mean_color`` (same node and edge attributes),
    built with numpy: that function walks every pixel in Python and takes ~0.2 s at 224x224."""
    from skimage import graph

    n = int(labels.max()) + 1
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n).astype(np.float64)
    total = np.stack([np.bincount(flat, weights=lab[..., c].ravel(), minlength=n) for c in range(3)], axis=-1)
    pairs = np.concatenate(
        [
            np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=-1),
            np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=-1),
            np.stack([labels[:-1, :-1].ravel(), labels[1:, 1:].ravel()], axis=-1),
            np.stack([labels[:-1, 1:].ravel(), labels[1:, :-1].ravel()], axis=-1),
        ]
    )
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
    rag = graph.RAG()
    for i in np.flatnonzero(count):
        rag.add_node(
            int(i),
            labels=[int(i)],
            **{"pixel count": count[i], "total color": total[i], "mean color": total[i] / count[i]},
        )
    mean = total / np.maximum(count, 1)[:, None]
    weights = np.linalg.norm(mean[pairs[:, 0]] - mean[pairs[:, 1]], axis=1)
    rag.add_edges_from((int(a), int(b), {"weight": float(wt)}) for (a, b), wt in zip(pairs, weights))
    return rag


def _label_levels(image: np.ndarray, p: DefaultSegmenterParams) -> list[np.ndarray]:
    from skimage import graph
    from skimage.color import rgb2lab
    from skimage.segmentation import felzenszwalb, slic

    h, w = image.shape[:2]
    min_size = max(8, int(p.min_area_frac * h * w))
    levels = [felzenszwalb(image, scale=s, sigma=p.sigma, min_size=min_size) for s in p.felzenszwalb_scales]
    lab = rgb2lab(image)
    superpixels = slic(
        lab, n_segments=p.slic_segments, compactness=p.compactness, start_label=0, convert2lab=False
    )
    rag = _mean_color_rag(lab, superpixels)
    for t in p.merge_thresholds:
        merged = graph.merge_hierarchical(
            superpixels,
            rag,
            thresh=t,
            rag_copy=True,
            in_place_merge=True,
            merge_func=_merge_mean_color,
            weight_func=_weight_mean_color,
        )
        levels.append(merged)
    return levels


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))


class DefaultSegmenter:
    """Weight-free segmenter (see the module docstring). Thread-safe; no state between calls."""

    name = "default"
    supports_guided = False

    def __init__(self, params: DefaultSegmenterParams | None = None, **overrides) -> None:
        base = params or DefaultSegmenterParams()
        self._p = DefaultSegmenterParams(**{**asdict(base), **overrides})

    @property
    def params(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self._p).items()}

    def segment(self, image: np.ndarray) -> list[Segment]:
        from scipy import ndimage

        image = check_image(image)
        h, w = image.shape[:2]
        p = self._p
        scale = min(1.0, p.max_side / max(h, w))
        work = _resize(image, (max(1, round(w * scale)), max(1, round(h * scale)))) if scale < 1.0 else image
        wh, ww = work.shape[:2]
        min_area = max(4, int(p.min_area_frac * wh * ww))
        max_area = p.max_area_frac * wh * ww
        kept: list[np.ndarray] = []
        kept_boxes: list[Box] = []
        kept_areas: list[int] = []
        for labels in _label_levels(work, p):
            counts = np.bincount(labels.ravel())
            slices = ndimage.find_objects(labels + 1)
            for lab, sl in enumerate(slices):
                if sl is None or not (min_area <= counts[lab] <= max_area):
                    continue
                local = ndimage.binary_fill_holes(labels[sl] == lab)
                area = int(local.sum())
                if area > max_area:
                    continue
                box = Box(sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
                if self._is_repeat(local, box, area, kept, kept_boxes, kept_areas):
                    continue
                mask = np.zeros((wh, ww), dtype=bool)
                mask[sl] = local
                kept.append(mask)
                kept_boxes.append(box)
                kept_areas.append(area)
        if scale < 1.0:
            kept = [_resize(m.astype(np.uint8) * 255, (w, h)) >= 128 for m in kept]
        return masks_to_segments(kept)

    def _is_repeat(self, local, box, area, kept, kept_boxes, kept_areas) -> bool:
        t = self._p.dedup_iou
        for mask, kbox, karea in zip(kept, kept_boxes, kept_areas):
            if min(area, karea) < t * max(area, karea) or box.intersection(kbox) < t * max(area, karea):
                continue  # IoU >= t needs similar areas and boxes overlapping by >= t * the larger area
            inter = int(np.logical_and(mask[box.y0 : box.y1, box.x0 : box.x1], local).sum())
            if inter / (area + karea - inter) >= t:
                return True
        return False


def build_default(
    info: object, checkpoint: str = "", device: str = "auto", **params: object
) -> DefaultSegmenter:
    """Registry builder (:data:`geoquiz.segmentation.SEGMENTERS`): weight-free, on the CPU, so
    ``checkpoint`` and ``device`` are ignored."""
    return DefaultSegmenter(**params)
