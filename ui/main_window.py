"""The researcher's main window: composition and signal wiring only.

Tabs come from :data:`ui.views.VIEWS`, menu entries from :data:`ui.actions.ACTIONS`; both are
imported by name so that a view's code lives in its own module.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QTabWidget

from geoquiz.errors import GeoQuizError
from geoquiz.project import Project
from ui.actions import ACTIONS
from ui.context import AppContext
from ui.views import VIEWS
from ui.workers import show_error, start, wait_all


def _load(module: str, name: str):
    return getattr(importlib.import_module(module), name)


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setObjectName("mainWindow")
        self.resize(1280, 820)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.views: dict[str, object] = {}
        for title, module, cls in VIEWS:
            try:
                view_cls = _load(module, cls)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
                continue
            view = view_cls(ctx, self)
            self.views[title] = view
            self.tabs.addTab(view, title)
        self._build_menus()
        self.status_label = QLabel(self)
        self.statusBar().addWidget(self.status_label, 1)
        self.busy = QProgressBar(self)
        self.busy.setMaximumWidth(220)
        self.busy.hide()
        self.statusBar().addPermanentWidget(self.busy)
        ctx.project_changed.connect(self._update_title)
        self._update_title()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        menus: dict[str, object] = {}
        file_menu = bar.addMenu("&File")
        menus["&File"] = file_menu
        open_action = QAction("&Open project…", self)
        open_action.setObjectName("action_open_project")
        open_action.setShortcut(QKeySequence.Open)
        open_action.triggered.connect(self.choose_project)
        file_menu.addAction(open_action)
        file_menu.addSeparator()
        for menu_name, text, module, func in ACTIONS:
            menu = menus.get(menu_name) or bar.addMenu(menu_name)
            menus[menu_name] = menu
            action = QAction(text, self)
            action.setObjectName(f"action_{func}")
            action.triggered.connect(lambda _=False, m=module, f=func: self.run_action(m, f))
            menu.addAction(action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = menus.get("&Help") or bar.addMenu("&Help")
        about = QAction("&About GeoQuiz", self)
        about.triggered.connect(self.about)
        help_menu.addAction(about)

    def run_action(self, module: str, func: str):
        try:
            fn = _load(module, func)
        except ModuleNotFoundError as exc:
            show_error(self, "Not available", f"This part of GeoQuiz is not installed ({exc.name}).")
            return None
        return fn(self.ctx, self)

    def choose_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a GeoQuiz project")
        if path:
            self.open_project_in_background(Path(path))

    def open_project_in_background(self, path: Path) -> None:
        """File › Open: :meth:`Project.open` (its integrity check reads the whole database file, and
        it applies pending migrations: 0.35-0.5 s at 100,000 trials) runs in a worker while the window
        stays usable and the status bar says so; the project is shown when it is open. Of several
        requests in a row the last one wins (the others' projects are closed again)."""
        self._opening = getattr(self, "_opening", 0) + 1
        token = self._opening
        note = f"Opening {path.name}: checking the database…"
        self.statusBar().showMessage(note)  # a message of its own: another job's progress stays shown

        def done() -> None:
            if self.statusBar().currentMessage() == note:
                self.statusBar().clearMessage()

        def opened(project: Project) -> None:
            if token != self._opening:  # a later request superseded this one
                project.close()
                return
            done()
            self.ctx.set_project(project)

        def failed(message: str, _tb: str) -> None:
            if token == self._opening:
                done()
                show_error(self, "Cannot open project", message)

        start(lambda p, reporter=None: Project.open(p, create=False), path, on_result=opened, on_error=failed)

    def open_project(self, path: Path) -> None:
        try:
            project = Project.open(path, create=False)
        except GeoQuizError as exc:
            show_error(self, "Cannot open project", str(exc))
            return
        self.ctx.set_project(project)

    def _update_title(self) -> None:
        if self.ctx.project is None:
            self.setWindowTitle("GeoQuiz")
            self.status_label.setText("No project open")
        else:
            self.setWindowTitle(f"GeoQuiz — {self.ctx.project.root.name}")
            self.status_label.setText(str(self.ctx.project.root))

    def show_busy(self, text: str, done: int = 0, total: int = 0) -> None:
        self.busy.setVisible(True)
        self.busy.setMaximum(max(total, 0))
        self.busy.setValue(min(done, total) if total > 0 else 0)
        self.status_label.setText(text)

    def hide_busy(self) -> None:
        self.busy.hide()
        self._update_title()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About GeoQuiz",
            "GeoQuiz — which visual cues does an image-geolocation model rely on,\nand are they the cues people use?",
        )

    def closeEvent(self, event) -> None:
        wait_all(10000)
        super().closeEvent(event)


__all__ = ["MainWindow", "Qt"]
