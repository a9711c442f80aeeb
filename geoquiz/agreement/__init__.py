"""Agreement between people and the model, shaped like :mod:`geoquiz.faithfulness`.

==============  ==================================================================================
``measures``    pure box and map measures on one image (mask IoU, coverage, pointing game,
                attribution mass, tag overlap, box density)
``evidence``    where the model's side comes from (:class:`ExplainerEvidence`: the project's model)
``frames``      an item's maps and elements in the pixel frame of the images people saw
``rows``        the tidy agreement rows per item and overall
``tags``        tag agreement: the model's element tags (SAM3) vs the participants' cue tags
``runs``        :func:`compute_agreement`: a study x model x method x segmenter, stored in one transaction
``store``       reading runs back
==============  ==================================================================================

Accuracy and rater statistics (Wilson intervals, human vs model accuracy, Fleiss' kappa) live in
:mod:`geoquiz.study.accuracy` and are re-exported here, so ``from geoquiz import agreement as ag``
gives every measure.
"""

from __future__ import annotations

from geoquiz.agreement.evidence import Evidence, ExplainerEvidence
from geoquiz.agreement.frames import View, build_views
from geoquiz.agreement.measures import (
    Mass,
    Overlap,
    attribution_mass,
    best_iou,
    box_density,
    coverage,
    heatmap_pointing_hit,
    iou_matrix,
    mask_iou,
    overlap,
    participant_density,
    pointing_hit,
    pool_tag_overlaps,
    pool_views,
    rescale_box,
    tag_overlap,
)
from geoquiz.agreement.rows import BOX_METRICS, MASS_METRICS, item_rows, overall_rows
from geoquiz.agreement.runs import AgreementConfig, compute_agreement
from geoquiz.agreement.store import latest_run, list_runs, load_agreement
from geoquiz.study.accuracy import (
    Z_95,
    Comparison,
    Kappa,
    Proportion,
    accuracy,
    bootstrap_ci,
    compare_accuracy,
    fleiss_kappa,
    fleiss_kappa_ci,
    item_agreement,
    per_class_accuracy,
    proportion,
    rating_table,
    topk_correct,
    wilson_interval,
)

__all__ = [
    "BOX_METRICS",
    "MASS_METRICS",
    "Z_95",
    "AgreementConfig",
    "Comparison",
    "Evidence",
    "ExplainerEvidence",
    "Kappa",
    "Mass",
    "Overlap",
    "Proportion",
    "View",
    "accuracy",
    "attribution_mass",
    "best_iou",
    "bootstrap_ci",
    "box_density",
    "build_views",
    "compare_accuracy",
    "compute_agreement",
    "coverage",
    "fleiss_kappa",
    "fleiss_kappa_ci",
    "heatmap_pointing_hit",
    "iou_matrix",
    "item_agreement",
    "item_rows",
    "latest_run",
    "list_runs",
    "load_agreement",
    "mask_iou",
    "overall_rows",
    "overlap",
    "participant_density",
    "per_class_accuracy",
    "pointing_hit",
    "pool_tag_overlaps",
    "pool_views",
    "proportion",
    "rating_table",
    "rescale_box",
    "tag_overlap",
    "topk_correct",
    "wilson_interval",
]
