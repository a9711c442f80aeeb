"""Run / Cancel buttons, a progress bar and a status line for one kind of background job.

    controls = JobControls("Evaluate", names=("evalStart", "evalCancel", "evalProgress", "evalStatus"))
    controls.finished.connect(self._evaluated)          # also: failed(message, traceback), cancelled()
    controls.start(evaluate_job, root, model, ...)       # a worker job (ui.workers); Run is disabled
                                                         # while it runs, Cancel enabled, progress shown

One job at a time: :meth:`start` refuses (returns None) while a job runs. The status line shows the
job's progress messages; :meth:`set_status` writes it from the view. Errors are shown in a message
box unless ``show_errors=False`` (the view then handles ``failed``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ui.workers import Worker, show_error, start


class JobControls(QWidget):
    """See the module docstring. ``names``: object names of (run button, cancel button, progress
    bar, status label), for tests and style sheets."""

    started = Signal()
    statusChanged = Signal(str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()

    def __init__(
        self,
        run_text: str = "Run",
        parent: QWidget | None = None,
        *,
        names: tuple[str, str, str, str] = ("runButton", "cancelButton", "runProgress", "statusLabel"),
        error_title: str = "The job failed",
        show_errors: bool = True,
        status_below: bool = True,
    ) -> None:
        super().__init__(parent)
        self.worker: Worker | None = None
        self.error_title = error_title
        self.show_errors = show_errors
        self._runnable = True
        self.run_button = QPushButton(run_text, self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        for widget, name in zip((self.run_button, self.cancel_button, self.progress, self.status), names):
            widget.setObjectName(name)
        self.cancel_button.clicked.connect(self.cancel)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.progress, 1)
        self.row.addWidget(self.run_button)
        self.row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.row)
        if status_below:
            layout.addWidget(self.status)

    def add_to_row(self, widget: QWidget) -> None:
        """Put ``widget`` (an options button ...) in the row, after Cancel."""
        widget.setParent(self)
        self.row.addWidget(widget)

    # --- state ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def set_runnable(self, runnable: bool) -> None:
        """Whether Run may be pressed when no job is running (e.g. a model is selected)."""
        self._runnable = bool(runnable)
        self.run_button.setEnabled(self._runnable and not self.busy)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.statusChanged.emit(text)

    # --- running ----------------------------------------------------------------------------
    def start(
        self, fn: Callable[..., Any], *args: Any, status: str = "Starting…", **kwargs: Any
    ) -> Worker | None:
        """Run ``fn(*args, reporter=..., **kwargs)`` in a worker; None when a job is already running."""
        if self.busy:
            return None
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("%p%")
        self.set_status(status)
        self.worker = start(
            fn,
            *args,
            on_result=self._finished,
            on_error=self._failed,
            on_progress=self._progress,
            on_cancelled=self._cancelled,
            **kwargs,
        )
        self.started.emit()
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.set_status("Cancelling…")

    def _progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        if message:
            self.set_status(message)

    def _over(self) -> None:
        self.worker = None
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(self._runnable)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")

    def _finished(self, result: Any) -> None:
        self._over()
        self.set_status("Done.")
        self.finished.emit(result)

    def _failed(self, message: str, tb: str) -> None:
        self._over()
        self.set_status(f"Failed: {message}")
        if self.show_errors:
            show_error(self.window(), self.error_title, message)
        self.failed.emit(message, tb)

    def _cancelled(self) -> None:
        self._over()
        self.set_status("Cancelled.")
        self.cancelled.emit()
