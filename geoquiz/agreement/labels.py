"""Short display names of the agreement measures (the app's tables and charts); the ids stay in the
database and the CSVs, and their full definitions are in :data:`geoquiz.study.export_codebook.METRICS`."""

from __future__ import annotations

METRIC_LABELS: dict[str, str] = {
    "n_trials": "Trials",
    "n_participants": "Participants",
    "n_items": "Items",
    "n_human_boxes": "Participants' boxes",
    "n_elements": "Model elements",
    "human_top1": "People: top-1 accuracy",
    "human_top5": "People: top-5 accuracy",
    "human_top1_all_items": "People: top-1 (all items)",
    "human_top5_all_items": "People: top-5 (all items)",
    "model_top1": "Model: top-1 accuracy",
    "model_top5": "Model: top-5 accuracy",
    "model_minus_human_top1": "Model − people, top-1",
    "model_minus_human_top5": "Model − people, top-5",
    "model_confidence": "Model confidence",
    "model_true_prob": "Model: true-class probability",
    "human_agreement": "People agree (first guesses)",
    "fleiss_kappa": "Fleiss' kappa",
    "observed_agreement": "Observed agreement",
    "chance_agreement": "Chance agreement",
    "mask_iou": "Box overlap (IoU of unions)",
    "ref_coverage": "Cue area covered by elements",
    "model_precision": "Element area inside cues",
    "ref_best_iou": "Best IoU per cue box",
    "model_best_iou": "Best IoU per element",
    "attribution_mass": "Heatmap mass in cue boxes",
    "mass_ratio": "Mass ÷ area share",
    "pointing_hit": "Pointing game (top element)",
    "pointing_share": "Pointing game: share of people",
    "heatmap_pointing_hit": "Pointing game (heatmap peak)",
    "tag_overlap": "Element overlap with tag",
    "top_tag": "Most overlapped tag",
    "top_tag_share": "Share of the top tag",
    "human_ref_coverage": "People cover planted cues",
    "human_precision": "People's boxes on planted cues",
    "model_tag_share": "Model's tag share",
    "ref_tag_share": "People's tag share",
    "tag_agreement": "Tag agreement",
    "tag_agreement_chance": "Tag agreement by chance",
    "tag_agreement_excess": "Tag agreement beyond chance",
}

REFERENCE_LABELS: dict[str, str] = {"": "", "human": "people", "planted": "planted cues"}

#: Measures that count things: shown as whole numbers.
COUNT_METRICS = frozenset(m for m in METRIC_LABELS if m.startswith("n_"))


def metric_label(metric: str) -> str:
    """The display name of an agreement measure id (the id itself when unknown)."""
    return METRIC_LABELS.get(metric, metric)


__all__ = ["COUNT_METRICS", "METRIC_LABELS", "REFERENCE_LABELS", "metric_label"]
