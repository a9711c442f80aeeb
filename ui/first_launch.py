"""First launch of the demo project: the window shows data within seconds, the rest comes in the background.

:class:`DemoLauncher` drives :func:`geoquiz.demo.ensure_demo_project` in two workers:

1. ``until="browsable"``: the first few GeoScenes images per country (a few seconds), under an
   :class:`~ui.widgets.eta_progress.EtaProgressDialog` (title never cut, time estimate, Cancel);
   then the project opens and the welcome panel (:mod:`ui.dialogs.welcome`) appears;
2. the rest of the build (the remaining images, the example studies, the demo model, the 4-view
   dataset), in the background: its progress and time estimate are in the status bar, and
   :meth:`ui.context.AppContext.set_training` tells the Model and Explain tabs (their
   :class:`~ui.widgets.training_banner.TrainingBanner`) that the demo model is on its way. Each
   finished stage is announced with ``ctx.data_changed`` so the views fill in as it happens.

Closing the window cancels the background worker (``wait_all``); the build is staged and resumable,
so the next launch opens what is there at once and continues where it stopped. ``times`` records
when each milestone was reached (seconds since the launcher was made) and ``cpu`` the process's CPU
seconds then (``browsable``, ``training`` = the model stage began, ``model``, ``ready``), for
``bench.first_launch``.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt

from geoquiz import demo
from geoquiz.progress import Eta, format_eta
from ui.context import TrainingStatus
from ui.workers import Worker, show_error, start

DIALOG_TITLE = "Preparing the GeoScenes demo project"
#: data_changed kinds announced when a stage of the build is over
ANNOUNCE = {
    "datasets": ("datasets",),
    "studies": ("studies",),
    "model": ("models", "evaluations"),
    "4view": ("datasets",),
}


class DemoLauncher(QObject):
    """Opens (building if needed) the demo project at ``root`` in ``window``; see the module docstring."""

    def __init__(self, window, root: Path, t0: float | None = None) -> None:
        super().__init__(window)
        self.window, self.ctx, self.root = window, window.ctx, Path(root)
        self.t0 = time.perf_counter() if t0 is None else t0
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.dialog = None
        self.welcome = None
        self.preview_worker: Worker | None = None
        self.background_worker: Worker | None = None
        self.stage: str | None = None
        self.eta = Eta()
        self.model_name = "demo-resnet10"

    def _mark(self, what: str) -> None:
        if what not in self.times:
            self.times[what] = time.perf_counter() - self.t0
            self.cpu[what] = time.process_time()

    # --- step 1: the first images, then the window opens on them ---------------------------------
    def start(self) -> None:
        if demo.demo_is_ready(self.root):
            self.window.open_project(self.root)
            self._mark("browsable")
            self._mark("ready")
            return
        from ui.widgets.eta_progress import EtaProgressDialog

        self.dialog = EtaProgressDialog(DIALOG_TITLE, self.window, counts=False)
        self.dialog.setLabelText("Drawing the first GeoScenes street scenes…")
        worker = start(
            demo.ensure_demo_project,
            self.root,
            until="browsable",
            on_result=self._browsable,
            on_error=lambda msg, _tb: show_error(self.window, DIALOG_TITLE, msg),
            on_progress=self.dialog.update_progress,
        )
        self.dialog.canceled.connect(worker.cancel)
        worker.signals.done.connect(self.dialog.close, Qt.QueuedConnection)
        self.preview_worker = worker

    def _browsable(self, _result: object = None) -> None:
        self.window.open_project(self.root)
        if self.ctx.project is None:
            return
        self._mark("browsable")
        self.ctx.set_training(
            TrainingStatus(self.model_name, "preparing", message="drawing its training images")
        )
        from ui.dialogs.welcome import open_welcome

        self.welcome = open_welcome(self.ctx, self.window)
        self._start_background()

    # --- step 2: everything else, in the background ----------------------------------------------
    def _start_background(self) -> None:
        self.window.show_busy("Building the demo project in the background…")
        self.background_worker = start(
            demo.ensure_demo_project,
            self.root,
            on_result=self._ready,
            on_error=self._failed,
            on_progress=self._progress,
            on_cancelled=self._stopped,
        )

    def _progress(self, done: int, total: int, message: str) -> None:
        stage = demo.stage_of(message)
        if stage is not None and stage != self.stage:
            self._finished(self.stage)
            self.stage = stage
            self.eta.reset()
            if stage == "model":
                self._mark("training")
        start_at, span = demo.STAGE_SPANS.get(stage or "", (0.0, float(total or 1)))
        if stage == "studies" and done >= demo.STAGE_SPANS["studies-again"][0]:
            start_at, span = demo.STAGE_SPANS["studies-again"]
        stage_done, stage_total = max(0, int(done - start_at)), max(1, int(span))
        eta = format_eta(self.eta.update(stage_done, stage_total))
        self.window.show_busy(" — ".join(p for p in (message, eta) if p), done, total)
        if stage in ("preview", "datasets", "studies"):
            if stage != "studies" or self.times.get("model") is None:
                self.ctx.set_training(
                    TrainingStatus(self.model_name, "preparing", stage_done, stage_total, _rest(message), eta)
                )
        elif stage == "model":
            phase = "evaluating" if stage_done >= 0.95 * stage_total else "training"
            self.ctx.set_training(
                TrainingStatus(self.model_name, phase, stage_done, stage_total, _rest(message), eta)
            )

    def _finished(self, stage: str | None) -> None:
        """Announce what the finished ``stage`` added (the views refresh)."""
        if stage is None:
            return
        if stage == "model":
            self._mark("model")
            self.ctx.set_training(None)
        for kind in ANNOUNCE.get(stage, ()):
            self.ctx.data_changed.emit(kind)

    def _ready(self, _result: object = None) -> None:
        self._finished(self.stage)
        self.stage = None
        self._mark("model")
        self._mark("ready")
        self.ctx.set_training(None)
        self.window.hide_busy()
        self.window.statusBar().showMessage("The demo project is ready.", 8000)

    def _failed(self, message: str, _tb: str) -> None:
        self.ctx.set_training(None)
        self.window.hide_busy()
        show_error(
            self.window,
            "Building the demo project",
            f"{message}\n\nWhat is built so far is kept; the next launch continues from there.",
        )

    def _stopped(self) -> None:
        self.ctx.set_training(None)


def _rest(message: str) -> str:
    """A progress message without its stage label (``"GeoScenes images: 40 of 900"`` -> ``"40 of 900"``)."""
    head, sep, tail = message.partition(": ")
    return tail if sep and demo.stage_of(head) is not None else message
