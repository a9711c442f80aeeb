"""Explanations scored against causal ground truth (Qt-free).

The causal truth of a unit is its stored counterfactuals (:mod:`geoquiz.ground_truth.causal`): per
planted cue object, the ``drop`` of the true-class probability when the scene is re-rendered without
it. An explanation (attribution method x segmenter) of that unit is scored on it by four measures,
the unit (image or 4-view location) being the statistical unit:

``spearman_mass``
    Spearman's rho, over the unit's cue objects, between the share of the attribution map's mass
    inside each cue's box (map values summed in the box scaled to the model frame, over the sum of
    the map over every view) and the cue's drop. Units whose drops or masses are all equal (or with
    fewer than 3 cues) have no rho and are left out. Larger cues hold more of any map's mass and
    tend to matter more, so the baseline is the rho of a **uniform map** (each box's share of the
    image area): a method earns credit only above it.
``spearman_coverage``
    The same with each cue box's fraction covered by the union of the method x segmenter's elements;
    baseline: the mean rho of the elements' boxes placed at random (same sizes, ``min(repeats, 10)``
    draws).
``causal_hit``
    The top element's centre (rank 1, image frame, same view) lies in the box of the unit's **most
    causal cue** (largest drop; only units where it is > ``min_drop``). Random baseline: the share of
    ``repeats`` boxes of the top element's size placed uniformly in that view that do (as the
    pointing game, :mod:`geoquiz.ground_truth.pointing`). Paired difference with bootstrap CI and
    Wilcoxon p.
``topk_share``
    The share of the unit's total positive causal importance (sum of drops > 0) held by the cues hit
    (centre criterion) by the ``top_k`` best elements; random: ``top_k`` boxes of those sizes, mean
    share over ``repeats`` draws. Paired as above.
``any_cue``
    The old any-cue pointing game (the top element's centre on any planted cue), for comparison.

Every measure is paired with its baseline per unit: mean and bootstrap CI of each and of the
difference, a two-sided **sign-flip permutation test** of the mean difference (``p_value``; it
matches the bootstrap CI, also for hit / miss outcomes against a random rate) and the Wilcoxon
signed-rank p (``p_wilcoxon``, which tests the median and is weak for 0/1 outcomes).

Only units the model classifies correctly are scored (the elements explain the predicted class).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.ground_truth.causal import CausalUnit, CueEffect
from geoquiz.ground_truth.pointing import PointingSettings, hit_cues, random_box, to_image_frame
from geoquiz.types import Element

MEASURES = ("spearman_mass", "spearman_coverage", "causal_hit", "topk_share", "any_cue")
PAIRED = MEASURES
MEASURE_LABELS = {
    "spearman_mass": "Spearman: attribution mass vs drop",
    "spearman_coverage": "Spearman: element coverage vs drop",
    "causal_hit": "Top element on the most causal cue",
    "topk_share": "Causal importance in the top-k elements",
    "any_cue": "Top element on any cue (pointing game)",
}


@dataclass(frozen=True)
class VersusSettings:
    """``top_k`` elements for ``topk_share``; ``repeats`` random draws per unit; ``seed``; ``min_drop``:
    the most causal cue must lower the true-class probability by more than this for ``causal_hit``."""

    top_k: int = 3
    repeats: int = 50
    seed: int = 0
    min_drop: float = 0.0

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.repeats < 1:
            raise GeoQuizError(f"top_k and repeats must be >= 1, got {self.top_k} and {self.repeats}")


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho (average ranks for ties); NaN for fewer than 3 pairs or a constant side."""
    from scipy.stats import rankdata

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry = rankdata(x), rankdata(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def _model_box(box: Box, frame: tuple[int, int], size: int) -> Box:
    return box.scale(size / frame[0], size / frame[1]).clip(size, size)


def cue_mass(
    objects: Sequence[CueEffect], maps: Mapping[str | None, np.ndarray], frames, size: int
) -> list[float]:
    """Per cue object, the share of the map mass (all views) inside its box (model frame)."""
    total = float(sum(m.sum() for m in maps.values())) or 1.0
    out = []
    for e in objects:
        b = _model_box(e.box, frames[e.view], size)
        out.append(float(maps[e.view][b.y0 : b.y1, b.x0 : b.x1].sum()) / total)
    return out


def cue_coverage(
    objects: Sequence[CueEffect], boxes: Sequence[tuple[Box, str | None]], frames
) -> list[float]:
    """Per cue object, the fraction of its box covered by the union of ``boxes`` (image frame)."""
    out = []
    for e in objects:
        w, h = frames[e.view]
        mask = np.zeros((h, w), bool)
        for b, view in boxes:
            if view == e.view:
                mask[b.y0 : b.y1, b.x0 : b.x1] = True
        area = max(e.box.area, 1)
        out.append(float(mask[e.box.y0 : e.box.y1, e.box.x0 : e.box.x1].sum()) / area)
    return out


def _hit_share(boxes, objects: Sequence[CueEffect], positive: np.ndarray, frames) -> float:
    hit: set[int] = set()
    centre = PointingSettings()
    for b, view in boxes:
        idx = [i for i, e in enumerate(objects) if e.view == view]
        hit |= {idx[j] for j in hit_cues(b, [objects[i].box for i in idx], centre, frame=frames[view])}
    return float(positive[sorted(hit)].sum() / positive.sum()) if hit else 0.0


def sign_flip_p(diffs: Sequence[float], *, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of the mean of paired differences (H0: symmetric
    about 0); exact enumeration up to 12 pairs, else ``n_perm`` random sign vectors (+1 smoothing).
    NaN without differences; 1.0 when all are 0."""
    d = np.asarray(diffs, np.float64)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return float("nan")
    observed = abs(d.mean())
    if observed == 0:
        return 1.0
    if len(d) <= 12:
        signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * len(d))).reshape(len(d), -1).T
        return float(np.mean(np.abs((signs * d).mean(axis=1)) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_perm, len(d)))
    extreme = int(np.sum(np.abs((signs * d).mean(axis=1)) >= observed - 1e-12))
    return (extreme + 1) / (n_perm + 1)


@dataclass(frozen=True)
class VersusRecord:
    """One unit x method x segmenter: each measure's value and (paired measures) random value."""

    key: str
    method: str
    segmenter: str
    values: dict[str, float]
    random: dict[str, float]


def score_unit(
    unit: CausalUnit,
    elements: Sequence[Element],
    maps: Mapping[str | None, np.ndarray] | None,
    frames: Mapping[str | None, tuple[int, int]],
    settings: VersusSettings = VersusSettings(),
    *,
    model_size: int | None = None,
    rng: np.random.Generator | None = None,
    method: str = "",
    segmenter: str = "",
) -> VersusRecord:
    """Score one unit's explanation. ``elements`` best first in the ``model_size`` frame (None: image
    frame); ``maps``: the attribution map per view (model frame; None: no mass measure); ``frames``:
    each view's ``(W, H)``. Measures that do not apply are NaN (see the module docstring)."""
    rng = rng if rng is not None else np.random.default_rng(settings.seed)
    objects = [e for e in unit.objects if e.box is not None and e.box.area > 0]
    ranked = sorted(elements, key=lambda e: e.rank)
    boxes = [(to_image_frame(e.box, model_size, frames[e.view]), e.view) for e in ranked]
    drops = np.array([e.drop for e in objects])
    nan = float("nan")
    values = dict.fromkeys(MEASURES, nan)
    rand = dict.fromkeys(PAIRED, nan)
    if maps is not None and objects:
        size = model_size or next(iter(maps.values())).shape[1]
        values["spearman_mass"] = spearman(cue_mass(objects, maps, frames, size), drops)
        uniform = {v: np.ones_like(m) for v, m in maps.items()}
        rand["spearman_mass"] = spearman(cue_mass(objects, uniform, frames, size), drops)
    if boxes and objects:
        values["spearman_coverage"] = spearman(cue_coverage(objects, boxes, frames), drops)
        rhos = [
            spearman(
                cue_coverage(
                    objects, [(random_box(b.width, b.height, frames[v], rng), v) for b, v in boxes], frames
                ),
                drops,
            )
            for _ in range(min(settings.repeats, 10))
        ]
        rhos = [r for r in rhos if not math.isnan(r)]
        rand["spearman_coverage"] = float(np.mean(rhos)) if rhos else float("nan")
    if not boxes or not objects:
        return VersusRecord(unit.key, method, segmenter, values, rand)
    top, top_view = boxes[0]
    frame = frames[top_view]
    best = int(np.argmax(drops))
    reps = settings.repeats
    if drops[best] > settings.min_drop:
        target = objects[best]
        if target.view == top_view:
            values["causal_hit"] = float(bool(hit_cues(top, [target.box], frame=frame)))
        else:
            values["causal_hit"] = 0.0
        n_hit = 0
        for _ in range(reps):
            placed = random_box(top.width, top.height, frames[target.view], rng)
            n_hit += bool(hit_cues(placed, [target.box], frame=frames[target.view]))
        rand["causal_hit"] = n_hit / reps
    positive = np.clip(drops, 0.0, None)
    if positive.sum() > 0:
        topk = boxes[: settings.top_k]
        values["topk_share"] = _hit_share(topk, objects, positive, frames)
        shares = [
            _hit_share(
                [(random_box(b.width, b.height, frames[v], rng), v) for b, v in topk],
                objects,
                positive,
                frames,
            )
            for _ in range(reps)
        ]
        rand["topk_share"] = float(np.mean(shares))
    view_cues = [e.box for e in objects if e.view == top_view]
    values["any_cue"] = float(bool(hit_cues(top, view_cues, frame=frame)))
    n_any = sum(
        bool(hit_cues(random_box(top.width, top.height, frame, rng), view_cues, frame=frame))
        for _ in range(reps)
    )
    rand["any_cue"] = n_any / reps
    return VersusRecord(unit.key, method, segmenter, values, rand)


@dataclass
class VersusResult:
    """Records of every scored unit x method x segmenter, and the units left out and why."""

    settings: VersusSettings
    records: list[VersusRecord] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # misclassified units (not scored)
    missing: list[str] = field(default_factory=list)  # no stored counterfactuals

    def summary(self, *, n_boot: int = 2000) -> list[dict[str, Any]]:
        """One row per method x segmenter x measure: ``n``, ``value`` (mean) with ``lo``/``hi``,
        ``random`` (the baseline, + CI), ``diff`` (+ CI), ``p_value`` (sign-flip permutation test of the
        mean paired difference) and ``p_wilcoxon``."""
        from geoquiz.faithfulness.stats import bootstrap_ci, wilcoxon_paired

        groups: dict[tuple[str, str], list[VersusRecord]] = {}
        for r in self.records:
            groups.setdefault((r.method, r.segmenter), []).append(r)
        rows = []
        for (method, segmenter), recs in groups.items():
            for measure in MEASURES:
                v = np.array([r.values[measure] for r in recs])
                paired = measure in PAIRED
                rr = np.array([r.random[measure] for r in recs])
                ok = ~np.isnan(v) & ~np.isnan(rr)
                v, rr = v[ok], rr[ok]
                mean, lo, hi = bootstrap_ci(v, n_boot=n_boot)
                row: dict[str, Any] = {
                    "method": method,
                    "segmenter": segmenter,
                    "measure": measure,
                    "n": int(ok.sum()),
                    "value": mean,
                    "lo": lo,
                    "hi": hi,
                }
                if paired:
                    row["random"], row["random_lo"], row["random_hi"] = bootstrap_ci(rr, n_boot=n_boot)
                    row["diff"], row["diff_lo"], row["diff_hi"] = bootstrap_ci(v - rr, n_boot=n_boot)
                row["p_value"] = sign_flip_p(v - rr, seed=self.settings.seed)
                row["p_wilcoxon"] = wilcoxon_paired(v, rr)[1] if len(v) else math.nan
                rows.append(row)
        return rows


def versus_on_dataset(
    project: Any,
    model_name: str,
    dataset: str,
    split: str | None = "test",
    methods: Sequence[str] = ("gradcampp",),
    segmenters: Sequence[str] = ("default",),
    *,
    settings: VersusSettings = VersusSettings(),
    limit: int | None = None,
    explainer: Any = None,
    params: Any = None,
    reporter: Any = None,
) -> VersusResult:
    """Score ``methods`` x ``segmenters`` of model ``model_name`` against the counterfactuals stored for
    its checkpoint on ``dataset``'s ``split`` (run :func:`~geoquiz.ground_truth.causal.run_causal`
    first; units without them are listed in ``result.missing``). Maps and elements come from an
    :class:`~geoquiz.explain.Explainer` (its cache when there)."""
    from geoquiz.attribution import METHODS
    from geoquiz.data.dataset import get_dataset, load_items, load_locations
    from geoquiz.faithfulness.random import derive_seed
    from geoquiz.ground_truth.causal_store import load_units
    from geoquiz.ground_truth.pointing import balanced, frames_of
    from geoquiz.hashing import file_hash
    from geoquiz.models.store import get_model
    from geoquiz.progress import step

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise GeoQuizError(
            f"unknown attribution method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}"
        )
    if not segmenters:
        raise GeoQuizError("no segmenter given")
    info = get_model(project.db, model_name)
    ds = get_dataset(project.db, dataset)
    four = ds.kind == "4view"
    samples = load_locations(project.db, dataset, split) if four else load_items(project.db, dataset, split)
    samples = balanced(samples, limit)
    units = load_units(project.db, file_hash(info.resolve(project.root)), ds.id, [s.key for s in samples])
    if not units:
        raise GeoQuizError(
            f"no causal ground truth stored for model {model_name!r} on {dataset!r} split {split!r}; "
            "compute it first (geoquiz groundtruth run)"
        )
    if explainer is None:
        from geoquiz.explain import Explainer

        explainer = Explainer(project, model_name)
    explainer.check_segmenters(segmenters)
    size = explainer.loaded_model.spec.input_size
    result = VersusResult(settings)
    result.missing = [s.key for s in samples if s.key not in units]
    scored = [s for s in samples if s.key in units]
    result.wrong = [s.key for s in scored if not units[s.key].correct]
    scored = [s for s in scored if units[s.key].correct]
    total, done = len(scored) * len(methods) * len(segmenters), 0
    for s in scored:
        frames = frames_of(s)
        for method in methods:
            maps = {h.view: h.values for h in explainer.heatmaps(s, method)}
            for segmenter in segmenters:
                step(reporter, done, total, f"{s.key} {method} x {segmenter}")
                elements = explainer.elements(s, method, segmenter, params)
                rng = np.random.default_rng(derive_seed(settings.seed, s.key, method, segmenter, "causal"))
                result.records.append(
                    score_unit(
                        units[s.key],
                        elements,
                        maps,
                        frames,
                        settings,
                        model_size=size,
                        rng=rng,
                        method=method,
                        segmenter=segmenter,
                    )
                )
                done += 1
    step(reporter, total, total, "explanations scored against causal truth")
    return result


__all__ = [
    "MEASURES",
    "MEASURE_LABELS",
    "PAIRED",
    "VersusRecord",
    "VersusResult",
    "VersusSettings",
    "cue_coverage",
    "cue_mass",
    "score_unit",
    "sign_flip_p",
    "spearman",
    "versus_on_dataset",
]
