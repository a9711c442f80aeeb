"""Upright props of GeoScenes: bollards, poles, signs, vehicles, trees, people-free street furniture.

Every function draws one object standing on the ground at world ``(X, Z)`` (metres, see
:class:`~geoquiz.data.geoscenes.canvas.Camera`) and takes its randomness only from its arguments
(``seed`` for glyphs), so a scene renders identically whether or not other objects are omitted.
Colours are RGB tuples; ``cam.fade`` adds distance haze.
"""

from __future__ import annotations

import numpy as np

from geoquiz.data.geoscenes.canvas import Camera, Canvas, Colour, mix
from geoquiz.data.geoscenes.glyphs import draw_text

WHITE: Colour = (238, 238, 232)
BLACK: Colour = (28, 28, 30)
RED: Colour = (200, 30, 35)
GREY: Colour = (140, 140, 138)


def bollard_fr(cv: Canvas, cam: Camera, X: float, Z: float) -> None:
    """French roadside post: white, with a red band and a black cap near the top (~1 m tall)."""
    fr = cam.frame(X, Z)
    cv.polygon(fr.rect(-0.07, 0.0, 0.07, 1.0), cam.fade(WHITE, Z))
    cv.polygon(fr.rect(-0.07, 0.68, 0.07, 0.84), cam.fade(RED, Z))
    cv.polygon(fr.rect(-0.07, 0.93, 0.07, 1.0), cam.fade(BLACK, Z))


def reflector_post(cv: Canvas, cam: Camera, X: float, Z: float, reflector: Colour) -> None:
    """Slim grey post with a small reflector near the top (~1.2 m)."""
    fr = cam.frame(X, Z)
    cv.polygon(fr.rect(-0.04, 0.0, 0.04, 1.2), cam.fade((170, 170, 165), Z))
    cv.polygon(fr.rect(-0.06, 0.95, 0.06, 1.15), cam.fade(reflector, Z))


def guardrail_segment(cv: Canvas, cam: Camera, X: float, za: float, zb: float) -> None:
    """A white guardrail from depth ``za`` to ``zb`` (beam 0.5-0.8 m high, post at ``za``)."""
    fr = cam.frame(X, za)
    cv.polygon(fr.rect(-0.06, 0.0, 0.06, 0.78), cam.fade((205, 205, 200), za))
    beam = [
        cam.project(X, 0.5, za),
        cam.project(X, 0.5, zb),
        cam.project(X, 0.8, zb),
        cam.project(X, 0.8, za),
    ]
    cv.polygon(beam, cam.fade((230, 230, 226), (za + zb) / 2))
    mid = [
        cam.project(X, 0.62, za),
        cam.project(X, 0.62, zb),
        cam.project(X, 0.68, zb),
        cam.project(X, 0.68, za),
    ]
    cv.polygon(mid, cam.fade((185, 185, 182), (za + zb) / 2))


def pole(cv: Canvas, cam: Camera, X: float, Z: float, style: str, height: float) -> None:
    """A utility pole. ``style``: 'concrete', 'concrete_sleeve' (yellow-black base) or 'wood'."""
    fr = cam.frame(X, Z)
    if style == "wood":
        col = cam.fade((105, 78, 52), Z)
        cv.polygon(fr.pts([(-0.14, 0), (0.14, 0), (0.11, height), (-0.11, height)]), col)
        cv.polygon(fr.rect(-1.1, height - 0.9, 1.1, height - 0.7), col)
        for u in (-0.95, -0.35, 0.35, 0.95):
            cv.polygon(fr.rect(u - 0.05, height - 0.7, u + 0.05, height - 0.5), cam.fade((90, 120, 90), Z))
        return
    col = cam.fade((165, 163, 158), Z)
    cv.polygon(fr.pts([(-0.17, 0), (0.17, 0), (0.12, height), (-0.12, height)]), col)
    cv.polygon(fr.rect(-0.7, height - 1.2, 0.7, height - 1.05), cam.fade((120, 120, 118), Z))
    if style == "concrete_sleeve":
        yellow, black = cam.fade((230, 190, 30), Z), cam.fade(BLACK, Z)
        cv.polygon(fr.rect(-0.19, 0.0, 0.19, 1.8), yellow)
        for k in range(5):
            v = 0.1 + k * 0.36
            cv.polygon(fr.pts([(-0.19, v), (0.19, v + 0.12), (0.19, v + 0.26), (-0.19, v + 0.14)]), black)
        cv.polygon(fr.rect(0.12, height - 3.4, 0.62, height - 2.5), cam.fade((150, 152, 150), Z))


def wire(
    cv: Canvas, cam: Camera, a: tuple[float, float, float], b: tuple[float, float, float], sag: float
) -> None:
    """A sagging wire between world points ``a`` and ``b`` (X, Y, Z), ``sag`` metres at mid-span."""
    pts = []
    for t in np.linspace(0.0, 1.0, 9):
        X = a[0] + (b[0] - a[0]) * t
        Y = a[1] + (b[1] - a[1]) * t - sag * 4.0 * t * (1.0 - t)
        Z = a[2] + (b[2] - a[2]) * t
        pts.append(cam.project(X, Y, Z))
    zmid = (a[2] + b[2]) / 2
    cv.line(pts, cam.fade((40, 40, 42), zmid), max(0.35 * cv.px, min(1.0 * cv.px, cam.scale(zmid) * 0.03)))


def sign_post(cv: Canvas, cam: Camera, X: float, Z: float, top: float, colour: Colour = GREY) -> None:
    fr = cam.frame(X, Z)
    cv.polygon(fr.rect(-0.04, 0.0, 0.04, top), cam.fade(colour, Z))


def triangle_sign(cv: Canvas, cam: Camera, X: float, Z: float, face: Colour, border: Colour) -> None:
    """A warning triangle (France: white with a red border) on a post, ~0.9 m wide."""
    sign_post(cv, cam, X, Z, 1.9)
    fr = cam.frame(X, Z)
    cv.polygon(fr.pts([(-0.48, 1.75), (0.48, 1.75), (0.0, 2.6)]), cam.fade(border, Z))
    cv.polygon(fr.pts([(-0.32, 1.84), (0.32, 1.84), (0.0, 2.4)]), cam.fade(face, Z))
    cv.polygon(fr.rect(-0.06, 1.92, 0.06, 2.18), cam.fade(BLACK, Z))


def diamond_sign(cv: Canvas, cam: Camera, X: float, Z: float) -> None:
    """A yellow diamond warning sign with a black border and a curve arrow."""
    sign_post(cv, cam, X, Z, 1.9)
    fr = cam.frame(X, Z)
    cv.polygon(fr.pts([(0, 1.65), (0.5, 2.15), (0, 2.65), (-0.5, 2.15)]), cam.fade(BLACK, Z))
    cv.polygon(fr.pts([(0, 1.72), (0.43, 2.15), (0, 2.58), (-0.43, 2.15)]), cam.fade((242, 196, 20), Z))
    cv.line(fr.pts([(-0.1, 1.9), (-0.1, 2.15), (0.12, 2.35)]), cam.fade(BLACK, Z), cam.scale(Z) * 0.07)


def round_sign(cv: Canvas, cam: Camera, X: float, Z: float, digits: Colour) -> None:
    """A round regulatory sign: white disc, red ring, two digit-like strokes."""
    sign_post(cv, cam, X, Z, 1.9)
    fr = cam.frame(X, Z)
    (x0, y0), (x1, y1) = fr.pt(-0.35, 2.55), fr.pt(0.35, 1.85)
    cv.ellipse(x0, y0, x1, y1, cam.fade(RED, Z))
    r = 0.25
    (x0, y0), (x1, y1) = fr.pt(-r, 2.2 + r), fr.pt(r, 2.2 - r)
    cv.ellipse(x0, y0, x1, y1, cam.fade(WHITE, Z))
    w = cam.scale(Z) * 0.05
    col = cam.fade(digits, Z)
    cv.line(fr.pts([(-0.15, 2.32), (-0.15, 2.08), (-0.03, 2.08)]), col, w)
    cv.line(fr.pts([(0.03, 2.32), (0.15, 2.32), (0.15, 2.08), (0.03, 2.08), (0.03, 2.32)]), col, w)


def panel_sign(
    cv: Canvas,
    cam: Camera,
    X: float,
    Z: float,
    *,
    width: float,
    height: float,
    bottom: float,
    face: Colour,
    border: Colour,
    post: Colour = GREY,
    two_posts: bool = False,
) -> tuple[float, float, float, float]:
    """A rectangular sign panel; returns the output-pixel box of its text area."""
    if two_posts:
        sign_post(cv, cam, X - width * 0.35, Z, bottom + height * 0.5, post)
        sign_post(cv, cam, X + width * 0.35, Z, bottom + height * 0.5, post)
    else:
        sign_post(cv, cam, X, Z, bottom + height * 0.5, post)
    fr = cam.frame(X, Z)
    hw = width / 2
    cv.polygon(fr.rect(-hw, bottom, hw, bottom + height), cam.fade(border, Z))
    m = min(width, height) * 0.08
    cv.polygon(fr.rect(-hw + m, bottom + m, hw - m, bottom + height - m), cam.fade(face, Z))
    (tx0, ty0), (tx1, ty1) = (
        fr.pt(-hw + 2.5 * m, bottom + height - 2.2 * m),
        fr.pt(hw - 2.5 * m, bottom + 2.2 * m),
    )
    return (tx0, ty0, tx1, ty1)


def text(cv: Canvas, cam: Camera, area, script: str, colour: Colour, Z: float, seed: int, lines: int) -> None:
    """Glyphs of ``script`` in an output-pixel text ``area`` (from :func:`panel_sign`)."""
    draw_text(cv, script, area, cam.fade(colour, Z), seed, lines)


def mirror(cv: Canvas, cam: Camera, X: float, Z: float) -> None:
    """A convex traffic mirror on an orange pole (Japanese corners)."""
    fr = cam.frame(X, Z)
    orange = cam.fade((235, 110, 30), Z)
    cv.polygon(fr.rect(-0.05, 0.0, 0.05, 2.6), orange)
    (x0, y0), (x1, y1) = fr.pt(-0.42, 3.35), fr.pt(0.42, 2.45)
    cv.ellipse(x0, y0, x1, y1, orange)
    (x0, y0), (x1, y1) = fr.pt(-0.34, 3.27), fr.pt(0.34, 2.53)
    cv.ellipse(x0, y0, x1, y1, cam.fade((150, 170, 185), Z))
    (x0, y0), (x1, y1) = fr.pt(-0.2, 3.1), fr.pt(0.05, 2.9)
    cv.ellipse(x0, y0, x1, y1, cam.fade((215, 225, 230), Z))


def milestone(cv: Canvas, cam: Camera, X: float, Z: float, cap: Colour) -> tuple[float, float, float, float]:
    """An Indian milestone: white stone with a coloured rounded top; returns its text area."""
    fr = cam.frame(X, Z)
    cv.polygon(fr.rect(-0.3, 0.0, 0.3, 0.65), cam.fade(WHITE, Z))
    (x0, y0), (x1, y1) = fr.pt(-0.3, 1.05), fr.pt(0.3, 0.45)
    cv.ellipse(x0, y0, x1, y1, cam.fade(cap, Z))
    cv.polygon(fr.rect(-0.3, 0.62, 0.3, 0.75), cam.fade(cap, Z))
    (tx0, ty0), (tx1, ty1) = fr.pt(-0.24, 0.55), fr.pt(0.24, 0.15)
    return (tx0, ty0, tx1, ty1)


def street_lamp(cv: Canvas, cam: Camera, X: float, Z: float, side: int) -> None:
    """A generic street lamp (distractor, all countries); ``side`` -1/+1 points the arm at the road."""
    fr = cam.frame(X, Z)
    col = cam.fade((95, 98, 102), Z)
    cv.polygon(fr.rect(-0.08, 0.0, 0.08, 7.5), col)
    cv.line(fr.pts([(0.0, 7.4), (-side * 1.6, 7.8)]), col, cam.scale(Z) * 0.1)
    cv.polygon(fr.rect(-side * 1.6 - 0.3, 7.6, -side * 1.6 + 0.3, 7.85), cam.fade((70, 70, 72), Z))


def sign_back(cv: Canvas, cam: Camera, X: float, Z: float) -> None:
    """The grey back of a sign (distractor)."""
    sign_post(cv, cam, X, Z, 2.0)
    fr = cam.frame(X, Z)
    cv.polygon(fr.rect(-0.4, 1.8, 0.4, 2.5), cam.fade((150, 152, 150), Z))


def shrub(cv: Canvas, cam: Camera, X: float, Z: float, r: float, colour: Colour) -> None:
    """A low rounded bush (distractor, all countries)."""
    fr = cam.frame(X, Z)
    (x0, y0), (x1, y1) = fr.pt(-r, r * 1.3), fr.pt(r, -r * 0.1)
    cv.ellipse(x0, y0, x1, y1, cam.fade(colour, Z))
    (x0, y0), (x1, y1) = fr.pt(-r * 0.6, r * 1.3), fr.pt(r * 0.3, r * 0.6)
    cv.ellipse(x0, y0, x1, y1, cam.fade(mix(colour, (255, 255, 200), 0.15), Z))


def round_tree(
    cv: Canvas,
    cam: Camera,
    X: float,
    Z: float,
    h: float,
    r: float,
    leaf: Colour,
    trunk: Colour,
    mottled: bool,
) -> None:
    """A broad-leaved tree; ``mottled`` draws a plane tree's patchy pale trunk."""
    fr = cam.frame(X, Z)
    cv.polygon(fr.pts([(-0.22, 0), (0.22, 0), (0.16, h), (-0.16, h)]), cam.fade(trunk, Z))
    if mottled:
        for k in range(4):
            v = 0.3 + k * h / 4.5
            u = 0.08 if k % 2 else -0.1
            (x0, y0), (x1, y1) = fr.pt(u - 0.07, v + 0.25), fr.pt(u + 0.07, v)
            cv.ellipse(x0, y0, x1, y1, cam.fade((205, 200, 170), Z))
    dark, light = cam.fade(mix(leaf, (0, 20, 0), 0.25), Z), cam.fade(leaf, Z)
    for du, dv, rr, col in (
        (-0.45, 0.1, 0.8, dark),
        (0.45, 0.15, 0.8, dark),
        (0.0, 0.45, 0.85, light),
        (-0.2, 0.0, 0.6, light),
    ):
        cu, cvv = du * r, h + r * 0.8 + dv * r
        (x0, y0), (x1, y1) = fr.pt(cu - rr * r, cvv + rr * r), fr.pt(cu + rr * r, cvv - rr * r)
        cv.ellipse(x0, y0, x1, y1, col)


def palm(cv: Canvas, cam: Camera, X: float, Z: float, h: float, lean: float, leaf: Colour) -> None:
    """A palm: thin curved trunk and drooping fronds."""
    fr = cam.frame(X, Z)
    trunk = [fr.pt(lean * (t**2), h * t) for t in np.linspace(0, 1, 7)]
    cv.line(trunk, cam.fade((120, 100, 75), Z), cam.scale(Z) * 0.28)
    tu, tv = lean, h
    col = cam.fade(leaf, Z)
    w = cam.scale(Z) * 0.16
    for ang in np.linspace(0.15, np.pi - 0.15, 7):
        du, dv = np.cos(ang) * 2.4, np.sin(ang) * 1.0
        cv.line(fr.pts([(tu, tv), (tu + du * 0.55, tv + dv * 0.6), (tu + du, tv + dv - 1.3)]), col, w)
    cv.ellipse(*fr.pt(tu - 0.3, tv + 0.3), *fr.pt(tu + 0.3, tv - 0.3), cam.fade((80, 90, 45), Z))
