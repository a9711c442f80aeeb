"""Random baseline boxes with matched count, sizes and coverage (paper 000, section 5).

For each guided box set we draw boxes with **the same count and the same sizes** (one random box per
guided box, same width and height, same view for 4-view models), placed uniformly at random
**inside the image** (a box of width ``w`` in an image of width ``W`` gets ``x0`` uniform in
``[0, W - w]``).

Overlap. The guided boxes may overlap one another (padding makes neighbouring elements touch), so
the *union* they cover is smaller than the sum of their areas, and independently placed random boxes
overlap by a different amount. Matching count and sizes alone would then not match coverage. We
therefore match the **union coverage** by rejection sampling:

1. *independent placement*: every box is placed independently; a draw is accepted when its union
   area differs from the guided union area by at most ``max(rel_tol * guided_union, abs_tol_px)``
   pixels (defaults 2 % and 1 px), checked per view and in total.
2. if no draw is accepted after ``max_tries`` draws, *cluster placement*: the guided boxes are
   grouped into clusters of mutually overlapping boxes and each cluster is translated rigidly to a
   uniform random position inside the image, which keeps the overlap inside each cluster exactly
   (so the union matches unless clusters land on one another, which the same test rejects);
3. if still nothing is accepted after another ``max_tries`` draws, the draw with the closest union
   area is used. :class:`RandomBoxes` records the mode, the number of draws and the achieved
   coverage, and the stored results carry the coverage of every random selection.

Reproducibility: every random selection is drawn from its own ``seed`` (an unsigned 32-bit int),
derived with :func:`derive_seed` from the run seed, the image, the method, the segmenter and the
repeat, and stored with each result; ``random_boxes(boxes, shapes, seed)`` reproduces it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geoquiz.boxes import Box, union_mask
from geoquiz.types import Element

#: A view's image size ``(height, width)``; the key is the view name (``None`` for single view).
Shapes = Mapping[str | None, tuple[int, int]]


@dataclass(frozen=True)
class PlacedBox:
    """A box in one view (``view`` is None for single-view images)."""

    box: Box
    view: str | None = None


@dataclass(frozen=True)
class RandomBoxes:
    """One random selection. ``boxes[i]`` has the size and view of guided box ``i``."""

    boxes: tuple[PlacedBox, ...]
    seed: int
    mode: str  # 'independent', 'cluster' or 'closest'
    tries: int
    coverage: float  # union coverage of all views, fraction of all pixels
    target_coverage: float


def derive_seed(*parts: int | str | None) -> int:
    """A stable unsigned 32-bit seed from ints and strings (strings hashed with CRC-32, not ``hash``)."""
    words = []
    for part in parts:
        if part is None:
            words.append(0)
        elif isinstance(part, str):
            words.append(zlib.crc32(part.encode("utf-8")))
        else:
            words.append(int(part) & 0xFFFFFFFF)
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint32)[0])


def as_placed(elements: Sequence[Element | PlacedBox]) -> list[PlacedBox]:
    """Elements (or placed boxes) as :class:`PlacedBox` in the same order."""
    return [e if isinstance(e, PlacedBox) else PlacedBox(e.box, e.view) for e in elements]


def union_area(boxes: Sequence[PlacedBox], shapes: Shapes) -> dict[str | None, int]:
    """Union area in pixels per view (every view of ``shapes`` is present)."""
    out = {}
    for view, (h, w) in shapes.items():
        out[view] = int(union_mask([b.box for b in boxes if b.view == view], h, w).sum())
    return out


def union_coverage(boxes: Sequence[PlacedBox], shapes: Shapes) -> float:
    """Union coverage over all views: covered pixels / all pixels."""
    total = sum(h * w for h, w in shapes.values())
    return sum(union_area(boxes, shapes).values()) / total if total else 0.0


def _clusters(boxes: Sequence[PlacedBox]) -> list[list[int]]:
    """Indices of boxes grouped into connected components of overlap (same view only)."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if boxes[i].view == boxes[j].view and boxes[i].box.intersection(boxes[j].box) > 0:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _place_independent(
    guided: Sequence[PlacedBox], shapes: Shapes, rng: np.random.Generator
) -> list[PlacedBox]:
    out = []
    for g in guided:
        h, w = shapes[g.view]
        bw, bh = min(g.box.width, w), min(g.box.height, h)
        x0 = int(rng.integers(0, w - bw + 1))
        y0 = int(rng.integers(0, h - bh + 1))
        out.append(PlacedBox(Box(x0, y0, x0 + bw, y0 + bh), g.view))
    return out


def _place_clusters(
    guided: Sequence[PlacedBox], clusters: list[list[int]], shapes: Shapes, rng: np.random.Generator
) -> list[PlacedBox]:
    out: list[PlacedBox | None] = [None] * len(guided)
    for members in clusters:
        view = guided[members[0]].view
        h, w = shapes[view]
        cx0 = min(guided[i].box.x0 for i in members)
        cy0 = min(guided[i].box.y0 for i in members)
        cw = max(guided[i].box.x1 for i in members) - cx0
        ch = max(guided[i].box.y1 for i in members) - cy0
        nx0 = int(rng.integers(0, max(w - cw, 0) + 1))
        ny0 = int(rng.integers(0, max(h - ch, 0) + 1))
        for i in members:
            b = guided[i].box
            moved = Box(b.x0 - cx0 + nx0, b.y0 - cy0 + ny0, b.x1 - cx0 + nx0, b.y1 - cy0 + ny0).clip(w, h)
            out[i] = PlacedBox(moved, view)
    return [b for b in out if b is not None]


def random_boxes(
    guided: Sequence[Element | PlacedBox],
    shapes: Shapes,
    seed: int,
    *,
    rel_tol: float = 0.02,
    abs_tol_px: int = 1,
    max_tries: int = 200,
) -> RandomBoxes:
    """Random boxes matching ``guided`` in count, sizes, views and union coverage (see module doc).

    ``shapes`` maps each view (``None`` for single view) to its image ``(height, width)``; guided
    boxes must lie inside their view. The result is a function of the arguments only.
    """
    placed = as_placed(guided)
    for p in placed:
        if p.view not in shapes:
            raise ValueError(f"box {p.box.as_tuple()} is in view {p.view!r}, which the image does not have")
    rng = np.random.default_rng(seed)
    total_px = sum(h * w for h, w in shapes.values())
    target = union_area(placed, shapes)
    target_cov = sum(target.values()) / total_px if total_px else 0.0
    if not placed:
        return RandomBoxes((), seed, "independent", 0, 0.0, 0.0)

    def tol(area: int) -> float:
        return max(rel_tol * area, abs_tol_px)

    def error(boxes: list[PlacedBox]) -> tuple[bool, int]:
        got = union_area(boxes, shapes)
        ok = all(abs(got[v] - target[v]) <= tol(target[v]) for v in shapes)
        total_err = abs(sum(got.values()) - sum(target.values()))
        return ok and total_err <= tol(sum(target.values())), total_err

    best: tuple[int, list[PlacedBox]] | None = None
    clusters = _clusters(placed)
    tries = 0
    for mode in ("independent", "cluster"):
        if mode == "cluster" and len(clusters) == len(placed):
            continue  # no overlaps among guided boxes: cluster placement is independent placement
        for _ in range(max_tries):
            tries += 1
            if mode == "independent":
                boxes = _place_independent(placed, shapes, rng)
            else:
                boxes = _place_clusters(placed, clusters, shapes, rng)
            ok, err = error(boxes)
            if ok:
                return RandomBoxes(tuple(boxes), seed, mode, tries, union_coverage(boxes, shapes), target_cov)
            if best is None or err < best[0]:
                best = (err, boxes)
    boxes = best[1] if best is not None else _place_independent(placed, shapes, rng)
    return RandomBoxes(tuple(boxes), seed, "closest", tries, union_coverage(boxes, shapes), target_cov)
