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

import numpy as np

from geoquiz.data.geoscenes import ground as gd
from geoquiz.data.geoscenes.canvas import Camera, jitter, mix
from geoquiz.data.geoscenes.plan_roadside import plan_roadside_cues
from geoquiz.data.geoscenes.plan_street import plan_buildings_and_vegetation, plan_distractors, plan_vehicle
from geoquiz.data.geoscenes.planbase import GROUND, Ctx, Instance, Piece, Plan, choose
from geoquiz.data.geoscenes.styles import GROUND_PALETTES, SKY_PALETTES, STYLES

__all__ = ["Instance", "Piece", "Plan", "make_plan"]


def make_plan(country: str, seed: int, size: int, view_index: int | None, *, neutral: bool = False) -> Plan:
    """Plan a scene of ``country``; ``view_index`` in 0..3 for a view of a 4-view location;
    ``neutral``: the plan a scene with few diagnostic cues starts from (neutral verge palette, shared
    distractors recorded as ``distractor`` cues; :mod:`geoquiz.data.geoscenes.select` then keeps
    its chosen cue objects)."""
    style = STYLES[country]
    loc = np.random.default_rng([seed, 0])
    axis = np.random.default_rng([seed, 10 + (0 if view_index is None else view_index % 2)])
    rng = np.random.default_rng([seed, 20 + (9 if view_index is None else view_index)])
    zenith, horizon_col = SKY_PALETTES[int(loc.integers(len(SKY_PALETTES)))]
    zenith, horizon_col = jitter(loc, zenith, 14), jitter(loc, horizon_col, 10)
    # a neutral scene draws the verge palette with equal weights (one uniform draw either way)
    gw = np.ones(len(GROUND_PALETTES)) if neutral else np.array(style["ground"], float)
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
        neutral=neutral,
    )
    ctx = Ctx(plan, style, rng, axis, lane, size)
    _plan_background(ctx)
    _plan_road(ctx)
    _plan_markings(ctx)
    plan_roadside_cues(ctx)
    plan_buildings_and_vegetation(ctx)
    plan_vehicle(ctx)
    plan_distractors(ctx)
    return plan


def _plan_background(c: Ctx) -> None:
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


def _plan_road(c: Ctx) -> None:
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
            asphalt, (40, 40, 42) if rng.random() < 0.6 else (150, 150, 148), float(rng.uniform(0.08, 0.2))
        )
        p.add(
            GROUND,
            0,
            -1,
            gd.band,
            xa,
            xa + float(rng.uniform(0.6, 2.0)),
            za,
            za + float(rng.uniform(1, 5)),
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


def _plan_markings(c: Ctx) -> None:
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
