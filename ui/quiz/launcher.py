"""Study -> Start a participant session: the researcher picks a study, sets or enters the
researcher passphrase, and starts a new session or resumes an interrupted one in the kiosk.

The passphrase is required to start (so nobody locks a screen they cannot unlock) and to leave the
kiosk. A new passphrase typed into the two "new passphrase" fields is saved when Start (or Resume)
is pressed, as if "Set passphrase" had been pressed first. Checking and saving a passphrase (a
deliberately slow key derivation) run in a worker on a connection of their own: the window stays
responsive, "Checking the passphrase…" is shown and the buttons wait. While the kiosk is up, the researcher's
main window is hidden; it comes back when the kiosk is unlocked, and the views are told that
sessions changed.

The study shown first is the one asked for (``study_id``), else the one selected in the Studies tab
of the window the launcher is opened from (its ``study_id()``), else the first by slug. A study that
shows pictures with parts removed (``[trials] ablation``) needs them prepared first: the
"Prepare pictures" row (:mod:`ui.quiz.ablation_prep`) does it in a worker, and Start waits for it.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from geoquiz.errors import GeoQuizError
from geoquiz.study.events import event_counts
from geoquiz.study.passphrase import MIN_LENGTH, Attempt, authorise_in, has_passphrase
from geoquiz.study.session import QuizSession, list_sessions
from ui.context import AppContext
from ui.quiz.ablation_prep import PreparePictures
from ui.quiz.kiosk import KioskWindow
from ui.workers import show_error, start

OPEN_STATES = ("created", "consented", "running")
_kiosks: set[KioskWindow] = set()  # keep open kiosks alive


def selected_study(parent: QWidget | None) -> int | None:
    """The study selected in the Studies tab of ``parent``'s window (None when there is none)."""
    if parent is None:
        return None
    view = parent.window().findChild(QWidget, "studiesView")
    study_id = getattr(view, "study_id", None)
    return study_id() if callable(study_id) else None


def start_kiosk(
    ctx: AppContext, session: QuizSession, parent: QWidget | None = None, *, full_screen: bool = True
) -> KioskWindow:
    """Show ``session`` in a full-screen kiosk and hide every researcher window (the main window, a
    training dialog, a review ...) until it is unlocked; they come back when the kiosk exits."""
    main = parent.window() if parent is not None else None
    kiosk = KioskWindow(session)
    _kiosks.add(kiosk)
    hidden = [
        w
        for w in QApplication.topLevelWidgets()
        if w.isVisible() and w is not kiosk and not isinstance(w, KioskWindow) and w.windowType() != Qt.Popup
    ]
    if main is not None and main not in hidden and main.isVisible():
        hidden.append(main)

    def back() -> None:
        _kiosks.discard(kiosk)
        for w in hidden:
            if shiboken6.isValid(w):  # a window closed and deleted meanwhile stays gone
                w.show()
        ctx.data_changed.emit("sessions")

    kiosk.exited.connect(back)
    if full_screen:
        kiosk.showFullScreen()
    else:
        kiosk.show()
    kiosk.raise_()
    kiosk.activateWindow()
    for w in hidden:
        w.hide()
    return kiosk


class SessionLauncher(QDialog):
    """See the module docstring. ``kiosk`` is the kiosk it opened (None until then); ``settled`` is
    emitted when a press of Start, Resume or Set passphrase has had its answer (the kiosk opened,
    the passphrase saved, or the reason in the error line)."""

    settled = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, study_id: int | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionLauncher")
        self.setWindowTitle("Start a participant session")
        self.ctx = ctx
        self.db = ctx.project.db
        self.db_file = str(ctx.project.db_path)
        self.checking = False
        self._generation = 0  # bumped by Close: a check answered after it is ignored
        self.kiosk: KioskWindow | None = None
        self.full_screen = True

        if study_id is None:
            study_id = selected_study(parent)
        self.study_combo = QComboBox(self)
        self.study_combo.setObjectName("launcherStudy")
        for sid, slug, title in self.db.execute(
            "SELECT id, slug, title FROM studies ORDER BY slug"
        ).fetchall():
            self.study_combo.addItem(f"{title} ({slug})", sid)
        if study_id is not None and self.study_combo.findData(study_id) >= 0:
            self.study_combo.setCurrentIndex(self.study_combo.findData(study_id))
        self.study_combo.currentIndexChanged.connect(self.refresh_sessions)

        self.sessions = QTableWidget(0, 5, self)
        self.sessions.setObjectName("launcherSessions")
        self.sessions.setHorizontalHeaderLabels(["Participant", "State", "Progress", "Started", "Notes"])
        self.sessions.setSelectionBehavior(QTableWidget.SelectRows)
        self.sessions.setSelectionMode(QTableWidget.SingleSelection)
        self.sessions.setEditTriggers(QTableWidget.NoEditTriggers)
        self.sessions.horizontalHeader().setStretchLastSection(True)

        self.passphrase = QLineEdit(self)
        self.passphrase.setObjectName("launcherPass")
        self.passphrase.setEchoMode(QLineEdit.Password)
        self.new_pass = QLineEdit(self)
        self.new_pass.setObjectName("launcherNewPass")
        self.new_pass.setEchoMode(QLineEdit.Password)
        self.confirm_pass = QLineEdit(self)
        self.confirm_pass.setObjectName("launcherConfirmPass")
        self.confirm_pass.setEchoMode(QLineEdit.Password)
        self.set_pass_button = QPushButton("Set passphrase", self)
        self.set_pass_button.setObjectName("launcherSetPass")
        self.set_pass_button.setAutoDefault(False)
        self.set_pass_button.clicked.connect(self.save_passphrase)
        self.pass_info = QLabel(self)
        self.pass_info.setWordWrap(True)

        self.error = QLabel(self)
        self.error.setObjectName("launcherError")
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        self.start_button = QPushButton("Start new session", self)
        self.start_button.setObjectName("launcherStart")
        self.start_button.clicked.connect(self.start_new)
        self.resume_button = QPushButton("Resume selected", self)
        self.resume_button.setObjectName("launcherResume")
        self.resume_button.setAutoDefault(False)
        self.resume_button.clicked.connect(self.resume_selected)
        self.prepare = PreparePictures(ctx, self)  # ablation studies: their pictures are prepared first
        self.prepare.controls.run_button.clicked.connect(self.prepare.start)
        self.prepare.readyChanged.connect(lambda _ready: self._update_start())
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        close.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Study:", self.study_combo)
        form.addRow("Researcher passphrase:", self.passphrase)
        form.addRow(self.pass_info)
        form.addRow("New passphrase:", self.new_pass)
        form.addRow("Repeat new passphrase:", self.confirm_pass)
        form.addRow("", self.set_pass_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Unfinished sessions of this study:", self))
        layout.addWidget(self.sessions, 1)
        layout.addWidget(self.prepare)
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.start_button)
        layout.addLayout(buttons)
        self.resize(620, 480)
        self.refresh_passphrase()
        self.refresh_sessions()
        if self.study_combo.count() == 0:
            self.error.setText("No study is installed in this project. Install one from the Studies tab.")
            self.start_button.setEnabled(False)

    # -- passphrase ------------------------------------------------------------------------------
    def refresh_passphrase(self) -> None:
        if has_passphrase(self.db):
            self.pass_info.setText("To change it, enter the current one above and the new one twice below.")
            self.set_pass_button.setText("Change passphrase")
        else:
            self.pass_info.setText(
                f"No researcher passphrase yet. Choose one (at least {MIN_LENGTH} characters): it is needed to leave "
                "the participant screen. It is stored only as a salted hash."
            )
            self.set_pass_button.setText("Set passphrase")
        self.passphrase.setEnabled(has_passphrase(self.db))

    def save_passphrase(self) -> None:
        """The "Set passphrase" button: the new passphrase is saved (after the current one, if set)."""
        self.error.clear()
        self._authorise(None)

    def _authorise(self, then) -> None:
        """Check what was typed, then run ``then()`` (None: only save a new passphrase). The slow part
        (the key derivation of each try, and of saving) runs in a worker with a connection of its own,
        so the window never freezes; the buttons wait meanwhile. ``settled`` is emitted at the end."""
        if self.checking:
            return
        new, confirm = self.new_pass.text(), self.confirm_pass.text()
        wants_new = then is None or bool(new or confirm)
        if wants_new and new and not confirm:
            self._fail(
                "Type the new passphrase a second time, in 'Repeat new passphrase'.", self.confirm_pass
            )
            return
        if wants_new and new != confirm:
            self._fail("The two new passphrases differ.")
            return
        if not wants_new and not has_passphrase(self.db):
            self._fail("Set a researcher passphrase first: it is needed to leave the participant screen.")
            return
        self._set_checking(True)
        generation = self._generation
        start(
            lambda current, new_one, reporter=None: authorise_in(self.db_file, current, new_one),
            self.passphrase.text(),
            new if wants_new else None,
            on_result=lambda result: self._authorised(result, new, then, generation),
            on_error=lambda message, _tb: self._authorised(
                (Attempt(False, f"Cannot check it: {message}"), False), new, then, generation
            ),
        )

    def reject(self) -> None:
        """Close: a passphrase check still running is forgotten (nothing opens after the dialog is gone)."""
        self._generation += 1
        super().reject()

    def _authorised(self, result: tuple[Attempt, bool], new: str, then, generation: int) -> None:
        if generation != self._generation:  # the dialog was closed meanwhile
            return
        attempt, saved = result
        self._set_checking(False)
        if saved:
            self.passphrase.setText(new)
            self.new_pass.clear()
            self.confirm_pass.clear()
            self.refresh_passphrase()
            self.pass_info.setText("Passphrase saved.")
        if not attempt:
            if self.passphrase.isEnabled():  # ready for the next try
                self.passphrase.selectAll()
            self._fail(
                attempt.message or "Wrong passphrase.",
                self.passphrase if self.passphrase.isEnabled() else None,
            )
            return
        self.error.clear()
        if then is not None:
            then()
        self.settled.emit()

    def _fail(self, message: str, focus: QWidget | None = None) -> None:
        self.error.setStyleSheet("color: #c62828;")
        self.error.setText(message)
        if focus is not None:
            focus.setFocus()
        self.settled.emit()

    def _set_checking(self, checking: bool) -> None:
        self.checking = checking
        for widget in (
            self.start_button,
            self.resume_button,
            self.set_pass_button,
            self.study_combo,
            self.new_pass,
            self.confirm_pass,
        ):
            widget.setEnabled(not checking)
        self.passphrase.setEnabled(not checking and has_passphrase(self.db))
        if checking:
            self.error.setStyleSheet("color: #555555;")
            self.error.setText("Checking the passphrase…")
        else:
            self._update_start()
            self.resume_button.setEnabled(self.sessions.rowCount() > 0)

    # -- sessions --------------------------------------------------------------------------------
    def study_id(self) -> int | None:
        return self.study_combo.currentData()

    def _update_start(self) -> None:
        self.start_button.setEnabled(self.study_id() is not None and self.prepare.ready)

    def refresh_sessions(self) -> None:
        self.sessions.setRowCount(0)
        self.prepare.set_study(self.study_id())
        self._update_start()
        if self.study_id() is None:
            return
        rows = [s for s in list_sessions(self.db, int(self.study_id())) if s.state in OPEN_STATES]
        events = event_counts(self.db, int(self.study_id()))
        self.sessions.setRowCount(len(rows))
        for r, s in enumerate(rows):
            values = [
                s.code,
                s.state,
                f"{s.answered}/{s.total}",
                s.started_at[:19].replace("T", " "),
                _notes(events.get(s.id, {})),
            ]
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.UserRole, s.id)
                self.sessions.setItem(r, c, item)
        self.resume_button.setEnabled(bool(rows))

    def start_new(self) -> None:
        """Start: once the passphrase is checked (in a worker), a new session opens in the kiosk."""
        self.error.clear()
        if self.study_id() is None:
            return
        study_id = int(self.study_id())  # the study chosen when Start was pressed
        self._authorise(lambda: self._start_now(study_id))

    def _start_now(self, study_id: int) -> None:
        try:
            session = QuizSession.create(self.db, study_id)
        except GeoQuizError as exc:
            show_error(self, "Cannot start the session", str(exc))
            return
        self._open(session)

    def resume_selected(self) -> None:
        """Resume: once the passphrase is checked, the selected session reopens in the kiosk."""
        self.error.clear()
        row = self.sessions.currentRow()
        if row < 0:
            self._fail("Select a session to resume.")
            return
        session_id = int(self.sessions.item(row, 0).data(Qt.UserRole))
        self._authorise(lambda: self._resume_now(session_id))

    def _resume_now(self, session_id: int) -> None:
        try:
            session = QuizSession.load(self.db, session_id)
        except GeoQuizError as exc:
            show_error(self, "Cannot resume the session", str(exc))
            return
        self._open(session)

    def _open(self, session: QuizSession) -> KioskWindow:
        parent = self.parentWidget()
        self.accept()
        self.kiosk = start_kiosk(self.ctx, session, parent, full_screen=self.full_screen)
        self.ctx.data_changed.emit("sessions")
        return self.kiosk


def _notes(counts: dict[str, int]) -> str:
    """ "1 picture not shown, 2 pauses" from a session's event counts."""
    parts = []
    for kind, one, many in (
        ("image_error", "picture not shown", "pictures not shown"),
        ("save_error", "save failed", "saves failed"),
        ("pause", "pause", "pauses"),
    ):
        n = counts.get(kind, 0)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)


def open_session_launcher(
    ctx: AppContext, parent: QWidget | None = None, study_id: int | None = None
) -> SessionLauncher | None:
    """Menu entry (Study -> Start a participant session…). Returns the dialog (shown, non-blocking)."""
    if ctx.project is None:
        show_error(parent, "No project", "Open a project first.")
        return None
    dialog = SessionLauncher(ctx, parent, study_id)
    dialog.open()
    return dialog
