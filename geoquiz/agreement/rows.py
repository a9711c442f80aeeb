"""The agreement table's rows: per item (:func:`item_rows`) and overall (:func:`overall_rows`), from
the views of :mod:`geoquiz.agreement.frames`, the participants' answers and the planted cues."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from geoquiz.agreement import measures as ag
from geoquiz.agreement.frames import View
from geoquiz.agreement.tags import OVERALL_METRICS as TAG_METRICS
from geoquiz.agreement.tags import item_tag_rows, overall_tag_rows
from geoquiz.boxes import Box
from geoquiz.study import accuracy as acc
from geoquiz.study.review_data import (
    HumanAnswer,
    ItemRef,
)
from geoquiz.types import CueBox, Element, ImageItem, Location, Prediction

BOX_METRICS = ("mask_iou", "ref_coverage", "model_precision", "ref_best_iou", "model_best_iou")
MASS_METRICS = ("attribution_mass", "mass_ratio")


def _row(
    metric: str,
    value: float | None,
    *,
    reference: str = "",
    tag: str = "",
    n: int | None = None,
    ci: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any]:
    return {
        "reference": reference,
        "metric": metric,
        "tag": tag,
        "value": None if value is None else float(value),
        "n": n,
        "ci_low": ci[0],
        "ci_high": ci[1],
    }


def _boxes(cues: Sequence[CueBox], view: str | None, single: bool) -> list[Box]:
    return [c.box for c in cues if single or c.view == view]


def _compare(views: list[View], cues: Sequence[CueBox], single: bool) -> dict[str, float | None]:
    """Area measures of the model's elements (and map) against one set of reference boxes."""
    parts, ref_best, model_best = [], [], []
    inside = total = masked = area = 0.0
    for v in views:
        ref = _boxes(cues, v.name, single)
        model = [e.box for e in v.elements]
        parts.append(ag.overlap(ref, model, v.height, v.width))
        if ref:
            ref_best += list(ag.iou_matrix(ref, model).max(axis=1)) if model else [0.0] * len(ref)
        if model and ref:
            model_best += list(ag.iou_matrix(model, ref).max(axis=1))
        elif model:
            model_best += [0.0] * len(model)
        if v.heat is not None:
            m = ag.attribution_mass(v.heat, ref)
            inside, total = inside + m.inside, total + m.total
            masked, area = masked + m.area_fraction * v.width * v.height, area + v.width * v.height
    pooled = ag.pool_views(parts)
    mass = ag.Mass(inside, total, masked / area if area else 0.0) if area else None
    return {
        "mask_iou": pooled.mask_iou,
        "ref_coverage": pooled.human_coverage,
        "model_precision": pooled.model_coverage,
        "ref_best_iou": float(np.mean(ref_best)) if ref_best else None,
        "model_best_iou": float(np.mean(model_best)) if model_best else None,
        "attribution_mass": None if mass is None else mass.fraction,
        "mass_ratio": None if mass is None else mass.ratio,
    }


def _tag_overlaps(views: list[View], cues: Sequence[CueBox], single: bool) -> dict[str, float]:
    parts = []
    for v in views:
        ref = [c for c in cues if single or c.view == v.name]
        model = [e.box for e in v.elements]
        area = ag.overlap([], model, v.height, v.width).model_area
        parts.append((ag.tag_overlap(model, ref, v.height, v.width), area))
    return ag.pool_tag_overlaps(parts)


def _top(views: list[View]) -> tuple[View, Element] | None:
    ranked = [(e.rank, -e.score, i, e) for i, v in enumerate(views) for e in v.elements]
    if not ranked:
        return None
    _, _, i, e = min(ranked, key=lambda t: t[:3])
    return views[i], e


def _hit(top: Box, boxes: list[Box], tolerance: float) -> float:
    """Pointing game as 0/1; a view without reference boxes (others have some) is a miss."""
    return float(bool(boxes) and bool(ag.pointing_hit(top, boxes, tolerance)))


def _shown(views: list[View], answer: HumanAnswer) -> list[View]:
    """The views a trial showed (all of them when the trial does not say)."""
    if not answer.views_shown:
        return views
    return [v for v in views if v.name is None or v.name in answer.views_shown]


def _mean_rows(per_trial: list[dict[str, float | None]], reference: str) -> list[dict[str, Any]]:
    rows = []
    for metric in BOX_METRICS + MASS_METRICS:
        values = [t[metric] for t in per_trial if t[metric] is not None]
        rows.append(
            _row(metric, float(np.mean(values)) if values else None, reference=reference, n=len(values))
        )
    return rows


def item_rows(
    item: ImageItem | Location,
    answers: Sequence[HumanAnswer],
    prediction: Prediction | None,
    views: list[View] | None,
    *,
    tolerance: float = 0.0,
    include_timed_out: bool = True,
) -> list[dict[str, Any]]:
    """Every per-item measure as agreement rows (without run/scope/item columns).

    ``views`` is :func:`build_views`' output, or None when the model has no evidence for the item.
    """
    single = isinstance(item, ImageItem)
    label = item.label
    counted = [a for a in answers if include_timed_out or not a.timed_out]
    rows = [
        _row("n_trials", len(counted), n=len(counted)),
        _row("n_participants", len({a.participant for a in counted}), n=len(counted)),
    ]
    for k in (1, 5):
        p = acc.proportion(acc.topk_correct(a.guesses, label, k) for a in counted)
        rows.append(_row(f"human_top{k}", p.rate, n=p.n, ci=(p.low, p.high)))
    top1s = [a.top1 for a in counted if a.top1 is not None]
    rows.append(_row("human_agreement", acc.item_agreement(top1s), n=len(top1s)))
    if prediction is not None:
        ranked = [c for c, _ in prediction.topk(len(prediction.classes))]
        for k in (1, 5):
            rows.append(_row(f"model_top{k}", float(acc.topk_correct(ranked, label, k)), n=1))
        rows.append(_row("model_confidence", prediction.confidence, n=1))
        rows.append(_row("model_true_prob", dict(prediction.topk(len(ranked))).get(label, 0.0), n=1))
    if views is None:
        return rows
    all_cues = [c for a in answers for c in a.cues]
    rows.append(_row("n_human_boxes", len(all_cues), reference="human", n=len(all_cues)))
    rows.append(_row("n_elements", sum(len(v.elements) for v in views), reference="human"))
    rows += _mean_rows([_compare(_shown(views, a), a.cues, single) for a in answers if a.cues], "human")
    top = _top(views)
    if top is not None and all_cues:
        view, element = top
        hits = [_hit(element.box, _boxes(a.cues, view.name, single), tolerance) for a in answers if a.cues]
        union_hit = _hit(element.box, _boxes(all_cues, view.name, single), tolerance)
        rows.append(_row("pointing_hit", union_hit, reference="human", n=1))
        rows.append(_row("pointing_share", float(np.mean(hits)), reference="human", n=len(hits)))
    heat_views = [v for v in views if v.heat is not None]
    if heat_views and all_cues:
        best = max(heat_views, key=lambda v: float(v.heat.max()))
        boxes = _boxes(all_cues, best.name, single)
        hit = float(bool(boxes) and ag.heatmap_pointing_hit(best.heat, boxes, tolerance))
        rows.append(_row("heatmap_pointing_hit", hit, reference="human", n=1))
    overlaps = _tag_overlaps(views, all_cues, single)
    rows += [_row("tag_overlap", v, reference="human", tag=t, n=1) for t, v in overlaps.items()]
    if overlaps:
        tag, value = next(iter(overlaps.items()))
        rows.append(_row("top_tag", value, reference="human", tag=tag, n=1))
    planted = [c for v in views for c in v.planted]
    rows += item_tag_rows([e for v in views for e in v.elements], [a.cues for a in answers], planted)
    if planted:
        rows += [dict(r, n=len(planted)) for r in _mean_rows([_compare(views, planted, single)], "planted")]
        if top is not None:
            view, element = top
            hit = _hit(element.box, _boxes(planted, view.name, single), tolerance)
            rows.append(_row("pointing_hit", hit, reference="planted", n=1))
        overlaps = _tag_overlaps(views, planted, single)
        rows += [_row("tag_overlap", v, reference="planted", tag=t, n=1) for t, v in overlaps.items()]
        cov = [_human_vs_planted(_shown(views, a), a.cues, planted, single) for a in answers if a.cues]
        for metric in ("human_ref_coverage", "human_precision"):
            vals = [c[metric] for c in cov if c[metric] is not None]
            rows.append(
                _row(metric, float(np.mean(vals)) if vals else None, reference="planted", n=len(vals))
            )
    return rows


def _human_vs_planted(
    views: list[View], human: Sequence[CueBox], planted: Sequence[CueBox], single: bool
) -> dict[str, float | None]:
    """How much of the planted cues' area one participant's boxes cover, and vice versa."""
    parts = [
        ag.overlap(_boxes(planted, v.name, single), _boxes(human, v.name, single), v.height, v.width)
        for v in views
    ]
    pooled = ag.pool_views(parts)
    return {"human_ref_coverage": pooled.human_coverage, "human_precision": pooled.model_coverage}


PROPORTION_METRICS = ("pointing_hit", "heatmap_pointing_hit")
SKIP_OVERALL = (
    "n_trials",
    "n_participants",
    "n_human_boxes",
    "n_elements",
    "human_top1",
    "human_top5",
    "model_top1",
    "model_top5",
    "tag_overlap",
    "top_tag",
    *TAG_METRICS,
)


def overall_rows(
    per_item: dict[ItemRef, list[dict[str, Any]]],
    answers: dict[ItemRef, list[HumanAnswer]],
    predictions: dict[ItemRef, Prediction],
    labels: dict[ItemRef, str],
    *,
    include_timed_out: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Aggregate per-item rows into (overall rows, per-class rows); see the module docstring."""
    overall: list[dict[str, Any]] = []
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    tags: dict[str, dict[ItemRef, dict[str, float]]] = defaultdict(dict)
    tops: dict[str, list[str]] = defaultdict(list)
    for ref, rows in per_item.items():
        for r in rows:
            if r["metric"] == "tag_overlap":
                tags[r["reference"]].setdefault(ref, {})[r["tag"]] = r["value"]
            elif r["metric"] == "top_tag":
                tops[r["reference"]].append(r["tag"])
            elif r["metric"] not in SKIP_OVERALL and r["value"] is not None:
                values[(r["reference"], r["metric"])].append(r["value"])
    for (reference, metric), vals in sorted(values.items()):
        if metric in PROPORTION_METRICS:
            p = acc.proportion(vals)
            overall.append(_row(metric, p.rate, reference=reference, n=p.n, ci=(p.low, p.high)))
        else:
            ci = acc.bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            overall.append(_row(metric, float(np.mean(vals)), reference=reference, n=len(vals), ci=ci))
    for reference, by_item in sorted(tags.items()):
        every = sorted({t for d in by_item.values() for t in d})
        for tag in every:
            vals = [d.get(tag, 0.0) for d in by_item.values()]
            ci = acc.bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            overall.append(
                _row("tag_overlap", float(np.mean(vals)), reference=reference, tag=tag, n=len(vals), ci=ci)
            )
        for tag in sorted(set(tops[reference])):
            share = tops[reference].count(tag) / len(tops[reference])
            overall.append(_row("top_tag_share", share, reference=reference, tag=tag, n=len(tops[reference])))
    overall += overall_tag_rows(per_item, n_boot=n_boot, seed=seed)
    counted = {r: [a for a in ans if include_timed_out or not a.timed_out] for r, ans in answers.items()}
    human = {r: [a.guesses for a in ans] for r, ans in counted.items()}
    model = {r: [c for c, _ in p.topk(len(p.classes))] for r, p in predictions.items()}
    n_trials = sum(len(a) for a in counted.values())
    overall.append(_row("n_items", len(counted), n=len(counted)))
    overall.append(_row("n_trials", n_trials, n=n_trials))
    overall.append(_row("n_participants", len({a.participant for ans in counted.values() for a in ans})))
    for k in (1, 5):
        c = acc.compare_accuracy(human, model, labels, k, n_boot=n_boot, seed=seed)
        overall.append(_row(f"human_top{k}", c.human.rate, n=c.human.n, ci=(c.human.low, c.human.high)))
        overall.append(_row(f"model_top{k}", c.model.rate, n=c.model.n, ci=(c.model.low, c.model.high)))
        overall.append(_row(f"model_minus_human_top{k}", c.difference, n=c.n_items, ci=c.difference_ci))
        all_items = acc.proportion(acc.topk_correct(g, labels[r], k) for r, gs in human.items() for g in gs)
        overall.append(
            _row(f"human_top{k}_all_items", all_items.rate, n=all_items.n, ci=(all_items.low, all_items.high))
        )
    ratings = {r: [a.top1 for a in ans if a.top1 is not None] for r, ans in counted.items()}
    kappa, ci = acc.fleiss_kappa_ci(ratings, n_boot=n_boot, seed=seed)
    overall.append(_row("fleiss_kappa", kappa.kappa, n=kappa.n_items, ci=ci))
    overall.append(_row("observed_agreement", kappa.p_bar, n=kappa.n_items))
    overall.append(_row("chance_agreement", kappa.p_e, n=kappa.n_items))
    classes: list[dict[str, Any]] = []
    shared = [r for r in human if human[r] and r in model]
    for k in (1, 5):
        hum = acc.per_class_accuracy(
            [g for r in shared for g in human[r]], [labels[r] for r in shared for _ in human[r]], k
        )
        mod = acc.per_class_accuracy([model[r] for r in shared], [labels[r] for r in shared], k)
        for side, table in (("human", hum), ("model", mod)):
            for label, p in table.items():
                classes.append(dict(_row(f"{side}_top{k}", p.rate, n=p.n, ci=(p.low, p.high)), label=label))
    return overall, classes
