"""Ablated trials (issue 13): studies that show each item in one condition per participant.

* ``trials.condition``: ``intact``, ``model`` (the model's top elements removed) or ``random``
  (matched random boxes removed) for trials of a study with ``[trials] ablation``; NULL otherwise.
* ``sessions.participant_index`` / ``sessions.latin_row``: the participant's index in the study's
  counterbalancing (the smallest index no other non-declined session holds) and the Latin-square row
  it selects (``participant_index mod`` the number of conditions); NULL for other studies.
* ``ablation_sets``: one preparation of a study's ablated pictures (its configuration: model and
  its file hash, method, segmenter, element parameters, fill, top-k, seed, conditions), ``status``
  ``preparing`` or ``done``.
* ``ablation_items``: per set, item and condition, the picture files (``paths_json``: view ->
  path relative to the project folder; empty for ``intact``, which shows the original files), the
  boxes removed in image pixels, their union coverage, the random seed, and the model's own answer
  on those pictures (``pred_label``, ``true_prob``, ``correct``, ``topk_correct``).
"""

NAME = "0131_ablation"

STATEMENTS = [
    "ALTER TABLE trials ADD COLUMN condition TEXT",
    "ALTER TABLE sessions ADD COLUMN participant_index INTEGER",
    "ALTER TABLE sessions ADD COLUMN latin_row INTEGER",
    """CREATE TABLE ablation_sets (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        config_key TEXT NOT NULL,
        config_json TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'preparing' CHECK (status IN ('preparing', 'done')),
        summary_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        finished_at TEXT,
        UNIQUE (study_id, config_key)
    )""",
    """CREATE TABLE ablation_items (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES ablation_sets(id) ON DELETE CASCADE,
        item_key TEXT NOT NULL,
        image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
        location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
        condition TEXT NOT NULL CHECK (condition IN ('intact', 'model', 'random')),
        paths_json TEXT NOT NULL DEFAULT '{}',
        boxes_json TEXT NOT NULL DEFAULT '[]',
        n_boxes INTEGER NOT NULL DEFAULT 0,
        coverage REAL NOT NULL DEFAULT 0,
        seed INTEGER,
        pred_label TEXT,
        true_prob REAL,
        correct INTEGER,
        topk_correct INTEGER,
        UNIQUE (set_id, item_key, condition)
    )""",
    "CREATE INDEX idx_trials_condition ON trials (condition)",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
