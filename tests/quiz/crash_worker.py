"""A participant session running in its own process, for the crash test (killed with SIGKILL).

Usage: ``python crash_worker.py PROJECT_ROOT SESSION_ID N`` - submits the next ``N`` unanswered trials
(each committed, printing ``committed <position>``), then starts one more submission inside an outer
transaction that it never commits, prints ``holding <position>`` and sleeps until it is killed. With
``N`` = -1 it submits every remaining trial and prints ``done``.
"""

from __future__ import annotations

import sys
import time

from geoquiz.boxes import Box
from geoquiz.db import transaction
from geoquiz.project import Project
from geoquiz.study.session import QuizSession, TrialResponse
from geoquiz.types import CueBox


def response_for(session: QuizSession, position: int) -> TrialResponse:
    """A deterministic answer for ``position`` (so the test can check exactly what was stored)."""
    spec = session.order[position]
    options = list(session.options)
    guesses = tuple(options[(position + i) % len(options)] for i in range(min(2, len(options))))
    views = spec.views or (None,)
    boxes = tuple(CueBox(Box(5 + position, 6, 30 + position, 40), "signs", view=v) for v in views[:2])
    return TrialResponse(
        guesses=guesses,
        rationale=f"answer {position}",
        confidence=1 + position % 5,
        boxes=boxes,
        response_time_ms=1000 + position,
    )


def main(root: str, session_id: int, n: int) -> None:
    project = Project.open(root)
    session = QuizSession.load(project.db, session_id)
    count = 0
    while (spec := session.next_trial()) is not None and (n < 0 or count < n):
        session.submit(spec.position, response_for(session, spec.position))
        print(f"committed {spec.position}", flush=True)
        count += 1
    if n < 0:
        print("done", flush=True)
        return
    spec = session.next_trial()
    with transaction(project.db):  # never committed: the process is killed inside it
        session.submit(spec.position, response_for(session, spec.position))
        print(f"holding {spec.position}", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
