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
* Tag agreement (elements that carry a cue tag, i.e. SAM3's): the model's tag distribution against
  the participants' (and the planted cues') per item and overall, with a chance baseline; see
  :mod:`geoquiz.agreement.tags`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from geoquiz.agreement.evidence import Evidence, ExplainerEvidence
from geoquiz.agreement.frames import build_views
from geoquiz.agreement.rows import item_rows, overall_rows
from geoquiz.agreement.store import ordered_row
from geoquiz.agreement.tags import item_chance_rows
from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.progress import Reporter, step
from geoquiz.study.review_data import (
    ItemRef,
    load_answers,
    load_item,
    load_predictions,
    model_row,
    study_id,
)
from geoquiz.types import Prediction


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
    for ref, extra in item_chance_rows(per_item).items():  # needs every item's tags: after the loop
        per_item[ref] += [dict(r, label=labels[ref], **{ref.column: ref.id}) for r in extra]
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
        insert_many(db, "agreement", [ordered_row(r) for r in rows])
    step(reporter, len(refs) + 1, len(refs) + 1, "stored")
    return run_id
