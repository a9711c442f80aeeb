"""Human cues vs causal truth on GeoScenes studies: do participants box the cues that matter to the
model? (Qt-free)

For every main trial of a study whose image (or 4-view location) has counterfactuals stored for the
model (:mod:`geoquiz.ground_truth.causal`), the participant's cue boxes (image frame, per view) are
scored like an explanation's elements (:mod:`geoquiz.ground_truth.versus`):

* ``causal_hit``: one of the participant's boxes has its centre on the unit's most causal cue object
  (largest drop, > 0); random: the same boxes placed uniformly at random (``repeats`` draws);
* ``share``: the share of the unit's positive causal importance held by the cue objects the boxes'
  centres land on; random as above.

Per tag (the participant's label on the box): how many boxes, and the mean causal drop of that tag
on the trial's image (removing every object of the tag) against the mean drop of the tags present on
the image but not boxed. Statistics per participant and overall (trial = unit; bootstrap CIs,
sign-flip permutation test vs random). Trials without boxes count as misses (a participant who boxes nothing finds
nothing); trials of images without causal truth are left out and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.ground_truth.causal import CausalUnit
from geoquiz.ground_truth.pointing import PointingSettings, hit_cues, random_box


def _share(boxes: Sequence[tuple[Box, str | None]], unit: CausalUnit, positive: np.ndarray, frames) -> float:
    objects = [e for e in unit.objects if e.box is not None]
    hit: set[int] = set()
    for b, view in boxes:
        idx = [i for i, e in enumerate(objects) if e.view == view]
        cues = [objects[i].box for i in idx]
        hit |= {idx[j] for j in hit_cues(b, cues, PointingSettings(), frame=frames.get(view))}
    return float(positive[sorted(hit)].sum() / positive.sum()) if hit and positive.sum() > 0 else 0.0


def score_trial(
    unit: CausalUnit,
    boxes: Sequence[tuple[Box, str | None]],
    frames: dict[str | None, tuple[int, int]],
    rng: np.random.Generator,
    repeats: int = 50,
) -> dict[str, float]:
    """``causal_hit`` / ``share`` of a participant's ``boxes`` (``(box, view)``, image frame) on
    ``unit`` and their random counterparts (NaN when the unit has no cue with a positive drop)."""
    objects = [e for e in unit.objects if e.box is not None]
    drops = np.array([e.drop for e in objects]) if objects else np.zeros(0)
    positive = np.clip(drops, 0.0, None)
    nan = float("nan")
    if not len(drops) or positive.sum() <= 0:
        return {"causal_hit": nan, "random_hit": nan, "share": nan, "random_share": nan}
    best = objects[int(np.argmax(drops))]

    def hit(bs) -> float:
        return float(any(v == best.view and hit_cues(b, [best.box], frame=frames.get(v)) for b, v in bs))

    draws = [[(random_box(b.width, b.height, frames[v], rng), v) for b, v in boxes] for _ in range(repeats)]
    return {
        "causal_hit": hit(boxes),
        "random_hit": float(np.mean([hit(d) for d in draws])) if boxes else 0.0,
        "share": _share(boxes, unit, positive, frames),
        "random_share": float(np.mean([_share(d, unit, positive, frames) for d in draws])) if boxes else 0.0,
    }


@dataclass
class HumanCausalResult:
    """Per trial scores (``trials``: dicts with participant, key, the measures) and per box tag rows."""

    trials: list[dict[str, Any]] = field(default_factory=list)
    tag_rows: list[dict[str, Any]] = field(default_factory=list)
    n_without_truth: int = 0

    def summary(self, *, by_participant: bool = False, n_boot: int = 2000) -> list[dict[str, Any]]:
        """Overall (or per participant) rows: ``n`` trials, ``causal_hit`` / ``share`` means with CIs,
        their random means, and the sign-flip permutation p of the paired difference."""
        from geoquiz.faithfulness.stats import bootstrap_ci
        from geoquiz.ground_truth.versus import sign_flip_p

        groups: dict[str, list[dict]] = {}
        for t in self.trials:
            groups.setdefault(t["participant"] if by_participant else "(all)", []).append(t)
        rows = []
        for who, trials in sorted(groups.items()):
            row: dict[str, Any] = {"participant": who, "n": len(trials)}
            for m, r in (("causal_hit", "random_hit"), ("share", "random_share")):
                v = np.array([t[m] for t in trials], float)
                rr = np.array([t[r] for t in trials], float)
                ok = ~np.isnan(v)
                row[m], row[f"{m}_lo"], row[f"{m}_hi"] = bootstrap_ci(v[ok], n_boot=n_boot)
                row[r] = float(rr[ok].mean()) if ok.any() else float("nan")
                row[f"{m}_p"] = sign_flip_p(v[ok] - rr[ok])
            rows.append(row)
        return rows


def human_vs_causal(
    project: Any, model_name: str, study: str | None = None, *, repeats: int = 50, seed: int = 0
) -> HumanCausalResult:
    """Score the cue boxes of the main trials of ``study`` (slug; None: every study) against the
    counterfactuals stored for ``model_name``'s checkpoint (see the module docstring)."""
    from geoquiz.faithfulness.random import derive_seed
    from geoquiz.ground_truth.causal_store import load_units
    from geoquiz.hashing import file_hash
    from geoquiz.models.store import get_model

    db = project.db
    info = get_model(db, model_name)
    model_hash = file_hash(info.resolve(project.root))
    if study is not None and db.execute("SELECT 1 FROM studies WHERE slug = ?", [study]).fetchone() is None:
        raise GeoQuizError(f"no study {study!r} in this project")
    trials = db.execute(
        "SELECT t.id, p.code, t.image_id, t.location_id FROM trials t JOIN sessions s ON s.id = t.session_id "
        "JOIN participants p ON p.id = s.participant_id JOIN studies st ON st.id = s.study_id "
        "WHERE t.kind = 'main' AND (? IS NULL OR st.slug = ?) ORDER BY t.id",
        [study, study],
    ).fetchall()
    units_rows = db.execute(
        "SELECT dataset_id, unit_key, image_id, location_id FROM causal_units WHERE model_hash = ?",
        [model_hash],
    ).fetchall()
    by_image = {(img if loc is None else None, loc): (ds, key) for ds, key, img, loc in units_rows}
    cache: dict[int, dict[str, CausalUnit]] = {}
    result = HumanCausalResult()
    tag_boxed: dict[str, list[float]] = {}
    tag_unboxed: dict[str, list[float]] = {}
    n_boxes: dict[str, int] = {}
    for trial_id, code, image_id, location_id in trials:
        ref = by_image.get((image_id if location_id is None else None, location_id))
        if ref is None:
            result.n_without_truth += 1
            continue
        ds, key = ref
        if ds not in cache:
            cache[ds] = load_units(db, model_hash, ds)
        unit = cache[ds][key]
        size = db.execute(
            "SELECT width, height FROM images WHERE id = ? OR (location_id IS NOT NULL AND location_id = ?) "
            "ORDER BY id LIMIT 1",
            [image_id, location_id],
        ).fetchone()
        frame = (int(size[0] or 224), int(size[1] or 224)) if size else (224, 224)
        frames: dict[str | None, tuple[int, int]] = {e.view: frame for e in unit.objects} | {None: frame}
        rows = db.execute(
            "SELECT view, tag, x0, y0, x1, y1 FROM cue_boxes WHERE trial_id = ? ORDER BY id", [trial_id]
        ).fetchall()
        boxes = [(Box(x0, y0, x1, y1), view) for view, _, x0, y0, x1, y1 in rows]
        rng = np.random.default_rng(derive_seed(seed, trial_id, "human-causal"))
        scores = score_trial(unit, boxes, frames, rng, repeats)
        result.trials.append(
            {"participant": code, "trial_id": trial_id, "key": key, "n_boxes": len(boxes), **scores}
        )
        tag_drop = {e.tag: e.drop for e in unit.tags}
        boxed = {tag for _, tag, *_ in rows}
        for _, tag, *_ in rows:
            n_boxes[tag] = n_boxes.get(tag, 0) + 1
        for tag, drop in tag_drop.items():
            (tag_boxed if tag in boxed else tag_unboxed).setdefault(tag, []).append(drop)
    for tag in sorted(set(n_boxes) | set(tag_boxed) | set(tag_unboxed)):
        b, u = tag_boxed.get(tag, []), tag_unboxed.get(tag, [])
        result.tag_rows.append(
            {
                "tag": tag,
                "n_boxes": n_boxes.get(tag, 0),
                "n_boxed": len(b),
                "drop_boxed": float(np.mean(b)) if b else float("nan"),
                "n_unboxed": len(u),
                "drop_unboxed": float(np.mean(u)) if u else float("nan"),
            }
        )
    return result


__all__ = ["HumanCausalResult", "human_vs_causal", "score_trial"]
