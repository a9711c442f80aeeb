"""Planning a GeoScenes scene: every random choice is made here, before anything is drawn.

A :class:`Plan` is a camera, palettes and a list of :class:`Piece` draw calls (closures with all
their parameters bound), each belonging to a cue :class:`Instance` or to the background. Rendering
(:mod:`geoquiz.data.geoscenes.scene`) only replays pieces, skipping omitted cue keys, so omitting a
cue never changes anything else in the picture.

Random streams: ``loc`` (location-level: sky, lighting, ground palette, haze), ``axis`` (road
width and markings, shared by the north/south and by the east/west views of a location) and
``view`` (camera and content). A single-view scene uses its own view stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from geoquiz.data.geoscenes import buildings as bl
from geoquiz.data.geoscenes import ground as gd
from geoquiz.data.geoscenes import props as pr
from geoquiz.data.geoscenes.canvas import Camera, Colour, jitter, mix
from geoquiz.data.geoscenes.styles import ARCHITECTURE, CUE_KEYS, GROUND_PALETTES, SKY_PALETTES, STYLES
from geoquiz.data.geoscenes.vehicles import vehicle

GROUND, BUILDINGS, ROADSIDE = 1, 2, 3
SCRIPT_NAMES = {"latin": "Latin", "kana": "kana/kanji-like", "devanagari": "Devanagari-like"}


@dataclass(frozen=True)
class Instance:
    """One planted cue object: its key (see CUE_KEYS), tag and human-readable detail."""

    key: str
    detail: str

    @property
    def tag(self) -> str:
        return CUE_KEYS[self.key]


@dataclass(frozen=True)
class Piece:
    """One draw call. ``inst`` indexes :attr:`Plan.instances` (-1 = background / distractor)."""

    order: tuple
    inst: int
    draw: Callable


@dataclass
class Plan:
    country: str
    cam: Camera
    zenith: Colour
    horizon_col: Colour
    ground: Colour
    light: tuple[float, float, float]
    noise_sigma: float
    noise_seed: int
    pieces: list[Piece] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    _seq: int = 0

    def new(self, key: str, detail: str) -> int:
        self.instances.append(Instance(key, f"{key.replace('_', ' ')}: {detail}"))
        return len(self.instances) - 1

    def add(self, layer: int, dist: float, inst: int, fn: Callable, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        """Queue ``fn(canvas, camera, *args, **kwargs)``; drawn by layer, then far to near."""
        self._seq += 1
        key = (layer, 0.0 if layer == GROUND else -dist, self._seq)
        self.pieces.append(Piece(key, inst, partial(_call, fn, args, kwargs)))


def _call(fn: Callable, args: tuple, kwargs: dict, cv: object, cam: Camera) -> None:
    fn(cv, cam, *args, **kwargs)


def choose(rng: np.random.Generator, options: list[tuple]) -> object:
    """Pick the first element of one of ``options`` [(value, probability), ...]."""
    p = np.array([o[1] for o in options], float)
    return options[int(rng.choice(len(options), p=p / p.sum()))][0]


def make_plan(country: str, seed: int, size: int, view_index: int | None) -> Plan:
    """Plan a scene of ``country``; ``view_index`` in 0..3 for a view of a 4-view location."""
    style = STYLES[country]
    loc = np.random.default_rng([seed, 0])
    axis = np.random.default_rng([seed, 10 + (0 if view_index is None else view_index % 2)])
    rng = np.random.default_rng([seed, 20 + (9 if view_index is None else view_index)])
    zenith, horizon_col = SKY_PALETTES[int(loc.integers(len(SKY_PALETTES)))]
    zenith, horizon_col = jitter(loc, zenith, 14), jitter(loc, horizon_col, 10)
    gw = np.array(style["ground"], float)
    ground = jitter(loc, GROUND_PALETTES[int(loc.choice(4, p=gw / gw.sum()))], 14)
    light = tuple(float(v) for v in loc.uniform(0.9, 1.1) * loc.uniform(0.94, 1.06, 3))
    visibility = float(loc.uniform(110, 420))
    cam = Camera(
        size=size,
        f=size * float(rng.uniform(0.8, 1.15)),
        cx=size * float(rng.uniform(0.42, 0.58)),
        horizon=size * float(rng.uniform(0.36, 0.5)),
        height=float(rng.uniform(1.6, 2.6)),
        x=0.0,
        curve=float(rng.uniform(-1.0, 1.0)) * 0.0009,
        visibility=visibility,
        haze=horizon_col,
    )
    lane = float(axis.uniform(2.8, 3.6))
    cam = Camera(**{**cam.__dict__, "x": float(rng.uniform(-0.45, 0.45)) * lane})
    plan = Plan(
        country,
        cam,
        zenith,
        horizon_col,
        ground,
        light,
        float(loc.uniform(0.8, 2.5)),
        int(loc.integers(2**31)),
    )
    ctx = _Ctx(plan, style, rng, axis, lane, size)
    _plan_background(ctx)
    _plan_road(ctx)
    _plan_markings(ctx)
    _plan_roadside_cues(ctx)
    _plan_buildings_and_vegetation(ctx)
    _plan_vehicle(ctx)
    _plan_distractors(ctx)
    return plan


@dataclass
class _Ctx:
    plan: Plan
    style: dict
    rng: np.random.Generator
    axis: np.random.Generator
    lane: float
    size: int

    @property
    def hw(self) -> float:
        return self.lane

    @property
    def cam(self) -> Camera:
        return self.plan.cam

    def visible(self, height_m: float, Z: float, min_px: float = 4.0) -> bool:
        """Is an object ``height_m`` tall at depth ``Z`` at least ``min_px`` (at 224 px) tall?"""
        return self.cam.scale(Z) * height_m >= min_px * self.size / 224.0

    def seed(self) -> int:
        return int(self.rng.integers(2**31))


def _plan_background(c: _Ctx) -> None:
    p, rng = c.plan, c.rng
    for _ in range(int(rng.integers(0, 4))):
        x, y = rng.uniform(-20, c.size + 20), rng.uniform(0.05, 0.7) * c.cam.horizon
        w, h = rng.uniform(20, 70), rng.uniform(5, 14)
        pts = [(x + w * np.cos(t) / 2, y + h * np.sin(t) / 2) for t in np.linspace(0, 2 * np.pi, 16)]
        p.add(
            0,
            0,
            -1,
            lambda cv, cam, pts=pts, a=float(rng.uniform(0.4, 0.8)): cv.shade(pts, (250, 250, 250), a),
        )
    hill = mix(jitter(rng, (70, 100, 80), 20), p.horizon_col, float(rng.uniform(0.35, 0.7)))
    xs = np.linspace(-2, c.size + 2, 24)
    amp, ph = rng.uniform(2, 14), rng.uniform(0, 6, 2)
    ys = c.cam.horizon - amp * (0.6 + 0.4 * np.sin(xs / c.size * 7 + ph[0]) * np.sin(xs / c.size * 3 + ph[1]))
    pts = [(float(x), float(y)) for x, y in zip(xs, ys)] + [
        (c.size + 2, c.cam.horizon + 1),
        (-2, c.cam.horizon + 1),
    ]
    p.add(0, 0, -1, lambda cv, cam, pts=pts, col=hill: cv.polygon(pts, col))


def _plan_road(c: _Ctx) -> None:
    p, rng, hw = c.plan, c.rng, c.hw
    z0, z1 = c.cam.z_near * 0.5, 400.0
    shoulder = mix(p.ground, (150, 140, 120), float(rng.uniform(0.3, 0.7)))
    sw = float(c.axis.uniform(0.4, 1.6))
    grey = float(rng.uniform(78, 118))
    asphalt = jitter(rng, (grey, grey, grey + 2), 4)
    p.add(GROUND, 0, -1, gd.band, -hw - sw, hw + sw, z0, z1, shoulder, 12)
    p.add(GROUND, 0, -1, gd.band, -hw, hw, z0, z1, asphalt, 16)
    for _ in range(int(rng.integers(0, 4))):  # patches and repairs
        xa = float(rng.uniform(-hw, hw - 0.8))
        za = float(rng.uniform(c.cam.z_near, 40))
        col = mix(
            asphalt, (40, 40, 42) if rng.random() < 0.6 else (150, 150, 148), float(rng.uniform(0.15, 0.35))
        )
        p.add(
            GROUND,
            0,
            -1,
            gd.band,
            xa,
            xa + float(rng.uniform(0.6, 2.5)),
            za,
            za + float(rng.uniform(1, 8)),
            col,
            2,
        )
    if rng.random() < 0.4:  # blotchy shadows on the road
        for _ in range(int(rng.integers(1, 5))):
            xc, zc = float(rng.uniform(-hw - 2, hw + 2)), float(rng.uniform(c.cam.z_near * 1.6, 30))
            rx, rz = float(rng.uniform(0.8, 2.5)), float(rng.uniform(0.5, 1.8))
            t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
            wob = rng.uniform(0.75, 1.2, len(t))
            world = [(xc + rx * w * np.cos(a), max(zc + rz * w * np.sin(a), 0.5)) for a, w in zip(t, wob)]
            pts = [c.cam.project(x, 0.0, z) for x, z in world]
            a = float(rng.uniform(0.15, 0.3))
            p.add(GROUND, 0, -1, lambda cv, cam, pts=pts, a=a: cv.shade(pts, (20, 25, 30), a))


def _plan_markings(c: _Ctx) -> None:
    p, rng, axis, hw = c.plan, c.rng, c.axis, c.hw
    z0 = c.cam.z_near * 0.5
    variant = choose(axis, c.style["centre"])
    if variant is not None:
        faded = variant.startswith("faded")
        colour_name, pattern = variant.split()[-2:]
        base = (236, 236, 230) if colour_name == "white" else (238, 186, 24)
        colour = mix(base, (96, 96, 98), float(rng.uniform(0.4, 0.6))) if faded else jitter(rng, base, 8)
        gaps = rng.random(40) < (0.3 if faded else 0.0)
        inst = p.new("centre_line", variant)
        z1 = float(rng.uniform(60, 160)) if faded else 160.0
        p.add(
            GROUND,
            0,
            inst,
            gd.line_marking,
            0.0,
            0.14,
            z0,
            z1,
            colour,
            pattern,
            c.style["dash"],
            float(rng.uniform(0, 8)),
            0.0,
            gaps,
        )
    edge = choose(axis, c.style["edge"])
    if edge is not None:
        colour_name, pattern = edge.split()
        colour = jitter(rng, (236, 236, 230), 8)
        for side in (-1, 1):
            inst = p.new("edge_line", f"{edge} ({'left' if side < 0 else 'right'})")
            dash = (3.0, 3.0) if c.plan.country == "France" else c.style["dash"]
            p.add(
                GROUND,
                0,
                inst,
                gd.line_marking,
                side * (hw - 0.2),
                0.15,
                z0,
                160.0,
                colour,
                pattern,
                dash,
                0.0,
                0.0,
            )
    if rng.random() < c.style["p_kerb"]:
        pair = ((30, 30, 30), (236, 200, 30)) if rng.random() < 0.7 else ((30, 30, 30), (236, 236, 230))
        name = "black-and-yellow" if pair[1][2] < 100 else "black-and-white"
        z1 = float(rng.uniform(40, 90))
        for side in (-1, 1):
            if rng.random() < 0.75:
                inst = p.new("kerb", f"{name} painted kerb stones ({'left' if side < 0 else 'right'})")
                p.add(GROUND, 0, inst, gd.kerb, hw, side, z0, z1, pair)


def _roadside_x(c: _Ctx, side: int, lo: float, hi: float) -> float:
    return side * (c.hw + float(c.rng.uniform(lo, hi)))


def _plan_roadside_cues(c: _Ctx) -> None:
    p, rng, style, hw = c.plan, c.rng, c.style, c.hw
    if rng.random() < style["p_bollards"]:
        kind = "white post with a red band" if p.country == "France" else "slim reflective post"
        refl = (240, 240, 235) if rng.random() < 0.5 else (245, 190, 30)
        for side in (-1, 1):
            z, step = float(rng.uniform(4, 12)), float(rng.uniform(14, 30))
            while z < 90:
                X = _roadside_x(c, side, 0.6, 1.1)
                if c.visible(1.0, z):
                    inst = p.new("bollards", kind)
                    if p.country == "France":
                        p.add(ROADSIDE, np.hypot(X, z), inst, pr.bollard_fr, X, z)
                    else:
                        p.add(ROADSIDE, np.hypot(X, z), inst, pr.reflector_post, X, z, refl)
                z += step
    if rng.random() < style["p_guardrail"]:
        sides = [-1, 1] if rng.random() < 0.4 else [int(rng.choice([-1, 1]))]
        for side in sides:
            inst = p.new("guardrail", f"white guardrail ({'left' if side < 0 else 'right'})")
            X, za, zb = side * (hw + 0.5), float(rng.uniform(c.cam.z_near, 10)), float(rng.uniform(30, 80))
            for a in np.arange(za, zb, 2.5):
                p.add(
                    ROADSIDE, np.hypot(X, a), inst, pr.guardrail_segment, X, float(a), float(min(a + 2.5, zb))
                )
    kind, prob, (n_lo, n_hi) = style["poles"]
    if rng.random() < prob:
        _plan_poles(c, kind, int(rng.integers(n_lo, n_hi + 1)))
    _plan_signs(c)


def _plan_poles(c: _Ctx, kind: str, n_wires: int) -> None:
    p, rng = c.plan, c.rng
    sides = [-1, 1] if (kind == "concrete_sleeve" and rng.random() < 0.4) else [int(rng.choice([-1, 1]))]
    desc = {
        "wood": "wooden pole with a crossbar",
        "concrete_sleeve": "concrete pole, yellow-black sleeve",
        "concrete": "concrete pole",
    }[kind]
    tangled = kind == "concrete"
    for side in sides:
        X, h = _roadside_x(c, side, 1.0, 2.2), float(rng.uniform(8.5, 11.0))
        z, step = float(rng.uniform(5, 16)), float(rng.uniform(22, 34))
        tops = []
        while z < 140:
            if c.visible(h, z, 6.0):
                inst = p.new("poles", desc)
                p.add(ROADSIDE, np.hypot(X, z), inst, pr.pole, X, z, kind, h)
            tops.append(z)
            z += step
        offs = [
            (float(rng.uniform(-0.7, 0.7)), float(h - 0.4 - rng.uniform(0, 2.5 if tangled else 1.2)))
            for _ in range(n_wires)
        ]
        sags = rng.uniform(0.3, 1.6 if tangled else 0.7, (len(tops) + 1, n_wires))
        inst = p.new("wires", f"{n_wires} {'tangled ' if tangled else ''}overhead wires")
        spans = [(max(1.0, tops[0] - 12.0), tops[0])] + list(zip(tops[:-1], tops[1:]))
        for k, (za, zb) in enumerate(spans):
            for w, (du, y) in enumerate(offs):
                a, b = (X + du, y, za), (X + du, y, zb)
                if k == 0:
                    a = (X + du - side * 1.5, y - 0.5, za)
                p.add(ROADSIDE, np.hypot(X, (za + zb) / 2), inst, pr.wire, a, b, float(sags[k, w]))


def _sign_place(c: _Ctx) -> tuple[float, float]:
    drive = -1 if c.style["drive"] == "left" else 1
    side = drive if c.rng.random() < 0.65 else -drive
    return _roadside_x(c, side, 0.8, 2.0), float(c.rng.uniform(7, 24))


def _plan_signs(c: _Ctx) -> None:
    p, rng, style = c.plan, c.rng, c.style
    script = style["script"]
    sname = SCRIPT_NAMES[script]
    for kind, prob in style["signs"].items():
        if rng.random() >= prob:
            continue
        X, Z = _sign_place(c)
        d = np.hypot(X, Z)
        if kind == "warning":
            if p.country == "USA":
                p.add(ROADSIDE, d, p.new("warning_sign", "yellow diamond"), pr.diamond_sign, X, Z)
            else:
                p.add(
                    ROADSIDE,
                    d,
                    p.new("warning_sign", "red-bordered white triangle"),
                    pr.triangle_sign,
                    X,
                    Z,
                    pr.WHITE,
                    pr.RED,
                )
        elif kind == "regulatory":
            digits = (30, 60, 160) if p.country == "Japan" else pr.BLACK
            p.add(ROADSIDE, d, p.new("regulatory_sign", "round, red ring"), pr.round_sign, X, Z, digits)
        elif kind == "mirror":
            p.add(ROADSIDE, d, p.new("mirror", "convex mirror on an orange pole"), pr.mirror, X, Z)
        elif kind == "milestone":
            cap = [(240, 200, 30), (60, 150, 60), (230, 120, 40)][int(rng.integers(3))]
            X = np.sign(X) * (c.hw + float(rng.uniform(0.8, 1.5)))
            area = [None]
            inst = p.new("milestone", "white stone with a coloured top")
            p.add(
                ROADSIDE,
                d,
                inst,
                lambda cv, cam, X=X, Z=Z, cap=cap, a=area: a.__setitem__(0, pr.milestone(cv, cam, X, Z, cap)),
            )
            p.add(
                ROADSIDE,
                d - 1e-6,
                p.new("script", sname),
                _deferred_text,
                area,
                script,
                pr.BLACK,
                Z,
                c.seed(),
                2,
            )
        elif kind == "direction":
            _plan_direction(c, X, Z, script, sname)
        # "shop" boards are planned with the buildings (they hang on facades)


def _plan_direction(c: _Ctx, X: float, Z: float, script: str, sname: str) -> None:
    p, rng = c.plan, c.rng
    if p.country == "USA":
        face, border, ink, desc = (20, 110, 60), (235, 235, 230), pr.WHITE, "green street-name sign"
        dims, lines = (1.6, 0.35, 2.6), 1
    elif p.country == "Japan":
        face, border, ink, desc = (30, 80, 170), (235, 235, 230), pr.WHITE, "blue rectangular direction sign"
        dims, lines = (float(rng.uniform(1.6, 2.4)), float(rng.uniform(1.0, 1.4)), 1.9), 2
    else:
        blue = rng.random() < 0.5
        face = (30, 70, 160) if blue else pr.WHITE
        border, ink = (pr.WHITE, pr.WHITE) if blue else ((30, 70, 160), (30, 30, 40))
        desc, dims, lines = (
            f"{'blue' if blue else 'white'} direction sign",
            (float(rng.uniform(1.6, 2.2)), 0.9, 1.8),
            2,
        )
    w, h, bottom = dims
    area = [None]
    inst = p.new("direction_sign", desc)
    d = np.hypot(X, Z)

    def draw(cv, cam, X=X, Z=Z, a=area):  # noqa: ANN001, ANN202
        a[0] = pr.panel_sign(
            cv, cam, X, Z, width=w, height=h, bottom=bottom, face=face, border=border, two_posts=w > 1.8
        )

    p.add(ROADSIDE, d, inst, draw)
    p.add(ROADSIDE, d - 1e-6, p.new("script", sname), _deferred_text, area, script, ink, Z, c.seed(), lines)


def _deferred_text(cv, cam, area, script, colour, Z, seed, lines) -> None:  # noqa: ANN001
    """Draw glyphs into the text area its sign computed (if the sign was omitted, compute it blind)."""
    if area[0] is not None:
        pr.text(cv, cam, area[0], script, colour, Z, seed, lines)


def _plan_buildings_and_vegetation(c: _Ctx) -> None:
    p, rng, style, country = c.plan, c.rng, c.style, c.plan.country
    veg, p_veg = style["trees"]
    has_veg = rng.random() < p_veg
    rural_side = int(rng.choice([-1, 1])) if veg == "rice" and has_veg else 0
    arch = ARCHITECTURE[country]
    houses = rng.random() < style["p_buildings"]
    shops = "shop" in style["signs"] and rng.random() < style["signs"]["shop"]
    for side in (-1, 1):
        if side == rural_side:
            inst = p.new("rice_field", f"rice field ({'left' if side < 0 else 'right'})")
            col = jitter(rng, (120, 180, 60), 15)
            p.add(
                GROUND, 0, inst, gd.rows_field, side, c.hw + 3.0, 60.0, float(rng.uniform(8, 15)), 160.0, col
            )
            continue
        if houses and rng.random() < 0.85:
            _plan_street(c, side, arch, shops)
        elif rng.random() < 0.3:
            _plan_generic_block(c, side)
        if has_veg and veg in ("plane", "palm"):
            _plan_trees(c, side, veg)
    if has_veg and veg == "lawn":
        for side in (-1, 1):
            inst = p.new("lawn", f"mown lawn ({'left' if side < 0 else 'right'})")
            col = jitter(rng, (96, 168, 70), 12)
            za = float(rng.uniform(c.cam.z_near, 12))
            p.add(
                GROUND, 0, inst, _lawn, side, c.hw + 2.0, c.hw + 9.0, za, za + float(rng.uniform(25, 70)), col
            )


def _lawn(cv, cam, side, xa, xb, z0, z1, col) -> None:  # noqa: ANN001
    lo, hi = (xa, xb) if side > 0 else (-xb, -xa)
    gd.band(cv, cam, lo, hi, z0, z1, col, 6)
    x = xa + 1.0
    while x < xb - 0.9:
        a, b = (x, x + 1.0) if side > 0 else (-x - 1.0, -x)
        gd.band(cv, cam, a, b, z0, z1, mix(col, (230, 255, 200), 0.18), 4)
        x += 2.0


def _plan_street(c: _Ctx, side: int, arch: dict, shops: bool) -> None:
    p, rng, country = c.plan, c.rng, c.plan.country
    lo, hi = arch.get("setback", (1.5, 5.0))
    z = float(rng.uniform(4, 14))
    sun = float(rng.uniform(0.75, 1.1))
    shop_done = False
    while z < 95:
        length = float(rng.uniform(7, 15))
        xi = c.hw + float(rng.uniform(lo, hi))
        floors = int(rng.integers(arch["floors"][0], arch["floors"][1] + 1))
        height = floors * float(rng.uniform(2.7, 3.2))
        roof_col = (
            jitter(rng, arch["roofs"][int(rng.integers(len(arch["roofs"])))], 10)
            if "roofs" in arch
            else (0, 0, 0)
        )
        wall = jitter(rng, arch["walls"][int(rng.integers(len(arch["walls"])))], 10)
        b = bl.Building(
            side=side, xi=xi, xo=xi + float(rng.uniform(6, 10)), za=z, zb=z + length, height=height,
            wall=wall, roof=arch["roof"], roof_colour=roof_col, roof_rise=float(rng.uniform(1.8, 3.2)),
            floors=floors, side_shade=sun if side > 0 else 1.8 - sun, end_shade=0.8,
            shutters=jitter(rng, arch["shutters"][int(rng.integers(4))], 8) if rng.random() < arch.get("p_shutters", 0) else None,
            siding=arch.get("siding", False), tank=rng.random() < arch.get("p_tank", 0),
            tile_lines=arch.get("tile_lines", False),
        )  # fmt: skip
        if c.visible(height, z + length, 8.0):
            roof = "flat roof" if b.roof == "flat" else "pitched roof"
            extra = (
                ", shutters" if b.shutters else ", siding" if b.siding else ", water tank" if b.tank else ""
            )
            inst = p.new("building", f"{'bright ' if country == 'India' else ''}walls, {roof}{extra}")
            p.add(BUILDINGS, np.hypot(xi, z + length), inst, bl.building, b)
            if shops and not shop_done and floors >= 1 and z < 40:
                shop_done = True
                _plan_shop(c, side, xi, z, length)
        if rng.random() < arch.get("p_block_wall", 0) and z < 50:
            inst = p.new("block_wall", "concrete block wall")
            p.add(
                ROADSIDE,
                np.hypot(xi, z),
                inst,
                bl.block_wall,
                side,
                xi - 1.0,
                z,
                z + length,
                jitter(rng, (176, 176, 170), 8),
            )
        z += length + float(rng.uniform(0.5, 9))


def _plan_shop(c: _Ctx, side: int, xi: float, z: float, length: float) -> None:
    p, rng = c.plan, c.rng
    colour = jitter(
        rng, [(240, 220, 40), (200, 40, 40), (40, 120, 200), (250, 250, 245)][int(rng.integers(4))], 10
    )
    ink = pr.BLACK if sum(colour) > 450 else pr.WHITE
    z0, z1 = z + 0.5, z + min(length - 0.5, float(rng.uniform(4, 8)))
    area = [None]
    inst = p.new("shop_sign", "hand-painted shop board")
    d = np.hypot(xi, z) - 1e-3
    p.add(
        BUILDINGS,
        d,
        inst,
        lambda cv, cam, a=area: a.__setitem__(
            0, bl.facade_board(cv, cam, side, xi, 2.3, 3.1, z0, z1, colour)
        ),
    )
    p.add(
        BUILDINGS,
        d - 1e-6,
        p.new("script", SCRIPT_NAMES["devanagari"]),
        _deferred_text,
        area,
        "devanagari",
        ink,
        z0,
        c.seed(),
        1,
    )


def _plan_generic_block(c: _Ctx, side: int) -> None:
    """A plain concrete block of a building (distractor, every country)."""
    rng = c.rng
    z = float(rng.uniform(15, 50))
    xi = c.hw + float(rng.uniform(3, 8))
    b = bl.Building(side=side, xi=xi, xo=xi + 8, za=z, zb=z + float(rng.uniform(8, 20)), height=float(rng.uniform(5, 12)),
                    wall=jitter(rng, (175, 172, 165), 12), roof="flat", roof_colour=(0, 0, 0), floors=2)  # fmt: skip
    c.plan.add(BUILDINGS, np.hypot(xi, z + 10), -1, bl.building, b)


def _plan_trees(c: _Ctx, side: int, veg: str) -> None:
    p, rng = c.plan, c.rng
    if veg == "plane":
        z, step, X = float(rng.uniform(5, 12)), float(rng.uniform(9, 15)), _roadside_x(c, side, 1.8, 3.0)
        leaf = jitter(rng, (90, 130, 60), 14)
        while z < 80:
            h, r = float(rng.uniform(3.0, 4.2)), float(rng.uniform(2.2, 3.0))
            if c.visible(h + 2 * r, z, 8.0):
                inst = p.new("trees", "plane tree, mottled trunk")
                p.add(ROADSIDE, np.hypot(X, z), inst, pr.round_tree, X, z, h, r, leaf, (150, 140, 115), True)
            z += step
    else:
        for _ in range(int(rng.integers(1, 4))):
            X, z = _roadside_x(c, side, 1.5, 6.0), float(rng.uniform(6, 45))
            inst = p.new("trees", "palm")
            leaf = jitter(rng, (70, 120, 50), 12)
            p.add(
                ROADSIDE,
                np.hypot(X, z),
                inst,
                pr.palm,
                X,
                z,
                float(rng.uniform(5.5, 9)),
                float(rng.uniform(-1.2, 1.2)),
                leaf,
            )


def _plan_vehicle(c: _Ctx) -> None:
    p, rng, style = c.plan, c.rng, c.style
    if rng.random() >= style["p_vehicle"]:
        return
    kind = choose(rng, style["vehicles"])
    away = rng.random() < 0.7
    drive = -1 if style["drive"] == "left" else 1
    lane_side = drive if away else -drive
    X = lane_side * c.lane / 2 + float(rng.uniform(-0.3, 0.3))
    Z = float(rng.uniform(8, 30))
    if kind == "rickshaw":
        body = [(60, 150, 50), (240, 200, 30), (30, 30, 30)][int(rng.integers(3))]
        body = (240, 200, 30) if body == (30, 30, 30) and rng.random() < 0.5 else body
    else:
        body = jitter(
            rng,
            [(200, 30, 35), (235, 235, 235), (150, 150, 155), (40, 70, 140), (30, 30, 34), (210, 200, 170)][
                int(rng.integers(6))
            ],
            8,
        )
    names = {
        "hatchback": "small hatchback",
        "kei": "boxy kei car",
        "rickshaw": "auto-rickshaw",
        "pickup": "pickup truck",
        "sedan": "large sedan",
    }
    lane = "left" if lane_side < 0 else "right"
    view = "rear view" if away else "oncoming"
    inst = p.new("vehicle", f"{names[kind]}, {view} in the {lane} lane (drives on the {style['drive']})")
    p.add(ROADSIDE, np.hypot(X, Z), inst, vehicle, kind, X, Z, body, away)


def _plan_distractors(c: _Ctx) -> None:
    """Elements shared by every country (not cues): shrubs, generic trees, lamps, sign backs."""
    p, rng = c.plan, c.rng
    for _ in range(int(rng.integers(0, 5))):
        X, z = _roadside_x(c, int(rng.choice([-1, 1])), 1.0, 5.0), float(rng.uniform(5, 60))
        col = jitter(rng, (70, 105, 55), 18)
        p.add(ROADSIDE, np.hypot(X, z), -1, pr.shrub, X, z, float(rng.uniform(0.4, 1.0)), col)
    if rng.random() < 0.45:
        X, z = _roadside_x(c, int(rng.choice([-1, 1])), 2.0, 7.0), float(rng.uniform(8, 60))
        p.add(ROADSIDE, np.hypot(X, z), -1, pr.round_tree, X, z, float(rng.uniform(2, 3.5)), float(rng.uniform(1.5, 3.0)),
              jitter(rng, (60, 95, 50), 14), (85, 70, 55), False)  # fmt: skip
    if rng.random() < 0.3:
        side = int(rng.choice([-1, 1]))
        X, z = _roadside_x(c, side, 0.6, 1.5), float(rng.uniform(8, 40))
        p.add(ROADSIDE, np.hypot(X, z), -1, pr.street_lamp, X, z, side)
    if rng.random() < 0.25:
        X, z = _roadside_x(c, int(rng.choice([-1, 1])), 0.8, 2.0), float(rng.uniform(8, 30))
        p.add(ROADSIDE, np.hypot(X, z), -1, pr.sign_back, X, z)
