"""Model › Train a model…: every training setting, a run in a worker, live curves, cancel and resume.

The form (:class:`ui.dialogs.train_form.TrainForm`) holds every
:class:`geoquiz.models.training.TrainConfig` setting with the papers' defaults, the model name, the
dataset and "resume an interrupted run" / "replace a model with this name".

Start runs :func:`geoquiz.models.jobs.train_model` in a worker (:mod:`ui.workers`) that opens its
own project connection. After each epoch the worker emits the epoch's entry through a Qt signal
(queued to the GUI thread), which redraws the loss and accuracy curves and the best epoch; the
dialog never touches a widget from the worker. Cancel stops the run at the next batch and leaves its
resume state; errors are shown in the dialog. On success ``ctx.data_changed("models")`` is emitted.
The dialog is not modal: the app stays usable while a model trains.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from geoquiz.errors import GeoQuizError
from geoquiz.models.summary import STOP_REASONS
from geoquiz.models.training import TrainConfig
from ui.context import AppContext
from ui.dialogs.train_form import TrainForm
from ui.plots.dashboard_plots import PlotPanel
from ui.plots.model_plots import best_entry, draw_accuracy_curves, draw_loss_curves
from ui.workers import Worker, start


def train_job(
    root: str,
    name: str,
    dataset: str,
    config: dict,
    *,
    resume: bool,
    overwrite: bool,
    on_epoch,
    reporter=None,
) -> dict:
    """Worker job: open the project, train and register model ``name``; a summary of the run."""
    from geoquiz.models.jobs import train_model
    from geoquiz.project import Project

    with Project.open(root) as project:
        res = train_model(
            project,
            name,
            dataset,
            TrainConfig.from_dict(config),
            reporter=reporter,
            on_epoch=on_epoch,
            resume=resume,
            overwrite=overwrite,
        )
    return {
        "name": name,
        "checkpoint": str(res.checkpoint),
        "history": res.history,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "best_val_acc": res.best_val_acc,
        "stop_reason": res.stop_reason,
        "seconds": res.seconds,
    }


class EpochRelay(QObject):
    """Lives on the GUI thread; the worker emits ``epoch(run, entry)``, delivered queued."""

    epoch = Signal(int, object)


class TrainDialog(QDialog):
    """The training form (left), the live curves and the run's status (right)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainDialog")
        self.setWindowTitle("Train a model")
        self.ctx = ctx
        self.worker: Worker | None = None
        self.history: list[dict] = []
        self.result: dict | None = None
        self.error: str | None = None
        self._run = 0
        self._active = False
        self._close_when_done = False
        self.relay = EpochRelay(self)
        self.relay.epoch.connect(self._on_epoch, Qt.QueuedConnection)
        self.form = TrainForm(ctx, self)

        self.loss_panel = PlotPanel("train_loss", "Loss per epoch", self)
        self.acc_panel = PlotPanel("train_accuracy", "Accuracy per epoch", self)
        self.best_label = QLabel("No run yet.", self)
        self.best_label.setObjectName("trainBest")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel(self)
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self.status.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("trainError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { color: #9b1c1c; background: #fdecec; border: 1px solid #f5b5b5; border-radius: 3px; padding: 6px; }"
        )
        self.error_label.hide()
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.loss_panel, 1)
        rl.addWidget(self.acc_panel, 1)
        rl.addWidget(self.best_label)
        rl.addWidget(self.progress)
        rl.addWidget(self.status)
        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(self.form)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.start_button = QPushButton("Start training", self)
        self.start_button.setObjectName("trainStart")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel run", self)
        self.cancel_button.setObjectName("trainCancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("trainClose")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        self.resize(1120, 700)
        splitter.setSizes([440, 680])
        for button in self.findChildren(QPushButton):  # Enter starts training, not a figure export
            button.setAutoDefault(button is self.start_button)

        self._draw()

    # -- running ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._active

    def start_training(self) -> Worker | None:
        """Validate the form and start the run in a worker (None, with the error shown, if invalid)."""
        if self.running:
            return None
        try:
            name, dataset, cfg = self.form.check()
        except GeoQuizError as exc:
            self._show_error(str(exc))
            return None
        self._show_error(None)
        self._run += 1
        self.history, self.result, self.error = [], None, None
        self._draw()
        self.best_label.setText(f"Training {name!r} on {dataset!r}…")
        self.status.setText("Preparing the data and the model…")
        self.progress.setRange(0, 0)
        self._set_running(True)
        run, relay = self._run, self.relay
        self.worker = start(
            train_job,
            str(self.ctx.root),
            name,
            dataset,
            cfg.to_dict(),
            resume=self.form.resume.isChecked(),
            overwrite=self.form.overwrite.isChecked(),
            on_epoch=lambda entry: relay.epoch.emit(run, entry),
            on_result=self._finished,
            on_error=self._failed,
            on_progress=self._progress,
            on_cancelled=self._cancelled,
        )
        return self.worker

    def cancel_training(self) -> None:
        if self.running:
            self.worker.cancel()
            self.status.setText("Stopping after the current batch…")
            self.cancel_button.setEnabled(False)

    def _set_running(self, on: bool) -> None:
        self._active = on
        self.form.setEnabled(not on)
        self.start_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)

    def _progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        if message and not (self.worker and self.worker.cancelled):
            self.status.setText(message)

    def _on_epoch(self, run: int, entry: dict) -> None:
        if run != self._run:
            return  # a late epoch of an earlier run
        self.history.append(entry)
        self._draw()

    def _draw(self) -> None:
        draw_loss_curves(self.loss_panel.plot, self.history)
        draw_accuracy_curves(self.acc_panel.plot, self.history)
        best = best_entry(self.history)
        if best is not None:
            last = self.history[-1]
            self.best_label.setText(
                f"Best epoch {best['epoch']}: val loss {best['val_loss']:.4f}, val acc {best['val_acc']:.1%}  ·  "
                f"epoch {last['epoch']}: {last['seconds']:.1f} s, {last['images_per_s']:.0f} images/s"
            )

    def _finished(self, result: dict) -> None:
        self.result = result
        reason = STOP_REASONS.get(result["stop_reason"], result["stop_reason"])
        self.status.setText(
            f"Model {result['name']!r} registered (best epoch {result['best_epoch']}, "
            f"val acc {result['best_val_acc']:.1%}; {reason}; {result['seconds']:.0f} s)."
        )
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._done()
        self.ctx.data_changed.emit("models")

    def _failed(self, message: str, _traceback: str) -> None:
        self.error = message
        self.status.setText("Training failed.")
        self._show_error(message)
        self._done()

    def _cancelled(self) -> None:
        self.error = None
        self.status.setText(
            "Cancelled: no model registered. To continue this run later, tick “Resume an interrupted run” "
            "(Data & run) and start again with the same name and settings."
        )
        self._done()

    def _done(self) -> None:
        """The run ended (result, error or cancel): unlock the form; close if that was asked."""
        self._set_running(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.form.update_name_hint()
        if self._close_when_done:
            super().reject()

    def _show_error(self, message: str | None) -> None:
        self.error_label.setVisible(bool(message))
        self.error_label.setText(f"<b>Cannot train:</b> {html.escape(message)}" if message else "")

    def reject(self) -> None:
        """Close; a running training is cancelled first (the dialog closes when it has stopped)."""
        if self.running:
            self._close_when_done = True
            self.cancel_training()
            return
        super().reject()


def open_train_dialog(ctx: AppContext, parent: QWidget | None = None) -> TrainDialog:
    """Show the training dialog (not modal; an open one is raised instead of opening a second)."""
    if parent is not None:
        for existing in parent.findChildren(TrainDialog):
            if existing.isVisible():
                existing.raise_()
                existing.activateWindow()
                return existing
    dialog = TrainDialog(ctx, parent)
    dialog.show()
    return dialog
