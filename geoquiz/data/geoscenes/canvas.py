"""Drawing primitives for GeoScenes: a supersampled canvas with an ownership map, and a camera.

Coordinates given to :class:`Canvas` are output pixels (floats, origin top-left, x right, y down);
the canvas draws at ``ss`` times that resolution and box-filters down, which anti-aliases edges.
Alongside the RGB image it paints an ownership map (one uint8 id per sub-pixel, 0 = background):
every opaque primitive stamps the id of the cue instance being drawn (:attr:`Canvas.owner`). After
rendering, the pixels a cue instance really shows are those whose sub-pixels it still owns, so its
box is exact even when later objects occlude it. Semi-transparent overlays (:meth:`Canvas.shade`)
never change ownership.

World coordinates (metres) for :class:`Camera`: X to the right of the road's centre line, Y up from
the ground, Z forward along the road. The road may bend: its centre line is at ``X = curve * Z**2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from geoquiz.boxes import Box

Colour = tuple[int, int, int]
Point = tuple[float, float]


def mix(a: Sequence[float], b: Sequence[float], t: float) -> Colour:
    """Linear blend of two RGB colours, ``t`` in [0, 1] (0 gives ``a``)."""
    t = min(max(float(t), 0.0), 1.0)
    return tuple(int(round(a[i] * (1.0 - t) + b[i] * t)) for i in range(3))  # type: ignore[return-value]


def jitter(rng: np.random.Generator, colour: Sequence[float], amount: float = 12.0) -> Colour:
    """A colour with independent uniform noise of +-``amount`` per channel, clipped to 0..255."""
    noise = rng.uniform(-amount, amount, 3)
    return tuple(int(np.clip(round(colour[i] + noise[i]), 0, 255)) for i in range(3))  # type: ignore[return-value]


@dataclass(frozen=True)
class Camera:
    """A pinhole camera ``height`` metres above the road, looking along +Z, horizon level.

    ``f``: focal length in output pixels; ``cx``: column of the vanishing point; ``horizon``: its row;
    ``x``: lateral camera position in metres; ``curve``: road bend (centre line at ``curve * Z**2``);
    ``visibility``: haze distance in metres; ``haze``: the colour far things fade to.
    """

    size: int
    f: float
    cx: float
    horizon: float
    height: float
    x: float
    curve: float
    visibility: float
    haze: Colour

    @property
    def z_near(self) -> float:
        """Depth (m) of the ground at the bottom row of the image."""
        return self.f * self.height / max(self.size - self.horizon, 1.0)

    def project(self, X: float, Y: float, Z: float) -> Point:
        """World point (m) to output pixels."""
        return (
            self.cx + self.f * (X + self.curve * Z * Z - self.x) / Z,
            self.horizon - self.f * (Y - self.height) / Z,
        )

    def scale(self, Z: float) -> float:
        """Output pixels per metre at depth ``Z``."""
        return self.f / Z

    def fade(self, colour: Sequence[float], Z: float) -> Colour:
        """``colour`` seen through haze at depth ``Z``."""
        return mix(colour, self.haze, 1.0 - float(np.exp(-Z / self.visibility)))

    def frame(self, X: float, Z: float) -> Frame:
        """A local upright frame standing on the ground at ``(X, Z)`` (see :class:`Frame`)."""
        x, y = self.project(X, 0.0, Z)
        return Frame(x, y, self.scale(Z))


@dataclass(frozen=True)
class Frame:
    """Local metres ``(u, v)`` (u right, v up) of an upright object to output pixels: ``(x + u*s, y - v*s)``."""

    x: float
    y: float
    s: float

    def pt(self, u: float, v: float) -> Point:
        return (self.x + u * self.s, self.y - v * self.s)

    def pts(self, uvs: Sequence[tuple[float, float]]) -> list[Point]:
        return [self.pt(u, v) for u, v in uvs]

    def rect(self, u0: float, v0: float, u1: float, v1: float) -> list[Point]:
        """Corners of the axis-aligned local rectangle with corners ``(u0, v0)``, ``(u1, v1)``."""
        return self.pts([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])


class Canvas:
    """An RGB image of ``size`` x ``size`` output pixels drawn at ``ss`` x supersampling."""

    def __init__(self, size: int, ss: int = 3, background: Image.Image | None = None) -> None:
        """``background``: an RGB image of ``size * ss`` pixels square to draw on (default black)."""
        self.size, self.ss = size, ss
        n = size * ss
        self.image = background.copy() if background is not None else Image.new("RGB", (n, n))
        if self.image.size != (n, n):
            raise ValueError(f"background must be {n}x{n}, got {self.image.size}")
        self.ids = Image.new("L", (n, n), 0)
        self._draw = ImageDraw.Draw(self.image)
        self._draw_ids = ImageDraw.Draw(self.ids)
        self.owner = 0

    @property
    def px(self) -> float:
        """Output pixels per pixel of the 224 px reference render: hairline widths that are given in
        pixels (block joints, wires, the thinnest glyph strokes) are multiplied by it, so a 448 px
        scene is drawn with the same proportions, not as thinner lines on a bigger image."""
        return self.size / 224.0

    def _scaled(self, pts: Sequence[Point]) -> list[Point]:
        s = self.ss
        return [(x * s, y * s) for x, y in pts]

    def polygon(self, pts: Sequence[Point], fill: Colour) -> None:
        p = self._scaled(pts)
        if len(p) < 3:
            return
        self._draw.polygon(p, fill=fill)
        self._draw_ids.polygon(p, fill=self.owner)

    def box(self, x0: float, y0: float, x1: float, y1: float, fill: Colour) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], fill)

    def ellipse(self, x0: float, y0: float, x1: float, y1: float, fill: Colour) -> None:
        s = self.ss
        xy = [min(x0, x1) * s, min(y0, y1) * s, max(x0, x1) * s, max(y0, y1) * s]
        self._draw.ellipse(xy, fill=fill)
        self._draw_ids.ellipse(xy, fill=self.owner)

    def line(self, pts: Sequence[Point], fill: Colour, width: float) -> None:
        """A polyline ``width`` output pixels wide (at least one sub-pixel)."""
        w = max(1, int(round(width * self.ss)))
        p = self._scaled(pts)
        self._draw.line(p, fill=fill, width=w, joint="curve")
        self._draw_ids.line(p, fill=self.owner, width=w, joint="curve")

    def shade(self, pts: Sequence[Point], colour: Colour, alpha: float) -> None:
        """Blend a translucent polygon (shadows, clouds); ownership is left unchanged."""
        p = self._scaled(pts)
        n = self.image.size[0]
        x0 = max(0, int(np.floor(min(x for x, _ in p))))
        y0 = max(0, int(np.floor(min(y for _, y in p))))
        x1 = min(n, int(np.ceil(max(x for x, _ in p))) + 1)
        y1 = min(n, int(np.ceil(max(y for _, y in p))) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        layer = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(layer).polygon([(x - x0, y - y0) for x, y in p], fill=int(round(255 * alpha)))
        self.image.paste(Image.new("RGB", layer.size, colour), (x0, y0), layer)

    def finish(self) -> tuple[np.ndarray, dict[int, Box]]:
        """The output image (uint8 HxWx3, box-filtered) and each owner id's visible box.

        A box covers every output pixel with at least one sub-pixel still owned by that id.
        """
        n, s = self.size, self.ss
        rgb = np.asarray(self.image.reduce(s), dtype=np.uint8)
        ids = np.asarray(self.ids)
        rows = np.zeros((256, n * s), dtype=bool)
        cols = np.zeros((256, n * s), dtype=bool)
        rows[ids, np.arange(n * s)[:, None]] = True
        cols[ids, np.arange(n * s)[None, :]] = True
        boxes: dict[int, Box] = {}
        for owner in np.flatnonzero(rows[1:].any(axis=1)) + 1:
            ry, cx = np.flatnonzero(rows[owner]), np.flatnonzero(cols[owner])
            boxes[int(owner)] = Box(
                int(cx[0]) // s, int(ry[0]) // s, int(cx[-1]) // s + 1, int(ry[-1]) // s + 1
            )
        return rgb, boxes
