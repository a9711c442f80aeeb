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

from geoquiz.boxes import Box
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


def _area(b: np.ndarray, height: int, width: int) -> int:
    """Pixels of a ``height x width`` image inside the union of the XYXY rows of ``b`` (``(n, 4)``
    ints, clipped to the image): ``union_mask(...).sum()`` from plain rows, without making boxes
    (what keeps the rejection sampling of :func:`random_boxes` cheap)."""
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in b.tolist():
        mask[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)] = True
    return int(np.count_nonzero(mask))


def box_union_area(boxes: Sequence[Box], height: int, width: int) -> int:
    """Pixels of the ``height x width`` image inside the union of ``boxes`` (clipped to it)."""
    return _area(np.array([b.as_tuple() for b in boxes], dtype=np.int64).reshape(-1, 4), height, width)


def union_area(boxes: Sequence[PlacedBox], shapes: Shapes) -> dict[str | None, int]:
    """Union area in pixels per view (every view of ``shapes`` is present)."""
    out = {}
    for view, (h, w) in shapes.items():
        out[view] = box_union_area([b.box for b in boxes if b.view == view], h, w)
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


class _Layout:
    """The guided boxes as arrays for fast drawing: ``xyxy`` ``(n, 4)``, each box's view, and the
    size of each view's image. Draws are ``(n, 4)`` arrays turned into boxes only when kept."""

    def __init__(self, guided: Sequence[PlacedBox], shapes: Shapes) -> None:
        self.guided, self.shapes = list(guided), shapes
        self.views = [g.view for g in self.guided]
        self.xyxy = np.array([g.box.as_tuple() for g in self.guided], dtype=np.int64).reshape(-1, 4)
        self.rows = {
            v: np.array([i for i, g in enumerate(self.views) if g == v], dtype=np.int64) for v in shapes
        }

    def area(self, draw: np.ndarray) -> dict[str | None, int]:
        return {
            v: _area(draw[rows], h, w) for (v, (h, w)), rows in zip(self.shapes.items(), self.rows.values())
        }

    def boxes(self, draw: np.ndarray) -> list[PlacedBox]:
        return [PlacedBox(Box(*map(int, row)), v) for row, v in zip(draw, self.views)]


def _place_independent(layout: _Layout, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(layout.xyxy)
    for i, (g, view) in enumerate(zip(layout.xyxy, layout.views)):
        h, w = layout.shapes[view]
        bw, bh = min(int(g[2] - g[0]), w), min(int(g[3] - g[1]), h)
        x0 = int(rng.integers(0, w - bw + 1))
        y0 = int(rng.integers(0, h - bh + 1))
        out[i] = (x0, y0, x0 + bw, y0 + bh)
    return out


def _place_clusters(layout: _Layout, clusters: list[list[int]], rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(layout.xyxy)
    for members in clusters:
        h, w = layout.shapes[layout.views[members[0]]]
        group = layout.xyxy[members]
        cx0, cy0 = int(group[:, 0].min()), int(group[:, 1].min())
        cw, ch = int(group[:, 2].max()) - cx0, int(group[:, 3].max()) - cy0
        nx0 = int(rng.integers(0, max(w - cw, 0) + 1))
        ny0 = int(rng.integers(0, max(h - ch, 0) + 1))
        moved = group - np.array([cx0, cy0, cx0, cy0]) + np.array([nx0, ny0, nx0, ny0])
        x0, y0 = np.clip(moved[:, 0], 0, w), np.clip(moved[:, 1], 0, h)  # Box.clip
        moved = np.stack(
            [x0, y0, np.maximum(x0, np.minimum(w, moved[:, 2])), np.maximum(y0, np.minimum(h, moved[:, 3]))],
            1,
        )
        out[members] = moved
    return out


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

    layout = _Layout(placed, shapes)

    def error(draw: np.ndarray) -> tuple[bool, int]:
        got = layout.area(draw)
        ok = all(abs(got[v] - target[v]) <= tol(target[v]) for v in shapes)
        total_err = abs(sum(got.values()) - sum(target.values()))
        return ok and total_err <= tol(sum(target.values())), total_err

    best: tuple[int, np.ndarray] | None = None
    clusters = _clusters(placed)
    tries = 0
    for mode in ("independent", "cluster"):
        if mode == "cluster" and len(clusters) == len(placed):
            continue  # no overlaps among guided boxes: cluster placement is independent placement
        for _ in range(max_tries):
            tries += 1
            draw = (
                _place_independent(layout, rng)
                if mode == "independent"
                else _place_clusters(layout, clusters, rng)
            )
            ok, err = error(draw)
            if ok:
                boxes = layout.boxes(draw)
                return RandomBoxes(tuple(boxes), seed, mode, tries, union_coverage(boxes, shapes), target_cov)
            if best is None or err < best[0]:
                best = (err, draw)
    boxes = layout.boxes(best[1] if best is not None else _place_independent(layout, rng))
    return RandomBoxes(tuple(boxes), seed, "closest", tries, union_coverage(boxes, shapes), target_cov)
