"""One quiz trial: the picture (or the four views), the guesses, the rationale, the cue boxes, the
confidence scale, a countdown when there is a time limit, and the Submit button (Ctrl+Enter).

The widget knows nothing about the database: :meth:`TrialWidget.load` gives it a
:class:`geoquiz.study.session.TrialSpec` and the images; it emits ``submitted(TrialResponse)`` when
the participant submits or the time runs out (then ``timed_out=True`` and the answer so far). The
response time is the *active* time in ms, measured with a monotonic clock from :meth:`load` to the
submission, less the time the clock was paused (:meth:`pause` / :meth:`resume`, e.g. while the
researcher's prompt is open); the countdown stands still during a pause too.

Keys anywhere in the trial: Ctrl+Up / Ctrl+Down move the selected guess (window shortcuts scoped to
the trial, so they work whether the focus is in the search box, the picture or the rationale),
Ctrl+Enter submits, Ctrl+Z / Ctrl+Y undo and redo box changes. A box drawn but not given a kind
(:mod:`ui.quiz.box_editor`) blocks submitting until it gets one or is discarded; at a time-out it is
dropped (it has no kind to record). The widget never shows the true label or anything about the model.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from geoquiz.db import now
from geoquiz.study.definition import StudyDefinition
from geoquiz.study.session import TrialResponse, TrialSpec
from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS
from ui.quiz.box_editor import BoxEditor
from ui.quiz.guess_picker import GuessPicker


def trial_title(spec: TrialSpec, four_view: bool) -> str:
    """The one wording of the numbering, ``spec.number`` of ``spec.of``: "Practice picture 1 of 2",
    "Picture 3 of 13", or for 4-view studies "Place 3 of 6" (see
    :class:`geoquiz.study.session.TrialSpec`)."""
    noun = "place" if four_view else "picture"
    what = f"Practice {noun}" if spec.is_practice else noun.capitalize()
    return f"{what} {spec.number} of {spec.of}"


class ConfidenceScale(QWidget):
    """Radio buttons 1..levels between "just guessing" and "certain" (arrow keys move the choice)."""

    changed = Signal()

    def __init__(self, levels: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confidenceScale")
        self.group = QButtonGroup(self)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Just guessing", self))
        for n in range(1, levels + 1):
            b = QRadioButton(str(n), self)
            b.setObjectName(f"confidence_{n}")
            self.group.addButton(b, n)
            row.addWidget(b)
        row.addWidget(QLabel("Certain", self))
        row.addStretch(1)
        self.group.idClicked.connect(lambda _id: self.changed.emit())

    def value(self) -> int | None:
        n = self.group.checkedId()
        return None if n < 0 else n

    def set_value(self, value: int | None) -> None:
        self.group.setExclusive(False)
        for b in self.group.buttons():
            b.setChecked(self.group.id(b) == value)
        self.group.setExclusive(True)


class TrialWidget(QWidget):
    """See the module docstring. Build one per study; :meth:`load` resets it for each trial."""

    submitted = Signal(object)  # TrialResponse

    def __init__(
        self, study: StudyDefinition, options: tuple[str, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trialWidget")
        self.study = study
        self.responses = study.responses
        self.options = options
        self.spec: TrialSpec | None = None
        self.undo_stack = QUndoStack(self)
        self.clock = QElapsedTimer()  # runs while the trial is shown and not paused
        self._active_ms = 0  # active time before the current run of the clock
        self._paused = False
        self.shown_at = ""
        self.remaining_s = 0
        self.countdown = QTimer(self)
        self.countdown.setInterval(200)
        self.countdown.timeout.connect(self._tick)
        self._busy = False

        self.header = QLabel(self)
        self.header.setObjectName("trialHeader")
        self.timer_label = QLabel(self)
        self.timer_label.setObjectName("trialCountdown")
        self.timer_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.timer_label.setVisible(study.time_limit_s > 0)

        # images
        views = study.views or (None,)
        self.editors: dict[str | None, BoxEditor] = {}
        images = QWidget(self)
        grid = QGridLayout(images)
        grid.setContentsMargins(0, 0, 0, 0)
        for n, view in enumerate(views):
            editor = BoxEditor(self.undo_stack, view, images)
            editor.set_drawing_enabled(self.responses.cue_boxes)
            editor.activated.connect(lambda e=editor: self._activate(e))
            editor.selectedTagChanged.connect(lambda tag, e=editor: self._selected_tag(e, tag))
            editor.pendingChanged.connect(lambda _pending: self.message.clear())
            self.editors[view] = editor
            if view is None:
                grid.addWidget(editor, 0, 0)
            else:
                cell = QVBoxLayout()
                label = QLabel(f"<b>{view.capitalize()}</b>", images)
                cell.addWidget(label)
                cell.addWidget(editor, 1)
                grid.addLayout(cell, n // 2, n % 2)
        self.active_editor = next(iter(self.editors.values()))

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(images, 1)
        self.tag_combo = QComboBox(self)  # the kind of the selected box; nothing when none is
        self.tag_combo.setObjectName("cueTag")
        for n, tag in enumerate(CUE_TAGS, 1):
            self.tag_combo.addItem(f"{n}  {CUE_TAG_LABELS[tag]}", tag)
        self.tag_combo.setPlaceholderText("click a box to select it")
        self.tag_combo.setCurrentIndex(-1)
        self.tag_combo.setEnabled(False)
        self.tag_combo.activated.connect(self._tag_chosen)
        self.delete_box = QPushButton("Delete box", self)
        self.delete_box.setObjectName("deleteBox")
        self.delete_box.clicked.connect(lambda: self.active_editor.delete_selected())
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setObjectName("undoBox")
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.redo_button = QPushButton("Redo", self)
        self.redo_button.setObjectName("redoBox")
        self.redo_button.clicked.connect(self.undo_stack.redo)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        box_row = QHBoxLayout()
        box_row.addWidget(QLabel("Selected box:", self))
        box_row.addWidget(self.tag_combo, 1)
        for b in (self.delete_box, self.undo_button, self.redo_button):
            b.setAutoDefault(False)
            box_row.addWidget(b)
        self.box_help = QLabel(
            "Drag on the picture to box a clue you used, then choose its kind (click, or keys 1-9; "
            "Esc removes the box). Click a box to select it: drag it to move, drag a corner to resize, "
            "1-9 to change its kind. Scroll to zoom, right-drag to pan.",
            self,
        )
        self.box_help.setWordWrap(True)
        if self.responses.cue_boxes:
            lv.addLayout(box_row)
            lv.addWidget(self.box_help)
        else:
            for w in (self.tag_combo, self.delete_box, self.undo_button, self.redo_button):
                w.hide()

        # answers
        right = QWidget(self)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.picker = GuessPicker(options, self.responses.top_k, right)
        rv.addWidget(self.picker, 3)
        self.rationale = QPlainTextEdit(right)
        self.rationale.setObjectName("rationale")
        self.rationale.setPlaceholderText(
            "What made you choose these? (e.g. the road markings, the script on the signs)"
        )
        self.rationale.setTabChangesFocus(True)
        if self.responses.rationale:
            rv.addWidget(QLabel("<b>Why?</b>", right))
            rv.addWidget(self.rationale, 1)
        else:
            self.rationale.hide()
        self.confidence = ConfidenceScale(self.responses.confidence_levels, right)
        if self.responses.confidence:
            rv.addWidget(QLabel("<b>How confident are you?</b>", right))
            rv.addWidget(self.confidence)
        else:
            self.confidence.hide()
        self.message = QLabel(right)
        self.message.setObjectName("trialMessage")
        self.message.setStyleSheet("color: #c62828;")
        self.message.setWordWrap(True)
        rv.addWidget(self.message)
        self.submit_button = QPushButton("Submit answer", right)
        self.submit_button.setObjectName("submitTrial")
        self.submit_button.setDefault(False)
        self.submit_button.setAutoDefault(False)
        self.submit_button.setToolTip("Ctrl+Enter")
        self.submit_button.clicked.connect(self.try_submit)
        rv.addWidget(self.submit_button)

        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.timer_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        # Ctrl+Enter submits from anywhere in the trial (an event filter, so it also works when the
        # window is not "active", e.g. on offscreen test platforms where shortcuts never fire).
        for child in self.findChildren(QWidget):
            child.installEventFilter(self)
        self.picker.install_shortcuts(self)
        QShortcut(
            QKeySequence.Undo, self, activated=self.undo_stack.undo, context=Qt.WidgetWithChildrenShortcut
        )
        QShortcut(
            QKeySequence.Redo, self, activated=self.undo_stack.redo, context=Qt.WidgetWithChildrenShortcut
        )
        QShortcut(
            QKeySequence("Ctrl+Shift+Z"),
            self,
            activated=self.undo_stack.redo,
            context=Qt.WidgetWithChildrenShortcut,
        )

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.KeyPress
            and event.key() in (Qt.Key_Return, Qt.Key_Enter)
            and event.modifiers() & Qt.ControlModifier
        ):
            self.try_submit()
            return True
        return False

    # -- loading ---------------------------------------------------------------------------------
    def load(self, spec: TrialSpec, images: list[tuple[str | None, np.ndarray]]) -> None:
        """Show a trial: ``images`` is ``[(view, RGB uint8 HWC)]`` (view None for single images)."""
        self.spec = spec
        self.header.setText(f"<h2>{html.escape(trial_title(spec, bool(self.study.views)))}</h2>")
        self.undo_stack.clear()
        for view, editor in self.editors.items():
            editor.clear_boxes()
            editor.set_image(dict(images).get(view))
        self.undo_stack.clear()
        self.picker.set_guesses(())
        self.picker.search.clear()
        self.rationale.clear()
        self.confidence.set_value(None)
        self.message.clear()
        self._selected_tag(self.active_editor, "")
        self._busy = False
        self.submit_button.setEnabled(True)
        self.shown_at = now()
        self._active_ms, self._paused = 0, False
        self.clock.start()
        if self.study.time_limit_s > 0:
            self.remaining_s = self.study.time_limit_s
            self._show_remaining()
            self.countdown.start()
        self.picker.search.setFocus()

    def stop(self) -> None:
        """Stop the countdown (the kiosk calls this when it leaves the trial)."""
        self.countdown.stop()
        for editor in self.editors.values():
            editor.cancel_pending()

    # -- the clock -------------------------------------------------------------------------------
    def active_ms(self) -> int:
        """Milliseconds the trial has been shown, pauses excluded."""
        running = self.clock.elapsed() if self.clock.isValid() and not self._paused else 0
        return self._active_ms + int(running)

    def is_paused(self) -> bool:
        return self._paused

    def pause(self) -> bool:
        """Stop the clock and the countdown (True when a running trial was paused)."""
        if self.spec is None or self._busy or self._paused or not self.clock.isValid():
            return False
        self._active_ms += int(self.clock.elapsed())
        self._paused = True
        self.countdown.stop()
        return True

    def resume(self) -> None:
        """Restart the clock (and the countdown) after :meth:`pause`."""
        if not self._paused:
            return
        self._paused = False
        self.clock.start()
        if self.study.time_limit_s > 0 and not self._busy:
            self.countdown.start()

    # -- boxes -----------------------------------------------------------------------------------
    def _activate(self, editor: BoxEditor) -> None:
        """One editor at a time has a selection or a box waiting for its kind."""
        if editor is not self.active_editor:
            self.active_editor.cancel_pending()
            self.active_editor.select(None)
            self.active_editor = editor

    def _selected_tag(self, editor: BoxEditor, tag: str) -> None:
        """Show the kind of the selected box (nothing, and disabled, when no box is selected)."""
        if editor is not self.active_editor and not tag:
            return
        self.tag_combo.setCurrentIndex(CUE_TAGS.index(tag) if tag else -1)
        self.tag_combo.setEnabled(bool(tag))

    def _tag_chosen(self, index: int) -> None:
        """The participant chose a kind in the list: it applies to the selected box only."""
        tag = self.tag_combo.itemData(index)
        if tag is None or not self.active_editor.retag_selected(tag):
            self._selected_tag(self.active_editor, "")

    def cue_boxes(self) -> list:
        return [cb for editor in self.editors.values() for cb in editor.cue_boxes()]

    # -- submitting ------------------------------------------------------------------------------
    def response(self, *, timed_out: bool = False) -> TrialResponse:
        """The answer as it stands now."""
        return TrialResponse(
            guesses=self.picker.guesses(),
            rationale=self.rationale.toPlainText().strip() if self.responses.rationale else "",
            confidence=self.confidence.value() if self.responses.confidence else None,
            boxes=tuple(self.cue_boxes()) if self.responses.cue_boxes else (),
            response_time_ms=self.active_ms(),
            shown_at=self.shown_at or None,
            timed_out=timed_out,
        )

    def missing(self) -> str:
        """What still has to be answered ("" when the answer can be submitted)."""
        rs = self.responses
        if any(editor.has_pending() for editor in self.editors.values()):
            return "Choose the kind of the box you drew (keys 1-9), or press Esc to remove it."
        if len(self.picker.guesses()) < rs.min_guesses:
            return f"Add at least {rs.min_guesses} guess{'es' if rs.min_guesses > 1 else ''}."
        if rs.rationale and rs.rationale_required and not self.rationale.toPlainText().strip():
            return "Please say briefly why you chose these."
        if rs.confidence and rs.confidence_required and self.confidence.value() is None:
            return "Please choose how confident you are."
        return ""

    def try_submit(self) -> bool:
        if self.spec is None or self._busy:
            return False
        problem = self.missing()
        if problem:
            self.message.setText(problem)
            return False
        self._emit(timed_out=False)
        return True

    def expire(self) -> None:
        """The time is up: submit the answer so far, flagged ``timed_out`` (a box still waiting for
        its kind is dropped)."""
        if self.spec is not None and not self._busy:
            self._emit(timed_out=True)

    def _emit(self, *, timed_out: bool) -> None:
        for editor in self.editors.values():
            editor.cancel_pending()  # also closes a kind picker left open on a selected box
        self._busy = True
        self.countdown.stop()
        self.submit_button.setEnabled(False)
        self.submitted.emit(self.response(timed_out=timed_out))

    def set_error(self, message: str) -> None:
        """The kiosk could not save the answer: show why and let the participant try again."""
        self.message.setText(message)
        self._busy = False
        self.submit_button.setEnabled(True)

    def _tick(self) -> None:
        left_ms = self.study.time_limit_s * 1000 - self.active_ms()
        remaining = max(0, -(-left_ms // 1000))  # whole seconds, rounded up
        if remaining != self.remaining_s:
            self.remaining_s = remaining
            self._show_remaining()
        if left_ms <= 0:
            self.expire()

    def _show_remaining(self) -> None:
        m, s = divmod(max(self.remaining_s, 0), 60)
        urgent = self.remaining_s <= 10
        color = "#c62828" if urgent else "#333333"
        self.timer_label.setText(f"<span style='font-size:18pt; color:{color}'>Time left {m}:{s:02d}</span>")
