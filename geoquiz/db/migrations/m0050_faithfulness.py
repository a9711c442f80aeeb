"""Faithfulness results for 4-view locations, the progressive curves, and the run's kind.

* ``evaluation_results.location_id``: set for 4-view models (``image_id`` is then the north view).
* ``evaluation_curves``: one row per step ``k`` of a progressive deletion / insertion curve.
* ``evaluation_runs.kind``: ``grid`` (a faithfulness run) or ``p_sweep`` (the choice of top-p).
"""

NAME = "0050_faithfulness"


def apply(db) -> None:
    db.execute(
        "ALTER TABLE evaluation_results ADD COLUMN location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE"
    )
    db.execute("ALTER TABLE evaluation_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'grid'")
    db.execute(
        """
        CREATE TABLE evaluation_curves (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
            image_id INTEGER REFERENCES images(id) ON DELETE CASCADE,
            location_id INTEGER REFERENCES locations(id) ON DELETE CASCADE,
            method TEXT NOT NULL,
            segmenter TEXT NOT NULL,
            test TEXT NOT NULL CHECK (test IN ('deletion', 'insertion')),
            selection TEXT NOT NULL CHECK (selection IN ('guided', 'random')),
            repeat INTEGER NOT NULL DEFAULT 0,
            seed INTEGER,
            k INTEGER NOT NULL,
            n INTEGER NOT NULL,
            coverage REAL NOT NULL,
            correct INTEGER NOT NULL,
            true_prob REAL NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX idx_eval_curves_run ON evaluation_curves (run_id, method, segmenter, test, selection)"
    )
    db.execute("CREATE INDEX idx_eval_results_image ON evaluation_results (run_id, image_id, location_id)")
