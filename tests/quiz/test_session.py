"""The quiz state machine over the database: codes, consent, order, submissions, validation."""

from __future__ import annotations

import re
import sqlite3

import pytest
from fixtures.quiz import small_study_text

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.paths import studies_dir
from geoquiz.study.session import (
    QuizSession,
    ResponseError,
    TrialResponse,
    create_session,
    geoguessr_score,
    list_sessions,
    resume_session,
    submit_trial,
)
from geoquiz.study.store import install_study
from geoquiz.types import CueBox


@pytest.fixture
def tiny(quiz_project, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(small_study_text())
    install_study(quiz_project, path)
    return quiz_project


def _running(db, slug="tiny", seed=1) -> QuizSession:
    s = create_session(db, slug, seed=seed)
    s.accept_consent()
    s.begin_trials()
    return s


def _answer(**kw) -> TrialResponse:
    base = dict(guesses=("France", "India"), confidence=3, response_time_ms=1500, rationale="red roofs")
    base.update(kw)
    return TrialResponse(**base)


def test_create_session_makes_a_pseudonymous_participant(tiny):
    s = create_session(tiny.db, "tiny", seed=42)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", s.code) and not re.search(r"[01OI]", s.code)
    cols = {r[1] for r in tiny.db.execute("PRAGMA table_info(participants)")}
    assert cols == {"id", "study_id", "code", "created_at"}  # nothing that could hold a name
    row = tiny.db.execute("SELECT seed, state, consent_at FROM sessions WHERE id = ?", [s.id]).fetchone()
    assert row == (42, "created", None)
    assert s.phase == "consent" and s.progress() == (0, 5)
    kinds = [t.kind for t in s.order]
    assert kinds[0] == "practice" and sorted(kinds[1:]) == ["attention", "main", "main", "main"]
    assert [(t.number, t.of) for t in s.order] == [(1, 1), (1, 4), (2, 4), (3, 4), (4, 4)]
    other = create_session(tiny.db, "tiny", seed=42)
    assert other.code != s.code and other.order == s.order  # same seed -> same order


def test_order_is_per_participant_but_items_are_per_study(tiny):
    orders = [tuple(t.key for t in create_session(tiny.db, "tiny", seed=seed).order) for seed in range(6)]
    assert len(set(orders)) > 1  # the order changes with the session seed
    assert len({frozenset(o) for o in orders}) == 1  # the item set is the study's


def test_state_machine(tiny):
    s = create_session(tiny.db, "tiny", seed=1)
    with pytest.raises(GeoQuizError, match="'created'"):
        s.submit(0, _answer())
    with pytest.raises(GeoQuizError, match="cannot move"):
        s.begin_trials()
    s.accept_consent()
    consent_at = tiny.db.execute("SELECT consent_at FROM sessions WHERE id = ?", [s.id]).fetchone()[0]
    assert consent_at and s.phase == "instructions"
    s.accept_consent()  # idempotent
    s.begin_trials()
    assert s.phase == "practice"
    s.submit(0, _answer())
    assert s.phase == "trials"
    declined = create_session(tiny.db, "tiny")
    declined.decline_consent()
    assert declined.phase == "declined" and declined.state == "declined"
    with pytest.raises(GeoQuizError):
        declined.accept_consent()


def test_submit_writes_trial_guesses_and_boxes(tiny):
    s = _running(tiny.db)
    spec = s.next_trial()
    boxes = (CueBox(Box(1, 2, 30, 40), "signs"), CueBox(Box(50, 60, 70, 80), "vehicles", detail="tuk-tuk"))
    result = s.submit(
        spec.position,
        _answer(guesses=(spec.label, "Japan" if spec.label != "Japan" else "India"), boxes=boxes),
    )
    assert (result.created, result.correct_rank, result.score, result.finished) == (True, 1, 5000, False)
    trial = tiny.db.execute(
        "SELECT position, kind, true_label, rationale, confidence, timed_out, response_time_ms, views_shown, image_id "
        "FROM trials WHERE id = ?",
        [result.trial_id],
    ).fetchone()
    assert trial == (0, "practice", spec.label, "red roofs", 3, 0, 1500, "", spec.image_id)
    guesses = tiny.db.execute(
        "SELECT rank, label FROM guesses WHERE trial_id = ? ORDER BY rank", [result.trial_id]
    ).fetchall()
    assert [g[0] for g in guesses] == [1, 2] and guesses[0][1] == spec.label
    stored = tiny.db.execute(
        "SELECT view, tag, x0, y0, x1, y1, note FROM cue_boxes WHERE trial_id = ? ORDER BY id",
        [result.trial_id],
    ).fetchall()
    assert stored == [(None, "signs", 1, 2, 30, 40, ""), (None, "vehicles", 50, 60, 70, 80, "tuk-tuk")]


def test_submit_is_idempotent_per_position(tiny):
    s = _running(tiny.db)
    first = s.submit(0, _answer())
    again = s.submit(0, _answer(guesses=("Japan",), rationale="changed my mind"))
    assert again.trial_id == first.trial_id and again.created is False
    assert tiny.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 1
    assert tiny.db.execute("SELECT COUNT(*) FROM guesses").fetchone()[0] == 2
    assert tiny.db.execute("SELECT rationale FROM trials").fetchone()[0] == "red roofs"


def test_submission_is_one_transaction(tiny):
    """If writing a cue box fails, the trial and its guesses are not written either."""
    s = _running(tiny.db)
    tiny.db.execute(
        "CREATE TRIGGER no_boxes BEFORE INSERT ON cue_boxes BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        s.submit(0, _answer(boxes=(CueBox(Box(0, 0, 5, 5), "other"),)))
    assert tiny.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0
    assert tiny.db.execute("SELECT COUNT(*) FROM guesses").fetchone()[0] == 0
    tiny.db.execute("DROP TRIGGER no_boxes")
    assert s.submit(0, _answer(boxes=(CueBox(Box(0, 0, 5, 5), "other"),))).created


@pytest.mark.parametrize(
    "response,message",
    [
        (dict(guesses=("Atlantis",)), "not one of the answer options"),
        (dict(guesses=("France", "France")), "guessed twice"),
        (dict(guesses=("France", "India", "Japan", "France")), "at most 3"),
        (dict(guesses=()), "at least 1"),
        (dict(confidence=None), "how confident"),
        (dict(confidence=9), "confidence must be 1..5"),
        (dict(boxes=(CueBox(Box(0, 0, 5, 5), "signs", view="north"),)), "was not shown"),
        (dict(boxes=(CueBox(Box(3, 3, 3, 9), "signs"),)), "empty"),
        (dict(response_time_ms=-1), "negative"),
    ],
)
def test_invalid_responses_are_refused(tiny, response, message):
    s = _running(tiny.db)
    with pytest.raises(ResponseError, match=message):
        s.submit(0, _answer(**response))
    assert tiny.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0


def test_timed_out_saves_the_answer_so_far(tiny):
    s = _running(tiny.db)
    r = s.submit(0, TrialResponse(guesses=(), confidence=None, response_time_ms=60000, timed_out=True))
    row = tiny.db.execute(
        "SELECT timed_out, confidence, rationale FROM trials WHERE id = ?", [r.trial_id]
    ).fetchone()
    assert row == (1, None, "") and r.score == 0 and r.correct_rank is None


def test_last_submission_finishes_the_session(tiny):
    s = _running(tiny.db)
    while (spec := s.next_trial()) is not None:
        result = s.submit(spec.position, _answer())
    assert result.finished and s.state == "finished" and s.phase == "finished"
    finished_at = tiny.db.execute("SELECT finished_at FROM sessions WHERE id = ?", [s.id]).fetchone()[0]
    assert finished_at
    info = list_sessions(tiny.db, "tiny")
    assert [(i.code, i.state, i.answered, i.total) for i in info] == [(s.code, "finished", 5, 5)]
    assert QuizSession.by_code(tiny.db, s.code.lower()).id == s.id
    kinds = [r[0] for r in tiny.db.execute("SELECT kind FROM trials ORDER BY position")]
    assert kinds[0] == "practice" and kinds.count("attention") == 1


def test_attention_check_is_the_most_obvious_item(tiny):
    s = create_session(tiny.db, "tiny", seed=1)
    att = [t for t in s.order if t.kind == "attention"]
    n_cues = {
        r[0]: r[1]
        for r in tiny.db.execute(
            "SELECT i.key, COUNT(c.id) FROM images i LEFT JOIN planted_cues c ON c.image_id = i.id "
            "WHERE i.split = 'test' GROUP BY i.id"
        )
    }
    assert len(att) == 1 and n_cues[att[0].key] == max(n_cues.values())


def test_four_view_session_records_views(quiz_project):
    install_study(quiz_project, studies_dir() / "geoscenes_4view.toml")
    s = _running(quiz_project.db, "geoscenes-4view", seed=3)
    spec = s.next_trial()
    assert spec.views == ("north", "east", "south", "west") and spec.location_id and spec.image_id is None
    paths = s.item_paths(spec)
    assert [v for v, _ in paths] == list(spec.views) and all(p.endswith(".png") for _, p in paths)
    boxes = (
        CueBox(Box(0, 0, 10, 10), "poles", view="east"),
        CueBox(Box(5, 5, 20, 20), "script", view="west"),
    )
    r = submit_trial(quiz_project.db, s.id, spec.position, _answer(guesses=("Spain", "France"), boxes=boxes))
    row = quiz_project.db.execute(
        "SELECT views_shown, location_id FROM trials WHERE id = ?", [r.trial_id]
    ).fetchone()
    assert row == ("north,east,south,west", spec.location_id)
    views = [v[0] for v in quiz_project.db.execute("SELECT view FROM cue_boxes ORDER BY id")]
    assert views == ["east", "west"]
    with pytest.raises(ResponseError, match="not shown"):
        s.submit(spec.position + 1, _answer(boxes=(CueBox(Box(0, 0, 4, 4), "poles"),)))
    assert resume_session(quiz_project.db, s.id).next_trial().position == spec.position + 1


def test_geoguessr_score():
    assert geoguessr_score(["A", "B", "C", "D", "E"], "A") == (1, 5000)
    assert geoguessr_score(["A", "B", "C", "D", "E"], "B") == (2, 2500)
    assert geoguessr_score(["A", "B", "C", "D", "E"], "E") == (5, 312)
    assert geoguessr_score(["A"], "Z") == (None, 0)
    assert geoguessr_score([], "Z") == (None, 0)


def test_unknown_session_and_study(tiny):
    with pytest.raises(GeoQuizError, match="no quiz session 99"):
        QuizSession.load(tiny.db, 99)
    with pytest.raises(GeoQuizError, match="no study 'nope'"):
        create_session(tiny.db, "nope")
    with pytest.raises(GeoQuizError, match="participant code"):
        QuizSession.by_code(tiny.db, "AAAA-AAAA")


def test_sessions_written_by_other_tools_are_listed_not_run(tiny):
    """Seeded or imported sessions without a quiz order: listed with what they have, never run."""
    from geoquiz.db import insert, now

    study_id = tiny.db.execute("SELECT id FROM studies").fetchone()[0]
    part = insert(tiny.db, "participants", {"study_id": study_id, "code": "SEED-0001", "created_at": now()})
    sid = insert(
        tiny.db,
        "sessions",
        {
            "study_id": study_id,
            "participant_id": part,
            "seed": 0,
            "order_json": "{}",
            "state": "running",
            "started_at": now(),
        },
    )
    (info,) = list_sessions(tiny.db)
    assert (info.code, info.answered, info.total) == ("SEED-0001", 0, 0)
    with pytest.raises(GeoQuizError, match="not created by the quiz"):
        QuizSession.load(tiny.db, sid)


def test_cue_boxes_are_clipped_to_the_image(tiny):
    s = _running(tiny.db)
    spec = s.next_trial()
    assert s.image_sizes(spec) == {None: (160, 120)}
    boxes = (
        CueBox(Box(-500, -500, 10**6, 10**6), "signs"),  # the case: clipped to the whole image
        CueBox(Box(150, 100, 170, 130), "poles"),  # partly outside
        CueBox(Box(10, 10, 20, 20), "other"),  # inside: kept as it is
    )
    r = s.submit(spec.position, _answer(boxes=boxes))
    rows = tiny.db.execute(
        "SELECT tag, x0, y0, x1, y1 FROM cue_boxes WHERE trial_id = ? ORDER BY id", [r.trial_id]
    ).fetchall()
    assert rows == [("signs", 0, 0, 160, 120), ("poles", 150, 100, 160, 120), ("other", 10, 10, 20, 20)]


@pytest.mark.parametrize(
    "box,fragment",
    [
        (Box(200, 10, 260, 50), "(200, 10, 260, 50) (x0, y0, x1, y1) lies outside the 160x120 image"),
        (Box(10, 120, 50, 300), "lies outside the 160x120 image"),
        (Box(160, 120, 160, 120), "is empty"),
    ],
)
def test_a_cue_box_outside_the_image_is_refused(tiny, box, fragment):
    s = _running(tiny.db)
    with pytest.raises(ResponseError, match=re.escape(fragment)):
        s.submit(0, _answer(boxes=(CueBox(Box(0, 0, 5, 5), "other"), CueBox(box, "signs"))))
    assert tiny.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0
    assert tiny.db.execute("SELECT COUNT(*) FROM cue_boxes").fetchone()[0] == 0


def test_four_view_boxes_are_checked_against_their_own_view(quiz_project):
    install_study(quiz_project, studies_dir() / "geoscenes_4view.toml")
    s = _running(quiz_project.db, "geoscenes-4view")
    spec = s.next_trial()
    assert set(s.image_sizes(spec)) == {"north", "east", "south", "west"}
    with pytest.raises(ResponseError, match="view east: cue box .* lies outside"):
        s.submit(spec.position, _answer(boxes=(CueBox(Box(170, 0, 180, 10), "signs", view="east"),)))
    r = s.submit(spec.position, _answer(boxes=(CueBox(Box(150, 0, 180, 10), "signs", view="east"),)))
    row = quiz_project.db.execute("SELECT view, x0, x1 FROM cue_boxes WHERE trial_id = ?", [r.trial_id])
    assert row.fetchone() == ("east", 150, 160)


def test_pauses_and_problems_are_recorded_as_session_events(tiny):
    from geoquiz.study.events import event_counts, session_events

    s = _running(tiny.db)
    s.record_pause(0, started_at="2024-01-01T10:00:00.000+00:00", duration_ms=4200, outcome="resumed")
    s.record_problem("image_error", 1, "ImageReadError: x.png: truncated", paths=["/data/x.png"])
    pause, problem = session_events(tiny.db, s.id)
    assert (pause.kind, pause.position, pause.duration_ms, pause.started_at) == (
        "pause",
        0,
        4200,
        "2024-01-01T10:00:00.000+00:00",
    )
    assert pause.ended_at and pause.detail == {"reason": "researcher prompt", "outcome": "resumed"}
    assert problem.detail == {"error": "ImageReadError: x.png: truncated", "paths": ["/data/x.png"]}
    assert event_counts(tiny.db, s.study_id) == {s.id: {"pause": 1, "image_error": 1}}
    with pytest.raises(ValueError, match="unknown session event"):
        s.record_problem("lunch", 0, "")
