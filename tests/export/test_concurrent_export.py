"""A researcher exports while a quiz in another process (a real subprocess) keeps submitting trials:
the writer is never blocked, every export is a consistent snapshot, and no answer is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fixtures.quiz import small_study_text

from geoquiz.project import Project
from geoquiz.study import export as ex
from geoquiz.study.session import QuizSession
from geoquiz.study.store import install_study

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _sessions(project: Project, n: int, first_seed: int) -> list[int]:
    out = []
    for i in range(n):
        s = QuizSession.create(project.db, "tiny", seed=first_seed + i)
        s.accept_consent()
        s.begin_trials()
        out.append(s.id)
    return out


def _writer(root: Path, go: Path, sessions: list[int]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{HERE}")
    return subprocess.Popen(
        [sys.executable, str(HERE / "quiz_writer.py"), str(root), str(go), *map(str, sessions)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _finish(proc: subprocess.Popen) -> list[str]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out.split()


def _check_consistent(trials: pd.DataFrame, guesses: pd.DataFrame, boxes: pd.DataFrame) -> None:
    """Every trial comes with all of its guesses and boxes (no half-seen submission)."""
    n_guesses = guesses.groupby("trial_id").size()
    n_boxes = boxes.groupby("trial_id").size()
    for row in trials.itertuples():
        assert n_guesses.get(row.trial_id, 0) == row.n_guesses
        assert n_boxes.get(row.trial_id, 0) == row.n_cue_boxes
    assert set(guesses["trial_id"]) <= set(trials["trial_id"])


def test_snapshot_never_blocks_the_quiz_writer(quiz_project_root, tmp_path):
    study = tmp_path / "tiny.toml"
    study.write_text(small_study_text(), encoding="utf-8")
    with Project.open(quiz_project_root) as project:
        install_study(project, study)
        sessions = _sessions(project, 3, 100)
        from quiz_writer import response_for

        for sid in sessions:  # one answer per session before the export starts
            s = QuizSession.load(project.db, sid)
            s.submit(0, response_for(s, 0))
        db_path = project.db_path
    go = tmp_path / "go"
    proc = _writer(quiz_project_root, go, sessions)
    with ex.read_snapshot(db_path) as conn:
        trials = ex.trials_frame(conn)
        go.touch()  # the writer submits every remaining trial while this read transaction is open
        lines = _finish(proc)
        guesses, boxes = ex.guesses_frame(conn), ex.cue_boxes_frame(conn)
    assert lines[-2:] == ["done", str(3 * 4)]
    # the snapshot shows the three answers given before it began, complete, and nothing written after
    assert len(trials) == 3
    _check_consistent(trials, guesses, boxes)
    with Project.open(quiz_project_root) as project:
        assert project.db.execute("SELECT count(*) FROM trials").fetchone()[0] == 3 * 5


@pytest.mark.parametrize("way", ["here", "workers"])
def test_export_all_while_a_session_submits(quiz_project_root, tmp_path, way, monkeypatch):
    """``workers``: each export on 2 worker processes, every table in parts of 3 rows, all parts of
    all tables read from the one snapshot the coordinator opened them on."""
    if way == "workers":
        from geoquiz.study import export_parts

        monkeypatch.setattr(ex, "PARALLEL_MIN_ROWS", 0)
        monkeypatch.setattr(export_parts, "PART_ROWS", 3)
        monkeypatch.setattr(ex.os, "cpu_count", lambda: 2)
        ran, run_parts = [], ex._run_parts
        monkeypatch.setattr(ex, "_run_parts", lambda *a, **k: ran.append(1) or run_parts(*a, **k))
    study = tmp_path / "tiny.toml"
    study.write_text(small_study_text(), encoding="utf-8")
    with Project.open(quiz_project_root) as project:
        install_study(project, study)
        sessions = _sessions(project, 4, 200)
    go = tmp_path / "go"
    go.touch()
    proc = _writer(quiz_project_root, go, sessions)
    exports = []
    with Project.open(quiz_project_root) as project:
        while True:
            running = proc.poll() is None
            out = tmp_path / f"export{len(exports)}"
            ex.export_all(project, out, what=["trials", "guesses", "cue_boxes"])
            exports.append(out)
            if not running:
                break
        lines = _finish(proc)
        committed = {(int(s), int(p)) for s, p in zip(lines[1:-2:3], lines[2:-2:3])}
        stored = set(project.db.execute("SELECT session_id, position FROM trials").fetchall())
    assert lines[-2:] == ["done", str(4 * 5)]
    assert committed == stored and len(stored) == 20  # nothing lost, nothing duplicated
    for out in exports:
        trials, guesses, boxes = (pd.read_csv(out / f"{n}.csv") for n in ("trials", "guesses", "cue_boxes"))
        _check_consistent(trials, guesses, boxes)
    if way == "workers":
        assert len(ran) == len(exports)  # every export ran on the workers (none fell back)
    final = pd.read_csv(exports[-1] / "trials.csv")
    assert set(zip(final["session_id"], final["position"])) == stored
    assert all(r.startswith("'=HYPERLINK(") for r in final["rationale"])
