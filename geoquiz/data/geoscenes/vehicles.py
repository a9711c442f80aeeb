"""Vehicles seen from behind (moving away, red tail lights) or from the front (oncoming, headlights).

A vehicle moving away is in the driving-side lane; an oncoming one is in the other lane, so the
driving side shows from the lane *and* the lights. Kinds: ``hatchback`` (France), ``kei`` (Japan,
boxy, yellow plate), ``rickshaw`` (India, three wheels, canopy), ``pickup`` and ``sedan`` (USA).
"""

from __future__ import annotations

from geoquiz.data.geoscenes.canvas import Camera, Canvas, Colour, mix

VEHICLE_KINDS = ("hatchback", "kei", "rickshaw", "pickup", "sedan")

_DIMS = {  # width, body height, cabin height, cabin inset (fraction of width)
    "hatchback": (1.72, 0.85, 0.6, 0.12),
    "kei": (1.48, 0.9, 0.95, 0.03),
    "pickup": (2.0, 1.05, 0.7, 0.14),
    "sedan": (1.95, 0.8, 0.55, 0.15),
}


def vehicle(cv: Canvas, cam: Camera, kind: str, X: float, Z: float, body: Colour, away: bool) -> None:
    """Draw a vehicle of ``kind`` standing on the road at ``(X, Z)``; ``away``: seen from behind."""
    if kind == "rickshaw":
        _rickshaw(cv, cam, X, Z, body, away)
        return
    fr = cam.frame(X, Z)
    w, bh, ch, inset = _DIMS[kind]
    hw = w / 2
    dark = cam.fade((25, 25, 28), Z)
    shadow = [fr.pt(-hw - 0.1, 0.0), fr.pt(hw + 0.1, 0.0), fr.pt(hw, 0.12), fr.pt(-hw, 0.12)]
    cv.polygon(shadow, cam.fade((35, 35, 38), Z))
    for u in (-hw + 0.05, hw - 0.37):
        cv.polygon(fr.rect(u, 0.0, u + 0.32, 0.4), dark)
    base = 0.22
    col = cam.fade(body, Z)
    cv.polygon(fr.rect(-hw, base, hw, base + bh), col)
    top = base + bh + ch
    ci = w * inset
    if kind == "pickup" and away:
        cv.polygon(fr.rect(-hw, base + bh - 0.1, hw, base + bh), cam.fade(mix(body, (0, 0, 0), 0.3), Z))
        cab = [(-hw + ci, base + bh), (hw - ci, base + bh), (hw - ci - 0.05, top), (-hw + ci + 0.05, top)]
        cv.polygon(fr.pts(cab), col)
        cv.polygon(
            fr.rect(-hw + ci + 0.15, base + bh + 0.15, hw - ci - 0.15, top - 0.12), cam.fade((50, 60, 70), Z)
        )
    else:
        cab = [(-hw + 0.02, base + bh), (hw - 0.02, base + bh), (hw - ci, top), (-hw + ci, top)]
        cv.polygon(fr.pts(cab), col)
        glass = [
            (-hw + 0.12, base + bh + 0.06),
            (hw - 0.12, base + bh + 0.06),
            (hw - ci - 0.05, top - 0.08),
            (-hw + ci + 0.05, top - 0.08),
        ]
        cv.polygon(fr.pts(glass), cam.fade((55, 65, 78) if away else (70, 85, 100), Z))
    light = (205, 25, 25) if away else (250, 245, 215)
    ly = base + bh * 0.62
    cv.polygon(fr.rect(-hw + 0.06, ly, -hw + 0.36, ly + 0.18), cam.fade(light, Z))
    cv.polygon(fr.rect(hw - 0.36, ly, hw - 0.06, ly + 0.18), cam.fade(light, Z))
    plate = (245, 205, 30) if kind == "kei" else (240, 240, 236)
    cv.polygon(fr.rect(-0.26, base + 0.12, 0.26, base + 0.3), cam.fade(plate, Z))
    if kind == "hatchback":
        cv.polygon(fr.rect(-0.26, base + 0.12, -0.2, base + 0.3), cam.fade((30, 60, 170), Z))
    if not away:
        cv.polygon(fr.rect(-0.35, base + 0.35, 0.35, base + 0.5), cam.fade((40, 40, 45), Z))


def _rickshaw(cv: Canvas, cam: Camera, X: float, Z: float, body: Colour, away: bool) -> None:
    fr = cam.frame(X, Z)
    dark = cam.fade((25, 25, 28), Z)
    canopy = cam.fade((30, 30, 32) if body[0] > 150 and body[1] > 150 else (235, 200, 30), Z)
    col = cam.fade(body, Z)
    cv.polygon(
        [fr.pt(-0.75, 0.0), fr.pt(0.75, 0.0), fr.pt(0.7, 0.1), fr.pt(-0.7, 0.1)], cam.fade((35, 35, 38), Z)
    )
    if away:
        for u in (-0.68, 0.42):
            cv.polygon(fr.rect(u, 0.0, u + 0.26, 0.45), dark)
    else:
        cv.polygon(fr.rect(-0.12, 0.0, 0.12, 0.42), dark)
    cv.polygon(fr.pts([(-0.62, 0.3), (0.62, 0.3), (0.6, 0.95), (-0.6, 0.95)]), col)
    cv.polygon(fr.rect(-0.62, 0.95, -0.52, 1.55), canopy)
    cv.polygon(fr.rect(0.52, 0.95, 0.62, 1.55), canopy)
    cv.polygon(fr.pts([(-0.7, 1.5), (0.7, 1.5), (0.6, 1.78), (-0.6, 1.78)]), canopy)
    if away:
        cv.polygon(fr.rect(-0.5, 1.0, 0.5, 1.45), cam.fade((45, 45, 40), Z))
        cv.polygon(fr.rect(-0.55, 0.55, -0.4, 0.66), cam.fade((205, 25, 25), Z))
        cv.polygon(fr.rect(0.4, 0.55, 0.55, 0.66), cam.fade((205, 25, 25), Z))
    else:
        cv.polygon(fr.rect(-0.5, 0.98, 0.5, 1.45), cam.fade((90, 105, 115), Z))
        cv.ellipse(*fr.pt(-0.1, 0.8), *fr.pt(0.1, 0.62), cam.fade((250, 245, 215), Z))
