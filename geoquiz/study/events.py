"""Session events (the ``session_events`` table, migration 0081): pauses of the trial clock and
problems the participant was only told about in plain words (a picture that could not be shown, an
answer that could not be saved). The details are for the researcher: they may name files and
labels, so they are never shown on a participant page.

Each event is written in its own transaction when it ends. Times are ISO 8601 UTC strings (as every
``*_at`` column); ``duration_ms`` is in milliseconds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from geoquiz.db import insert, now, transaction

EVENT_KINDS = ("pause", "image_error", "save_error")
log = logging.getLogger("geoquiz.quiz")


@dataclass(frozen=True)
class SessionEvent:
    id: int
    session_id: int
    position: int | None
    kind: str
    started_at: str
    ended_at: str | None
    duration_ms: int | None
    detail: dict[str, Any]


def record_event(
    db: Any,
    session_id: int,
    kind: str,
    *,
    position: int | None = None,
    started_at: str | None = None,
    ended_at: str | None = None,
    duration_ms: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Store one event (one transaction) and log it on the ``geoquiz.quiz`` logger; returns its id."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown session event {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    stamp = now()
    row = {
        "session_id": int(session_id),
        "position": position,
        "kind": kind,
        "started_at": started_at or stamp,
        "ended_at": ended_at,
        "duration_ms": None if duration_ms is None else int(duration_ms),
        "detail_json": json.dumps(detail or {}, sort_keys=True, default=str),
    }
    with transaction(db):
        event_id = insert(db, "session_events", row)
    level = logging.INFO if kind == "pause" else logging.WARNING
    log.log(level, "session %s, trial %s: %s %s", session_id, position, kind, row["detail_json"])
    return event_id


def session_events(db: Any, session_id: int, kind: str | None = None) -> list[SessionEvent]:
    """The events of one session (optionally of one kind), oldest first."""
    sql = (
        "SELECT id, session_id, position, kind, started_at, ended_at, duration_ms, detail_json "
        "FROM session_events WHERE session_id = ?"
    )
    params: list[Any] = [int(session_id)]
    if kind is not None:
        sql += " AND kind = ?"
        params.append(kind)
    rows = db.execute(sql + " ORDER BY id", params).fetchall()
    return [SessionEvent(*r[:7], detail=json.loads(r[7] or "{}")) for r in rows]


def event_counts(db: Any, study_id: int) -> dict[int, dict[str, int]]:
    """``{session id: {kind: count}}`` for the sessions of one study that have events."""
    rows = db.execute(
        "SELECT e.session_id, e.kind, COUNT(*) FROM session_events e JOIN sessions s ON s.id = e.session_id "
        "WHERE s.study_id = ? GROUP BY e.session_id, e.kind",
        [int(study_id)],
    ).fetchall()
    out: dict[int, dict[str, int]] = {}
    for sid, kind, n in rows:
        out.setdefault(int(sid), {})[kind] = int(n)
    return out
