"""Planning roadside cues: bollards and guardrails, utility poles and wires, signs and their script."""

from __future__ import annotations

import numpy as np

from geoquiz.data.geoscenes import props as pr
from geoquiz.data.geoscenes.planbase import ROADSIDE, SCRIPT_NAMES, Ctx, roadside_x


def plan_roadside_cues(c: Ctx) -> None:
    p, rng, style, hw = c.plan, c.rng, c.style, c.hw
    if rng.random() < style["p_bollards"]:
        kind = "white post with a red band" if p.country == "France" else "slim reflective post"
        refl = (240, 240, 235) if rng.random() < 0.5 else (245, 190, 30)
        for side in (-1, 1):
            z, step = float(rng.uniform(4, 12)), float(rng.uniform(14, 30))
            while z < 90:
                X = roadside_x(c, side, 0.6, 1.1)
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


def _plan_poles(c: Ctx, kind: str, n_wires: int) -> None:
    p, rng = c.plan, c.rng
    sides = [-1, 1] if (kind == "concrete_sleeve" and rng.random() < 0.4) else [int(rng.choice([-1, 1]))]
    desc = {
        "wood": "wooden pole with a crossbar",
        "concrete_sleeve": "concrete pole, yellow-black sleeve",
        "concrete": "concrete pole",
    }[kind]
    tangled = kind == "concrete"
    for side in sides:
        X, h = roadside_x(c, side, 1.0, 2.2), float(rng.uniform(8.5, 11.0))
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


def _sign_place(c: Ctx) -> tuple[float, float]:
    drive = -1 if c.style["drive"] == "left" else 1
    side = drive if c.rng.random() < 0.65 else -drive
    return roadside_x(c, side, 0.8, 2.0), float(c.rng.uniform(7, 24))


def _plan_signs(c: Ctx) -> None:
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
                p.new("script", sname, parent=inst),
                deferred_text,
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


def _plan_direction(c: Ctx, X: float, Z: float, script: str, sname: str) -> None:
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

    def draw(cv, cam, X=X, Z=Z, a=area):
        a[0] = pr.panel_sign(
            cv, cam, X, Z, width=w, height=h, bottom=bottom, face=face, border=border, two_posts=w > 1.8
        )

    p.add(ROADSIDE, d, inst, draw)
    p.add(
        ROADSIDE,
        d - 1e-6,
        p.new("script", sname, parent=inst),
        deferred_text,
        area,
        script,
        ink,
        Z,
        c.seed(),
        lines,
    )


def deferred_text(cv, cam, area, script, colour, Z, seed, lines) -> None:
    """Draw glyphs into the text area its sign computed (nothing when the sign was omitted: a script
    instance is drawn on its ``parent`` sign)."""
    if area[0] is not None:
        pr.text(cv, cam, area[0], script, colour, Z, seed, lines)
