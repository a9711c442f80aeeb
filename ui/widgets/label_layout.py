"""Where box labels go so that they do not cover one another (the Explain / Review canvases, the
Dataset tab's planted cues): the first label keeps its place, each later one takes the first free
spot around its box, else the spot it overlaps least."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF


def _area(rect: QRectF) -> float:
    return max(rect.width(), 0.0) * max(rect.height(), 0.0)


def _spots(box: QRectF, w: float, h: float, outside_first: bool) -> list[tuple[float, float]]:
    inside = [
        (box.left(), box.top()),
        (box.left(), box.bottom() - h),
        (box.right() - w, box.top()),
        (box.right() - w, box.bottom() - h),
    ]
    outside = [
        (box.left(), box.top() - h),
        (box.left(), box.bottom()),
        (box.right() - w, box.top() - h),
        (box.right() - w, box.bottom()),
    ]
    farther = [  # crowded boxes: rows further out, the label still beside its box's edge
        spot
        for k in (2, 3)
        for spot in (
            (box.left(), box.top() - k * h),
            (box.right() - w, box.top() - k * h),
            (box.left(), box.bottom() + (k - 1) * h),
            (box.right() - w, box.bottom() + (k - 1) * h),
        )
    ]
    return (outside + inside if outside_first else inside + outside) + farther


def place_labels(
    boxes: Sequence[QRectF | None],
    sizes: Sequence[tuple[float, float]],
    bounds: QRectF | None = None,
    *,
    outside_first: bool = False,
) -> list[QRectF | None]:
    """The rectangle of each box's label (``sizes[i]`` = its width and height, in the boxes' units;
    ``None`` for a box without a label). In order, a label takes the first spot, among its box's
    inside corners (top-left, bottom-left, top-right, bottom-right) and the same corners just
    outside its top and bottom edges (those first with ``outside_first``), then up to two rows
    further out, that covers no earlier label and stays within ``bounds``; failing that, the spot
    it overlaps least."""
    placed: list[QRectF] = []
    out: list[QRectF | None] = []
    for box, (w, h) in zip(boxes, sizes):
        if box is None:
            out.append(None)
            continue
        rects = [QRectF(x, y, w, h) for x, y in _spots(box, w, h, outside_first)]

        def cost(i: int, rects=rects) -> tuple[float, bool, int]:
            covered = sum(_area(rects[i].intersected(p)) for p in placed)
            return (covered, bounds is not None and not bounds.contains(rects[i]), i)

        best = rects[min(range(len(rects)), key=cost)]
        placed.append(best)
        out.append(best)
    return out


__all__ = ["place_labels"]
