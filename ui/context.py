"""The app's shared state: the open project and the signals views use to stay in step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from geoquiz.project import Project


@dataclass(frozen=True)
class TrainingStatus:
    """A model being made in the background (the demo model on first launch).

    ``phase``: ``preparing`` (its training data are still being generated), ``training`` or
    ``evaluating``. ``done``/``total``: progress of the phase (0/0 = unknown); ``message``: what is
    happening now; ``eta``: a readable time estimate (``"about 2 min left"``) or ``""``.
    """

    model: str
    phase: str = "training"
    done: int = 0
    total: int = 0
    message: str = ""
    eta: str = ""


class AppContext(QObject):
    """Holds the open :class:`Project` (GUI-thread connection) and broadcasts changes.

    ``data_changed(kind)`` is emitted after a job changed the database; ``kind`` is one of
    ``datasets``, ``models``, ``explanations``, ``evaluations``, ``studies``, ``sessions``.
    ``training_changed`` is emitted when :attr:`training` (a :class:`TrainingStatus` while a model is
    being made in the background, else None) changes; :class:`ui.widgets.training_banner.TrainingBanner`
    shows it in the views that need the model.
    """

    project_changed = Signal()
    data_changed = Signal(str)
    training_changed = Signal()

    def __init__(self, project: Project | None = None) -> None:
        super().__init__()
        self.project = project
        self.training: TrainingStatus | None = None

    @property
    def root(self) -> Path:
        if self.project is None:
            raise RuntimeError("no project is open")
        return self.project.root

    def set_project(self, project: Project) -> None:
        if self.project is not None and self.project is not project:
            self.project.close()
        self.project = project
        self.project_changed.emit()

    def set_training(self, status: TrainingStatus | None) -> None:
        """Record that a model is being made in the background (None: it is done or stopped)."""
        if status != self.training:
            self.training = status
            self.training_changed.emit()
