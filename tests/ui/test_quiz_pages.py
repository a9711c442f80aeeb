"""Every participant page of both example studies, rendered in the real kiosk: consent, instructions,
practice, trial, practice-over, time-up, feedback, resume, error, thank-you and declined. No page
shows a dataset key, an image path or file name, or a label (except where the study shows the answer
options, its own texts, and feedback mode's answer to the trial just given), and every count on every
page agrees with the one numbering ("Picture x of N", N = main trials + attention checks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fixtures.quiz_ui import PASS, confidence, plain, track, type_guess, visible_texts
from PySide6.QtCore import QPoint, Qt

from geoquiz.paths import studies_dir
from geoquiz.study.events import session_events
from geoquiz.study.passphrase import set_passphrase
from geoquiz.study.session import QuizSession
from geoquiz.study.store import get_study, install_study
from ui.quiz.kiosk import PICTURE_ERROR, KioskWindow


class Walk:
    """Opens kiosks on one study and records what each page shows."""

    def __init__(self, qtbot, db, slug: str) -> None:
        self.qtbot, self.db = qtbot, db
        _, self.study = get_study(db, slug)
        self.slug = slug
        self.pages: list[tuple[str, KioskWindow, list[tuple[object, str]], str | None]] = []

    def open(self, session: QuizSession) -> KioskWindow:
        kiosk = KioskWindow(session)
        track(self.qtbot, kiosk)
        kiosk.resize(1366, 768)
        kiosk.show()
        return kiosk

    def snap(self, name: str, kiosk: KioskWindow, answer: str | None = None) -> None:
        """Record the visible texts; ``answer`` is the one label this page may name (feedback)."""
        self.pages.append((name, kiosk, visible_texts(kiosk), answer))

    def answer(self, kiosk: KioskWindow, *, time_out: bool = False) -> None:
        trial = kiosk.trial
        type_guess(self.qtbot, trial, "ind")
        if time_out:
            trial.expire()  # what the countdown does at 0
            return
        confidence(self.qtbot, trial, 3)
        self.qtbot.mouseClick(trial.submit_button, Qt.LeftButton)

    def through_messages(self, kiosk: KioskWindow, answered) -> None:
        """Snap and pass every message page after an answer."""
        while kiosk.page() == "message":
            title = plain(kiosk.message.title.text())
            name = {"Result": "feedback", "Time is up": "time-up", "Practice finished": "practice-over"}[
                title
            ]
            self.snap(name, kiosk, answered.label if name == "feedback" else None)
            self.qtbot.keyClick(kiosk.message.button, Qt.Key_Space)


def _forbidden(db) -> list[str]:
    """Every key, path, file name and file stem of every dataset item and location."""
    out = set()
    for key, path in db.execute("SELECT key, path FROM images").fetchall():
        out |= {key, path, Path(path).name, Path(path).stem}
    out |= {r[0] for r in db.execute("SELECT key FROM locations").fetchall()}
    return sorted(out, key=len, reverse=True)


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("study_file", ["geoscenes_countries.toml", "geoscenes_4view.toml"])
def test_every_page_reveals_nothing_and_counts_agree(qtbot, quiz_project, study_file, tmp_path):
    db = quiz_project.db
    install_study(quiz_project, studies_dir() / study_file)
    slug = {"geoscenes_countries.toml": "geoscenes-countries", "geoscenes_4view.toml": "geoscenes-4view"}
    walk = Walk(qtbot, db, slug[study_file])
    study = walk.study
    n, p = study.n_pictures, study.n_practice
    set_passphrase(db, PASS)

    # a whole session, broken off half-way and resumed
    session = QuizSession.create(db, walk.slug, seed=3)
    kiosk = walk.open(session)
    walk.snap("consent", kiosk)
    check = kiosk.consent_check
    qtbot.mouseClick(check, Qt.LeftButton, pos=QPoint(6, check.height() // 2))
    qtbot.mouseClick(kiosk.consent.button, Qt.LeftButton)
    walk.snap("instructions", kiosk)
    qtbot.mouseClick(kiosk.instructions.button, Qt.LeftButton)
    headers = []
    while kiosk.page() == "trialWidget":
        spec = kiosk.trial.spec
        headers.append(plain(kiosk.trial.header.text()))
        walk.snap("practice" if spec.is_practice else "trial", kiosk)
        walk.answer(kiosk, time_out=not spec.is_practice and spec.number == 2 and study.time_limit_s > 0)
        walk.through_messages(kiosk, spec)
        if not spec.is_practice and spec.number == n // 2:
            break
    kiosk._unlock()
    kiosk = walk.open(QuizSession.load(db, session.id))
    walk.snap("resume", kiosk)
    resume = _words(kiosk.message.body.toPlainText())
    qtbot.keyClick(kiosk.message.button, Qt.Key_Space)
    while kiosk.page() == "trialWidget":
        spec = kiosk.trial.spec
        headers.append(plain(kiosk.trial.header.text()))
        walk.snap("trial", kiosk)
        walk.answer(kiosk)
        walk.through_messages(kiosk, spec)
    assert kiosk.page() == "thanks"
    walk.snap("thank-you", kiosk)

    # a picture that cannot be shown
    broken = QuizSession.create(db, walk.slug, seed=4)
    broken.accept_consent()
    broken.begin_trials()
    shown = [path for _view, path in broken.item_paths(broken.next_trial())][0]
    bad = tmp_path / "broken" / Path(shown).name  # the picture files are shared: break a copy
    bad.parent.mkdir()
    bad.write_bytes(b"not a picture")
    db.execute("UPDATE images SET path = ? WHERE path = ?", [str(bad), shown])
    kiosk = walk.open(broken)
    assert kiosk.page() == "message"
    walk.snap("error", kiosk)
    assert _words(kiosk.message.body.toPlainText()) == PICTURE_ERROR
    (event,) = session_events(db, broken.id, "image_error")
    assert event.detail["paths"] == [str(bad)] and "not an image" in event.detail["error"]

    # a participant who does not consent
    declined = walk.open(QuizSession.create(db, walk.slug, seed=5))
    qtbot.mouseClick(declined.decline, Qt.LeftButton)
    walk.snap("declined", declined)

    # every page was seen
    names = {name for name, *_ in walk.pages}
    expected = {"consent", "instructions", "practice", "trial", "practice-over", "resume", "error"}
    expected |= {"thank-you", "declined"} | ({"feedback"} if study.feedback else set())
    expected |= {"time-up"} if study.time_limit_s else set()
    assert expected <= names, expected - names

    # nothing revealed
    forbidden = _forbidden(db)
    labels = {r[0] for r in db.execute("SELECT DISTINCT label FROM images").fetchall()}
    authored = {
        "consent": _words(study.consent_text),
        "instructions": _words(study.instructions),
        "thank-you": _words(study.thank_you),
    }
    for name, kiosk, texts, answer in walk.pages:
        picker = kiosk.trial.picker
        for widget, text in texts:
            low = text.lower()
            leaked = [tok for tok in forbidden if tok.lower() in low]
            assert not leaked, f"{name} page shows {leaked[0]!r} in {text!r}"
            if widget in (picker.option_list, picker.picks):
                continue  # the answer options themselves
            if name in authored and authored[name] in text:
                text = text.replace(authored[name], "")  # the study's own words, checked below
            named = [lb for lb in labels if lb in text and lb != answer]
            assert not named, f"{name} page names the label {named[0]!r} in {text!r}"

    # the study's own texts are shown exactly as filled in from the definition
    for name, _kiosk, texts, _ in walk.pages:
        if name in authored:
            assert any(authored[name] in t for _w, t in texts), name

    # one numbering everywhere
    main = [h for h in headers if not h.startswith("Practice")]
    noun = "Place" if study.views else "Picture"
    assert headers[:p] == [f"Practice {noun.lower()} {k} of {p}" for k in range(1, p + 1)]
    assert main == [f"{noun} {k} of {n}" for k in range(1, n + 1)]
    done = n // 2
    plural = "places" if study.views else "pictures"
    assert f"you have answered {done} of the {n} {plural}" in resume
    assert f"Next: {noun.lower()} {done + 1} of {n}" in resume
    allowed_totals = {n, p, study.n_total, len(study.views)}  # (4-view: "4 pictures" per place)
    for name, _kiosk, texts, _ in walk.pages:
        page = " ".join(t for _w, t in texts)
        for m in re.finditer(r"(\d+) of (?:the )?(\d+)", page):
            assert int(m.group(2)) in {n, p}, f"{name}: {m.group(0)!r}"
        for m in re.finditer(r"(\d+) (?:practice )?(?:pictures|places)\b", page):
            assert int(m.group(1)) in allowed_totals, f"{name}: {m.group(0)!r}"
        for m in re.finditer(r"(?:pictures|places) 1 to (\d+)", page):
            assert int(m.group(1)) == n, f"{name}: {m.group(0)!r}"
    thanks = " ".join(t for name, _k, texts, _ in walk.pages if name == "thank-you" for _w, t in texts)
    if study.feedback:
        assert re.search(rf"points over {n} {plural}", thanks)
