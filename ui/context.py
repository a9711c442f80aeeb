"""The app's shared state: the open project and the signals views use to stay in step."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from geoquiz.project import Project


class AppContext(QObject):
    """Holds the open :class:`Project` (GUI-thread connection) and broadcasts changes.

    ``data_changed(kind)`` is emitted after a job changed the database; ``kind`` is one of
    ``datasets``, ``models``, ``explanations``, ``evaluations``, ``studies``, ``sessions``.
    """

    project_changed = Signal()
    data_changed = Signal(str)

    def __init__(self, project: Project | None = None) -> None:
        super().__init__()
        self.project = project

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
