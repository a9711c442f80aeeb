"""Rendering a planned GeoScenes scene to pixels and planted-cue boxes."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from geoquiz.data.geoscenes.canvas import Canvas
from geoquiz.data.geoscenes.ground import background
from geoquiz.data.geoscenes.plan import Plan, make_plan
from geoquiz.data.geoscenes.styles import CUE_KEYS, STYLES
from geoquiz.types import VIEWS, CueBox

#: The default GeoScenes classes (the demo dataset's). ``ALL_COUNTRIES`` adds the optional USA, which
#: shares the driving side and the Latin script with France and yellow centre lines with Japan.
COUNTRIES: tuple[str, ...] = ("France", "India", "Japan")
ALL_COUNTRIES: tuple[str, ...] = (*COUNTRIES, "USA")
SUPERSAMPLE = 3
#: Visible remnants smaller than this many pixels (e.g. a far post behind a car) are not recorded.
MIN_BOX_AREA = 4


def cue_key(cue: CueBox) -> str:
    """The cue key (see :data:`CUE_KEYS`) of a planted :class:`CueBox`, read from its ``detail``."""
    return cue.detail.split(":", 1)[0].replace(" ", "_")


def render_plan(plan: Plan, omit: Collection[str] = ()) -> tuple[np.ndarray, list[tuple[str, CueBox]]]:
    """Draw ``plan``, skipping cue instances whose key is in ``omit``.

    Returns the RGB uint8 ``(size, size, 3)`` image and ``(key, CueBox)`` for every drawn cue
    instance that is still visible, with its tight box (pixels its drawing touches after occlusion).
    """
    cam = plan.cam
    cv = Canvas(
        cam.size, SUPERSAMPLE, background(cam, SUPERSAMPLE, plan.zenith, plan.horizon_col, plan.ground)
    )
    omitted = set(omit)
    if len(plan.instances) > 254:
        raise ValueError(f"too many cue instances in one scene ({len(plan.instances)})")
    for piece in sorted(plan.pieces, key=lambda p: p.order):
        if piece.inst >= 0 and plan.instances[piece.inst].key in omitted:
            continue
        cv.owner = piece.inst + 1 if piece.inst >= 0 else 0
        piece.draw(cv, cam)
    rgb, boxes = cv.finish()
    out = rgb.astype(np.float32) * np.asarray(plan.light, np.float32)[None, None, :]
    noise = np.random.default_rng(plan.noise_seed).normal(0.0, plan.noise_sigma, out.shape).astype(np.float32)
    img = np.clip(np.round(out + noise), 0, 255).astype(np.uint8)
    cues = []
    for owner, box in sorted(boxes.items()):
        inst = plan.instances[owner - 1]
        cues.append((inst.key, CueBox(box=box, tag=inst.tag, detail=inst.detail)))
    return img, cues


def render_scene(
    country: str,
    seed: int,
    size: int = 224,
    view: str | None = None,
    *,
    omit: Collection[str] = (),
) -> tuple[np.ndarray, list[CueBox]]:
    """Render one GeoScenes street scene.

    ``country``: one of :data:`ALL_COUNTRIES`; ``seed``: any non-negative int (same seed, same pixels and
    boxes); ``view``: None for a single image, or one of :data:`geoquiz.types.VIEWS` for that view of
    the 4-view location ``seed`` (views share sky, lighting, ground palette and road style, and
    differ in content). ``omit``: cue keys (:data:`CUE_KEYS`) to leave out, everything else equal.

    Returns an RGB uint8 ``(size, size, 3)`` image and its planted cues (boxes XYXY,
    inclusive-exclusive, tight around the visible pixels; ``view`` set for 4-view scenes). Cue
    remnants of fewer than :data:`MIN_BOX_AREA` pixels are not listed.
    """
    if country not in STYLES:
        raise ValueError(f"unknown GeoScenes country {country!r}; expected one of {', '.join(ALL_COUNTRIES)}")
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    unknown = set(omit) - set(CUE_KEYS)
    if unknown:
        raise ValueError(
            f"unknown cue key(s) {', '.join(sorted(unknown))}; expected some of {', '.join(CUE_KEYS)}"
        )
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    plan = make_plan(country, int(seed), int(size), None if view is None else VIEWS.index(view))
    img, cues = render_plan(plan, omit)
    if view is not None:
        cues = [(k, CueBox(box=c.box, tag=c.tag, view=view, detail=c.detail)) for k, c in cues]
    return img, [c for _, c in cues if c.box.area >= MIN_BOX_AREA]
