"""Background jobs for the app: every slow call into :mod:`geoquiz` runs here, off the GUI thread.

A job is a plain function that takes ``reporter=`` (a :class:`geoquiz.progress.Reporter`) as a
keyword argument, calls ``reporter.step(done, total, message)`` as it goes, and returns a result.
:func:`start` runs it on Qt's global thread pool and delivers progress, the result, an error
(message + traceback) or cancellation back on the GUI thread as signals. ``Worker.cancel()`` sets the
reporter's token; the job stops at its next ``step``.

Database rule: a job that touches the project database opens its own connection
(``Project.open(root)``) and closes it; SQLite connections are not shared across threads.
:func:`project_job` turns ``fn(project, ...)`` into such a job.

Garbage rule: Python's cyclic garbage collector runs on the GUI thread only
(:class:`MainThreadGC`, installed by the app), so that no worker ever destroys a Qt object.

Shared pieces for views: :class:`Latest` (only the most recent job of a kind counts: starting one
cancels the previous and drops its callbacks) and :class:`ui.widgets.job_controls.JobControls`
(Run / Cancel / progress / status for one kind of job).
"""

from __future__ import annotations

import functools
import gc
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from geoquiz.progress import Cancelled, Reporter


class WorkerSignals(QObject):
    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()  # emitted last, whatever the outcome


class Worker(QRunnable):
    """Runs ``fn(*args, reporter=..., **kwargs)`` on a pool thread."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.reporter = Reporter(self._emit_progress)
        self.result: Any = None
        self.error: str | None = None
        self.is_done = False

    def _emit_progress(self, done: int, total: int, message: str) -> None:
        self.signals.progress.emit(int(done), int(total), message)

    def cancel(self) -> None:
        self.reporter.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.reporter.token.cancelled

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args, reporter=self.reporter, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:
            self.error = str(exc) or exc.__class__.__name__
            self.signals.failed.emit(self.error, traceback.format_exc())
        else:
            self.signals.finished.emit(self.result)
        finally:
            self.is_done = True
            self.signals.done.emit()


_active: set[Worker] = set()


def start(
    fn: Callable[..., Any],
    *args: Any,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Worker:
    """Start ``fn`` in the background and wire the callbacks (called on the GUI thread)."""
    worker = Worker(fn, *args, **kwargs)
    if on_result:
        worker.signals.finished.connect(on_result, Qt.QueuedConnection)
    if on_error:
        worker.signals.failed.connect(on_error, Qt.QueuedConnection)
    if on_progress:
        worker.signals.progress.connect(on_progress, Qt.QueuedConnection)
    if on_cancelled:
        worker.signals.cancelled.connect(on_cancelled, Qt.QueuedConnection)
    _active.add(worker)
    worker.signals.done.connect(lambda: _active.discard(worker), Qt.QueuedConnection)
    QThreadPool.globalInstance().start(worker)
    return worker


def project_job(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(project, *args, reporter=..., **kwargs)`` as a job taking the project *root* instead: the
    project is opened in the pool thread (its own SQLite connection) and closed when ``fn`` returns."""

    @functools.wraps(fn)
    def job(root: Any, *args: Any, reporter: Reporter | None = None, **kwargs: Any) -> Any:
        from geoquiz.project import Project

        with Project.open(root) as project:
            return fn(project, *args, reporter=reporter, **kwargs)

    return job


class Latest:
    """One slot for jobs of which only the latest counts (the image being explained, the model whose
    evaluations are shown ...): :meth:`start` cancels the previous job and its callbacks are never
    called, even if it finishes afterwards."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self._generation = 0

    def start(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Worker:
        self.cancel()
        self._generation += 1
        generation = self._generation

        def current(callback: Callable[..., None] | None) -> Callable[..., None] | None:
            if callback is None:
                return None
            return lambda *a: callback(*a) if generation == self._generation else None

        self.worker = start(
            fn,
            *args,
            on_result=current(on_result),
            on_error=current(on_error),
            on_progress=current(on_progress),
            on_cancelled=current(on_cancelled),
            **kwargs,
        )
        return self.worker

    def cancel(self) -> None:
        """Cancel the running job (if any); its callbacks are dropped."""
        if self.worker is not None and not self.worker.is_done:
            self.worker.cancel()
        self._generation += 1

    @property
    def running(self) -> bool:
        return self.worker is not None and not self.worker.is_done


class MainThreadGC(QObject):
    """Python's cyclic garbage collector, run on the GUI thread only.

    Left alone, the collector runs in whichever thread allocates past its threshold, often a worker.
    When the garbage holds a Qt object (the wrapper of a closed dialog caught in a reference cycle),
    its C++ destructor then runs on that worker thread and PySide6 deadlocks there (seen: an Explain
    job stuck for minutes in ``~QObject`` inside a collection triggered by ``torch``'s
    ``state_dict``). So automatic collection is switched off and a timer on the GUI thread collects
    by the same generation thresholds every ``interval_ms``; :meth:`stop` collects once more and
    switches automatic collection back on.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 250) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> int | None:
        """Collect the generation due, if any (returns it); called by the timer."""
        counts = gc.get_count()
        if counts[0] <= self.threshold[0]:
            return None
        generation = 2 if counts[2] > self.threshold[2] else 1 if counts[1] > self.threshold[1] else 0
        gc.collect(generation)
        return generation

    def stop(self) -> None:
        self.timer.stop()
        gc.collect()
        if self.was_enabled:
            gc.enable()


def wait_all(timeout_ms: int = 30000) -> bool:
    """Block until every job has finished (used at shutdown and in tests)."""
    for worker in list(_active):
        worker.cancel()
    return QThreadPool.globalInstance().waitForDone(timeout_ms)


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, parent)
    box.setObjectName("errorBox")
    box.setTextInteractionFlags(Qt.TextSelectableByMouse)
    box.open()


def run_with_progress(
    parent: QWidget | None,
    title: str,
    fn: Callable[..., Any],
    *args: Any,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[str, str], None] | None = None,
    **kwargs: Any,
) -> Worker:
    """Run a job with a progress dialog that has a working Cancel button. Errors are shown."""
    dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
    dialog.setObjectName("jobProgress")
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)

    def progress(done: int, total: int, message: str) -> None:
        dialog.setMaximum(max(total, 0))
        dialog.setValue(min(done, total) if total > 0 else 0)
        if message:
            dialog.setLabelText(f"{title}\n{message}")

    def failed(message: str, tb: str) -> None:
        if on_error:
            on_error(message, tb)
        else:
            show_error(parent, title, message)

    worker = start(fn, *args, on_result=on_result, on_error=failed, on_progress=progress, **kwargs)
    dialog.canceled.connect(worker.cancel)
    worker.signals.done.connect(dialog.close, Qt.QueuedConnection)
    dialog.worker = worker  # keep a reference for tests
    return worker
