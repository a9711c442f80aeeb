"""Record which views a 4-view trial showed and an optional note on each cue box."""

NAME = "0002_trial_views"


def apply(db) -> None:
    db.execute("ALTER TABLE trials ADD COLUMN views_shown TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE cue_boxes ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX idx_trials_session ON trials (session_id, position)")
