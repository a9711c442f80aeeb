"""A session process is killed with SIGKILL in the middle of a submission, then resumed: nothing
answered is lost, nothing is duplicated, and the order is the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from crash_worker import response_for  # tests/quiz is on sys.path (pytest rootdir imports)

from geoquiz.project import Project
from geoquiz.study.session import QuizSession
from geoquiz.study.store import install_study

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _worker(root: Path, session_id: int, n: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{HERE}")
    return subprocess.Popen(
        [sys.executable, str(HERE / "crash_worker.py"), str(root), str(session_id), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _rows(db, session_id: int) -> dict:
    trials = db.execute(
        "SELECT position, kind, true_label, rationale, confidence, response_time_ms FROM trials "
        "WHERE session_id = ? ORDER BY position",
        [session_id],
    ).fetchall()
    guesses = db.execute(
        "SELECT t.position, g.rank, g.label FROM guesses g JOIN trials t ON t.id = g.trial_id "
        "WHERE t.session_id = ? ORDER BY t.position, g.rank",
        [session_id],
    ).fetchall()
    boxes = db.execute(
        "SELECT t.position, b.view, b.tag, b.x0, b.y0, b.x1, b.y1 FROM cue_boxes b JOIN trials t ON t.id = b.trial_id "
        "WHERE t.session_id = ? ORDER BY t.position, b.id",
        [session_id],
    ).fetchall()
    return {"trials": trials, "guesses": guesses, "boxes": boxes}


def _expected(session: QuizSession, positions: list[int]) -> dict:
    trials, guesses, boxes = [], [], []
    for pos in positions:
        spec, r = session.order[pos], response_for(session, pos)
        trials.append((pos, spec.kind, spec.label, r.rationale, r.confidence, r.response_time_ms))
        guesses += [(pos, n + 1, g) for n, g in enumerate(r.guesses)]
        boxes += [(pos, b.view, b.tag, *b.box.as_tuple()) for b in r.boxes]
    return {"trials": trials, "guesses": guesses, "boxes": boxes}


@pytest.mark.parametrize("study_file", ["geoscenes_countries.toml", "geoscenes_4view.toml"])
def test_sigkill_midway_then_resume(quiz_project_root, study_file):
    with Project.open(quiz_project_root) as project:
        install_study(project, REPO / "studies" / study_file)
        slug = project.db.execute("SELECT slug FROM studies").fetchone()[0]
        session = QuizSession.create(project.db, slug, seed=11)
        session.accept_consent()
        session.begin_trials()
        order_before, session_id = session.order, session.id
        n_total = len(order_before)

    proc = _worker(quiz_project_root, session_id, 3)
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if line.startswith("holding"):
            break
    assert lines == ["committed 0", "committed 1", "committed 2", "holding 3"], proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL

    with Project.open(quiz_project_root) as project:
        resumed = QuizSession.load(project.db, session_id)
        assert resumed.order == order_before and resumed.seed == 11
        assert resumed.next_trial().position == 3  # the half-written trial 3 is not there
        assert resumed.state == "running"
        assert _rows(project.db, session_id) == _expected(resumed, [0, 1, 2])

    proc = _worker(quiz_project_root, session_id, -1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == [w for p in range(3, n_total) for w in ("committed", str(p))] + ["done"]

    with Project.open(quiz_project_root) as project:
        final = QuizSession.load(project.db, session_id)
        again = final.submit(1, response_for(final, 1))
        assert again.created is False  # replaying a submitted position writes nothing
        assert _rows(project.db, session_id) == _expected(final, list(range(n_total)))
        assert final.state == "finished" and final.next_trial() is None and final.order == order_before
        n_trials = project.db.execute(
            "SELECT COUNT(*) FROM trials WHERE session_id = ?", [session_id]
        ).fetchone()[0]
        assert n_trials == n_total
