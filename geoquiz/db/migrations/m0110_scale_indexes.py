"""Indexes for study data at scale (100,000 trials and more): every filter and join of the export,
the Review tab and the Dashboards finds its rows through an index (``tests/export/test_query_plans``
checks the plans).

* ``cue_boxes (trial_id)``: a trial's boxes (Review, the export's ``n_cue_boxes``);
* ``guesses (trial_id, rank, label)``: a trial's first guess and whether the truth is among its
  first five without reading the table (Dashboards, the export's ``guess_1``);
* ``trials (image_id)`` and ``trials (location_id)``: the answers on one item (Review);
* ``images (location_id, view)``: the image of a 4-view box's view, a location's views;
* ``sessions (study_id)``: one study's trials;
* ``model_evaluations``, ``evaluation_runs``, ``agreement_runs`` ``(model_id)``: a model's newest
  evaluation, faithfulness run and agreement run (Dashboards, Review).
"""

NAME = "0110_scale_indexes"

STATEMENTS = [
    "CREATE INDEX idx_cue_boxes_trial ON cue_boxes (trial_id)",
    "CREATE INDEX idx_guesses_trial_rank_label ON guesses (trial_id, rank, label)",
    "CREATE INDEX idx_trials_image ON trials (image_id)",
    "CREATE INDEX idx_trials_location ON trials (location_id)",
    "CREATE INDEX idx_images_location ON images (location_id, view)",
    "CREATE INDEX idx_sessions_study ON sessions (study_id)",
    "CREATE INDEX idx_model_evaluations_model ON model_evaluations (model_id)",
    "CREATE INDEX idx_evaluation_runs_model ON evaluation_runs (model_id)",
    "CREATE INDEX idx_agreement_runs_model ON agreement_runs (model_id)",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
