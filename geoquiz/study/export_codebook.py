"""The codebook of the study export: every column of every exported CSV, its type and meaning.

This is the single source of truth: :mod:`geoquiz.study.export` builds its tables in this column
order and writes ``codebook.csv`` from it, and ``docs/codebook.md`` is generated from it by
:func:`codebook_markdown` (a test keeps the two in step).

Types: ``int`` (whole number; empty = missing), ``float`` (decimal; empty = missing), ``bool``
(0 or 1), ``str`` (UTF-8 text; a text cell that starts with ``= + - @``, a tab or a carriage return
is written with a leading ``'`` so that spreadsheets show it instead of running it as a formula),
``time`` (ISO 8601 UTC timestamp with milliseconds, as text).
"""

from __future__ import annotations

from typing import NamedTuple

#: What ``geoquiz export --what`` can choose; ``coco`` is the JSON file, the rest are CSV tables.
EXPORTS: tuple[str, ...] = (
    "trials",
    "guesses",
    "cue_boxes",
    "model_predictions",
    "elements",
    "faithfulness",
    "agreement",
    "planted_cues",
    "session_events",
    "coco",
)


#: Said in codebook.csv of every text (``str``) column: what :func:`geoquiz.csvio.neutralise` does to it.
NEUTRALISED_NOTE = (
    "Text cells starting with =, +, -, @, a tab or a carriage return are written with a leading ' "
    "(so that a spreadsheet shows them instead of running them as a formula); remove that ' when "
    "reading the original text."
)
#: The short form of the note in docs/codebook.md (which explains it once at the top).
NEUTRALISED_MARK = "Formula guard: a leading ' may be added (see above)."


class Column(NamedTuple):
    name: str
    type: str
    description: str


C = Column

_STUDY_KEYS = [
    C("study", "str", "Study slug (studies.slug)."),
    C("participant", "str", "Pseudonymous participant code (no names are stored)."),
]
_BOX = [
    C("x0", "int", "Left edge in pixels (inclusive)."),
    C("y0", "int", "Top edge in pixels (inclusive)."),
    C("x1", "int", "Right edge in pixels (exclusive)."),
    C("y1", "int", "Bottom edge in pixels (exclusive)."),
]

TABLES: dict[str, list[Column]] = {
    "trials": [
        C("trial_id", "int", "Trial id (trials.id); key of guesses.csv and cue_boxes.csv."),
        *_STUDY_KEYS,
        C("session_id", "int", "Quiz session id (one participant's run through the study)."),
        C("session_seed", "int", "Seed that shuffled this session's trial order."),
        C("position", "int", "0-based position of the trial in the session's order."),
        C("kind", "str", "main, practice or attention (only main trials count in analyses)."),
        C("dataset", "str", "Dataset the item comes from."),
        C("image_id", "int", "Image shown (single-view trials); empty for 4-view trials."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location shown (4-view trials); empty for single-view trials."),
        C("location_key", "str", "Dataset key of the location."),
        C("views_shown", "str", "Comma-separated views shown in a 4-view trial (north,east,south,west)."),
        C("true_label", "str", "True class of the item."),
        C("guess_1", "str", "The participant's first (best) guess; all ranks are in guesses.csv."),
        C("n_guesses", "int", "Number of ranked guesses given."),
        C(
            "correct_rank",
            "int",
            "Rank (1 = first) at which the true class was guessed; empty if not guessed.",
        ),
        C("top1_correct", "bool", "1 if the first guess is the true class."),
        C("top5_correct", "bool", "1 if the true class is among the first five guesses."),
        C(
            "confidence",
            "int",
            "Self-rated confidence on the study's scale (1 = lowest); empty if not asked.",
        ),
        C("response_time_ms", "int", "Time from showing the item to submitting, in milliseconds."),
        C("timed_out", "bool", "1 if the time limit ended the trial (the answer so far was saved)."),
        C("rationale", "str", "The participant's free-text reason for the guesses."),
        C("n_cue_boxes", "int", "Number of cue boxes drawn (details in cue_boxes.csv)."),
        C("shown_at", "time", "When the item was shown."),
        C("submitted_at", "time", "When the answer was saved."),
        C(
            "condition",
            "str",
            "Ablation studies: what the picture shown had removed: intact (nothing), model (the model's top "
            "elements) or random (random boxes of the same count, sizes and coverage); empty for other studies.",
        ),
        C(
            "participant_index",
            "int",
            "Ablation studies: the participant's index in the study's counterbalancing (0, 1, ...); empty otherwise.",
        ),
        C(
            "latin_row",
            "int",
            "Ablation studies: the Latin-square row the index selects (participant_index mod the number of "
            "conditions); empty otherwise.",
        ),
    ],
    "guesses": [
        C("trial_id", "int", "Trial id (trials.csv)."),
        *_STUDY_KEYS,
        C("kind", "str", "Trial kind: main, practice or attention."),
        C("rank", "int", "Rank of the guess, 1 = the participant's best guess."),
        C("label", "str", "Guessed class."),
        C("true_label", "str", "True class of the item."),
        C("correct", "bool", "1 if this guess is the true class."),
    ],
    "cue_boxes": [
        C("box_id", "int", "Cue box id (cue_boxes.id); COCO annotation attribute box_id."),
        C("trial_id", "int", "Trial id (trials.csv)."),
        *_STUDY_KEYS,
        C("kind", "str", "Trial kind: main, practice or attention."),
        C("image_id", "int", "Image the box was drawn on (for 4-view trials: the image of that view)."),
        C("image_key", "str", "Dataset key of that image."),
        C("location_id", "int", "Location of a 4-view trial; empty otherwise."),
        C("view", "str", "View the box was drawn on (4-view trials); empty otherwise."),
        C("tag", "str", "Cue tag chosen by the participant (geoquiz.types.CUE_TAGS)."),
        *_BOX,
        C("width", "int", "x1 - x0 in pixels."),
        C("height", "int", "y1 - y0 in pixels."),
        C("note", "str", "Optional note the participant attached to the box."),
    ],
    "model_predictions": [
        C("prediction_id", "int", "Prediction id (predictions.id)."),
        C("model", "str", "Model name."),
        C("dataset", "str", "Dataset of the item."),
        C("image_id", "int", "Image predicted (single-view models)."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location predicted (4-view models)."),
        C("location_key", "str", "Dataset key of the location."),
        C("split", "str", "Split of the item (train, val, test)."),
        C("true_label", "str", "True class of the item."),
        C("pred_label", "str", "The model's top-1 class."),
        C("confidence", "float", "Probability of the top-1 class (0..1)."),
        C("correct", "bool", "1 if pred_label is the true class."),
        C("true_rank", "int", "Rank of the true class in the model's ordering (1 = top); empty if unknown."),
        C("top5_correct", "bool", "1 if the true class is among the model's five most probable classes."),
        C("true_prob", "float", "Probability the model gave the true class (0..1)."),
        C("top5", "str", "The five most probable classes, best first, separated by |."),
        C("probs_json", "str", "Every class probability as a JSON object {class: probability}."),
        C("created_at", "time", "When the prediction was stored."),
    ],
    "elements": [
        C("element_id", "int", "Element id (elements.id); COCO annotation attribute element_id."),
        C("model", "str", "Model whose attribution map produced the element."),
        C("image_id", "int", "Image (for 4-view models: the image of the view)."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location of the image (4-view datasets); empty otherwise."),
        C("view", "str", "View of the map (4-view models); empty otherwise."),
        C("method", "str", "Attribution method (gradcam, gradcampp, scorecam, smoothgrad, ig)."),
        C("target", "str", "Class the attribution map explains."),
        C("segmenter", "str", "Segmenter that proposed the segments (default, sam_vit_b, ...)."),
        C("params_key", "str", "Key of the element-extraction parameters (top_p, s_min, ...)."),
        C("rank", "int", "Rank of the element, 1 = highest score (over all views of a location)."),
        C("x0", "int", "Left edge in the image's own pixels (inclusive), like cue_boxes.csv."),
        C("y0", "int", "Top edge in the image's pixels (inclusive)."),
        C("x1", "int", "Right edge in the image's pixels (exclusive)."),
        C("y1", "int", "Bottom edge in the image's pixels (exclusive)."),
        C(
            "input_size",
            "int",
            "The model's input resolution S: elements are computed on the image resized to S x S.",
        ),
        C(
            "input_x0",
            "int",
            "Left edge in the model's S x S input frame, as computed (x0 = input_x0 * width / S, "
            "rounded down).",
        ),
        C("input_y0", "int", "Top edge in the S x S input frame."),
        C("input_x1", "int", "Right edge in the S x S input frame (exclusive; x1 rounds up)."),
        C("input_y1", "int", "Bottom edge in the S x S input frame (exclusive)."),
        C("score", "float", "Geometric mean of overlap, mean_attr and centre_attr (0..1)."),
        C("overlap", "float", "Fraction of the segment inside the top-p salient region (0..1)."),
        C("mean_attr", "float", "Mean attribution inside the segment (0..1)."),
        C("centre_attr", "float", "Attribution at the segment's centre (0..1)."),
        C(
            "concept",
            "str",
            "Name of the element's segment: the concept prompt that found it (its highest-scoring one), "
            "for concept-prompted segmenters (sam3); empty otherwise.",
        ),
        C(
            "tag",
            "str",
            "Cue tag of that concept (geoquiz.types.CUE_TAGS, as in cue_boxes.csv); empty otherwise.",
        ),
        C(
            "concept_score",
            "float",
            "The segmenter's score for that concept on the segment (0..1); empty otherwise.",
        ),
    ],
    "faithfulness": [
        C("result_id", "int", "Result id (evaluation_results.id)."),
        C("run_id", "int", "Faithfulness run id (evaluation_runs.id)."),
        C("model", "str", "Model evaluated."),
        C("dataset", "str", "Dataset evaluated."),
        C("split", "str", "Split evaluated."),
        C("image_id", "int", "Image (for 4-view models: the north view)."),
        C("image_key", "str", "Dataset key of the image."),
        C("method", "str", "Attribution method."),
        C("segmenter", "str", "Segmenter."),
        C("test", "str", "deletion (the boxes are removed) or insertion (only the boxes are kept)."),
        C("selection", "str", "guided (the model's elements) or random (boxes of matched coverage)."),
        C("fill", "str", "How removed pixels were filled (blur, mean, black, road)."),
        C("repeat", "int", "Repeat number of a random selection (0 for guided)."),
        C("seed", "int", "Random seed of the repeat."),
        C("n_boxes", "int", "Number of boxes removed or kept."),
        C("coverage", "float", "Fraction of the image area covered by the boxes (0..1)."),
        C("correct", "bool", "1 if the model was right on the perturbed input."),
        C("true_prob", "float", "Probability of the true class on the perturbed input (0..1)."),
        C("base_correct", "bool", "1 if the model was right on the intact input."),
        C("base_true_prob", "float", "Probability of the true class on the intact input (0..1)."),
        C("location_id", "int", "Location (4-view models); empty otherwise."),
        C("run_kind", "str", "Kind of run: grid (faithfulness) or p_sweep (choice of top-p)."),
        C(
            "n_segments",
            "int",
            "Segments the segmenter produced on the image (all views); empty for p-sweep rows and older runs.",
        ),
        C(
            "segment_coverage",
            "float",
            "Fraction of the image inside the union of those segments (0..1); empty like n_segments.",
        ),
        C(
            "selection_source",
            "str",
            "Whose boxes the guided selection is: model (the model's elements) or human (participants' cue "
            "boxes; method is then human and segmenter the scope).",
        ),
        C(
            "human_scope",
            "str",
            "For human rows: trial (one participant's boxes on one trial), item (the union of every "
            "participant's boxes on the item) or tag (that union restricted to one cue tag); empty otherwise.",
        ),
        C("trial_id", "int", "For human trial rows: the trial whose boxes were tested (trials.csv)."),
        C("participant", "str", "For human trial rows: the participant code of that trial."),
        C("cue_tag", "str", "For human tag rows: the cue tag whose boxes were tested."),
    ],
    "agreement": [
        C("run_id", "int", "Agreement run id (agreement_runs.id)."),
        C("model", "str", "Model compared with the participants."),
        C("study", "str", "Study whose answers were used; empty = every study."),
        C("method", "str", "Attribution method of the model's maps and elements."),
        C("segmenter", "str", "Segmenter of the model's elements."),
        C("params_key", "str", "Element-extraction parameters (JSON; empty = project defaults)."),
        C("scope", "str", "item (one image or location), class (one true class) or overall."),
        C("image_id", "int", "Image of an item row (single-view items)."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location of an item row (4-view items)."),
        C("location_key", "str", "Dataset key of the location."),
        C("label", "str", "True class of the item, or the class of a class row."),
        C(
            "reference",
            "str",
            "What the model is compared with: human (cue boxes), planted (GeoScenes cues), "
            "or empty for answer measures.",
        ),
        C("metric", "str", "Measure name; see the metric list in docs/codebook.md."),
        C(
            "tag",
            "str",
            "Cue tag for tag_overlap, top_tag, top_tag_share, model_tag_share and ref_tag_share rows; "
            "empty otherwise.",
        ),
        C("value", "float", "Value of the measure."),
        C("n", "int", "Sample size behind the value (trials, boxes or items, see the metric list)."),
        C("ci_low", "float", "Lower end of the 95 % interval (Wilson for proportions, bootstrap otherwise)."),
        C("ci_high", "float", "Upper end of the 95 % interval."),
    ],
    "planted_cues": [
        C("cue_id", "int", "Planted cue id (planted_cues.id)."),
        C("dataset", "str", "Dataset of the image."),
        C("image_id", "int", "Image the cue was planted in."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location of the image (4-view datasets); empty otherwise."),
        C("view", "str", "View of the image (4-view datasets); empty otherwise."),
        C("tag", "str", "Cue tag (geoquiz.types.CUE_TAGS)."),
        C("detail", "str", "What exactly was drawn (e.g. triangle sign)."),
        *_BOX,
    ],
    "session_events": [
        C("event_id", "int", "Session event id (session_events.id)."),
        *_STUDY_KEYS,
        C("session_id", "int", "Quiz session the event happened in (key of trials.csv's session_id)."),
        C("position", "int", "0-based position of the trial shown when it happened; empty if none was."),
        C(
            "kind",
            "str",
            "pause (the trial clock stopped while the researcher's unlock prompt was open), image_error "
            "(a picture could not be shown; the participant saw a neutral message) or save_error (an answer "
            "could not be saved and the participant was asked to call the researcher).",
        ),
        C("started_at", "time", "When it started."),
        C("ended_at", "time", "When it ended (pauses); empty for instant events."),
        C("duration_ms", "int", "How long it lasted, in milliseconds (pauses); empty for instant events."),
        C(
            "detail",
            "str",
            "What happened, as JSON for the researcher (for image_error the file and the error, which "
            "participants never see).",
        ),
    ],
    "codebook": [
        C("table", "str", "Exported table (file name without .csv)."),
        C("column", "str", "Column name."),
        C("type", "str", "int, float, bool (0/1), str or time (ISO 8601 UTC)."),
        C("description", "str", "What the column holds."),
    ],
}

#: CSV files written by analyses rather than by ``geoquiz export`` (``geoquiz bothways``, ``geoquiz
#: study ablation``, the Dashboards' both-ways panel): listed in docs/codebook.md, not in the export.
_VALUE = [
    C("value", "float", "The value (a difference: first minus second condition)."),
    C("ci_low", "float", "Lower end of its 95 % bootstrap interval over items."),
    C("ci_high", "float", "Upper end of that interval."),
    C(
        "p_value",
        "float",
        "Two-sided Wilcoxon signed-rank p-value over items (1 when every difference is 0).",
    ),
]
ANALYSIS_TABLES: dict[str, list[Column]] = {
    "both_ways": [
        C(
            "direction",
            "str",
            "model_needs_people (the model's answer without people's cue boxes) or people_need_model "
            "(people's answers without the model's evidence, from an ablation study).",
        ),
        C("scope", "str", "item (one image or 4-view location) or overall (items pooled)."),
        C("study", "str", "Study slug."),
        C(
            "model",
            "str",
            "Model tested (model_needs_people) or whose elements were removed (people_need_model).",
        ),
        C("run_id", "int", "Faithfulness run with people's boxes (model_needs_people); empty otherwise."),
        C("set_id", "int", "Prepared set of ablated pictures (people_need_model); empty otherwise."),
        C("image_id", "int", "Image of an item row (single-view items)."),
        C("image_key", "str", "Dataset key of the image."),
        C("location_id", "int", "Location of an item row (4-view items)."),
        C("location_key", "str", "Dataset key of the location."),
        C("label", "str", "True class of the item."),
        C(
            "who",
            "str",
            "Whose answers: model or people (people_need_model has both: the model on the same pictures).",
        ),
        C(
            "test",
            "str",
            "deletion (people's boxes removed) or insertion (only them kept) for model_needs_people; "
            "ablation for people_need_model.",
        ),
        C(
            "measure",
            "str",
            "true_prob (probability of the true class), accuracy / top1 (first answer right), topk (true "
            "class among the first k answers, k = the study's top_k) or confidence (people's rating).",
        ),
        C("intact_value", "float", "The measure on the intact pictures."),
        C(
            "removed_value",
            "float",
            "The measure with the evidence removed: people's boxes (model_needs_people) or the model's top "
            "elements (people_need_model).",
        ),
        C(
            "random_value",
            "float",
            "The measure with random boxes of the same count, sizes and coverage removed.",
        ),
        C(
            "removed_minus_random",
            "float",
            "removed_value - random_value: below 0 (deletion, ablation) = the evidence is needed beyond its area.",
        ),
        C(
            "ci_low",
            "float",
            "Lower end of the 95 % bootstrap interval of removed_minus_random: over items (overall rows) or over "
            "the random repeats (model item rows); empty for people's item rows.",
        ),
        C("ci_high", "float", "Upper end of that interval."),
        C("p_value", "float", "Two-sided Wilcoxon signed-rank p-value over the same units as the interval."),
        C(
            "n",
            "int",
            "Items (overall), random repeats (model item rows) or trials and pictures (people_need_model items).",
        ),
        C("removed_coverage", "float", "Mean fraction of the picture inside the removed evidence's boxes."),
        C("random_coverage", "float", "Mean fraction inside the random boxes (matched to removed_coverage)."),
    ],
    "ablation_conditions": [
        C(
            "condition",
            "str",
            "intact, model (the model's top elements removed) or random (matched random boxes).",
        ),
        C("n_trials", "int", "Main trials shown in the condition."),
        C("n_items", "int", "Items shown in the condition."),
        C("n_participants", "int", "Participants who saw the condition."),
        C("top1", "float", "People's top-1 accuracy (share of trials)."),
        C("top1_lo", "float", "Wilson 95 % interval, lower end."),
        C("top1_hi", "float", "Wilson 95 % interval, upper end."),
        C("topk", "float", "People's top-k accuracy (k = the study's responses.top_k)."),
        C("topk_lo", "float", "Wilson 95 % interval, lower end."),
        C("topk_hi", "float", "Wilson 95 % interval, upper end."),
        C("confidence", "float", "Mean confidence rating (the study's scale)."),
        C("confidence_lo", "float", "Bootstrap 95 % interval over trials, lower end."),
        C("confidence_hi", "float", "Bootstrap 95 % interval over trials, upper end."),
        C("model_n_items", "int", "Items whose prepared pictures the model answered."),
        C("model_top1", "float", "The model's top-1 accuracy on the same pictures (share of items)."),
        C("model_top1_lo", "float", "Wilson 95 % interval, lower end."),
        C("model_top1_hi", "float", "Wilson 95 % interval, upper end."),
        C("model_topk", "float", "The model's top-k accuracy on the same pictures."),
        C("model_topk_lo", "float", "Wilson 95 % interval, lower end."),
        C("model_topk_hi", "float", "Wilson 95 % interval, upper end."),
        C("model_true_prob", "float", "The model's mean probability of the true class on the same pictures."),
        C("model_true_prob_lo", "float", "Bootstrap 95 % interval over items, lower end."),
        C("model_true_prob_hi", "float", "Bootstrap 95 % interval over items, upper end."),
        C("coverage", "float", "Mean fraction of the picture removed."),
    ],
    "ablation_differences": [
        C("contrast", "str", "model - random (the headline), model - intact or random - intact."),
        C("who", "str", "people or model (the model's answers on the same pictures)."),
        C("measure", "str", "top1, topk, confidence (people) or true_prob (model)."),
        C("n_items", "int", "Items seen in both conditions (the pairing unit)."),
        *_VALUE,
    ],
}

#: The measures in agreement.csv (see geoquiz.agreement and geoquiz.agreement).
METRICS: dict[str, str] = {
    "n_trials": "Main trials on the item (n = the same).",
    "n_participants": "Distinct participants who answered.",
    "n_items": "Items with answers (overall).",
    "n_human_boxes": "Cue boxes drawn on the item by every participant.",
    "n_elements": "Model elements on the item (over all views).",
    "human_top1": "Share of trials whose first guess is right (Wilson CI; n = trials). Overall and per "
    "class: on the items the model also answered.",
    "human_top5": "Share of trials with the true class among the first five guesses.",
    "human_top1_all_items": "Overall human top-1 over every item with answers, model or not.",
    "human_top5_all_items": "Overall human top-5 over every item with answers.",
    "model_top1": "1 if the model's top class is right (overall: share of items, Wilson CI).",
    "model_top5": "1 if the true class is among the model's five most probable classes.",
    "model_minus_human_top1": "Model minus human top-1 accuracy, human first averaged per item (bootstrap CI over items).",
    "model_minus_human_top5": "The same for top-5.",
    "model_confidence": "Probability of the model's top class.",
    "model_true_prob": "Probability the model gave the true class.",
    "human_agreement": "Share of participant pairs giving the same first guess (Fleiss' P_i).",
    "fleiss_kappa": "Fleiss' kappa of the participants' first guesses over items (bootstrap CI; n = items).",
    "observed_agreement": "Fleiss' P-bar: mean observed agreement.",
    "chance_agreement": "Fleiss' P_e: agreement expected by chance.",
    "mask_iou": "IoU of the union of the reference boxes and the union of the model's elements (pixels).",
    "ref_coverage": "Share of the reference boxes' area covered by the model's elements.",
    "model_precision": "Share of the model's element area inside reference boxes.",
    "ref_best_iou": "Mean over reference boxes of the best IoU with any element.",
    "model_best_iou": "Mean over elements of the best IoU with any reference box.",
    "attribution_mass": "Share of the attribution map's mass inside the reference boxes.",
    "mass_ratio": "attribution_mass divided by the boxes' share of the image area (1 = chance).",
    "pointing_hit": "Pointing game: 1 if the centre of the model's top element is inside a reference box "
    "(overall: share of items, Wilson CI).",
    "pointing_share": "Share of participants whose own boxes contain the top element's centre.",
    "heatmap_pointing_hit": "Classic pointing game with the attribution map's maximum.",
    "tag_overlap": "Share of the model's element area overlapping reference boxes of this tag.",
    "top_tag": "The tag with the highest tag_overlap on the item (value = that overlap).",
    "top_tag_share": "Share of items whose top tag is this tag (overall).",
    "human_ref_coverage": "Share of the planted cues' area covered by a participant's boxes (mean over trials).",
    "human_precision": "Share of a participant's box area on planted cues (mean over trials).",
    "model_tag_share": "Tag agreement (elements named by a concept segmenter, sam3): share of the model's "
    "named elements with this tag (item: Wilson CI, n = named elements; overall: mean over items, bootstrap CI).",
    "ref_tag_share": "Share of this tag among the reference's cue boxes (human: mean over the trials that drew "
    "boxes, n = trials, bootstrap CI over trials; planted: n = cues).",
    "tag_agreement": "Histogram intersection of the model's and the reference's tag distributions, "
    "sum of min(model share, reference share) = 1 - total variation distance (0..1; item: CI over trials; "
    "overall: mean over items, bootstrap CI).",
    "tag_agreement_chance": "Chance baseline of tag_agreement: the reference compared with the model's tag "
    "distribution on the other items (item: mean over them, n = them; overall: mean over ordered pairs of "
    "different items, bootstrap CI over items).",
    "tag_agreement_excess": "tag_agreement minus tag_agreement_chance, overall (paired bootstrap CI over items; "
    "above 0: the model's kinds of cues follow the image).",
}


def column_names(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]


def described(column: Column, note: str = NEUTRALISED_NOTE) -> str:
    """The column's description; a text column's ends with ``note`` (the leading-``'`` formula guard)."""
    return f"{column.description} {note}" if column.type == "str" else column.description


def codebook_rows(tables: list[str] | None = None) -> list[dict[str, str]]:
    """Rows of codebook.csv for ``tables`` (default: every table). The description of every text
    column says that a leading ``'`` is added to cells a spreadsheet would run (:data:`NEUTRALISED_NOTE`)."""
    names = list(TABLES) if tables is None else [*tables, "codebook"]
    return [
        {"table": t, "column": c.name, "type": c.type, "description": described(c)}
        for t in names
        for c in TABLES[t]
    ]


def codebook_markdown() -> str:
    """docs/codebook.md: every exported table and column, then the agreement measures."""
    lines = [
        "# Codebook of the study export",
        "",
        "Generated from `geoquiz/study/export_codebook.py` (`python -m geoquiz.study.export_codebook > "
        "docs/codebook.md`); `geoquiz export` writes the same table as `codebook.csv`.",
        "",
        "Files: one CSV per table below (UTF-8, comma-separated, header row, empty cell = missing), "
        "`codebook.csv`, `coco_boxes.json` (COCO detection format: the participants' cue boxes with one "
        "category per cue tag and the model's elements as category `model_element`; the `attributes` of "
        "each annotation link it back to `cue_boxes.csv` / `elements.csv`) and `manifest.json` (export time, "
        "row counts). Boxes are XYXY pixels, inclusive-exclusive.",
        "",
        "Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a "
        "carriage return) are written with a leading `'`; numbers are written as numbers. This can happen "
        "in every `str` column (marked *formula guard* below); `codebook.csv` says it in the description "
        "of each such column. Remove the leading `'` to get the original text.",
        "",
    ]
    for table, cols in TABLES.items():
        lines += [f"## {table}.csv", "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.type} | {described(c, '*' + NEUTRALISED_MARK + '*')} |" for c in cols]
        lines.append("")
    lines += [
        "## Agreement measures (agreement.csv, column `metric`)",
        "",
        "| metric | meaning |",
        "|---|---|",
    ]
    lines += [f"| {m} | {d} |" for m, d in METRICS.items()]
    lines += [
        "",
        "# Analysis files",
        "",
        "Written by `geoquiz bothways` (`both_ways.csv`), `geoquiz study ablation` (`ablation_conditions.csv`, "
        "`ablation_differences.csv`) and the Dashboards' both-ways panel, not by `geoquiz export`; "
        "[both_ways.md](both_ways.md) explains the measures.",
        "",
    ]
    for table, cols in ANALYSIS_TABLES.items():
        lines += [f"## {table}.csv", "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.type} | {described(c, '*' + NEUTRALISED_MARK + '*')} |" for c in cols]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(codebook_markdown(), end="")
