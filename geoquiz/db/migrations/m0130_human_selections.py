"""People's cue boxes as an explanation of the model (issue 13): faithfulness results of people's
boxes stored beside the model's elements in ``evaluation_results``.

* ``selection_source``: whose boxes the guided selection is, ``model`` (the model's elements, every
  older row) or ``human`` (participants' cue boxes; ``method`` is then ``human`` and ``segmenter``
  the scope).
* ``human_scope``: for ``human`` rows, ``trial`` (one participant's boxes on one trial), ``item``
  (the union of every participant's boxes on the item) or ``tag`` (that union restricted to one cue
  tag); NULL for model rows.
* ``trial_id``: the trial of a ``trial`` row (its participant through ``trials.session_id``).
* ``cue_tag``: the cue tag of a ``tag`` row.
"""

NAME = "0130_human_selections"

STATEMENTS = [
    "ALTER TABLE evaluation_results ADD COLUMN selection_source TEXT NOT NULL DEFAULT 'model' "
    "CHECK (selection_source IN ('model', 'human'))",
    "ALTER TABLE evaluation_results ADD COLUMN human_scope TEXT "
    "CHECK (human_scope IS NULL OR human_scope IN ('trial', 'item', 'tag'))",
    "ALTER TABLE evaluation_results ADD COLUMN trial_id INTEGER REFERENCES trials(id) ON DELETE CASCADE",
    "ALTER TABLE evaluation_results ADD COLUMN cue_tag TEXT",
    "CREATE INDEX idx_eval_results_trial ON evaluation_results (trial_id)",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
