"""Counterfactual cue importance on GeoScenes (issue 14, :mod:`geoquiz.ground_truth.causal`).

* ``causal_units``: one row per model (checkpoint content hash) x dataset x image (or 4-view
  location): the model's true-class probability and top-1 on the scene as rendered.
* ``causal_cues``: one row per counterfactual of a unit: the scene without one planted cue object
  (``kind = 'object'``: its plan ``instance`` index, ``view``, key, tag, detail and visible box XYXY in
  the image frame) or without every listed object of one cue tag (``kind = 'tag'``, all views at
  once, no box): the true-class probability then, its ``drop`` (as rendered minus without; > 0 = the
  cue helped the true class) and the top-1 then (``flipped`` = it differs from the unit's).

A unit and its cues are written in one transaction, so a unit is either complete or absent (resume =
compute the absent ones).
"""

NAME = "0140_causal"

STATEMENTS = [
    """
    CREATE TABLE causal_units (
        id INTEGER PRIMARY KEY,
        model_name TEXT NOT NULL,
        model_hash TEXT NOT NULL,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
        location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
        unit_key TEXT NOT NULL,
        label TEXT NOT NULL,
        true_prob REAL NOT NULL,
        pred_label TEXT NOT NULL,
        n_renders INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (model_hash, dataset_id, unit_key)
    )
    """,
    """
    CREATE TABLE causal_cues (
        id INTEGER PRIMARY KEY,
        unit_id INTEGER NOT NULL REFERENCES causal_units(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('object', 'tag')),
        view TEXT,
        instance INTEGER,
        cue_key TEXT,
        tag TEXT NOT NULL,
        detail TEXT,
        x0 INTEGER,
        y0 INTEGER,
        x1 INTEGER,
        y1 INTEGER,
        true_prob REAL NOT NULL,
        drop_prob REAL NOT NULL,
        pred_label TEXT NOT NULL,
        flipped INTEGER NOT NULL
    )
    """,
    "CREATE INDEX idx_causal_cues_unit ON causal_cues (unit_id)",
    "CREATE INDEX idx_causal_units_model ON causal_units (model_hash, dataset_id)",
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute(statement)
