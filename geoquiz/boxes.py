"""Axis-aligned boxes: the one box convention of GeoQuiz.

A :class:`Box` is ``(x0, y0, x1, y1)`` in integer pixels, inclusive-exclusive: it covers columns
``x0 <= x < x1`` and rows ``y0 <= y < y1``. Its area is ``(x1 - x0) * (y1 - y0)``; an empty box has
zero area. All functions here are pure and Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, order=True)
class Box:
    """An XYXY pixel box, inclusive-exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        for name in ("x0", "y0", "x1", "y1"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)):
                raise TypeError(f"Box.{name} must be an int, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"Box has negative size: {self.as_tuple()}")

    @classmethod
    def from_float(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Round float coordinates outwards to the smallest enclosing integer box."""
        return cls(int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> Box:
        """Tight box around the True pixels of a boolean HxW mask (an empty mask raises)."""
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise ValueError("cannot take the box of an empty mask")
        return cls(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        """Geometric centre ``(x, y)`` in pixel coordinates."""
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)

    def intersection(self, other: Box) -> int:
        """Area of the overlap with ``other`` in pixels."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0, w) * max(0, h)

    def iou(self, other: Box) -> float:
        """Intersection over union (0 when both are empty)."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def containment(self, other: Box) -> float:
        """Intersection over the smaller of the two areas (0 when either is empty)."""
        smaller = min(self.area, other.area)
        return self.intersection(other) / smaller if smaller > 0 else 0.0

    def contains_point(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def pad(self, pad: int, width: int, height: int) -> Box:
        """Grow by ``pad`` pixels on every side, clipped to an image of ``width`` x ``height``."""
        return Box(
            max(0, self.x0 - pad),
            max(0, self.y0 - pad),
            min(width, self.x1 + pad),
            min(height, self.y1 + pad),
        )

    def clip(self, width: int, height: int) -> Box:
        x0, y0 = min(max(0, self.x0), width), min(max(0, self.y0), height)
        return Box(x0, y0, max(x0, min(width, self.x1)), max(y0, min(height, self.y1)))

    def scale(self, sx: float, sy: float) -> Box:
        """Scale coordinates (e.g. from one image resolution to another), rounding outwards."""
        return Box.from_float(self.x0 * sx, self.y0 * sy, self.x1 * sx, self.y1 * sy)

    def to_mask(self, height: int, width: int) -> np.ndarray:
        """Boolean HxW mask of the box."""
        mask = np.zeros((height, width), dtype=bool)
        b = self.clip(width, height)
        mask[b.y0 : b.y1, b.x0 : b.x1] = True
        return mask


def union_mask(boxes: list[Box], height: int, width: int) -> np.ndarray:
    """Boolean HxW mask of the union of ``boxes``."""
    mask = np.zeros((height, width), dtype=bool)
    for b in boxes:
        c = b.clip(width, height)
        mask[c.y0 : c.y1, c.x0 : c.x1] = True
    return mask
