"""Planning the street: buildings and shop boards, vegetation, the vehicle, shared distractors."""

from __future__ import annotations

import numpy as np

from geoquiz.data.geoscenes import buildings as bl
from geoquiz.data.geoscenes import ground as gd
from geoquiz.data.geoscenes import props as pr
from geoquiz.data.geoscenes.canvas import jitter, mix
from geoquiz.data.geoscenes.plan_roadside import deferred_text
from geoquiz.data.geoscenes.planbase import BUILDINGS, GROUND, ROADSIDE, SCRIPT_NAMES, Ctx, choose, roadside_x
from geoquiz.data.geoscenes.styles import ARCHITECTURE
from geoquiz.data.geoscenes.vehicles import vehicle


def plan_buildings_and_vegetation(c: Ctx) -> None:
    p, rng, style, country = c.plan, c.rng, c.style, c.plan.country
    veg, p_veg = style["trees"]
    has_veg = rng.random() < p_veg
    rural_side = int(rng.choice([-1, 1])) if veg == "rice" and has_veg else 0
    arch = ARCHITECTURE[country]
    houses = rng.random() < style["p_buildings"]
    shops = "shop" in style["signs"] and rng.random() < style["signs"]["shop"]
    for side in (-1, 1):
        if side == rural_side:
            inst = p.new("rice_field", f"planted rows ({'left' if side < 0 else 'right'})")
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


def _lawn(cv, cam, side, xa, xb, z0, z1, col) -> None:
    lo, hi = (xa, xb) if side > 0 else (-xb, -xa)
    gd.band(cv, cam, lo, hi, z0, z1, col, 6)
    x = xa + 1.0
    while x < xb - 0.9:
        a, b = (x, x + 1.0) if side > 0 else (-x - 1.0, -x)
        gd.band(cv, cam, a, b, z0, z1, mix(col, (230, 255, 200), 0.18), 4)
        x += 2.0


def _plan_street(c: Ctx, side: int, arch: dict, shops: bool) -> None:
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
            side=side,
            xi=xi,
            xo=xi + float(rng.uniform(6, 10)),
            za=z,
            zb=z + length,
            height=height,
            wall=wall,
            roof=arch["roof"],
            roof_colour=roof_col,
            roof_rise=float(rng.uniform(1.8, 3.2)),
            floors=floors,
            side_shade=sun if side > 0 else 1.8 - sun,
            end_shade=0.8,
            shutters=jitter(rng, arch["shutters"][int(rng.integers(4))], 8)
            if rng.random() < arch.get("p_shutters", 0)
            else None,
            siding=arch.get("siding", False),
            tank=rng.random() < arch.get("p_tank", 0),
            tile_lines=arch.get("tile_lines", False),
        )
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


def _plan_shop(c: Ctx, side: int, xi: float, z: float, length: float) -> None:
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
        p.new("script", SCRIPT_NAMES["devanagari"], parent=inst),
        deferred_text,
        area,
        "devanagari",
        ink,
        z0,
        c.seed(),
        1,
    )


def _plan_generic_block(c: Ctx, side: int) -> None:
    """A plain concrete block of a building (distractor, every country)."""
    rng = c.rng
    z = float(rng.uniform(15, 50))
    xi = c.hw + float(rng.uniform(3, 8))
    b = bl.Building(
        side=side,
        xi=xi,
        xo=xi + 8,
        za=z,
        zb=z + float(rng.uniform(8, 20)),
        height=float(rng.uniform(5, 12)),
        wall=jitter(rng, (175, 172, 165), 12),
        roof="flat",
        roof_colour=(0, 0, 0),
        floors=2,
    )
    c.plan.add(BUILDINGS, np.hypot(xi, z + 10), _distractor(c, "plain concrete block"), bl.building, b)


def _plan_trees(c: Ctx, side: int, veg: str) -> None:
    p, rng = c.plan, c.rng
    if veg == "plane":
        z, step, X = float(rng.uniform(5, 12)), float(rng.uniform(9, 15)), roadside_x(c, side, 1.8, 3.0)
        leaf = jitter(rng, (90, 130, 60), 14)
        while z < 80:
            h, r = float(rng.uniform(3.0, 4.2)), float(rng.uniform(2.2, 3.0))
            if c.visible(h + 2 * r, z, 8.0):
                inst = p.new("trees", "plane tree, mottled trunk")
                p.add(ROADSIDE, np.hypot(X, z), inst, pr.round_tree, X, z, h, r, leaf, (150, 140, 115), True)
            z += step
    else:
        for _ in range(int(rng.integers(1, 4))):
            X, z = roadside_x(c, side, 1.5, 6.0), float(rng.uniform(6, 45))
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


def plan_vehicle(c: Ctx) -> None:
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


def _distractor(c: Ctx, detail: str) -> int:
    """The instance of a shared distractor: -1 (anonymous background), or a ``distractor`` cue
    instance (tag ``other``) in a neutral plan. Either way no random number is drawn, so the scene
    is the same."""
    return c.plan.new("distractor", detail) if c.plan.neutral else -1


def plan_distractors(c: Ctx) -> None:
    """Elements shared by every country (not cues): shrubs, generic trees, lamps, sign backs.

    They are drawn from the same distributions whatever the country, so they carry no information
    about it; a neutral plan records them as ``distractor`` cues: known non-diagnostic objects."""
    p, rng = c.plan, c.rng
    for _ in range(int(rng.integers(0, 5))):
        X, z = roadside_x(c, int(rng.choice([-1, 1])), 1.0, 5.0), float(rng.uniform(5, 60))
        col = jitter(rng, (70, 105, 55), 18)
        inst = _distractor(c, "shrub")
        p.add(ROADSIDE, np.hypot(X, z), inst, pr.shrub, X, z, float(rng.uniform(0.4, 1.0)), col)
    if rng.random() < 0.45:
        X, z = roadside_x(c, int(rng.choice([-1, 1])), 2.0, 7.0), float(rng.uniform(8, 60))
        p.add(
            ROADSIDE,
            np.hypot(X, z),
            _distractor(c, "generic tree"),
            pr.round_tree,
            X,
            z,
            float(rng.uniform(2, 3.5)),
            float(rng.uniform(1.5, 3.0)),
            jitter(rng, (60, 95, 50), 14),
            (85, 70, 55),
            False,
        )
    if rng.random() < 0.3:
        side = int(rng.choice([-1, 1]))
        X, z = roadside_x(c, side, 0.6, 1.5), float(rng.uniform(8, 40))
        p.add(ROADSIDE, np.hypot(X, z), _distractor(c, "street lamp"), pr.street_lamp, X, z, side)
    if rng.random() < 0.25:
        X, z = roadside_x(c, int(rng.choice([-1, 1])), 0.8, 2.0), float(rng.uniform(8, 30))
        p.add(ROADSIDE, np.hypot(X, z), _distractor(c, "back of a sign"), pr.sign_back, X, z)
