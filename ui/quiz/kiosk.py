"""The participant's full-screen kiosk: consent -> instructions -> practice -> trials -> thank you.

It shows only the current participant's own trial: no model output, no true answers (except in a
study's feedback mode), no other participant's data and no researcher views (the launcher hides the
main window while the kiosk is up, and the kiosk is application-modal). Closing it is refused unless
the researcher's passphrase is entered (the small "Researcher" button, Ctrl+Shift+Q, or any attempt
to close the window opens the prompt).

Every answer is committed through :meth:`geoquiz.study.session.QuizSession.submit` (one
transaction) before the next screen appears; if saving fails the answer stays on screen and the
participant is asked to try again. The kiosk uses the session's database connection on the GUI
thread: a submission is a few small inserts, and waiting for it is exactly what durability requires.

What participants read never names a file, a dataset key, a label (outside feedback mode's "the
answer was ...") or anything about the model: a picture that cannot be shown gives "This picture
could not be shown, please tell the researcher", and the details (error, file) go to the session's
events (``session_events``) and the ``geoquiz.quiz`` log for the researcher. Counts follow the
session's numbering (:class:`geoquiz.study.session.TrialSpec`) on every page. While the
researcher's passphrase prompt is open the trial clock and countdown stand still; the pause is
recorded as a ``pause`` event.
"""

from __future__ import annotations

import html
import logging
import re
import sqlite3

from PySide6.QtCore import QElapsedTimer, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from geoquiz.db import database_file, now
from geoquiz.errors import GeoQuizError
from geoquiz.study.passphrase import Attempt, try_passphrase_in
from geoquiz.study.session import QuizSession, SubmitResult, TrialResponse, TrialSpec
from ui.quiz.guess_picker import ordinal
from ui.quiz.trial_widget import TrialWidget, trial_title
from ui.workers import start

log = logging.getLogger("geoquiz.quiz")
PICTURE_ERROR = "This picture could not be shown, please tell the researcher."
SAVE_ERROR = "Your answer could not be saved. Please try again, or tell the researcher."


_LIST_ITEM = re.compile(r"^\s*(\d+[.)]|[-*•])\s")


def _paragraphs(text: str) -> str:
    """Plain study text -> HTML: blank lines separate paragraphs; within one, a line break is kept
    only before a list item ("1. ...", "- ..."), so the text re-flows to the screen's width."""
    out = []
    for para in text.strip().split("\n\n"):
        lines = [ln.strip() for ln in para.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        joined = html.escape(lines[0])
        for ln in lines[1:]:
            joined += ("<br>" if _LIST_ITEM.match(ln) else " ") + html.escape(ln)
        out.append(f"<p>{joined}</p>")
    return "".join(out)


class PassphraseDialog(QDialog):
    """Asks for the researcher passphrase; accepts only when it matches. The check (a deliberately
    slow key derivation) runs in a worker with a connection of its own to ``db_file``, so the window
    never freezes; ``checked(bool)`` says how each try went."""

    checked = Signal(bool)

    def __init__(self, db_file: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("passphraseDialog")
        self.setWindowTitle("Researcher")
        self.setModal(True)
        self.db_file = db_file
        self.checking = False
        self.input = QLineEdit(self)
        self.input.setObjectName("passphraseInput")
        self.input.setEchoMode(QLineEdit.Password)
        self.error = QLabel(self)
        self.error.setObjectName("passphraseError")
        self.error.setStyleSheet("color: #c62828;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.accepted.connect(self._try)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Researcher passphrase to leave the participant screen:", self))
        layout.addWidget(self.input)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _try(self) -> None:
        if self.checking:
            return
        self.checking = True
        self.input.setEnabled(False)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        self.error.setStyleSheet("color: #555555;")
        self.error.setText("Checking…")
        start(
            lambda text, reporter=None: try_passphrase_in(self.db_file, text),
            self.input.text(),
            on_result=self._result,
            on_error=lambda message, _tb: self._result(Attempt(False, f"Cannot check it: {message}")),
        )

    def _result(self, attempt: Attempt) -> None:
        self.checking = False
        self.input.setEnabled(True)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(True)
        if attempt:
            self.error.clear()
            self.checked.emit(True)
            self.accept()
            return
        self.error.setStyleSheet("color: #c62828;")
        self.error.setText(attempt.message or "Wrong passphrase.")
        self.input.selectAll()
        self.input.setFocus()
        self.checked.emit(False)


class _Page(QWidget):
    """A page with a title, a body and one main button (plus optional extras), in a column of
    readable width centred on the screen."""

    MAX_WIDTH = 1040  # pixels: lines of text stay readable on a wide screen

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF(), 13.0))  # the tick box and buttons, as the text
        self.setFont(font)
        self.title = QLabel(self)
        self.body = QTextBrowser(self)
        self.body.setObjectName(f"{name}Text")
        self.body.setOpenExternalLinks(False)
        self.body.setFrameShape(QFrame.NoFrame)
        self.body.setStyleSheet("QTextBrowser { background: transparent; }")
        self.button = QPushButton("Continue", self)
        self.button.setObjectName(f"{name}Continue")
        self.button.setDefault(True)
        self.button.setMinimumSize(160, 44)
        self.row = QHBoxLayout()
        self.row.addStretch(1)
        self.row.addWidget(self.button)
        column = QWidget(self)
        column.setMaximumWidth(self.MAX_WIDTH)
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.body, 1)
        self.extra = QVBoxLayout()
        layout.addLayout(self.extra)
        layout.addLayout(self.row)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(60, 30, 60, 40)
        outer.addStretch(1)
        outer.addWidget(column, 100)
        outer.addStretch(1)

    def set_content(self, title: str, body_html: str, button: str | None = "Continue") -> None:
        self.title.setText(f"<h1>{html.escape(title)}</h1>")
        self.body.setHtml(f"<div style='font-size:14pt; line-height:130%'>{body_html}</div>")
        self.button.setVisible(button is not None)
        if button:
            self.button.setText(button)


class KioskWindow(QWidget):
    """The participant screen for one session. ``exited`` fires after the researcher unlocked it."""

    exited = Signal()

    def __init__(self, session: QuizSession, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.Window)
        self.setObjectName("kioskWindow")
        self.setWindowTitle(session.study.title)
        self.setWindowModality(Qt.ApplicationModal)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)  # readable from a step back
        self.setFont(font)
        self.session = session
        self.study = session.study
        self._unlocked = False
        self._after = None  # what the message page's button does next
        self.passphrase_dialog: PassphraseDialog | None = None
        self._pause: tuple[int, str, QElapsedTimer] | None = None  # (position, started at, clock)
        self.last_result: SubmitResult | None = None

        self.stack = QStackedWidget(self)
        self.consent = _Page("consent", self)
        self.consent_check = QCheckBox(self.study.consent_accept_label, self.consent)
        self.consent_check.setObjectName("consentCheck")
        self.consent.extra.addWidget(self.consent_check)
        self.decline = QPushButton(self.study.consent_decline_label, self.consent)
        self.decline.setObjectName("consentDecline")
        self.decline.setMinimumHeight(44)
        self.consent.row.insertWidget(0, self.decline)
        self.consent_check.toggled.connect(self.consent.button.setEnabled)
        self.consent.button.clicked.connect(self._accept_consent)
        self.decline.clicked.connect(self._decline_consent)
        self.instructions = _Page("instructions", self)
        self.instructions.button.clicked.connect(self._begin)
        self.message = _Page("message", self)
        self.message.button.clicked.connect(self._message_done)
        self.trial = TrialWidget(self.study, session.options, self)
        self.trial.submitted.connect(self._submit)
        self.thanks = _Page("thanks", self)
        for page in (self.consent, self.instructions, self.message, self.trial, self.thanks):
            self.stack.addWidget(page)

        title = QLabel(f"<b>{html.escape(self.study.title)}</b>", self)
        self.exit_button = QPushButton("Researcher", self)
        self.exit_button.setObjectName("kioskExit")
        self.exit_button.setFlat(True)
        self.exit_button.setFocusPolicy(Qt.NoFocus)
        self.exit_button.clicked.connect(self.request_exit)
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(self.exit_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        QShortcut(QKeySequence("Ctrl+Shift+Q"), self, activated=self.request_exit, context=Qt.WindowShortcut)
        self._resuming = session.phase in ("practice", "trials") and session.progress()[0] > 0
        self.show_current()

    # -- navigation ------------------------------------------------------------------------------
    def page(self) -> str:
        """The object name of the page shown (consent, instructions, message, trialWidget, thanks)."""
        return self.stack.currentWidget().objectName()

    def show_current(self) -> None:
        phase = self.session.phase
        if phase == "consent":
            self.consent.set_content(self.study.title, _paragraphs(self.study.consent_text), "Continue")
            self.consent.button.setEnabled(self.consent_check.isChecked())
            self.stack.setCurrentWidget(self.consent)
        elif phase == "instructions":
            start = "Start the practice" if self.study.n_practice else "Start"
            self.instructions.set_content("Instructions", _paragraphs(self.study.instructions), start)
            self.stack.setCurrentWidget(self.instructions)
            self.instructions.button.setFocus()
        elif phase == "declined":
            self._show_message(
                "Thank you", "<p>You chose not to take part. Nothing else will be recorded.</p>", None
            )
        elif phase == "finished":
            self._show_thanks()
        elif self._resuming:
            self._resuming = False
            self._show_message("Welcome back", self._resume_html(), "Continue", self._next_trial)
        else:
            self._next_trial()

    def _resume_html(self) -> str:
        nxt = self.session.next_trial()
        if nxt is None:
            return "<p>Your answers are saved.</p>"
        four = bool(self.study.views)
        noun = "places" if four else "pictures"
        if nxt.is_practice:
            done = f"{nxt.number - 1} of the {nxt.of} practice {noun}"
        else:
            done = f"{nxt.number - 1} of the {nxt.of} {noun}"
        return (
            f"<p>Your earlier answers are saved: you have answered {done}.</p>"
            f"<p>Next: {html.escape(trial_title(nxt, four).lower())}.</p>"
        )

    def _show_message(self, title: str, body: str, button: str | None, after=None) -> None:
        self.trial.stop()
        self._after = after
        self.message.set_content(title, body, button)
        self.stack.setCurrentWidget(self.message)
        self.message.button.setFocus()

    def _message_done(self) -> None:
        after, self._after = self._after, None
        (after or self.show_current)()

    def _show_thanks(self) -> None:
        self.trial.stop()
        body = _paragraphs(self.study.thank_you)
        if self.study.feedback:
            points, n = self.session.total_score()
            noun = "places" if self.study.views else "pictures"
            body += f"<p>Your score: <b>{points}</b> points over {n} {noun}.</p>"
        body += f"<p>Your participant code is <b>{self.session.code}</b>.</p>"
        self.thanks.set_content("Thank you", body, None)
        self.stack.setCurrentWidget(self.thanks)

    def _accept_consent(self) -> None:
        if not self.consent_check.isChecked():
            return
        self.session.accept_consent()
        self.show_current()

    def _decline_consent(self) -> None:
        self.session.decline_consent()
        self.show_current()

    def _begin(self) -> None:
        self.session.begin_trials()
        self.show_current()

    def _next_trial(self) -> None:
        spec = self.session.next_trial()
        if spec is None:
            self._show_thanks()
            return
        self._show_trial(spec)

    def _show_trial(self, spec: TrialSpec) -> None:
        from geoquiz.data.imageio import read_image

        images: list = []
        paths: list[str] = []
        try:
            for view, path in self.session.item_paths(spec):
                paths.append(path)
                images.append((view, read_image(path)))
        except (GeoQuizError, OSError, KeyError) as exc:
            self._log_problem("image_error", spec, exc, paths=paths)
            self._show_message("Please tell the researcher", f"<p>{html.escape(PICTURE_ERROR)}</p>", None)
            return
        self.trial.load(spec, images)
        self.stack.setCurrentWidget(self.trial)

    # -- answers ---------------------------------------------------------------------------------
    def _submit(self, response: TrialResponse) -> None:
        spec = self.trial.spec
        try:
            result = self.session.submit(spec.position, response)
        except (GeoQuizError, sqlite3.Error) as exc:
            self._log_problem("save_error", spec, exc)
            self.trial.set_error(SAVE_ERROR)
            return
        self.last_result = result
        nxt = self.session.next_trial()
        then = self._next_trial
        if spec.is_practice and nxt is not None and not nxt.is_practice:
            then = self._practice_over
        if self.study.feedback:
            self._show_message("Result", self._feedback_html(spec, result, response), "Continue", then)
        elif response.timed_out:
            noun = "place" if self.study.views else "picture"
            go_on = "Press Continue to finish." if nxt is None else f"Press Continue for the next {noun}."
            self._show_message(
                "Time is up", f"<p>Your answer so far has been saved.</p><p>{go_on}</p>", "Continue", then
            )
        else:
            then()

    def _log_problem(self, kind: str, spec: TrialSpec, exc: BaseException, **detail) -> None:
        """Keep the details of a problem for the researcher (never shown to the participant)."""
        try:
            self.session.record_problem(kind, spec.position, f"{type(exc).__name__}: {exc}", **detail)
        except (GeoQuizError, sqlite3.Error):  # the database itself is failing: the log still has it
            log.exception(
                "session %s, trial %s: %s (could not be recorded)", self.session.id, spec.position, kind
            )

    def _practice_over(self) -> None:
        noun = "places" if self.study.views else "pictures"
        n = next((t.of for t in self.session.order if not t.is_practice), self.study.n_pictures)
        self._show_message(
            "Practice finished",
            f"<p>That was the practice. Now come the {n} {noun} of the study.</p>",
            "Start",
            self._next_trial,
        )

    def _feedback_html(self, spec: TrialSpec, result: SubmitResult, response: TrialResponse) -> str:
        answer = f"<p>The answer was <b>{html.escape(result.true_label)}</b>.</p>"
        if result.correct_rank is None:
            you = "<p>It was not on your list: 0 points.</p>"
        else:
            you = f"<p>It was your {ordinal(result.correct_rank)} guess: <b>{result.score}</b> points.</p>"
        late = "<p>The time ran out; your answer so far was scored.</p>" if response.timed_out else ""
        points, n = self.session.total_score()
        noun = "places" if self.study.views else "pictures"
        total = (
            ""
            if spec.is_practice
            else f"<p>Total so far: {points} points over {n} of the {spec.of} {noun}.</p>"
        )
        return answer + you + late + total

    # -- leaving ---------------------------------------------------------------------------------
    def request_exit(self) -> PassphraseDialog:
        """Open the passphrase prompt; the kiosk closes when the right passphrase is entered. A trial
        on screen is paused while the prompt is open (the pause is recorded when it closes)."""
        if self.passphrase_dialog is not None and self.passphrase_dialog.isVisible():
            return self.passphrase_dialog
        dialog = PassphraseDialog(database_file(self.session.db), self)
        dialog.accepted.connect(self._unlock)
        dialog.finished.connect(self._prompt_closed)
        self.passphrase_dialog = dialog
        self._pause = None
        if self.stack.currentWidget() is self.trial and self.trial.pause():
            timer = QElapsedTimer()
            timer.start()
            self._pause = (self.trial.spec.position, now(), timer)
        dialog.open()
        dialog.input.setFocus()
        return dialog

    def _prompt_closed(self, _result: int) -> None:
        pause, self._pause = self._pause, None
        if pause is None:
            return
        position, started_at, timer = pause
        outcome = "unlocked" if self._unlocked else "resumed"
        if not self._unlocked:
            self.trial.resume()
        try:
            self.session.record_pause(
                position, started_at=started_at, duration_ms=timer.elapsed(), outcome=outcome
            )
        except (GeoQuizError, sqlite3.Error):
            log.exception("session %s: could not record a pause", self.session.id)

    def _unlock(self) -> None:
        self._unlocked = True
        self.trial.stop()
        self.close()

    @property
    def unlocked(self) -> bool:
        return self._unlocked

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._unlocked:
            event.ignore()
            self.request_exit()
            return
        super().closeEvent(event)
        self.exited.emit()
