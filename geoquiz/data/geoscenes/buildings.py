"""Buildings along the road: a box with its road-facing facade in perspective and an end face.

A building on ``side`` (-1 left, +1 right) occupies ``xi <= |X| <= xo`` and ``za <= Z <= zb``
(metres). Roofs: ``pitched`` (ridge along the road; slate, tile, kawara or shingle colours) or
``flat`` (parapet, optional black water tank). Facade details: window grid, French shutters,
US siding lines. Shop boards (India) are drawn by :func:`facade_board`.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoquiz.data.geoscenes.canvas import Camera, Canvas, Colour, mix


@dataclass(frozen=True)
class Building:
    side: int
    xi: float
    xo: float
    za: float
    zb: float
    height: float
    wall: Colour
    roof: str  # 'pitched' | 'flat'
    roof_colour: Colour
    roof_rise: float = 2.5
    window: Colour = (60, 70, 85)
    floors: int = 1
    shutters: Colour | None = None
    siding: bool = False
    tank: bool = False
    tile_lines: bool = False
    side_shade: float = 1.0
    end_shade: float = 0.8


def _quad_side(cam: Camera, X: float, y0: float, y1: float, z0: float, z1: float):
    return [cam.project(X, y0, z0), cam.project(X, y0, z1), cam.project(X, y1, z1), cam.project(X, y1, z0)]


def _shade(colour: Colour, k: float) -> Colour:
    return mix((0, 0, 0), colour, k) if k <= 1 else mix(colour, (255, 255, 255), k - 1)


def building(cv: Canvas, cam: Camera, b: Building) -> None:
    """Draw building ``b`` (end face, facade with windows, roof)."""
    s, za, zb, H = b.side, b.za, b.zb, b.height
    xi, xo = s * b.xi, s * b.xo
    zm = (za + zb) / 2
    end = [cam.project(xi, 0, za), cam.project(xo, 0, za), cam.project(xo, H, za), cam.project(xi, H, za)]
    cv.polygon(end, cam.fade(_shade(b.wall, b.end_shade), za))
    cv.polygon(_quad_side(cam, xi, 0, H, za, zb), cam.fade(_shade(b.wall, b.side_shade), zm))
    if b.siding:
        for k in range(1, int(H / 0.45)):
            y = k * 0.45
            cv.line(
                [cam.project(xi, y, za), cam.project(xi, y, zb)],
                cam.fade(_shade(b.wall, b.side_shade * 0.85), zm),
                0.4 * cv.px,
            )
    floor_h = H / b.floors
    for f in range(b.floors):
        y0, y1 = f * floor_h + floor_h * 0.35, f * floor_h + floor_h * 0.78
        z = za + 1.2
        while z + 1.1 < zb - 0.5:
            zw = z + 1.1
            if b.shutters is not None:
                cv.polygon(_quad_side(cam, xi, y0, y1, z - 0.45, zw + 0.45), cam.fade(b.shutters, z))
            cv.polygon(_quad_side(cam, xi, y0, y1, z, zw), cam.fade(b.window, z))
            z += 3.0
    if b.roof == "flat":
        cv.polygon(
            _quad_side(cam, xi, H - 0.35, H, za, zb), cam.fade(_shade(b.wall, b.side_shade * 0.75), zm)
        )
        top = [
            cam.project(xi, H - 0.35, za),
            cam.project(xo, H - 0.35, za),
            cam.project(xo, H, za),
            cam.project(xi, H, za),
        ]
        cv.polygon(top, cam.fade(_shade(b.wall, b.end_shade * 0.75), za))
        if b.tank:
            _tank(cv, cam, (xi + xo) / 2, H, za + 1.5)
        return
    r = b.roof_rise
    xm = (xi + xo) / 2
    gable = [cam.project(xi, H, za), cam.project(xo, H, za), cam.project(xm, H + r, za)]
    cv.polygon(gable, cam.fade(_shade(b.wall, b.end_shade), za))
    eave = xi - s * 0.4
    slope = [
        cam.project(eave, H - 0.2, za - 0.3),
        cam.project(eave, H - 0.2, zb),
        cam.project(xm, H + r, zb),
        cam.project(xm, H + r, za - 0.3),
    ]
    roof_col = cam.fade(b.roof_colour, zm)
    cv.polygon(slope, roof_col)
    edge = [
        cam.project(eave, H - 0.2, za - 0.3),
        cam.project(xm, H + r, za - 0.3),
        cam.project(xo + s * 0.4, H - 0.2, za - 0.3),
    ]
    cv.line(edge, cam.fade(_shade(b.roof_colour, 0.8), za), cam.scale(za) * 0.25)
    if b.tile_lines:
        for t in (0.3, 0.55, 0.8):
            X, Y = eave + (xm - eave) * t, H - 0.2 + (r + 0.2) * t
            cv.line(
                [cam.project(X, Y, za - 0.3), cam.project(X, Y, zb)],
                cam.fade(_shade(b.roof_colour, 0.7), zm),
                0.5 * cv.px,
            )
        cv.line(
            [cam.project(xm, H + r, za - 0.3), cam.project(xm, H + r, zb)],
            cam.fade(_shade(b.roof_colour, 0.6), zm),
            cam.scale(zm) * 0.3,
        )


def _tank(cv: Canvas, cam: Camera, X: float, base: float, Z: float) -> None:
    """A black rooftop water tank (India)."""
    x0, y0 = cam.project(X - 0.6, base + 1.3, Z)
    x1, y1 = cam.project(X + 0.6, base, Z)
    col = cam.fade((30, 30, 32), Z)
    cv.box(x0, y0, x1, y1, col)
    cv.ellipse(x0, y0 - (y1 - y0) * 0.15, x1, y0 + (y1 - y0) * 0.15, col)


def facade_board(
    cv: Canvas, cam: Camera, side: int, xi: float, y0: float, y1: float, z0: float, z1: float, colour: Colour
) -> tuple[float, float, float, float]:
    """A painted board on a facade (shop sign); returns the output-pixel text area inside it."""
    X = side * (xi - 0.05)
    quad = _quad_side(cam, X, y0, y1, z0, z1)
    cv.polygon(quad, cam.fade(colour, z0))
    (xa, _), (xb, yb0) = cam.project(X, y0, z0), cam.project(X, y0, z1)
    _, yb1 = cam.project(X, y1, z1)
    pad_y = (yb0 - yb1) * 0.18
    lo, hi = sorted((xa, xb))
    pad_x = (hi - lo) * 0.08
    return (lo + pad_x, yb1 + pad_y, hi - pad_x, yb0 - pad_y)


def block_wall(cv: Canvas, cam: Camera, side: int, X: float, z0: float, z1: float, colour: Colour) -> None:
    """A grey concrete-block wall 1.3 m high along the road (Japan), with block joints."""
    Xs = side * X
    cv.polygon(_quad_side(cam, Xs, 0, 1.3, z0, z1), cam.fade(colour, z0))
    joint = cam.fade(mix(colour, (0, 0, 0), 0.3), (z0 + z1) / 2)
    for y in (0.43, 0.86):
        cv.line([cam.project(Xs, y, z0), cam.project(Xs, y, z1)], joint, 0.45 * cv.px)
    z = z0
    while z < z1:
        cv.line([cam.project(Xs, 0, z), cam.project(Xs, 1.3, z)], joint, 0.45 * cv.px)
        z += 0.8
    top = [
        cam.project(Xs, 1.3, z0),
        cam.project(Xs, 1.3, z1),
        cam.project(Xs, 1.42, z1),
        cam.project(Xs, 1.42, z0),
    ]
    cv.polygon(top, cam.fade(mix(colour, (255, 255, 255), 0.2), z0))
