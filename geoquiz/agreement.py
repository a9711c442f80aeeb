"""Agreement between people and the model: pure functions on boxes, maps and answers.

Everything here is Qt-free, torch-free and touches no database; the functions that read the project
and store results are in :mod:`geoquiz.study.agreement_runs`.

Conventions (see :mod:`geoquiz.boxes`): boxes are XYXY integer pixels, inclusive-exclusive, all in
the *same* frame (the image's pixel grid); attribution maps are float32 HxW in [0, 1] on that grid.
"Human boxes" are the cue boxes participants drew; "model boxes" are the model's elements.

Box measures (one image; for a 4-view location call them per view and pool with :func:`pool_views`)

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

Answer measures

* :func:`wilson_interval` and :func:`bootstrap_ci` for proportions and means;
* :func:`topk_correct`, :func:`accuracy`, :func:`per_class_accuracy`;
* :func:`compare_accuracy`: human vs model top-1 / top-5 on the same items, with Wilson CIs for each
  and a cluster (item) bootstrap CI for the model-minus-human difference;
* :func:`fleiss_kappa` (Fleiss 1971) on the participants' top-1 guesses, :func:`rating_table`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.types import CUE_TAGS, CueBox

Z_95 = 1.959963984540054


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
    (fw, fh), (tw, th) = from_size, to_size
    if (fw, fh) == (tw, th):
        return box
    return box.scale(tw / fw, th / fh).clip(tw, th)


# ------------------------------------------------------------------------------------------ answers


@dataclass(frozen=True)
class Proportion:
    """``k`` successes out of ``n`` with a confidence interval ``[low, high]`` (rate None if n = 0)."""

    k: float
    n: int
    low: float | None
    high: float | None

    @property
    def rate(self) -> float | None:
        return self.k / self.n if self.n else None


def wilson_interval(k: float, n: int, z: float = Z_95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion k/n (default 95 %)."""
    if n <= 0:
        return (None, None)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(successes: Iterable[bool | int | float], z: float = Z_95) -> Proportion:
    """Count successes (truthy values) and attach a Wilson interval."""
    values = [float(bool(v)) for v in successes]
    k, n = sum(values), len(values)
    low, high = wilson_interval(k, n, z)
    return Proportion(k, n, low, high)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[np.ndarray], float] = np.mean,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float] | tuple[None, None]:
    """Percentile bootstrap interval of ``stat`` over ``values`` (resampling rows with replacement;
    ``values`` may be 2-D, rows are the resampling unit)."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0:
        return (None, None)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(n_boot, len(arr)))
    stats = np.array([stat(arr[i]) for i in idx], dtype=np.float64)
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return (None, None)
    return (float(np.quantile(stats, alpha / 2)), float(np.quantile(stats, 1 - alpha / 2)))


def topk_correct(ranked: Sequence[str], truth: str, k: int) -> bool:
    """Is ``truth`` among the first ``k`` labels of ``ranked``?"""
    return truth in list(ranked)[:k]


def accuracy(ranked_lists: Sequence[Sequence[str]], truths: Sequence[str], k: int = 1) -> Proportion:
    """Top-k accuracy with a Wilson interval."""
    return proportion(topk_correct(r, t, k) for r, t in zip(ranked_lists, truths, strict=True))


def per_class_accuracy(
    ranked_lists: Sequence[Sequence[str]], truths: Sequence[str], k: int = 1
) -> dict[str, Proportion]:
    """Top-k accuracy per true class (classes sorted by name)."""
    groups: dict[str, list[bool]] = {}
    for r, t in zip(ranked_lists, truths, strict=True):
        groups.setdefault(t, []).append(topk_correct(r, t, k))
    return {c: proportion(groups[c]) for c in sorted(groups)}


@dataclass(frozen=True)
class Comparison:
    """Human vs model top-k accuracy on the same items.

    ``human`` pools every human answer (a trial) on the shared items, ``model`` has one answer per
    item. ``difference`` is model minus human accuracy where human accuracy is first averaged per
    item (so every item weighs the same on both sides); ``difference_ci`` is a cluster bootstrap
    over items.
    """

    k: int
    n_items: int
    human: Proportion
    model: Proportion
    difference: float | None
    difference_ci: tuple[float, float] | tuple[None, None]


def compare_accuracy(
    human: Mapping[object, Sequence[Sequence[str]]],
    model: Mapping[object, Sequence[str]],
    truths: Mapping[object, str],
    k: int = 1,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare top-k accuracy of people and the model on the items both answered.

    ``human[item]`` lists each participant's ranked guesses for the item, ``model[item]`` is the
    model's ranked class list, ``truths[item]`` the true label. Items missing from either side (or
    with no human answer) are left out.
    """
    items = [i for i in human if human[i] and i in model and i in truths]
    human_hits = [[topk_correct(g, truths[i], k) for g in human[i]] for i in items]
    model_hits = [topk_correct(model[i], truths[i], k) for i in items]
    h = proportion(x for hits in human_hits for x in hits)
    m = proportion(model_hits)
    if not items:
        return Comparison(k, 0, h, m, None, (None, None))
    per_item = np.array([[float(mh), float(np.mean(hh))] for mh, hh in zip(model_hits, human_hits)])
    diff = float(per_item[:, 0].mean() - per_item[:, 1].mean())
    ci = bootstrap_ci(per_item, lambda a: float(a[:, 0].mean() - a[:, 1].mean()), n_boot=n_boot, seed=seed)
    return Comparison(k, len(items), h, m, diff, ci)


# ---------------------------------------------------------------------------------- Fleiss' kappa


def rating_table(
    ratings: Mapping[object, Sequence[str]], categories: Sequence[str] | None = None
) -> np.ndarray:
    """Counts table for :func:`fleiss_kappa`: int array (items, categories), ``[i, j]`` = how many
    raters put item ``i`` in category ``j``. Categories default to every label used, sorted."""
    cats = list(categories) if categories is not None else sorted({r for rs in ratings.values() for r in rs})
    index = {c: j for j, c in enumerate(cats)}
    table = np.zeros((len(ratings), len(cats)), dtype=np.int64)
    for i, rs in enumerate(ratings.values()):
        for r in rs:
            if r not in index:
                raise ValueError(f"rating {r!r} is not one of the categories {cats}")
            table[i, index[r]] += 1
    return table


@dataclass(frozen=True)
class Kappa:
    """Fleiss' kappa with its ingredients: ``p_bar`` (mean observed agreement), ``p_e`` (chance)."""

    kappa: float | None
    p_bar: float | None
    p_e: float | None
    n_items: int
    n_ratings: int


def fleiss_kappa(table: np.ndarray) -> Kappa:
    """Fleiss' kappa for a counts table (items x categories), Fleiss (1971).

    P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P_bar = mean P_i, p_j = sum_i n_ij / sum n_i,
    P_e = sum_j p_j^2, kappa = (P_bar - P_e) / (1 - P_e). Items rated by fewer than two raters are
    dropped; the number of raters may vary between items (the usual generalisation, identical to
    Fleiss when it is constant). kappa is None when fewer than one item remains or P_e = 1.
    """
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"rating table must be 2-D (items x categories), got shape {t.shape}")
    n_i = t.sum(axis=1)
    t, n_i = t[n_i >= 2], n_i[n_i >= 2]
    if len(t) == 0:
        return Kappa(None, None, None, 0, 0)
    p_i = ((t * t).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = float(p_i.mean())
    p_j = t.sum(axis=0) / n_i.sum()
    p_e = float((p_j * p_j).sum())
    kappa = (p_bar - p_e) / (1 - p_e) if p_e < 1 else None
    return Kappa(kappa, p_bar, p_e, len(t), int(n_i.sum()))


def item_agreement(labels: Sequence[str]) -> float | None:
    """Observed agreement P_i of one item's ratings (share of agreeing rater pairs), None if < 2."""
    n = len(labels)
    if n < 2:
        return None
    counts = np.array(list(Counter(labels).values()), dtype=np.float64)
    return float(((counts * counts).sum() - n) / (n * (n - 1)))


def fleiss_kappa_ci(
    ratings: Mapping[object, Sequence[str]], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[Kappa, tuple[float, float] | tuple[None, None]]:
    """Fleiss' kappa of ``ratings`` (item -> labels) and a percentile bootstrap CI over items."""
    table = rating_table(ratings)
    k = fleiss_kappa(table)
    table = table[table.sum(axis=1) >= 2]
    if k.kappa is None or len(table) < 2:
        return k, (None, None)

    def stat(rows: np.ndarray) -> float:
        value = fleiss_kappa(rows).kappa
        return float("nan") if value is None else value

    return k, bootstrap_ci(table, stat, n_boot=n_boot, seed=seed, alpha=alpha)
