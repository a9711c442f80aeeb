"""Application entry point: builds the QApplication and opens the main window.

With no argument it opens the demo project (``~/.geoquiz/demo``, or ``$GEOQUIZ_HOME/demo``); the
first launch builds it (GeoScenes images, the example studies, the demo model) in a worker with a
progress dialog, later launches reuse it. torch is never imported before the window is shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from geoquiz.errors import GeoQuizError
from geoquiz.paths import demo_project_dir
from geoquiz.project import Project
from ui.context import AppContext
from ui.main_window import MainWindow
from ui.workers import run_with_progress, show_error


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="geoquiz-app", description="GeoQuiz desktop app")
    parser.add_argument("project", nargs="?", type=Path, help="project folder (default: the demo project)")
    return parser.parse_args(argv)


def build_demo_if_needed(window: MainWindow, root: Path) -> None:
    """Open the demo project, building it in the background on first launch."""
    from geoquiz import demo

    def opened(_result: object = None) -> None:
        window.open_project(root)

    if demo.demo_is_ready(root):
        opened()
        return
    run_with_progress(
        window, "Building the GeoScenes demo project", demo.ensure_demo_project, root, on_result=opened
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
    window = create_window(args.project)
    window.raise_()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
