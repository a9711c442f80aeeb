"""Compute agreement between participants and the model for a study, and store it.

:func:`compute_agreement` walks every item that has main trials, asks an :class:`Evidence` source for
the model's prediction, attribution map(s) and elements, measures them against the participants'
cue boxes and answers (and against GeoScenes' planted cues when present) with :mod:`geoquiz.agreement`,
and writes one ``agreement_runs`` row plus a tidy ``agreement`` table (migration m0070) in one
transaction. Nothing is written if anything fails or the job is cancelled.

Choices (documented here because the papers do not fix them):

* Every box measure is computed in the pixel frame of the image shown to participants. Elements and
  attribution maps computed at the model's input resolution are rescaled to it (maps bilinearly,
  boxes outwards).
* Per item, area measures against people (``mask_iou``, ``ref_coverage``, ``model_precision``,
  ``ref_best_iou``, ``model_best_iou``, ``attribution_mass``, ``mass_ratio``) are computed per
  trial against that participant's own boxes, then averaged over the trials that drew boxes (``n``).
  ``pointing_hit`` and ``tag_overlap`` use the union of every participant's boxes;
  ``pointing_share`` is the share of participants whose boxes contain the top element's centre.
* The "top element" is the element with the best rank (over all views of a location).
* Trials that timed out count as wrong answers unless ``include_timed_out=False``.
* Overall values: the mean over items with a bootstrap CI (items are the resampling unit), except
  proportions (pointing game, accuracies), which get Wilson intervals; Fleiss' kappa on top-1
  guesses has a bootstrap CI over items.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from geoquiz import agreement as ag
from geoquiz.boxes import Box
from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.progress import Reporter, step
from geoquiz.study.review_data import (
    HumanAnswer,
    ItemRef,
    load_answers,
    load_item,
    load_predictions,
    model_row,
    study_id,
)
from geoquiz.types import VIEWS, CueBox, Element, Heatmap, ImageItem, Location, Prediction

BOX_METRICS = ("mask_iou", "ref_coverage", "model_precision", "ref_best_iou", "model_best_iou")
MASS_METRICS = ("attribution_mass", "mass_ratio")


class Evidence(Protocol):
    """Where the model's side comes from (default: :class:`ExplainerEvidence`)."""

    def predict(self, item: ImageItem | Location) -> Prediction: ...

    def heatmaps(self, item: ImageItem | Location, method: str) -> list[Heatmap]: ...

    def elements(
        self, item: ImageItem | Location, method: str, segmenter: str, params: Any = None
    ) -> list[Element]: ...


class ExplainerEvidence:
    """The project's model through :class:`geoquiz.explain.Explainer` (cached maps and elements).
    Imports torch lazily, on first use."""

    def __init__(self, project: Any, model_name: str, *, device: str = "auto") -> None:
        self.project, self.model_name, self.device = project, model_name, device
        self._explainer = None

    @property
    def explainer(self) -> Any:
        if self._explainer is None:
            from geoquiz.explain import Explainer

            self._explainer = Explainer(self.project, self.model_name, device=self.device)
        return self._explainer

    def predict(self, item: ImageItem | Location) -> Prediction:
        from geoquiz.data.imageio import read_image
        from geoquiz.models.store import load_project_model

        model = load_project_model(self.project, self.model_name, device=self.device)
        image = (
            read_image(item.path)
            if isinstance(item, ImageItem)
            else [read_image(v.path) for v in item.ordered()]
        )
        return model.predict([image])[0]

    def heatmaps(self, item: ImageItem | Location, method: str) -> list[Heatmap]:
        return self.explainer.heatmaps(item, method)

    def elements(
        self, item: ImageItem | Location, method: str, segmenter: str, params: Any = None
    ) -> list[Element]:
        return self.explainer.elements(item, method, segmenter, params)


@dataclass
class _View:
    """One image of an item in the participants' pixel frame."""

    name: str | None
    width: int
    height: int
    heat: np.ndarray | None
    elements: list[Element]
    planted: list[CueBox]


def _image_size(item: ImageItem) -> tuple[int, int]:
    if item.width and item.height:
        return int(item.width), int(item.height)
    from geoquiz.data.imageio import image_size

    return image_size(item.path)


def _resize_map(values: np.ndarray, width: int, height: int) -> np.ndarray:
    if values.shape == (height, width):
        return values.astype(np.float32, copy=False)
    from PIL import Image

    img = Image.fromarray(np.asarray(values, dtype=np.float32), mode="F").resize(
        (width, height), Image.BILINEAR
    )
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def build_views(
    item: ImageItem | Location, heatmaps: Sequence[Heatmap], elements: Sequence[Element]
) -> list[_View]:
    """Put an item's maps and elements in its images' pixel frames (one entry per view)."""
    images = [item] if isinstance(item, ImageItem) else [item.views[v] for v in VIEWS if v in item.views]
    maps = {h.view: h for h in heatmaps}
    out = []
    for image in images:
        name = None if isinstance(item, ImageItem) else image.view
        width, height = _image_size(image)
        heat = maps.get(name) or (maps.get(None) if len(images) == 1 else None)
        frame = (width, height)
        if heat is not None:
            frame = (heat.values.shape[1], heat.values.shape[0])
        els = [e for e in elements if (e.view == name or len(images) == 1)]
        els = [
            Element(
                e.rank,
                ag.rescale_box(e.box, frame, (width, height)),
                e.score,
                e.overlap,
                e.mean_attr,
                e.centre_attr,
                e.segment_box,
                e.segment_area,
                e.view,
            )
            for e in els
        ]
        values = None if heat is None else _resize_map(heat.values, width, height)
        out.append(_View(name, width, height, values, els, list(image.cues)))
    return out


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


def _compare(views: list[_View], cues: Sequence[CueBox], single: bool) -> dict[str, float | None]:
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


def _tag_overlaps(views: list[_View], cues: Sequence[CueBox], single: bool) -> dict[str, float]:
    parts = []
    for v in views:
        ref = [c for c in cues if single or c.view == v.name]
        model = [e.box for e in v.elements]
        area = ag.overlap([], model, v.height, v.width).model_area
        parts.append((ag.tag_overlap(model, ref, v.height, v.width), area))
    return ag.pool_tag_overlaps(parts)


def _top(views: list[_View]) -> tuple[_View, Element] | None:
    ranked = [(e.rank, -e.score, i, e) for i, v in enumerate(views) for e in v.elements]
    if not ranked:
        return None
    _, _, i, e = min(ranked, key=lambda t: t[:3])
    return views[i], e


def _hit(top: Box, boxes: list[Box], tolerance: float) -> float:
    """Pointing game as 0/1; a view without reference boxes (others have some) is a miss."""
    return float(bool(boxes) and bool(ag.pointing_hit(top, boxes, tolerance)))


def _shown(views: list[_View], answer: HumanAnswer) -> list[_View]:
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
    views: list[_View] | None,
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
        p = ag.proportion(ag.topk_correct(a.guesses, label, k) for a in counted)
        rows.append(_row(f"human_top{k}", p.rate, n=p.n, ci=(p.low, p.high)))
    top1s = [a.top1 for a in counted if a.top1 is not None]
    rows.append(_row("human_agreement", ag.item_agreement(top1s), n=len(top1s)))
    if prediction is not None:
        ranked = [c for c, _ in prediction.topk(len(prediction.classes))]
        for k in (1, 5):
            rows.append(_row(f"model_top{k}", float(ag.topk_correct(ranked, label, k)), n=1))
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
    views: list[_View], human: Sequence[CueBox], planted: Sequence[CueBox], single: bool
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
            p = ag.proportion(vals)
            overall.append(_row(metric, p.rate, reference=reference, n=p.n, ci=(p.low, p.high)))
        else:
            ci = ag.bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            overall.append(_row(metric, float(np.mean(vals)), reference=reference, n=len(vals), ci=ci))
    for reference, by_item in sorted(tags.items()):
        every = sorted({t for d in by_item.values() for t in d})
        for tag in every:
            vals = [d.get(tag, 0.0) for d in by_item.values()]
            ci = ag.bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            overall.append(
                _row("tag_overlap", float(np.mean(vals)), reference=reference, tag=tag, n=len(vals), ci=ci)
            )
        for tag in sorted(set(tops[reference])):
            share = tops[reference].count(tag) / len(tops[reference])
            overall.append(_row("top_tag_share", share, reference=reference, tag=tag, n=len(tops[reference])))
    counted = {r: [a for a in ans if include_timed_out or not a.timed_out] for r, ans in answers.items()}
    human = {r: [a.guesses for a in ans] for r, ans in counted.items()}
    model = {r: [c for c, _ in p.topk(len(p.classes))] for r, p in predictions.items()}
    n_trials = sum(len(a) for a in counted.values())
    overall.append(_row("n_items", len(counted), n=len(counted)))
    overall.append(_row("n_trials", n_trials, n=n_trials))
    overall.append(_row("n_participants", len({a.participant for ans in counted.values() for a in ans})))
    for k in (1, 5):
        c = ag.compare_accuracy(human, model, labels, k, n_boot=n_boot, seed=seed)
        overall.append(_row(f"human_top{k}", c.human.rate, n=c.human.n, ci=(c.human.low, c.human.high)))
        overall.append(_row(f"model_top{k}", c.model.rate, n=c.model.n, ci=(c.model.low, c.model.high)))
        overall.append(_row(f"model_minus_human_top{k}", c.difference, n=c.n_items, ci=c.difference_ci))
        all_items = ag.proportion(ag.topk_correct(g, labels[r], k) for r, gs in human.items() for g in gs)
        overall.append(
            _row(f"human_top{k}_all_items", all_items.rate, n=all_items.n, ci=(all_items.low, all_items.high))
        )
    ratings = {r: [a.top1 for a in ans if a.top1 is not None] for r, ans in counted.items()}
    kappa, ci = ag.fleiss_kappa_ci(ratings, n_boot=n_boot, seed=seed)
    overall.append(_row("fleiss_kappa", kappa.kappa, n=kappa.n_items, ci=ci))
    overall.append(_row("observed_agreement", kappa.p_bar, n=kappa.n_items))
    overall.append(_row("chance_agreement", kappa.p_e, n=kappa.n_items))
    classes: list[dict[str, Any]] = []
    shared = [r for r in human if human[r] and r in model]
    for k in (1, 5):
        hum = ag.per_class_accuracy(
            [g for r in shared for g in human[r]], [labels[r] for r in shared for _ in human[r]], k
        )
        mod = ag.per_class_accuracy([model[r] for r in shared], [labels[r] for r in shared], k)
        for side, table in (("human", hum), ("model", mod)):
            for label, p in table.items():
                classes.append(dict(_row(f"{side}_top{k}", p.rate, n=p.n, ci=(p.low, p.high)), label=label))
    return overall, classes


@dataclass(frozen=True)
class AgreementConfig:
    """Settings of one agreement computation (stored in ``agreement_runs.config_json``).

    ``tolerance``: pointing-game slack in pixels. ``n_boot``/``seed``: bootstrap resamples and seed.
    ``include_timed_out``: count timed-out trials as (wrong) answers.
    """

    tolerance: float = 0.0
    include_timed_out: bool = True
    n_boot: int = 1000
    seed: int = 0


def _params_key(params: Any) -> str:
    if params is None:
        return ""
    if hasattr(params, "__dataclass_fields__"):
        from dataclasses import asdict

        params = asdict(params)
    return json.dumps(params, sort_keys=True)


def _matches(integration: str, ref: ItemRef) -> bool:
    return (integration == "single") == (ref.kind == "image")


def compute_agreement(
    project: Any,
    model_name: str,
    *,
    method: str = "gradcam",
    segmenter: str = "default",
    study: str | None = None,
    params: Any = None,
    config: AgreementConfig = AgreementConfig(),
    evidence: Evidence | None = None,
    reporter: Reporter | None = None,
) -> int:
    """Measure agreement on every item with main trials (of ``study``, or all studies) and store it.

    Returns the new ``agreement_runs.id``; an earlier run with the same model, study, method,
    segmenter and element parameters is replaced in the same transaction. Items that the model cannot
    see (a single-view model and a 4-view location, or the reverse) get the human measures only.
    ``evidence`` defaults to :class:`ExplainerEvidence` (the project's model via geoquiz.explain);
    stored ``predictions`` rows are used before asking it for a prediction.
    """
    db = project.db
    info = model_row(db, model_name)
    sid = study_id(db, study)
    answers = load_answers(db, study=study)
    stored = load_predictions(db, model_name)
    evidence = evidence if evidence is not None else ExplainerEvidence(project, model_name)
    per_item: dict[ItemRef, list[dict[str, Any]]] = {}
    predictions: dict[ItemRef, Prediction] = {}
    labels: dict[ItemRef, str] = {}
    refs = sorted(answers)
    for done, ref in enumerate(refs):
        step(reporter, done, len(refs), f"{ref.kind} {ref.id}")
        item = load_item(db, ref)
        labels[ref] = item.label
        views = prediction = None
        if _matches(info["integration"], ref):
            prediction = stored.get(ref) or evidence.predict(item)
            predictions[ref] = prediction
            views = build_views(
                item, evidence.heatmaps(item, method), evidence.elements(item, method, segmenter, params)
            )
        rows = item_rows(
            item,
            answers[ref],
            prediction,
            views,
            tolerance=config.tolerance,
            include_timed_out=config.include_timed_out,
        )
        per_item[ref] = [dict(r, label=item.label, **{ref.column: ref.id}) for r in rows]
    step(reporter, len(refs), len(refs) + 1, "overall")
    overall, classes = overall_rows(
        per_item,
        answers,
        predictions,
        labels,
        include_timed_out=config.include_timed_out,
        n_boot=config.n_boot,
        seed=config.seed,
    )
    summary = {
        r["metric"] + (f"[{r['reference']}]" if r["reference"] else ""): r["value"]
        for r in overall
        if not r["tag"]
    }
    key = _params_key(params)
    with transaction(db):
        db.execute(
            "DELETE FROM agreement_runs WHERE model_id = ? AND study_id IS ? AND method = ? AND segmenter = ? "
            "AND params_key = ?",
            [info["id"], sid, method, segmenter, key],
        )
        run_id = insert(
            db,
            "agreement_runs",
            {
                "model_id": info["id"],
                "study_id": sid,
                "method": method,
                "segmenter": segmenter,
                "params_key": key,
                "config_json": json.dumps(config.__dict__, sort_keys=True),
                "summary_json": json.dumps(summary, sort_keys=True),
                "created_at": now(),
            },
        )
        base = {"run_id": run_id, "image_id": None, "location_id": None, "label": None}
        rows = [dict(base, scope="item", **r) for rs in per_item.values() for r in rs]
        rows += [dict(base, scope="overall", **r) for r in overall]
        rows += [dict(base, scope="class", **r) for r in classes]
        insert_many(db, "agreement", [_ordered(r) for r in rows])
    step(reporter, len(refs) + 1, len(refs) + 1, "stored")
    return run_id


_COLUMNS = (
    "run_id",
    "scope",
    "image_id",
    "location_id",
    "label",
    "reference",
    "metric",
    "tag",
    "value",
    "n",
    "ci_low",
    "ci_high",
)


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row.get(c) for c in _COLUMNS}


def list_runs(db: Any) -> list[dict[str, Any]]:
    """Every agreement run, newest first, with model name and study slug (None = all studies)."""
    db = getattr(db, "db", db)
    rows = db.execute(
        "SELECT r.id, m.name, s.slug, r.method, r.segmenter, r.params_key, r.summary_json, r.created_at "
        "FROM agreement_runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN studies s ON s.id = r.study_id "
        "ORDER BY r.id DESC"
    ).fetchall()
    keys = ("id", "model", "study", "method", "segmenter", "params_key", "summary", "created_at")
    return [dict(zip(keys, r[:6] + (json.loads(r[6]), r[7]))) for r in rows]


def latest_run(
    db: Any, model: str, *, method: str | None = None, segmenter: str | None = None, study: str | None = None
) -> int | None:
    """The newest run for ``model`` (and the given method / segmenter / study, when set)."""
    for run in list_runs(db):
        if run["model"] != model or (study is not None and run["study"] != study):
            continue
        if (method is None or run["method"] == method) and (
            segmenter is None or run["segmenter"] == segmenter
        ):
            return int(run["id"])
    return None


def load_agreement(
    db: Any, run_id: int, *, scope: str | None = None, ref: ItemRef | None = None
) -> list[dict[str, Any]]:
    """Stored agreement rows of a run (optionally one scope, or one item), in insertion order."""
    db = getattr(db, "db", db)
    sql, params = f"SELECT {', '.join(_COLUMNS)} FROM agreement WHERE run_id = ?", [run_id]  # noqa: S608
    if scope is not None:
        sql, params = sql + " AND scope = ?", [*params, scope]
    if ref is not None:
        sql, params = sql + f" AND scope = 'item' AND {ref.column} = ?", [*params, ref.id]
    return [dict(zip(_COLUMNS, r)) for r in db.execute(sql + " ORDER BY id", params)]
