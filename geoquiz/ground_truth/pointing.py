"""Ground truth on GeoScenes: does the top object-like element point at a planted cue? (Qt-free)

GeoScenes records a box around every cue it plants (:class:`geoquiz.types.CueBox`, in the image's
pixel frame), so the explanation pipeline can be checked against known evidence. The check is a
**pointing game** (Zhang et al., *Top-down neural attention by excitation backprop*, ECCV 2016): an
explanation *hits* when the place it designates lies on a ground-truth object. Here the designated
place is the **top-ranked element** (rank 1) of an attribution method x segmenter, and the ground
truth the planted cue boxes of the image (all tags; a cue of any country counts, since the model may
use a shared cue such as the driving side).

Choices, each a field of :class:`PointingSettings`:

* **Hit criterion** ``criterion``: ``"centre"`` (default, the pointing game proper): the centre of
  the element's box lies inside a cue box, or within ``tolerance_px`` pixels of one (Euclidean
  distance to the closed box; the original game uses 15 px at 224 px, the default here is 0, i.e.
  strictly on the cue). ``"overlap"``: at least ``min_overlap`` of the element box's area is covered by
  the union of the cue boxes.
* **Frame.** Elements are computed at the model's input resolution (``S x S``); their boxes are mapped
  to the image's pixel frame with :meth:`geoquiz.boxes.Box.scale` (rounded outwards) and compared with
  the cue boxes there.
* **Random baseline.** For each image, ``repeats`` boxes of the *same width and height* as the top
  element are placed uniformly at random (every position that keeps the box inside the image equally
  likely; same view for 4-view samples) with a generator seeded from ``seed``, the image and the
  method; the image's random hit rate is the share of them that hit under the same criterion. This is
  the chance level of "a box that size, anywhere": large cues (a building, a rice field) are easy to
  hit by chance and raise it.
* ``top_k`` (default 1): a hit when any of the ``top_k`` best elements hits; the random counterpart
  then places ``top_k`` boxes with those elements' sizes and hits when any of them does.
* **Which images.** Only images the model classifies correctly (``correct_only``; the explanation of
  a wrong prediction need not point at the true country's cues), that have planted cues, and for which
  the method x segmenter produced at least one element (a random box needs a size; the number of
  images without elements is reported as ``n_empty``).

Statistics (per method x segmenter, the image is the unit): the hit rate and the mean random rate with
percentile-bootstrap 95 % CIs, the paired difference (hit - random rate per image) with its CI, and the
two-sided Wilcoxon signed-rank p-value of that difference (:mod:`geoquiz.faithfulness.stats`).

    result = pointing_on_dataset(project, "demo-resnet10", "geoscenes", "test", ["gradcampp", "gradcam"])
    for row in result.summary():
        print(row["method"], row["hit_rate"], row["random_rate"], row["diff_lo"])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step
from geoquiz.types import CueBox, Element, ImageItem, Location

if TYPE_CHECKING:
    from geoquiz.config import ElementSettings

CRITERIA = ("centre", "overlap")

#: ``(width, height)`` of each view's image, keyed by view (``None`` for a single image)
Frames = Mapping[str | None, tuple[int, int]]


@dataclass(frozen=True)
class PointingSettings:
    """How a pointing hit and its random baseline are defined (see the module docstring)."""

    criterion: str = "centre"
    tolerance_px: float = 0.0
    min_overlap: float = 0.5
    top_k: int = 1
    repeats: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise GeoQuizError(
                f"unknown pointing criterion {self.criterion!r}; expected one of {', '.join(CRITERIA)}"
            )
        if self.tolerance_px < 0:
            raise GeoQuizError(f"tolerance_px must be >= 0, got {self.tolerance_px}")
        if not 0 < self.min_overlap <= 1:
            raise GeoQuizError(f"min_overlap must be in (0, 1], got {self.min_overlap}")
        if self.top_k < 1:
            raise GeoQuizError(f"top_k must be >= 1, got {self.top_k}")
        if self.repeats < 1:
            raise GeoQuizError(f"repeats must be >= 1, got {self.repeats}")


# --- hit tests on boxes -------------------------------------------------------------------------


def point_to_box_distance(x: float, y: float, box: Box) -> float:
    """Euclidean distance from point ``(x, y)`` to the closed box ``[x0, x1] x [y0, y1]`` (0 inside)."""
    dx = max(box.x0 - x, 0.0, x - box.x1)
    dy = max(box.y0 - y, 0.0, y - box.y1)
    return math.hypot(dx, dy)


def hit_cues(
    box: Box,
    cues: Sequence[Box],
    settings: PointingSettings = PointingSettings(),
    *,
    frame: tuple[int, int] | None = None,
) -> list[int]:
    """Indices of the cue boxes ``box`` hits under ``settings.criterion``.

    ``centre``: the cues whose closed box is within ``tolerance_px`` of the box's centre. ``overlap``:
    if the union of all cues covers at least ``min_overlap`` of ``box``, every cue that overlaps it
    (the union matters, so a box lying across two adjacent cues counts); ``frame`` = ``(width,
    height)`` of the image for the rasterised union (default: just large enough).
    """
    if settings.criterion == "centre":
        cx, cy = box.centre
        return [i for i, c in enumerate(cues) if point_to_box_distance(cx, cy, c) <= settings.tolerance_px]
    if box.area == 0:
        return []
    touching = [i for i, c in enumerate(cues) if box.intersection(c) > 0]
    if not touching:
        return []
    w, h = frame or (
        max(box.x1, *(cues[i].x1 for i in touching)),
        max(box.y1, *(cues[i].y1 for i in touching)),
    )
    union = union_mask([cues[i] for i in touching], h, w)
    b = box.clip(w, h)
    covered = float(union[b.y0 : b.y1, b.x0 : b.x1].sum()) / box.area
    return touching if covered >= settings.min_overlap else []


def hits(
    box: Box,
    cues: Sequence[Box],
    settings: PointingSettings = PointingSettings(),
    *,
    frame: tuple[int, int] | None = None,
) -> bool:
    """Whether ``box`` hits any of ``cues`` (see :func:`hit_cues`)."""
    return bool(hit_cues(box, cues, settings, frame=frame))


def random_box(width: int, height: int, frame: tuple[int, int], rng: np.random.Generator) -> Box:
    """A ``width x height`` box at a uniformly random position inside a ``frame = (W, H)`` image
    (a box larger than the image is clipped to it and placed at 0)."""
    fw, fh = frame
    w, h = min(int(width), fw), min(int(height), fh)
    x0 = int(rng.integers(0, fw - w + 1))
    y0 = int(rng.integers(0, fh - h + 1))
    return Box(x0, y0, x0 + w, y0 + h)


def random_hit_rate(
    boxes: Sequence[tuple[Box, str | None]],
    cues: Sequence[CueBox],
    frames: Frames,
    settings: PointingSettings,
    rng: np.random.Generator,
) -> float:
    """Share of ``settings.repeats`` random draws in which at least one box hits a cue of its view.

    Each draw places one box of the size of each of ``boxes`` (``(box, view)`` pairs) at random in its
    view's frame.
    """
    by_view = _cues_by_view(cues)
    n_hit = 0
    for _ in range(settings.repeats):
        for box, view in boxes:
            frame = frames[view]
            placed = random_box(box.width, box.height, frame, rng)
            if hits(placed, by_view.get(view, []), settings, frame=frame):
                n_hit += 1
                break
    return n_hit / settings.repeats


def _cues_by_view(cues: Sequence[CueBox]) -> dict[str | None, list[Box]]:
    out: dict[str | None, list[Box]] = {}
    for c in cues:
        out.setdefault(c.view, []).append(c.box)
    return out


def to_image_frame(box: Box, model_size: int | tuple[int, int] | None, frame: tuple[int, int]) -> Box:
    """A box of the ``model_size`` (``S`` or ``(S_w, S_h)``) model-input frame in the image frame
    ``(W, H)`` (scaled, rounded outwards, clipped); ``None`` = already in the image frame."""
    from geoquiz.explain.frames import box_to_image

    fw, fh = frame
    return box_to_image(box, (fw, fh) if model_size is None else model_size, fw, fh)


# --- one image ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointingRecord:
    """One image x method x segmenter. ``boxes``: the top-k element boxes in the image frame (empty
    when the method found no element); ``hit_tags``: tags of the cues hit; ``random_rate``: the
    image's random baseline (NaN without elements)."""

    key: str
    label: str
    method: str
    segmenter: str
    boxes: tuple[tuple[Box, str | None], ...]
    hit: bool
    hit_tags: tuple[str, ...]
    random_rate: float
    n_cues: int


def score_image(
    elements: Sequence[Element],
    cues: Sequence[CueBox],
    frames: Frames,
    settings: PointingSettings = PointingSettings(),
    *,
    model_size: int | tuple[int, int] | None = None,
    rng: np.random.Generator | None = None,
    key: str = "",
    label: str = "",
    method: str = "",
    segmenter: str = "",
) -> PointingRecord:
    """Pointing-game record of one image: do its top ``top_k`` elements hit a planted cue, and how
    often do random boxes of the same sizes? ``elements`` best first (rank order) in the
    ``model_size`` frame (``None``: already in the image frame); ``frames``: each view's ``(W, H)``."""
    ranked = sorted(elements, key=lambda e: e.rank)[: settings.top_k]
    boxes = tuple((to_image_frame(e.box, model_size, frames[e.view]), e.view) for e in ranked)
    tags: list[str] = []
    for box, view in boxes:
        view_cues = [c for c in cues if c.view == view]
        hit = hit_cues(box, [c.box for c in view_cues], settings, frame=frames[view])
        tags += [view_cues[i].tag for i in hit]
    if boxes:
        rng = rng if rng is not None else np.random.default_rng(settings.seed)
        random_rate = random_hit_rate(boxes, cues, frames, settings, rng)
    else:
        random_rate = float("nan")
    return PointingRecord(
        key, label, method, segmenter, boxes, bool(tags), tuple(sorted(set(tags))), random_rate, len(cues)
    )


# --- many images --------------------------------------------------------------------------------


@dataclass
class PointingResult:
    """Records of every scored image x method x segmenter, plus the images left out and why."""

    settings: PointingSettings
    records: list[PointingRecord] = field(default_factory=list)
    n_samples: int = 0
    wrong: list[str] = field(default_factory=list)  # misclassified (left out with correct_only)
    no_cues: list[str] = field(default_factory=list)  # no planted cues (not a GeoScenes image)

    def summary(self, *, n_boot: int = 2000) -> list[dict[str, Any]]:
        """One row per method x segmenter (see the module docstring for the statistics)."""
        from geoquiz.faithfulness.stats import bootstrap_ci, wilcoxon_paired

        groups: dict[tuple[str, str], list[PointingRecord]] = {}
        for r in self.records:
            groups.setdefault((r.method, r.segmenter), []).append(r)
        rows = []
        for (method, segmenter), recs in groups.items():
            scored = [r for r in recs if r.boxes]
            hit = np.array([float(r.hit) for r in scored])
            rand = np.array([r.random_rate for r in scored])
            rate, lo, hi = bootstrap_ci(hit, n_boot=n_boot)
            rrate, rlo, rhi = bootstrap_ci(rand, n_boot=n_boot)
            diff, dlo, dhi = bootstrap_ci(hit - rand, n_boot=n_boot)
            _, p = wilcoxon_paired(hit, rand) if len(scored) else (float("nan"), float("nan"))
            tags = Counter(t for r in scored for t in r.hit_tags)
            rows.append(
                {
                    "method": method,
                    "segmenter": segmenter,
                    "n": len(scored),
                    "n_empty": len(recs) - len(scored),
                    "hit_rate": rate,
                    "hit_lo": lo,
                    "hit_hi": hi,
                    "random_rate": rrate,
                    "random_lo": rlo,
                    "random_hi": rhi,
                    "diff": diff,
                    "diff_lo": dlo,
                    "diff_hi": dhi,
                    "p_value": p,
                    "ratio": rate / rrate if rrate > 0 else float("inf"),
                    "hit_tags": dict(tags.most_common()),
                }
            )
        return rows


def frames_of(sample: ImageItem | Location) -> dict[str | None, tuple[int, int]]:
    """Each view's ``(width, height)`` (from the item, else read from the file header)."""
    items = sample.ordered() if isinstance(sample, Location) else [sample]
    out = {}
    for it in items:
        if it.width and it.height:
            out[it.view if isinstance(sample, Location) else None] = (int(it.width), int(it.height))
        else:
            from PIL import Image

            with Image.open(it.path) as im:
                out[it.view if isinstance(sample, Location) else None] = im.size
    return out


def cues_of(sample: ImageItem | Location) -> list[CueBox]:
    """The planted cues of a sample, each with the view it lies in (``None`` for a single image)."""
    from dataclasses import replace

    if isinstance(sample, Location):
        return [
            c if c.view == it.view else replace(c, view=it.view) for it in sample.ordered() for c in it.cues
        ]
    return [c if c.view is None else replace(c, view=None) for c in sample.cues]


def pointing_game(
    explainer: Any,
    samples: Sequence[ImageItem | Location],
    methods: Sequence[str],
    segmenters: Sequence[str] = ("default",),
    *,
    params: ElementSettings | None = None,
    settings: PointingSettings = PointingSettings(),
    correct_only: bool = True,
    batch_size: int = 32,
    reporter: Reporter | None = None,
) -> PointingResult:
    """Pointing game of ``methods`` x ``segmenters`` on ``samples`` with an
    :class:`geoquiz.explain.Explainer` (elements of the predicted class, from its cache when there).

    Samples without planted cues are left out (``result.no_cues``), and with ``correct_only`` the
    misclassified ones (``result.wrong``).
    """
    from geoquiz.faithfulness.random import derive_seed

    result = PointingResult(settings=settings, n_samples=len(samples))
    lm = explainer.loaded_model
    size = lm.spec.input_size
    with_cues = [s for s in samples if cues_of(s)]
    result.no_cues = [s.key for s in samples if not cues_of(s)]
    if correct_only and with_cues:
        preds = lm.predict_samples(with_cues, batch_size)
        result.wrong = [s.key for s, p in zip(with_cues, preds) if p.label != s.label]
        with_cues = [s for s, p in zip(with_cues, preds) if p.label == s.label]
    total = len(with_cues) * len(methods) * len(segmenters)
    done = 0
    for s in with_cues:
        frames, cues = frames_of(s), cues_of(s)
        for method in methods:
            for segmenter in segmenters:
                step(reporter, done, total, f"{s.key} {method} x {segmenter}")
                elements = explainer.elements(s, method, segmenter, params)
                rng = np.random.default_rng(derive_seed(settings.seed, s.key, method, segmenter))
                result.records.append(
                    score_image(
                        elements,
                        cues,
                        frames,
                        settings,
                        model_size=size,
                        rng=rng,
                        key=s.key,
                        label=s.label,
                        method=method,
                        segmenter=segmenter,
                    )
                )
                done += 1
    step(reporter, total, total, "pointing game done")
    return result


def balanced(samples: Sequence[ImageItem | Location], limit: int | None) -> list[ImageItem | Location]:
    """At most ``limit`` samples taken round-robin over the labels (key order within a label)."""
    if limit is None or limit >= len(samples):
        return list(samples)
    by_label: dict[str, list] = {}
    for s in sorted(samples, key=lambda s: s.key):
        by_label.setdefault(s.label, []).append(s)
    queues = [by_label[k] for k in sorted(by_label)]
    out: list = []
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return sorted(out, key=lambda s: s.key)


def pointing_on_dataset(
    project: Any,
    model_name: str,
    dataset: str,
    split: str | None = "test",
    methods: Sequence[str] = ("gradcampp",),
    segmenters: Sequence[str] = ("default",),
    *,
    limit: int | None = None,
    explainer: Any = None,
    **kwargs: Any,
) -> PointingResult:
    """:func:`pointing_game` on a project's dataset split (``limit``: at most that many images,
    class-balanced). ``kwargs`` go to :func:`pointing_game`."""
    from geoquiz.data.dataset import get_dataset, load_items, load_locations

    if explainer is None:
        from geoquiz.explain import Explainer

        explainer = Explainer(project, model_name)
    four = get_dataset(project.db, dataset).kind == "4view"
    samples = load_locations(project.db, dataset, split) if four else load_items(project.db, dataset, split)
    if not samples:
        raise GeoQuizError(f"dataset {dataset!r} has no images in split {split!r}")
    return pointing_game(explainer, balanced(samples, limit), methods, segmenters, **kwargs)
