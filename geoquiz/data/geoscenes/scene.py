"""Rendering a planned GeoScenes scene to pixels and planted-cue boxes."""

from __future__ import annotations

import functools
from collections.abc import Collection

import numpy as np

from geoquiz.data.geoscenes.canvas import Canvas
from geoquiz.data.geoscenes.ground import background
from geoquiz.data.geoscenes.plan import Plan, make_plan
from geoquiz.data.geoscenes.select import check_diagnostic_cues, choose_kept, limit_cues
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


def render_plan(
    plan: Plan, omit: Collection[str] = (), *, omit_instances: Collection[int] = ()
) -> tuple[np.ndarray, list[tuple[str, CueBox]]]:
    """Draw ``plan``, skipping cue instances whose key is in ``omit`` or whose index is in
    ``omit_instances`` (and the instances drawn on them, e.g. a sign's script).

    Returns the RGB uint8 ``(size, size, 3)`` image and ``(key, CueBox)`` for every drawn cue
    instance that is still visible, with its tight box (pixels its drawing touches after occlusion).
    """
    img, cues = render_plan_instances(plan, omit, omit_instances=omit_instances)
    return img, [(key, cue) for _, key, cue in cues]


def render_plan_instances(
    plan: Plan, omit: Collection[str] = (), *, omit_instances: Collection[int] = ()
) -> tuple[np.ndarray, list[tuple[int, str, CueBox]]]:
    """:func:`render_plan` with each cue's instance index: ``(index, key, CueBox)`` in index order.

    A plan is drawn once: pieces that depend on another piece (a sign's script) keep state between
    draws, so re-plan (:func:`make_plan`, a few ms) for each rendering.
    """
    cam = plan.cam
    cv = Canvas(
        cam.size, SUPERSAMPLE, background(cam, SUPERSAMPLE, plan.zenith, plan.horizon_col, plan.ground)
    )
    omitted = set(omit)
    skipped = {int(i) for i in omit_instances}
    if len(plan.instances) > 254:
        raise ValueError(f"too many cue instances in one scene ({len(plan.instances)})")
    for piece in sorted(plan.pieces, key=lambda p: p.order):
        if piece.inst >= 0:
            inst = plan.instances[piece.inst]
            if inst.key in omitted or piece.inst in skipped or inst.parent in skipped:
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
        cues.append((owner - 1, inst.key, CueBox(box=box, tag=inst.tag, detail=inst.detail)))
    return img, cues


def _checked_plan(
    country: str, seed: int, size: int, view: str | None, omit: Collection[str], diagnostic_cues: int | None
) -> Plan:
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
    k = check_diagnostic_cues(diagnostic_cues)
    view_index = None if view is None else VIEWS.index(view)
    if k is None:
        return make_plan(country, int(seed), int(size), view_index)
    kept = kept_instances(country, int(seed), int(size), view_index, k)
    return limit_cues(make_plan(country, int(seed), int(size), view_index, neutral=True), kept)


@functools.lru_cache(maxsize=256)
def kept_instances(country: str, seed: int, size: int, view_index: int | None, k: int) -> frozenset[int]:
    """The cue instances a scene with ``k`` diagnostic cues draws (distractors included; see
    :func:`geoquiz.data.geoscenes.select.choose_kept`), cached per scene."""
    rng = np.random.default_rng([seed, 30 + (9 if view_index is None else view_index)])
    return choose_kept(
        lambda: make_plan(country, seed, size, view_index, neutral=True),
        lambda plan: render_plan_instances(plan)[1],
        k,
        rng,
    )


def render_scene(
    country: str,
    seed: int,
    size: int = 224,
    view: str | None = None,
    *,
    omit: Collection[str] = (),
    diagnostic_cues: int | None = None,
) -> tuple[np.ndarray, list[CueBox]]:
    """Render one GeoScenes street scene.

    ``country``: one of :data:`ALL_COUNTRIES`; ``seed``: any non-negative int (same seed, same pixels and
    boxes); ``view``: None for a single image, or one of :data:`geoquiz.types.VIEWS` for that view of
    the 4-view location ``seed`` (views share sky, lighting, ground palette and road style, and
    differ in content). ``omit``: cue keys (:data:`CUE_KEYS`) to leave out, everything else equal.
    ``diagnostic_cues``: None (default) for every cue the country plans (realistic, redundant), or
    ``k`` for a neutral scene with at most ``k`` diagnostic cue objects, the shared distractors
    recorded as ``other`` cues (:mod:`geoquiz.data.geoscenes.select`).

    Returns an RGB uint8 ``(size, size, 3)`` image and its planted cues (boxes XYXY,
    inclusive-exclusive, tight around the visible pixels; ``view`` set for 4-view scenes). Cue
    remnants of fewer than :data:`MIN_BOX_AREA` pixels are not listed.
    """
    img, cues = render_instances(country, seed, size, view, omit=omit, diagnostic_cues=diagnostic_cues)
    return img, [c for _, _, c in cues]


def render_instances(
    country: str,
    seed: int,
    size: int = 224,
    view: str | None = None,
    *,
    omit: Collection[str] = (),
    omit_instances: Collection[int] = (),
    diagnostic_cues: int | None = None,
) -> tuple[np.ndarray, list[tuple[int, str, CueBox]]]:
    """:func:`render_scene` at the level of cue objects: ``omit_instances`` leaves out single cue
    instances (by index in the scene's plan; a sign takes its script with it), and each listed cue
    comes as ``(instance index, cue key, CueBox)``. The indices of a scene are the same whatever is
    omitted, so they name its cue objects (what counterfactual renders remove one at a time)."""
    plan = _checked_plan(country, seed, size, view, omit, diagnostic_cues)
    img, cues = render_plan_instances(plan, omit, omit_instances=omit_instances)
    if view is not None:
        cues = [(i, k, CueBox(box=c.box, tag=c.tag, view=view, detail=c.detail)) for i, k, c in cues]
    return img, [(i, k, c) for i, k, c in cues if c.box.area >= MIN_BOX_AREA]
