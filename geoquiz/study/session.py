"""The participant quiz as a state machine over the project database.

States of a ``sessions`` row (the phase the kiosk shows in brackets)::

    created (consent) --accept--> consented (instructions) --begin--> running (practice, trials)
       |                                                                 |  last trial submitted
       +--decline--> declined                                            +--> finished (thank you)

* A session gets a new participant with a generated pseudonymous code (``K7QM-2XHD``; no names are
  stored anywhere) and a per-session seed (``sessions.seed``, logged) that shuffles the trial order.
  The order is stored once, in ``sessions.order_json`` as ``{"version": 1, "trials": [...],
  "options": [...]}``; each trial entry has ``position, kind, key, label, image_id, location_id``
  (and ``condition`` in ablation studies, whose order also holds ``ablation``: the prepared set,
  participant index and Latin-square row; :mod:`geoquiz.study.ablation`).
  Practice trials come first; main trials and attention checks are shuffled together.
* :func:`submit_trial` writes the ``trials`` row, its ``guesses`` and its ``cue_boxes`` in ONE
  transaction, and marks the session finished in the same transaction when it was the last trial.
  It is idempotent on ``(session, position)``: submitting an answered position again changes nothing
  and returns the stored trial.
* After a crash, :meth:`QuizSession.load` (or :func:`resume_session`) gives the same order and
  :meth:`QuizSession.next_trial` the first unanswered position. A trial shown but not submitted
  before the crash is shown again (with a fresh timer); nothing answered is lost or duplicated.
* When the time limit ends, the kiosk submits the answer so far with ``timed_out=True``; the
  required-field rules are then waived.
* Cue boxes are XYXY pixels of the image shown (inclusive-exclusive). :meth:`QuizSession.submit`
  clips each box to its image (the ``images`` row's width and height) and refuses a box that is
  empty after clipping; nothing outside an image is ever stored.
* Numbering (the one source of truth for every page): practice trials are "x of P" among
  themselves; main trials and attention checks are numbered together "x of N" with
  N = ``StudyDefinition.n_pictures`` (attention checks look like any other picture).
* Pauses of the trial clock (the researcher's prompt) and problems the participant is only told
  about in plain words go to ``session_events`` (:mod:`geoquiz.study.events`).

Feedback score (feedback mode only; GeoGuessr-style, 0..5000): a correct guess at rank ``r``
(1-based) scores ``round(5000 * 0.5 ** (r - 1))`` - 5000, 2500, 1250, 625, 313 - and a miss scores 0.
GeoGuessr decays its score exponentially with distance; here the "distance" is the rank.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass, replace
from typing import Any

from geoquiz.db import insert, insert_many, now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.study.events import record_event
from geoquiz.study.store import get_study
from geoquiz.types import CUE_TAGS, CueBox

MAX_SCORE = 5000
MAX_RATIONALE = 10_000
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read back
STATES = ("created", "consented", "running", "finished", "declined")


class ResponseError(GeoQuizError):
    """A trial response breaks the study's rules (unknown option, missing confidence ...)."""


@dataclass(frozen=True)
class TrialSpec:
    """One trial of a session. ``number`` counts within its phase: practice 1..P, then main trials
    and attention checks together 1..N (N = the study's ``n_pictures``); ``of`` is P or N."""

    position: int
    kind: str
    key: str
    label: str
    image_id: int | None
    location_id: int | None
    views: tuple[str, ...]
    number: int
    of: int
    #: ablation studies (:mod:`geoquiz.study.ablation`): ``intact``, ``model`` or ``random``; None
    #: otherwise. Never shown to the participant.
    condition: str | None = None

    @property
    def is_practice(self) -> bool:
        return self.kind == "practice"


@dataclass(frozen=True)
class TrialResponse:
    """A participant's answer. ``guesses`` are ordered, best first; ``boxes`` are in the pixel
    coordinates of the original image (``CueBox.view`` set for 4-view trials); ``confidence`` is
    1..levels; ``shown_at`` is an ISO timestamp (defaults to submission time minus nothing)."""

    guesses: tuple[str, ...] = ()
    rationale: str = ""
    confidence: int | None = None
    boxes: tuple[CueBox, ...] = ()
    response_time_ms: int = 0
    shown_at: str | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class SubmitResult:
    """``created`` is False when the position had already been answered (nothing was written)."""

    trial_id: int
    created: bool
    true_label: str
    correct_rank: int | None
    score: int
    finished: bool


@dataclass(frozen=True)
class SessionInfo:
    id: int
    study_id: int
    study_slug: str
    code: str
    state: str
    seed: int
    answered: int
    total: int
    started_at: str
    finished_at: str | None


def geoguessr_score(guesses: tuple[str, ...] | list[str], true_label: str) -> tuple[int | None, int]:
    """``(rank, score)`` of ``true_label`` among ``guesses`` (rank None and score 0 when absent)."""
    if true_label not in guesses:
        return None, 0
    rank = list(guesses).index(true_label) + 1
    return rank, int(round(MAX_SCORE * 0.5 ** (rank - 1)))


def new_code(db: Any) -> str:
    """A fresh participant code ``XXXX-XXXX`` (40 random bits) not used in this project."""
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        if db.execute("SELECT 1 FROM participants WHERE code = ?", [code]).fetchone() is None:
            return code


def build_order(items: list, seed: int, randomise: bool) -> list[dict[str, Any]]:
    """Trial order for one participant: practice first, then main + attention (shuffled with ``seed``
    when ``randomise``; otherwise attention checks are spread evenly among the main trials)."""
    practice = [it for it in items if it.kind == "practice"]
    main = [it for it in items if it.kind == "main"]
    attention = [it for it in items if it.kind == "attention"]
    if randomise:
        rng = random.Random(seed)
        rng.shuffle(practice)
        rest = main + attention
        rng.shuffle(rest)
    else:
        rest = list(main)
        for n, it in enumerate(attention):
            rest.insert((n + 1) * len(main) // (len(attention) + 1) + n, it)
    return [
        {
            "position": pos,
            "kind": it.kind,
            "key": it.key,
            "label": it.label,
            "image_id": it.image_id,
            "location_id": it.location_id,
        }
        for pos, it in enumerate(practice + rest)
    ]


class QuizSession:
    """A participant's session. Holds the database connection it was made with (GUI or worker)."""

    def __init__(self, db: Any, session_id: int) -> None:
        row = db.execute(
            "SELECT s.study_id, s.seed, s.order_json, p.code FROM sessions s "
            "JOIN participants p ON p.id = s.participant_id WHERE s.id = ?",
            [session_id],
        ).fetchone()
        if row is None:
            raise GeoQuizError(f"no quiz session {session_id} in this project")
        self.db = db
        self.id = int(session_id)
        self.study_id, self.seed, self.code = int(row[0]), int(row[1]), row[3]
        _, self.study = get_study(db, self.study_id)
        stored = _stored_order(row[2])
        if stored is None:
            raise GeoQuizError(
                f"session {session_id} was not created by the quiz (no stored trial order); it cannot be run"
            )
        self.options: tuple[str, ...] = tuple(stored["options"])
        self.order: tuple[TrialSpec, ...] = self._specs(stored["trials"])
        #: the ablation plan of the session (set id, participant index, Latin-square row), or None
        self.ablation: dict | None = stored.get("ablation")

    def _specs(self, trials: list[dict]) -> tuple[TrialSpec, ...]:
        n_practice = sum(1 for t in trials if t["kind"] == "practice")
        out, counts = [], {"practice": 0, "trials": 0}
        for t in trials:
            phase = "practice" if t["kind"] == "practice" else "trials"
            counts[phase] += 1
            of = n_practice if phase == "practice" else len(trials) - n_practice
            out.append(
                TrialSpec(
                    t["position"],
                    t["kind"],
                    t["key"],
                    t["label"],
                    t["image_id"],
                    t["location_id"],
                    self.study.views,
                    counts[phase],
                    of,
                    t.get("condition"),
                )
            )
        return tuple(out)

    # -- creation and lookup ---------------------------------------------------------------------
    @classmethod
    def create(cls, db: Any, study: int | str, *, seed: int | None = None) -> QuizSession:
        """New participant + session for an installed study (id or slug). ``seed`` None draws one.

        For an ablation study the participant gets the next free participant index and every trial
        its condition (Latin square, :mod:`geoquiz.study.ablation`), stored with the session; the
        study's pictures must have been prepared (:class:`GeoQuizError` otherwise)."""
        from geoquiz.study.ablation import session_plan
        from geoquiz.study.selection import check_study

        study_id, definition = get_study(db, study)
        items, options = check_study(db, definition)
        seed = secrets.randbits(31) if seed is None else int(seed)
        order = build_order(items, seed, definition.randomise)
        stored: dict[str, Any] = {"version": 1, "trials": order, "options": list(options)}
        with transaction(db):
            plan = session_plan(db, study_id, definition, items)
            if plan is not None:
                for entry in order:
                    entry["condition"] = plan["by_key"].get(entry["key"], "intact")
                stored["ablation"] = {k: v for k, v in plan.items() if k != "by_key"}
            stamp = now()
            participant_id = insert(
                db, "participants", {"study_id": study_id, "code": new_code(db), "created_at": stamp}
            )
            session_id = insert(
                db,
                "sessions",
                {
                    "study_id": study_id,
                    "participant_id": participant_id,
                    "seed": seed,
                    "order_json": json.dumps(stored),
                    "state": "created",
                    "started_at": stamp,
                    "participant_index": None if plan is None else plan["participant_index"],
                    "latin_row": None if plan is None else plan["latin_row"],
                },
            )
        return cls(db, session_id)

    @classmethod
    def load(cls, db: Any, session_id: int) -> QuizSession:
        """Reopen a session (after a crash or a break) with its stored order."""
        return cls(db, session_id)

    @classmethod
    def by_code(cls, db: Any, code: str) -> QuizSession:
        row = db.execute(
            "SELECT s.id FROM sessions s JOIN participants p ON p.id = s.participant_id WHERE p.code = ?",
            [code.strip().upper()],
        ).fetchone()
        if row is None:
            raise GeoQuizError(f"no session for participant code {code!r}")
        return cls(db, int(row[0]))

    # -- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.db.execute("SELECT state FROM sessions WHERE id = ?", [self.id]).fetchone()[0]

    def answered_positions(self) -> set[int]:
        rows = self.db.execute("SELECT position FROM trials WHERE session_id = ?", [self.id]).fetchall()
        return {int(r[0]) for r in rows}

    def next_trial(self) -> TrialSpec | None:
        """The first unanswered trial (None when every trial is answered)."""
        done = self.answered_positions()
        return next((t for t in self.order if t.position not in done), None)

    def progress(self) -> tuple[int, int]:
        """``(answered, total)`` trials, practice included."""
        return len(self.answered_positions()), len(self.order)

    @property
    def phase(self) -> str:
        """``consent``, ``instructions``, ``practice``, ``trials``, ``finished`` or ``declined``."""
        state = self.state
        if state in ("finished", "declined"):
            return state
        if state == "created":
            return "consent"
        if state == "consented":
            return "instructions"
        nxt = self.next_trial()
        if nxt is None:
            return "finished"
        return "practice" if nxt.is_practice else "trials"

    def _transition(self, allowed: tuple[str, ...], new: str, **stamps: bool) -> None:
        with transaction(self.db):
            state = self.state
            if state == new:
                return
            if state not in allowed:
                raise GeoQuizError(f"session {self.id} is {state!r}; cannot move to {new!r}")
            sets = ["state = ?"] + [f"{col} = ?" for col in stamps]
            self.db.execute(
                f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?",  # noqa: S608 - column names from code
                [new, *(now() for _ in stamps), self.id],
            )

    def accept_consent(self) -> None:
        """Record informed consent (timestamped in ``sessions.consent_at``)."""
        self._transition(("created",), "consented", consent_at=True)

    def decline_consent(self) -> None:
        """The participant did not consent: the session ends with no trials."""
        self._transition(("created",), "declined", finished_at=True)

    def begin_trials(self) -> None:
        """The participant has read the instructions."""
        self._transition(("consented",), "running")

    def item_paths(self, spec: TrialSpec) -> list[tuple[str | None, str]]:
        """``[(view, image path)]`` for a trial: one entry ``(None, path)`` or one per shown view; the
        prepared picture of its condition for a trial of an ablation study that removes something."""
        from geoquiz.data.dataset import get_item

        if spec.condition not in (None, "intact") and self.ablation is not None:
            from geoquiz.study.ablation import trial_paths

            return trial_paths(self.db, self.ablation["set_id"], spec.key, spec.condition, spec.views)
        if spec.image_id is not None:
            return [(None, get_item(self.db, spec.image_id).path)]
        rows = self.db.execute(
            "SELECT id, view FROM images WHERE location_id = ?", [spec.location_id]
        ).fetchall()
        by_view = {r[1]: int(r[0]) for r in rows}
        return [(v, get_item(self.db, by_view[v]).path) for v in spec.views if v in by_view]

    def total_score(self, *, include_practice: bool = False) -> tuple[int, int]:
        """``(points, trials scored)`` of the answered trials (feedback mode), GeoGuessr-style."""
        rows = self.db.execute(
            "SELECT t.id, t.kind, t.true_label, g.label FROM trials t LEFT JOIN guesses g ON g.trial_id = t.id "
            "WHERE t.session_id = ? ORDER BY t.id, g.rank",
            [self.id],
        ).fetchall()
        trials: dict[int, tuple[str, str, list[str]]] = {}
        for trial_id, kind, label, guess in rows:
            entry = trials.setdefault(trial_id, (kind, label, []))
            if guess is not None:
                entry[2].append(guess)
        scored = [(lbl, g) for kind, lbl, g in trials.values() if include_practice or kind != "practice"]
        return sum(geoguessr_score(g, lbl)[1] for lbl, g in scored), len(scored)

    # -- events (researcher-only details; see geoquiz.study.events) -------------------------------
    def record_pause(
        self,
        position: int | None,
        *,
        started_at: str,
        duration_ms: int,
        reason: str = "researcher prompt",
        outcome: str = "",
    ) -> int:
        """Record that the trial clock of ``position`` stood still for ``duration_ms`` ms from
        ``started_at`` (ISO time) until now; ``outcome`` is e.g. ``resumed`` or ``unlocked``."""
        detail = {"reason": reason} | ({"outcome": outcome} if outcome else {})
        return record_event(
            self.db,
            self.id,
            "pause",
            position=position,
            started_at=started_at,
            ended_at=now(),
            duration_ms=max(0, int(duration_ms)),
            detail=detail,
        )

    def record_problem(self, kind: str, position: int | None, error: str, **detail: Any) -> int:
        """Record an ``image_error`` or ``save_error`` with its details (for the researcher only)."""
        return record_event(self.db, self.id, kind, position=position, detail={"error": error, **detail})

    # -- answers ---------------------------------------------------------------------------------
    def validate(self, spec: TrialSpec, response: TrialResponse) -> None:
        """Raise :class:`ResponseError` when ``response`` breaks the study's response rules."""
        rs, late = self.study.responses, response.timed_out
        guesses = tuple(response.guesses)
        unknown = [g for g in guesses if g not in self.options]
        if unknown:
            raise ResponseError(f"trial {spec.position}: {unknown[0]!r} is not one of the answer options")
        if len(guesses) > rs.top_k:
            raise ResponseError(f"trial {spec.position}: at most {rs.top_k} guesses, got {len(guesses)}")
        if len(set(guesses)) != len(guesses):
            raise ResponseError(f"trial {spec.position}: the same answer is guessed twice")
        if len(guesses) < rs.min_guesses and not late:
            raise ResponseError(f"trial {spec.position}: give at least {rs.min_guesses} guess(es)")
        if response.confidence is not None:
            if not rs.confidence:
                raise ResponseError(f"trial {spec.position}: this study does not ask for confidence")
            if not 1 <= response.confidence <= rs.confidence_levels:
                raise ResponseError(f"trial {spec.position}: confidence must be 1..{rs.confidence_levels}")
        elif rs.confidence and rs.confidence_required and not late:
            raise ResponseError(f"trial {spec.position}: choose how confident you are")
        if response.rationale.strip() and not rs.rationale:
            raise ResponseError(f"trial {spec.position}: this study does not ask for a rationale")
        if rs.rationale and rs.rationale_required and not response.rationale.strip() and not late:
            raise ResponseError(f"trial {spec.position}: say briefly why you chose your answer")
        if len(response.rationale) > MAX_RATIONALE:
            raise ResponseError(
                f"trial {spec.position}: the rationale is longer than {MAX_RATIONALE} characters"
            )
        if response.boxes and not rs.cue_boxes:
            raise ResponseError(f"trial {spec.position}: this study does not ask for cue boxes")
        for cb in response.boxes:
            if cb.tag not in CUE_TAGS:
                raise ResponseError(f"trial {spec.position}: cue box tag {cb.tag!r} is not a cue tag")
            if (cb.view is None) != (not spec.views) or (cb.view is not None and cb.view not in spec.views):
                raise ResponseError(f"trial {spec.position}: cue box view {cb.view!r} was not shown")
        self.clip_boxes(spec, response.boxes)
        if response.response_time_ms < 0:
            raise ResponseError(f"trial {spec.position}: negative response time")

    def image_sizes(self, spec: TrialSpec) -> dict[str | None, tuple[int, int]]:
        """``{view: (width, height)}`` of the images a trial shows (view None for single images), from
        the ``images`` rows (the file header when a row has no size)."""
        if spec.image_id is not None:
            sql, key = "SELECT NULL, width, height, path FROM images WHERE id = ?", spec.image_id
        else:
            sql, key = "SELECT view, width, height, path FROM images WHERE location_id = ?", spec.location_id
        out = {}
        for view, w, h, path in self.db.execute(sql, [key]).fetchall():
            if not w or not h:
                from geoquiz.data.imageio import image_size

                try:
                    w, h = image_size(path)
                except (GeoQuizError, OSError):
                    continue
            out[view] = (int(w), int(h))
        return out

    def clip_boxes(self, spec: TrialSpec, boxes: tuple[CueBox, ...] | list[CueBox]) -> tuple[CueBox, ...]:
        """``boxes`` clipped to their images. Raises :class:`ResponseError` for a box that is empty
        after clipping (it lay outside the image) or whose image size is unknown."""
        if not boxes:
            return ()
        sizes = self.image_sizes(spec)
        out = []
        for cb in boxes:
            where = f"trial {spec.position}" + (f", view {cb.view}" if cb.view else "")
            if cb.box.area <= 0:
                raise ResponseError(f"{where}: cue box {cb.box.as_tuple()} (x0, y0, x1, y1) is empty")
            if cb.view not in sizes:
                raise ResponseError(
                    f"{where}: the size of the image is unknown, so a cue box cannot be checked"
                )
            w, h = sizes[cb.view]
            clipped = cb.box.clip(w, h)
            if clipped.area <= 0:
                raise ResponseError(
                    f"{where}: cue box {cb.box.as_tuple()} (x0, y0, x1, y1) lies outside the {w}x{h} image"
                )
            out.append(cb if clipped == cb.box else replace(cb, box=clipped))
        return tuple(out)

    def submit(self, position: int, response: TrialResponse) -> SubmitResult:
        """Save one trial (trial + guesses + cue boxes) in one transaction; idempotent per position."""
        if not 0 <= position < len(self.order):
            raise ResponseError(f"session {self.id} has no trial at position {position}")
        spec = self.order[position]
        with transaction(self.db):
            existing = self._stored(spec)
            if existing is not None:
                return existing
            state = self.state
            if state != "running":
                raise GeoQuizError(
                    f"session {self.id} is {state!r}; trials can only be submitted while it is running"
                )
            self.validate(spec, response)
            clipped = self.clip_boxes(spec, response.boxes)
            rank, score = geoguessr_score(response.guesses, spec.label)
            stamp = now()
            trial_id = insert(
                self.db,
                "trials",
                {
                    "session_id": self.id,
                    "position": position,
                    "kind": spec.kind,
                    "image_id": spec.image_id,
                    "location_id": spec.location_id,
                    "true_label": spec.label,
                    "shown_at": response.shown_at or stamp,
                    "submitted_at": stamp,
                    "response_time_ms": int(response.response_time_ms),
                    "rationale": response.rationale.strip(),
                    "confidence": response.confidence,
                    "timed_out": int(bool(response.timed_out)),
                    "views_shown": ",".join(spec.views),
                    "condition": spec.condition,
                },
            )
            guesses = [
                {"trial_id": trial_id, "rank": n + 1, "label": g} for n, g in enumerate(response.guesses)
            ]
            insert_many(self.db, "guesses", guesses)
            boxes = [
                {"trial_id": trial_id, "view": cb.view, "tag": cb.tag, "note": cb.detail, **_xyxy(cb)}
                for cb in clipped
            ]
            insert_many(self.db, "cue_boxes", boxes)
            n_done = self.db.execute(
                "SELECT COUNT(*) FROM trials WHERE session_id = ?", [self.id]
            ).fetchone()[0]
            finished = n_done >= len(self.order)
            if finished:
                self.db.execute(
                    "UPDATE sessions SET state = 'finished', finished_at = ? WHERE id = ?", [stamp, self.id]
                )
        return SubmitResult(trial_id, True, spec.label, rank, score, finished)

    def _stored(self, spec: TrialSpec) -> SubmitResult | None:
        row = self.db.execute(
            "SELECT id FROM trials WHERE session_id = ? AND position = ?", [self.id, spec.position]
        ).fetchone()
        if row is None:
            return None
        guesses = [
            r[0]
            for r in self.db.execute("SELECT label FROM guesses WHERE trial_id = ? ORDER BY rank", [row[0]])
        ]
        rank, score = geoguessr_score(guesses, spec.label)
        return SubmitResult(int(row[0]), False, spec.label, rank, score, self.state == "finished")


def _stored_order(text: str) -> dict | None:
    """The ``order_json`` of a quiz session, or None when the row was written by something else."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if (
        isinstance(data, dict)
        and isinstance(data.get("trials"), list)
        and isinstance(data.get("options"), list)
    ):
        return data
    return None


def _xyxy(cb: CueBox) -> dict[str, int]:
    return {"x0": cb.box.x0, "y0": cb.box.y0, "x1": cb.box.x1, "y1": cb.box.y1}


def create_session(db: Any, study: int | str, *, seed: int | None = None) -> QuizSession:
    """Start a session for an installed study (id or slug); see :meth:`QuizSession.create`."""
    return QuizSession.create(db, study, seed=seed)


def resume_session(db: Any, session_id: int) -> QuizSession:
    """Reopen a session with its stored order; :meth:`QuizSession.next_trial` is where to go on."""
    return QuizSession.load(db, session_id)


def submit_trial(db: Any, session_id: int, position: int, response: TrialResponse) -> SubmitResult:
    """Save one trial of a session in one transaction (idempotent on ``(session, position)``)."""
    return QuizSession(db, session_id).submit(position, response)


def list_sessions(db: Any, study: int | str | None = None) -> list[SessionInfo]:
    """Every session (of one study, by id or slug), newest first, with its progress."""
    sql = (
        "SELECT s.id, s.study_id, st.slug, p.code, s.state, s.seed, s.order_json, s.started_at, s.finished_at, "
        "(SELECT COUNT(*) FROM trials t WHERE t.session_id = s.id) FROM sessions s "
        "JOIN studies st ON st.id = s.study_id JOIN participants p ON p.id = s.participant_id"
    )
    params: list[Any] = []
    if study is not None:
        sql += " WHERE " + ("st.id = ?" if isinstance(study, int) else "st.slug = ?")
        params.append(study)
    rows = db.execute(sql + " ORDER BY s.id DESC", params).fetchall()
    return [
        SessionInfo(
            id=r[0],
            study_id=r[1],
            study_slug=r[2],
            code=r[3],
            state=r[4],
            seed=r[5],
            answered=r[9],
            total=max(len((_stored_order(r[6]) or {"trials": []})["trials"]), r[9]),
            started_at=r[7],
            finished_at=r[8],
        )
        for r in rows
    ]
