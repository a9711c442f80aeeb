"""The redundancy knob: how many diagnostic cues a GeoScenes scene carries.

A realistic scene (``diagnostic_cues=None``, the default and the demo's datasets) plants every cue
its country style draws: ~10 cue kinds, ~15-30 cue objects, most of them telling the country, so no
single one decides the image and removing one rarely changes what a model predicts (redundancy).

``diagnostic_cues=k`` plans the same scene, then keeps at most ``k`` diagnostic cue **objects**:

1. ``k`` cue kinds (keys of :data:`~geoquiz.data.geoscenes.styles.CUE_KEYS`, not ``script`` nor
   ``distractor``) are drawn without replacement, uniformly among the kinds the plan holds, with a
   random stream of their own (``[seed, 30 + view]``), so every other random choice of the scene is
   the one the realistic scene makes;
2. of each drawn kind, the instance nearest to the camera (the largest on screen) is kept, with the
   scripts drawn on it (a sign keeps its text); every other cue instance is not drawn;
3. the scene is made **neutral**: the verge palette is drawn with equal weights for every country
   (realistic scenes lean dusty red-brown in India), and the shared distractors (shrubs, generic
   trees, street lamps, sign backs, plain concrete blocks) are recorded as ``distractor`` cues (tag
   ``other``): known non-diagnostic objects, drawn from the same distributions for every country.

So ``diagnostic_cues=1`` ("one decisive cue per scene") gives images whose only country-specific
object is one recorded cue: the benchmark with a single causal cue per image. Sky, light, road,
camera and distractors are shared by every country, so the cue is what tells the class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geoquiz.data.geoscenes.planbase import GROUND, Plan

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


def _nearness(plan: Plan) -> dict[int, float]:
    """Per cue instance, how near its nearest piece is (larger = nearer; ground markings count as
    nearest: they run from under the camera)."""
    out: dict[int, float] = {}
    for piece in plan.pieces:
        if piece.inst < 0:
            continue
        layer, neg_dist = piece.order[0], piece.order[1]
        near = float("inf") if layer == GROUND else float(neg_dist)
        out[piece.inst] = max(out.get(piece.inst, float("-inf")), near)
    return out


def kept_instances(plan: Plan, k: int, rng: np.random.Generator) -> set[int]:
    """The instances a scene with ``k`` diagnostic cues keeps (see the module docstring)."""
    near = _nearness(plan)
    by_key: dict[str, list[int]] = {}
    for i, inst in enumerate(plan.instances):
        if inst.key not in NOT_DIAGNOSTIC and i in near:
            by_key.setdefault(inst.key, []).append(i)
    keys = sorted(by_key)
    chosen: Sequence[str] = (
        [keys[int(j)] for j in rng.choice(len(keys), size=min(k, len(keys)), replace=False)] if keys else []
    )
    kept = {max(by_key[key], key=lambda i: (near[i], -i)) for key in chosen}
    kept |= {i for i, inst in enumerate(plan.instances) if inst.parent in kept}
    kept |= {i for i, inst in enumerate(plan.instances) if inst.key == "distractor"}
    return kept


def limit_cues(plan: Plan, k: int, rng: np.random.Generator) -> Plan:
    """Drop from ``plan`` (in place, and return it) the pieces of every cue instance but the kept ones;
    background pieces stay. Instance indices do not change."""
    kept = kept_instances(plan, k, rng)
    plan.pieces = [p for p in plan.pieces if p.inst < 0 or p.inst in kept]
    return plan


__all__ = [
    "CUE_MODES",
    "NOT_DIAGNOSTIC",
    "check_diagnostic_cues",
    "diagnostic_cues_of",
    "kept_instances",
    "limit_cues",
]
