"""File › Export study data…: choose a folder and what to export, then run
:func:`geoquiz.study.export.export_all` in a worker with a progress dialog (Cancel works).

The export only reads (one snapshot on its own connection), so it is safe while a participant
session is running. Errors are shown in a message box and the dialog stays open; on success the
files written are listed in the dialog.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from geoquiz.study.export_codebook import EXPORTS
from ui.context import AppContext
from ui.workers import Worker, run_with_progress, show_error

LABELS = {
    "trials": "Trials (one row per trial)",
    "guesses": "Guesses (one row per rank)",
    "cue_boxes": "Participants' cue boxes",
    "model_predictions": "Model predictions",
    "elements": "Model elements",
    "faithfulness": "Faithfulness results",
    "agreement": "Agreement measures",
    "planted_cues": "Planted cues (GeoScenes)",
    "session_events": "Session events (pauses, pictures not shown)",
    "coco": "COCO JSON of human and model boxes",
}


def export_job(root: str, out_dir: str, what: list[str], *, reporter=None) -> list[Path]:
    """Runs in a worker: open a private project connection, export, close."""
    from geoquiz.project import Project
    from geoquiz.study.export import export_all

    with Project.open(root) as project:
        return export_all(project, out_dir, what=what, reporter=reporter)


class ExportDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export study data")
        self.ctx = ctx
        self.worker: Worker | None = None
        self.files: list[Path] = []
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        default = ctx.root / "exports" / f"study-{stamp}" if ctx.project is not None else Path.home()
        self.folder = QLineEdit(str(default), self)
        self.folder.setObjectName("exportFolder")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Folder:", self))
        row.addWidget(self.folder, 1)
        row.addWidget(browse)

        group = QGroupBox("Export", self)
        grid = QGridLayout(group)
        self.checks: dict[str, QCheckBox] = {}
        for i, name in enumerate(EXPORTS):
            box = QCheckBox(LABELS.get(name, name), group)
            box.setObjectName(f"export_{name}")
            box.setChecked(True)
            self.checks[name] = box
            grid.addWidget(box, i // 2, i % 2)
        note = QLabel(
            "A codebook describing every column is always written. Safe while a quiz session is running: "
            "the export only reads.",
            self,
        )
        note.setWordWrap(True)
        self.result = QLabel(self)
        self.result.setObjectName("exportResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setObjectName("exportRun")
        self.buttons.accepted.connect(self.run_export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(group)
        layout.addWidget(note)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)

    def browse(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def chosen(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def run_export(self) -> None:
        if self.ctx.project is None:
            show_error(self, "Export", "Open a project first.")
            return
        what = self.chosen()
        if not what:
            show_error(self, "Export", "Tick at least one thing to export.")
            return
        folder = self.folder.text().strip()
        if not folder:
            show_error(self, "Export", "Choose a folder to export to.")
            return
        self.export_button.setEnabled(False)
        self.result.setText("Exporting…")
        self.worker = run_with_progress(
            self,
            "Exporting study data",
            export_job,
            str(self.ctx.root),
            folder,
            what,
            on_result=self.done_export,
            on_error=self.failed,
        )
        self.worker.signals.done.connect(lambda: self.export_button.setEnabled(True))

    def done_export(self, files: list[Path]) -> None:
        self.files = list(files)
        names = ", ".join(p.name for p in self.files)
        self.result.setText(f"Exported {len(self.files)} files to {self.files[0].parent}:\n{names}")

    def failed(self, message: str, _tb: str) -> None:
        self.result.setText("Export failed (files already in the folder were left whole).")
        show_error(self, "Export", message)


def open_export_dialog(ctx: AppContext, parent: QWidget | None = None) -> ExportDialog:
    """Open the export dialog (window-modal, non-blocking) and return it."""
    dialog = ExportDialog(ctx, parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose, False)
    dialog.open()
    return dialog
