"""Application entry point: builds the QApplication and opens the main window.

With no argument it opens the demo project (``~/.geoquiz/demo``, or ``$GEOQUIZ_HOME/demo``); the
first launch opens it on a first batch of GeoScenes images within seconds and builds the rest (the
other images, the example studies, the demo model) in the background (:mod:`ui.first_launch`);
later launches reuse it. torch is never imported before the window is shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication

from geoquiz.errors import GeoQuizError
from geoquiz.paths import demo_project_dir
from geoquiz.project import Project
from ui.context import AppContext
from ui.main_window import MainWindow
from ui.workers import MainThreadGC, show_error


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="geoquiz-app", description="GeoQuiz desktop app")
    parser.add_argument("project", nargs="?", type=Path, help="project folder (default: the demo project)")
    return parser.parse_args(argv)


def build_demo_if_needed(window: MainWindow, root: Path):
    """Open the demo project; on first launch the window shows its first images within seconds and
    the rest (images, studies, the demo model) is built in the background (ui.first_launch)."""
    from ui.first_launch import DemoLauncher

    window.demo_launcher = DemoLauncher(window, root)
    window.demo_launcher.start()
    return window.demo_launcher


#: Room left above the window for a window manager's title bar when the screen is the limit.
TITLE_BAR = 32


def fit_to(window: MainWindow, available: QRect) -> None:
    """Size ``window`` to its default (1280 x 820) or less, so that it and a title bar fit in
    ``available`` (a 1366 x 768 laptop: 1280 x 736), and put it inside that area."""
    width = min(window.width(), available.width())
    height = min(window.height(), available.height() - TITLE_BAR)
    window.resize(
        max(width, window.minimumSizeHint().width()), max(height, window.minimumSizeHint().height())
    )
    window.move(
        available.left() + max(0, (available.width() - window.width()) // 2),
        available.top() + max(0, (available.height() - TITLE_BAR - window.height()) // 2),
    )


def create_window(project: Path | None) -> MainWindow:
    ctx = AppContext()
    window = MainWindow(ctx)
    window.show()
    if project is None:
        build_demo_if_needed(window, demo_project_dir())
    else:
        try:
            ctx.set_project(Project.open(project, create=False))
        except GeoQuizError as exc:
            show_error(window, "Cannot open project", str(exc))
    return window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GeoQuiz")
    app.setOrganizationName("GeoQuiz")
    gc_guard = MainThreadGC(app)  # no worker may destroy a Qt object (see ui.workers)
    window = create_window(args.project)
    screen = window.screen() or app.primaryScreen()
    if screen is not None:
        fit_to(window, screen.availableGeometry())
    window.raise_()
    try:
        return app.exec()
    finally:
        gc_guard.stop()


if __name__ == "__main__":
    sys.exit(main())
