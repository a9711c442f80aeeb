"""The redundancy knob: how many diagnostic cues a GeoScenes scene carries.

A realistic scene (``diagnostic_cues=None``, the default and the demo's datasets) plants every cue
its country style draws: ~10 cue kinds, ~15-30 cue objects, most of them telling the country, so no
single one decides the image and removing one rarely changes what a model predicts (redundancy).

``diagnostic_cues=k`` plans the same scene (same random choices), then keeps at most ``k``
diagnostic cue **objects** that are actually visible:

1. the **neutral** plan is rendered once with every cue; per diagnostic cue kind (keys of
   :data:`~geoquiz.data.geoscenes.styles.CUE_KEYS` but ``script`` and ``distractor``) its candidate
   is the object with the largest visible box;
2. the kinds are tried in a random order (a random stream of their own, ``[seed, 30 + view]``); a
   kind is kept when its candidate, drawn alone with the objects kept so far, still shows a box of at
   least ``(size / 16)^2`` pixels (a shop board without its building may vanish), until ``k`` kinds
   are kept or none is left;
3. every other cue object is not drawn; the scripts drawn on a kept object (a sign's text) stay.

The neutral plan draws the verge palette with equal weights for every country (realistic scenes lean
dusty red-brown in India) and records the shared distractors (shrubs, generic trees, street lamps,
sign backs, plain concrete blocks) as ``distractor`` cues (tag ``other``): known non-diagnostic
objects, drawn from the same distributions for every country (the plain block stands where a street
of houses does not, so its frequency follows the country's house probability a little).

So ``diagnostic_cues=1`` ("one decisive cue per scene") gives images whose only country-specific
object is one recorded, visible cue: the benchmark with a single causal cue per image. A scene whose
country planted no visible diagnostic object keeps none (rare: about 1 scene in 90). The choice is
cached per scene (:func:`kept_instances`), so the counterfactual renders of a scene cost one render
each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from geoquiz.data.geoscenes.planbase import Plan

#: Cue keys that never count as a scene's diagnostic cue: ``script`` is drawn on a sign (it goes with
#: its sign) and ``distractor`` is shared by every country.
NOT_DIAGNOSTIC = ("script", "distractor")


#: Dataset-level cue modes (``generate_geoscenes(..., cues=...)``, ``geoquiz geoscenes --cues``) and the
#: ``diagnostic_cues`` each renders with: ``realistic`` (every cue, redundant) or ``single`` (one
#: decisive diagnostic cue object per scene, a neutral scene otherwise).
CUE_MODES: dict[str, int | None] = {"realistic": None, "single": 1}


def diagnostic_cues_of(mode: str) -> int | None:
    """The ``diagnostic_cues`` of a cue mode (raises :class:`ValueError` naming the mode otherwise)."""
    if mode not in CUE_MODES:
        raise ValueError(f"unknown GeoScenes cue mode {mode!r}; expected one of {', '.join(CUE_MODES)}")
    return CUE_MODES[mode]


def check_diagnostic_cues(diagnostic_cues: int | None) -> int | None:
    """``None`` or a whole number >= 1 (raises :class:`ValueError` naming the value otherwise)."""
    if diagnostic_cues is None:
        return None
    if isinstance(diagnostic_cues, bool) or int(diagnostic_cues) != diagnostic_cues or diagnostic_cues < 1:
        raise ValueError(
            f"diagnostic_cues must be None (every cue) or a whole number >= 1, got {diagnostic_cues!r}"
        )
    return int(diagnostic_cues)


def _min_area(size: int) -> int:
    return max(4, (size // 16) ** 2)


def choose_kept(
    plan_of: Callable[[], Plan],
    render: Callable[[Plan], list[tuple[int, str, Any]]],
    k: int,
    rng: np.random.Generator,
) -> frozenset[int]:
    """The cue instances a scene with ``k`` diagnostic cues keeps (see the module docstring).

    ``plan_of()``: a fresh neutral plan of the scene; ``render(plan)``: its listed cues ``(index, key,
    CueBox)`` (:func:`~geoquiz.data.geoscenes.scene.render_plan_instances`)."""
    base = plan_of()
    best: dict[str, tuple[int, int]] = {}
    for index, key, cue in render(base):
        if key not in NOT_DIAGNOSTIC and cue.box.area > best.get(key, (-1, 0))[1]:
            best[key] = (index, cue.box.area)
    always = {i for i, inst in enumerate(base.instances) if inst.key == "distractor"}
    keys = sorted(best)
    kept: list[int] = []
    for j in rng.permutation(len(keys)) if keys else []:
        if len(kept) >= k:
            break
        candidate = best[keys[int(j)]][0]
        plan = limit_cues(plan_of(), always | _with_children(base, {*kept, candidate}))
        shown = {i: c.box.area for i, _, c in render(plan)}
        if shown.get(candidate, 0) >= _min_area(base.cam.size):
            kept.append(candidate)
    return frozenset(always | _with_children(base, set(kept)))


def _with_children(plan: Plan, kept: set[int]) -> set[int]:
    return kept | {i for i, inst in enumerate(plan.instances) if inst.parent in kept}


def limit_cues(plan: Plan, kept: Collection[int]) -> Plan:
    """Drop from ``plan`` (in place, and return it) the pieces of every cue instance not in ``kept``;
    background pieces stay. Instance indices do not change."""
    keep = set(kept)
    plan.pieces = [p for p in plan.pieces if p.inst < 0 or p.inst in keep]
    return plan


__all__ = [
    "CUE_MODES",
    "NOT_DIAGNOSTIC",
    "check_diagnostic_cues",
    "choose_kept",
    "diagnostic_cues_of",
    "limit_cues",
]
