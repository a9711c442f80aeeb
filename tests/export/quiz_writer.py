"""A participant kiosk in its own process, for the concurrent-export test.

Usage: ``python quiz_writer.py PROJECT_ROOT GO_FILE SESSION_ID...`` - waits until ``GO_FILE`` exists,
then submits every unanswered trial of each session through geoquiz.study.session (one transaction
per trial), printing ``committed <session> <position>`` after each and ``done <count>`` at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from geoquiz.boxes import Box
from geoquiz.project import Project
from geoquiz.study.session import QuizSession, TrialResponse
from geoquiz.types import CueBox


def response_for(session: QuizSession, position: int) -> TrialResponse:
    """A deterministic answer (its rationale is one a spreadsheet would run as a formula)."""
    options = list(session.options)
    guesses = tuple(options[(session.id + position + i) % len(options)] for i in range(2))
    return TrialResponse(
        guesses=guesses,
        rationale=f'=HYPERLINK("s{session.id}p{position}")',
        confidence=1 + position % 5,
        boxes=(CueBox(Box(3 + position, 4, 40 + position, 30), "signs"),),
        response_time_ms=500 + 10 * position,
    )


def main(root: str, go_file: str, session_ids: list[int]) -> None:
    go = Path(go_file)
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.01)
    count = 0
    with Project.open(root) as project:
        for sid in session_ids:
            session = QuizSession.load(project.db, sid)
            while (spec := session.next_trial()) is not None:
                session.submit(spec.position, response_for(session, spec.position))
                count += 1
                print(f"committed {sid} {spec.position}", flush=True)
    print(f"done {count}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]])
