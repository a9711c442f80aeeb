"""The session launcher's "Prepare pictures" row for ablation studies (:mod:`geoquiz.study.ablation`).

Shown only when the selected study has a ``[trials] ablation`` option: it says whether the pictures
with parts removed are prepared and, if not, prepares them in a worker with progress and Cancel
(:func:`geoquiz.study.ablation.prepare_ablation`: the explanation cache, then one PNG per item and
condition under the project folder), so trials stay instant. ``readyChanged(bool)`` tells the
launcher whether a session may start.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from geoquiz.errors import GeoQuizError
from ui.widgets.job_controls import JobControls
from ui.workers import project_job


@project_job
def prepare_job(project, study_id: int, reporter=None):
    """Worker job: prepare (or finish) the study's ablated pictures."""
    from geoquiz.study.ablation import prepare_ablation

    return prepare_ablation(project, study_id, reporter=reporter)


class PreparePictures(QWidget):
    """See the module doc. ``ready`` is True for studies without ablation."""

    readyChanged = Signal(bool)

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preparePictures")
        self.ctx = ctx
        self.study_id: int | None = None
        self.ready = True
        self.controls = JobControls(
            "Prepare pictures",
            self,
            names=(
                "launcherPrepare",
                "launcherPrepareCancel",
                "launcherPrepareProgress",
                "launcherPrepareStatus",
            ),
            error_title="Cannot prepare the pictures",
        )
        status = self.controls.status  # two lines of explanation fit in the launcher's column
        status.setMinimumHeight(2 * status.fontMetrics().lineSpacing() + 4)
        self.controls.finished.connect(lambda _result: self.set_study(self.study_id))
        self.controls.cancelled.connect(
            lambda: self.set_study(self.study_id, "Cancelled; prepared pictures are kept.")
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.controls)
        self.hide()

    def set_study(self, study_id: int | None, note: str = "") -> None:
        """Show the preparation state of ``study_id`` (hidden for studies without ablation)."""
        from geoquiz.study.ablation import preparation_status

        self.study_id = study_id
        status = None
        if study_id is not None and self.ctx.project is not None:
            try:
                status = preparation_status(self.ctx.project.db, int(study_id))
            except GeoQuizError as exc:
                status = (False, str(exc))
        self.setVisible(status is not None)
        ready, text = status if status is not None else (True, "")
        self.controls.set_runnable(not ready)
        if not self.controls.busy:
            self.controls.set_status(f"{note} {text}".strip())
        self._set_ready(ready)

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            self.readyChanged.emit(ready)

    def start(self):
        """Prepare the pictures of the study shown (the Run button does the same)."""
        return self.controls.start(
            prepare_job, self.ctx.root, int(self.study_id), status="Preparing the pictures…"
        )
