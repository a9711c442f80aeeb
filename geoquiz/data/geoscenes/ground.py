"""Ground-level drawing for GeoScenes: sky and ground backgrounds, road strips, markings, kerbs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from geoquiz.data.geoscenes.canvas import Camera, Canvas, Colour, mix


def background(cam: Camera, ss: int, zenith: Colour, horizon_col: Colour, ground: Colour) -> Image.Image:
    """Sky gradient above the horizon and the hazy ground colour below it, at ``ss`` x resolution."""
    n = cam.size * ss
    rows = (np.arange(n, dtype=np.float64) + 0.5) / ss
    t = np.clip(rows / max(cam.horizon, 1.0), 0.0, 1.0)[:, None] ** 0.8
    sky = np.asarray(zenith, float)[None, :] * (1 - t) + np.asarray(horizon_col, float)[None, :] * t
    below = rows > cam.horizon
    z = cam.f * cam.height / np.maximum(rows - cam.horizon, 1e-3)
    h = (1.0 - np.exp(-z / cam.visibility))[:, None]
    grd = np.asarray(ground, float)[None, :] * (1 - h) + np.asarray(cam.haze, float)[None, :] * h
    col = np.where(below[:, None], grd, sky)
    column = Image.fromarray(np.ascontiguousarray(np.round(col).astype(np.uint8)[:, None, :]))
    return column.resize((n, n), Image.Resampling.NEAREST)


def z_steps(z0: float, z1: float, n: int) -> np.ndarray:
    """``n + 1`` depths from ``z0`` to ``z1``, geometrically spaced (even on screen)."""
    return np.geomspace(z0, z1, n + 1)


def strip(cam: Camera, xa: float, xb: float, z0: float, z1: float, y: float = 0.0, n: int = 6) -> list:
    """Polygon of the horizontal band ``xa <= X <= xb`` from ``z0`` to ``z1`` at height ``y``."""
    zs = z_steps(z0, z1, n)
    left = [cam.project(xa, y, z) for z in zs]
    right = [cam.project(xb, y, z) for z in zs[::-1]]
    return left + right


def band(
    cv: Canvas, cam: Camera, xa: float, xb: float, z0: float, z1: float, colour: Colour, pieces: int = 8
) -> None:
    """A ground band drawn in ``pieces`` depth slices, each faded for its distance."""
    zs = z_steps(z0, z1, pieces)
    for a, b in zip(zs[:-1], zs[1:]):
        cv.polygon(strip(cam, xa, xb, a, b, n=2), cam.fade(colour, (a + b) / 2))


def line_marking(
    cv: Canvas,
    cam: Camera,
    X: float,
    width: float,
    z0: float,
    z1: float,
    colour: Colour,
    pattern: str,
    dash: tuple[float, float],
    phase: float,
    faded: float,
    gaps: np.ndarray | None = None,
) -> None:
    """A painted line centred at ``X``: pattern 'solid', 'dashed' or 'double' (two solid lines).

    ``faded`` in [0, 1] blends the paint towards the asphalt; ``gaps`` (bool per dash) drops dashes.
    """
    if pattern == "double":
        for off in (-0.11, 0.11):
            band(cv, cam, X + off - width / 2, X + off + width / 2, z0, z1, colour)
        return
    if pattern == "solid":
        band(cv, cam, X - width / 2, X + width / 2, z0, z1, colour)
        return
    length, gap = dash
    z, k = z0 - phase, 0
    while z < z1:
        a, b = max(z, z0), min(z + length, z1)
        if b > a and (gaps is None or not gaps[k % len(gaps)]):
            cv.polygon(strip(cam, X - width / 2, X + width / 2, a, b, n=2), cam.fade(colour, (a + b) / 2))
        z += length + gap
        k += 1


def kerb(
    cv: Canvas, cam: Camera, X: float, side: int, z0: float, z1: float, colours: tuple[Colour, Colour]
) -> None:
    """Kerb stones painted in alternating colours (India), 0.25 m high, 1 m stones."""
    inner, outer = side * X, side * (X + 0.3)
    z, k = z0, 0
    while z < z1:
        b = min(z + 1.0, z1)
        col = cam.fade(colours[k % 2], z)
        face = [
            cam.project(inner, 0, z),
            cam.project(inner, 0, b),
            cam.project(inner, 0.25, b),
            cam.project(inner, 0.25, z),
        ]
        top = [
            cam.project(inner, 0.25, z),
            cam.project(inner, 0.25, b),
            cam.project(outer, 0.25, b),
            cam.project(outer, 0.25, z),
        ]
        cv.polygon(top, mix(col, (255, 255, 255), 0.1))
        cv.polygon(face, col)
        z, k = b, k + 1


def rows_field(
    cv: Canvas, cam: Camera, side: int, xa: float, xb: float, z0: float, z1: float, colour: Colour
) -> None:
    """A rice field: a bright green band with darker planting rows along the road."""
    band(
        cv, cam, side * xa if side > 0 else side * xb, side * xb if side > 0 else side * xa, z0, z1, colour, 6
    )
    dark = mix(colour, (20, 50, 20), 0.35)
    x = xa + 0.6
    while x < xb:
        X = side * x
        cv.line([cam.project(X, 0.0, z) for z in z_steps(z0, z1, 4)], cam.fade(dark, z0 * 2), 0.5 * cv.px)
        x += 1.4
