"""The Studies tab: installed studies, their sessions (participant code, state, progress), installing
a study file (errors shown with file, line and field), and starting or resuming participant sessions.

Listing uses the GUI thread's project connection (a few small queries); installing runs in a worker
with its own connection (:mod:`ui.workers`) and then emits ``ctx.data_changed("studies")``. The tab
reloads on ``ctx.project_changed`` and ``ctx.data_changed("studies" | "sessions" | "datasets")``.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from geoquiz.errors import GeoQuizError
from geoquiz.paths import studies_dir
from geoquiz.study.definition import StudyDefinition, loads_study
from geoquiz.study.session import list_sessions
from ui.context import AppContext
from ui.workers import show_error, start


def _install_job(root: str, path: str, *, reporter=None) -> int:
    from geoquiz.project import Project
    from geoquiz.study.store import install_study

    with Project.open(root) as project:
        return install_study(project, path)


def _table(parent: QWidget, name: str, headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers), parent)
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.setSelectionBehavior(QTableWidget.SelectRows)
    t.setSelectionMode(QTableWidget.SingleSelection)
    t.setEditTriggers(QTableWidget.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def summary(study: StudyDefinition) -> str:
    """A short description of a study's settings (HTML)."""
    rs = study.responses
    asked = [f"top-{rs.top_k} guesses"]
    asked += [name for name, on in (("rationale", rs.rationale), ("cue boxes", rs.cue_boxes)) if on]
    if rs.confidence:
        asked.append(f"confidence 1-{rs.confidence_levels}")
    sel = study.items
    how = f"fixed list of {len(sel.keys)}" if sel.method == "fixed" else f"stratified sample, seed {sel.seed}"
    views = f"; views {', '.join(study.views)}" if study.views else ""
    limit = f"{study.time_limit_s} s per trial" if study.time_limit_s else "no time limit"
    return (
        f"<b>{html.escape(study.title)}</b>{' — ' + html.escape(study.description) if study.description else ''}<br>"
        f"Dataset <b>{html.escape(sel.dataset)}</b> ({sel.split or 'all splits'}), {how}{views}.<br>"
        f"{study.n_trials} trials + {study.n_practice} practice + {study.n_attention} attention check(s); "
        f"{limit}; order {'randomised per participant' if study.randomise else 'fixed'}; "
        f"feedback {'on' if study.feedback else 'off'}.<br>"
        f"Asked: {', '.join(asked)}; answers from <i>{study.answer_list}</i>."
    )


class StudiesView(QWidget):
    """Studies table, study summary, sessions table and the actions on them."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studiesView")
        self.ctx = ctx
        self.worker = None

        self.install_button = QPushButton("Install study file…", self)
        self.install_button.setObjectName("installStudy")
        self.install_button.clicked.connect(self.choose_and_install)
        self.start_button = QPushButton("Start a participant session…", self)
        self.start_button.setObjectName("startSession")
        self.start_button.clicked.connect(self.open_launcher)
        self.status = QLabel(self)
        self.status.setObjectName("studiesStatus")
        top = QHBoxLayout()
        top.addWidget(self.install_button)
        top.addWidget(self.start_button)
        top.addWidget(self.status, 1)

        self.studies = _table(
            self, "studiesTable", ["Study", "Title", "Dataset", "Trials", "Sessions", "Finished"]
        )
        self.studies.itemSelectionChanged.connect(self.refresh_sessions)
        self.details = QLabel(self)
        self.details.setObjectName("studyDetails")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.RichText)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.sessions = _table(
            self, "sessionsTable", ["#", "Participant", "State", "Progress", "Seed", "Started", "Finished"]
        )

        lower = QWidget(self)
        lv = QVBoxLayout(lower)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.details)
        lv.addWidget(QLabel("<b>Sessions</b> (participants are identified by code only)", lower))
        lv.addWidget(self.sessions, 1)
        splitter = QSplitter(Qt.Vertical, self)
        splitter.addWidget(self.studies)
        splitter.addWidget(lower)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

    # -- listing ---------------------------------------------------------------------------------
    def _data_changed(self, kind: str) -> None:
        if kind in ("studies", "sessions", "datasets"):
            self.refresh()

    def study_id(self) -> int | None:
        row = self.studies.currentRow()
        item = self.studies.item(row, 0) if row >= 0 else None
        return None if item is None else int(item.data(Qt.UserRole))

    def refresh(self) -> None:
        keep = self.study_id()
        self.studies.setRowCount(0)
        has_project = self.ctx.project is not None
        self.install_button.setEnabled(has_project)
        self.start_button.setEnabled(has_project)
        if not has_project:
            self.status.setText("No project open.")
            self.refresh_sessions()
            return
        db = self.ctx.project.db
        rows = db.execute(
            "SELECT s.id, s.slug, s.title, s.definition_toml, "
            "(SELECT COUNT(*) FROM sessions x WHERE x.study_id = s.id), "
            "(SELECT COUNT(*) FROM sessions x WHERE x.study_id = s.id AND x.state = 'finished') "
            "FROM studies s ORDER BY s.slug"
        ).fetchall()
        self.studies.setRowCount(len(rows))
        self._defs: dict[int, StudyDefinition | None] = {}
        for r, (sid, slug, title, text, n_sessions, n_finished) in enumerate(rows):
            try:
                study = loads_study(text, f"study {slug!r}")
                dataset, trials = study.items.dataset, str(study.n_total)
            except GeoQuizError:
                study, dataset, trials = None, "?", "?"
            self._defs[sid] = study
            for c, value in enumerate([slug, title, dataset, trials, str(n_sessions), str(n_finished)]):
                item = QTableWidgetItem(value)
                item.setData(Qt.UserRole, sid)
                self.studies.setItem(r, c, item)
        self.studies.resizeColumnsToContents()
        self.status.setText(
            f"{len(rows)} stud{'y' if len(rows) == 1 else 'ies'} installed"
            if rows
            else "No study installed yet."
        )
        ids = [r[0] for r in rows]
        if ids:
            self.studies.selectRow(ids.index(keep) if keep in ids else 0)
        self.refresh_sessions()

    def refresh_sessions(self) -> None:
        self.sessions.setRowCount(0)
        sid = self.study_id()
        if sid is None or self.ctx.project is None:
            self.details.setText("")
            return
        study = self._defs.get(sid)
        self.details.setText(
            summary(study) if study is not None else "This study's stored definition is invalid."
        )
        rows = list_sessions(self.ctx.project.db, sid)
        self.sessions.setRowCount(len(rows))
        for r, s in enumerate(rows):
            values = [
                str(s.id),
                s.code,
                s.state,
                f"{s.answered}/{s.total}",
                str(s.seed),
                s.started_at[:19].replace("T", " "),
                (s.finished_at or "")[:19].replace("T", " "),
            ]
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.UserRole, s.id)
                self.sessions.setItem(r, c, item)
        self.sessions.resizeColumnsToContents()

    # -- actions ---------------------------------------------------------------------------------
    def choose_and_install(self) -> None:
        start_dir = str(studies_dir()) if studies_dir().exists() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Install a study file", start_dir, "Study files (*.toml)")
        if path:
            self.install(Path(path))

    def install(self, path: Path):
        """Validate and install ``path`` in a worker; errors (file, line, field) are shown in a box."""
        if self.ctx.project is None:
            return None
        self.install_button.setEnabled(False)
        self.status.setText(f"Installing {path.name}…")

        def done(_study_id: object) -> None:
            self.status.setText(f"Installed {path.name}.")
            self.ctx.data_changed.emit("studies")

        def failed(message: str, _tb: str) -> None:
            self.status.setText(f"{path.name} was not installed.")
            show_error(self, "Invalid study file", message)

        self.worker = start(_install_job, str(self.ctx.root), str(path), on_result=done, on_error=failed)
        self.worker.signals.done.connect(lambda: self.install_button.setEnabled(True))
        return self.worker

    def open_launcher(self):
        from ui.quiz.launcher import open_session_launcher

        return open_session_launcher(self.ctx, self, self.study_id())
