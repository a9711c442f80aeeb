"""What happened during a quiz session besides the answers: ``session_events``.

One row per event, written the moment it ends (its own transaction), so a crash keeps it:

* ``pause``: the trial clock was stopped (the researcher's unlock prompt was open). ``position`` is
  the trial, ``started_at`` / ``ended_at`` the wall-clock times, ``duration_ms`` the time the clock
  stood still; ``detail_json`` says why (``{"reason": "researcher prompt", "outcome": ...}``). The
  trial's ``response_time_ms`` excludes it.
* ``image_error``: a picture could not be shown; ``detail_json`` has the error and the file(s), for
  the researcher only (the participant sees "this picture could not be shown").
* ``save_error``: an answer could not be saved (the participant was asked to try again).

Old projects gain the empty table; nothing else changes.
"""

NAME = "0081_session_events"


def apply(db) -> None:
    db.execute(
        """
        CREATE TABLE session_events (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            position INTEGER,
            kind TEXT NOT NULL CHECK (kind IN ('pause', 'image_error', 'save_error')),
            started_at TEXT NOT NULL,
            ended_at TEXT,
            duration_ms INTEGER,
            detail_json TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX idx_session_events_session ON session_events (session_id, position)")
