"""File › Import dataset…: choose a layout, paths, CSV columns, classes, splits and strict/skip, then
run :mod:`geoquiz.data.importer` in a worker with a progress dialog.

Errors (bad rows or files, missing columns ...) are shown in a message box and the dialog stays open
so the person can fix the settings; nothing is written on error. On success the summary (and any
skipped items) is shown and ``ctx.data_changed("datasets")`` is emitted.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from geoquiz.types import SPLITS, VIEWS
from ui.context import AppContext
from ui.workers import Worker, run_with_progress, show_error

LAYOUTS = (
    ("folder", "Folder per label   (root/<label>/*.jpg)"),
    ("csv", "CSV manifest   (OSV-5M style: id, latitude, longitude, country …)"),
    ("4view-folder", "4-view folder   (root/<label>/<id>_north.jpg …)"),
    ("4view-csv", "4-view CSV   (one column per view, or id + <id>_<view>.jpg files)"),
)
NONE = "(none)"


def import_job(root: str, layout: str, name: str, source: str, options: dict[str, Any], *, reporter=None):
    """Runs in a worker: open a private project connection, import, close. Returns the ImportResult."""
    from geoquiz.data.importer import CsvColumns, import_csv, import_folder, import_four_view
    from geoquiz.project import Project

    options = dict(options)
    columns = options.pop("columns", None)
    view_columns = options.pop("view_columns", None)
    with Project.open(root) as project:
        if layout == "folder":
            return import_folder(project, name, source, reporter=reporter, **options)
        if layout == "4view-folder":
            return import_folder(project, name, source, four_view=True, reporter=reporter, **options)
        cols = CsvColumns(**columns) if columns else CsvColumns()
        if layout == "csv":
            return import_csv(project, name, source, columns=cols, reporter=reporter, **options)
        return import_four_view(
            project, name, source, columns=cols, view_columns=view_columns, reporter=reporter, **options
        )


class ImportDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importDialog")
        self.setWindowTitle("Import dataset")
        self.ctx = ctx
        self.worker: Worker | None = None
        self.import_result = None
        self.error: str | None = None

        self.layout_box = QComboBox(self)
        self.layout_box.setObjectName("layoutBox")
        for key, text in LAYOUTS:
            self.layout_box.addItem(text, key)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("nameEdit")
        self.name_edit.setPlaceholderText("a short name, e.g. osv5m-test")
        self.source_edit = QLineEdit(self)
        self.source_edit.setObjectName("sourceEdit")
        self.source_edit.editingFinished.connect(self._source_changed)
        self.image_dir_edit = QLineEdit(self)
        self.image_dir_edit.setObjectName("imageDirEdit")
        self.image_dir_edit.setPlaceholderText("default: images/<csv name>/ next to the CSV")

        form = QFormLayout()
        form.addRow("Layout", self.layout_box)
        form.addRow("Dataset name", self.name_edit)
        form.addRow("Source", self._with_browse(self.source_edit, self._browse_source))
        self.image_dir_row = self._with_browse(self.image_dir_edit, self._browse_image_dir)
        form.addRow("Image folder", self.image_dir_row)
        self.form = form

        self.columns_group = QGroupBox("CSV columns", self)
        cform = QFormLayout(self.columns_group)
        self.column_boxes: dict[str, QComboBox] = {}
        for field, default, label in (
            ("id", "id", "Id"),
            ("path", NONE, "Image path"),
            ("label", "country", "Label"),
            ("split", NONE, "Split"),
            ("latitude", "latitude", "Latitude"),
            ("longitude", "longitude", "Longitude"),
            *((f"view_{v}", NONE, f"{v.capitalize()} view path") for v in VIEWS),
        ):
            box = QComboBox(self)
            box.setEditable(True)
            box.setObjectName(f"column_{field}")
            box.addItem(NONE)
            box.setCurrentText(default)
            self.column_boxes[field] = box
            cform.addRow(label, box)
        self.delimiter_edit = QLineEdit(",", self)
        self.delimiter_edit.setMaxLength(1)
        self.delimiter_edit.setObjectName("delimiterEdit")
        cform.addRow("Delimiter", self.delimiter_edit)
        self.column_form = cform

        self.split_group = QGroupBox("Splits", self)
        sl = QVBoxLayout(self.split_group)
        self.split_buttons = QButtonGroup(self)
        self.split_random = QRadioButton("Stratified random (recorded seed)", self)
        self.split_random.setObjectName("splitRandom")
        self.split_column = QRadioButton("From the split column (CSV) or <split>/<label> folders", self)
        self.split_column.setObjectName("splitFromData")
        self.split_fixed = QRadioButton("Everything in one split:", self)
        self.split_fixed.setObjectName("splitFixed")
        for b in (self.split_random, self.split_column, self.split_fixed):
            self.split_buttons.addButton(b)
        self.split_random.setChecked(True)
        self.fraction_spins = []
        frow = QHBoxLayout()
        for s, value in zip(SPLITS, (0.7, 0.15, 0.15)):
            spin = QDoubleSpinBox(self)
            spin.setObjectName(f"fraction_{s}")
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setValue(value)
            spin.setPrefix(f"{s} ")
            self.fraction_spins.append(spin)
            frow.addWidget(spin)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        frow.addWidget(self.seed_spin)
        self.fixed_split_box = QComboBox(self)
        self.fixed_split_box.setObjectName("fixedSplit")
        self.fixed_split_box.addItems(list(SPLITS))
        self.fixed_split_box.setCurrentText("test")
        fixed_row = QHBoxLayout()
        fixed_row.addWidget(self.split_fixed)
        fixed_row.addWidget(self.fixed_split_box, 1)
        sl.addWidget(self.split_random)
        sl.addLayout(frow)
        sl.addWidget(self.split_column)
        sl.addLayout(fixed_row)

        self.classes_edit = QLineEdit(self)
        self.classes_edit.setObjectName("classesEdit")
        self.classes_edit.setPlaceholderText(
            "optional: FR, IN, JP — fixes the class order; other labels are errors"
        )
        self.skip_bad = QCheckBox(
            "Skip bad rows and files and list them (otherwise stop: all or nothing)", self
        )
        self.skip_bad.setObjectName("skipBad")
        self.replace = QCheckBox("Replace a dataset with the same name", self)
        self.replace.setObjectName("replaceExisting")
        options = QFormLayout()
        options.addRow("Classes", self.classes_edit)

        buttons = QDialogButtonBox(QDialogButtonBox.Cancel, self)
        self.import_button = QPushButton("Import", self)
        self.import_button.setObjectName("importStart")
        self.import_button.setDefault(True)
        buttons.addButton(self.import_button, QDialogButtonBox.AcceptRole)
        buttons.rejected.connect(self.reject)
        self.import_button.clicked.connect(self.start_import)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.columns_group)
        layout.addWidget(self.split_group)
        layout.addLayout(options)
        layout.addWidget(self.skip_bad)
        layout.addWidget(self.replace)
        layout.addWidget(buttons)
        self.layout_box.currentIndexChanged.connect(self._layout_changed)
        self._layout_changed()

    # -- helpers ------------------------------------------------------------------------------
    def _with_browse(self, edit: QLineEdit, slot) -> QWidget:
        w = QWidget(self)
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…", w)
        button.clicked.connect(slot)
        row.addWidget(button)
        return w

    @property
    def layout_key(self) -> str:
        return self.layout_box.currentData()

    def is_csv(self) -> bool:
        return self.layout_key in ("csv", "4view-csv")

    def _layout_changed(self, *_: object) -> None:
        csv_mode = self.is_csv()
        self.columns_group.setVisible(csv_mode)
        self.form.setRowVisible(self.image_dir_row, csv_mode)
        for v in VIEWS:
            self.column_form.setRowVisible(self.column_boxes[f"view_{v}"], self.layout_key == "4view-csv")
        self.adjustSize()

    def _browse_source(self) -> None:
        if self.is_csv():
            path, _ = QFileDialog.getOpenFileName(
                self, "CSV manifest", "", "CSV files (*.csv *.tsv *.txt);;All files (*)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder")
        if path:
            self.source_edit.setText(path)
            self._source_changed()

    def _browse_image_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Image folder")
        if path:
            self.image_dir_edit.setText(path)

    def _source_changed(self) -> None:
        """Offer the CSV's header as column choices and suggest a name from the file or folder."""
        path = Path(self.source_edit.text().strip()).expanduser()
        if not self.name_edit.text().strip() and path.name:
            self.name_edit.setText(path.stem if path.is_file() else path.name)
        if not (self.is_csv() and path.is_file()):
            return
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                header = [
                    h.strip() for h in next(csv.reader(fh, delimiter=self.delimiter_edit.text() or ","), [])
                ]
        except (OSError, UnicodeDecodeError, csv.Error):
            return
        for field, box in self.column_boxes.items():
            current = box.currentText()
            box.clear()
            box.addItem(NONE)
            box.addItems(header)
            want = field[5:] if field.startswith("view_") else current
            box.setCurrentText(want if want in header else (current if current in header else NONE))
        if "split" in header and self.column_boxes["split"].currentText() in (NONE, "split"):
            self.column_boxes["split"].setCurrentText("split")
            self.split_column.setChecked(True)

    def _column(self, field: str) -> str | None:
        text = self.column_boxes[field].currentText().strip()
        return None if text in ("", NONE) else text

    # -- running ------------------------------------------------------------------------------
    def options(self) -> tuple[str, str, dict[str, Any]]:
        """``(name, source, importer keyword arguments)`` from the widgets; ValueError when incomplete."""
        name = self.name_edit.text().strip()
        source = self.source_edit.text().strip()
        if not name:
            raise ValueError("Give the dataset a name.")
        if not source:
            raise ValueError("Choose the dataset folder or CSV file.")
        opts: dict[str, Any] = {"skip_bad": self.skip_bad.isChecked(), "replace": self.replace.isChecked()}
        classes = [c.strip() for c in self.classes_edit.text().split(",") if c.strip()]
        opts["classes"] = classes or None
        if self.split_fixed.isChecked():
            opts["split"] = self.fixed_split_box.currentText()
        elif self.split_random.isChecked():
            opts["split_fractions"] = tuple(s.value() for s in self.fraction_spins)
            opts["seed"] = self.seed_spin.value()
        if self.is_csv():
            label = self._column("label")
            if label is None:
                raise ValueError("Name the CSV column that holds the label.")
            split_col = self._column("split") if self.split_column.isChecked() else None
            if self.split_column.isChecked() and split_col is None:
                raise ValueError("Name the split column, or choose another way to split.")
            opts["columns"] = {
                "id": self._column("id"),
                "path": self._column("path"),
                "label": label,
                "split": split_col,
                "latitude": self._column("latitude"),
                "longitude": self._column("longitude"),
            }
            views = {v: self._column(f"view_{v}") for v in VIEWS}
            if self.layout_key == "4view-csv" and any(views.values()):
                if not all(views.values()):
                    raise ValueError(
                        "Name a column for every view (north, east, south, west), or none of them."
                    )
                opts["view_columns"] = views
            opts["delimiter"] = self.delimiter_edit.text() or ","
            if self.image_dir_edit.text().strip():
                opts["image_dir"] = self.image_dir_edit.text().strip()
        return name, source, opts

    def start_import(self) -> Worker | None:
        if self.ctx.project is None:
            show_error(self, "Import dataset", "Open a project first.")
            return None
        try:
            name, source, opts = self.options()
        except ValueError as exc:
            show_error(self, "Import dataset", str(exc))
            return None
        self.import_button.setEnabled(False)
        self.import_result, self.error = None, None
        self.worker = run_with_progress(
            self,
            f"Importing {name}",
            import_job,
            str(self.ctx.root),
            self.layout_key,
            name,
            source,
            opts,
            on_result=self._finished,
            on_error=self._failed,
        )
        return self.worker

    def _finished(self, result) -> None:
        self.import_result = result
        self.import_button.setEnabled(True)
        self.ctx.data_changed.emit("datasets")
        text = "\n".join(line for line in result.summary().splitlines() if not line.startswith("  - "))
        if result.skipped:
            text += " (see Show Details…)"
        parent = self.parentWidget()
        box = QMessageBox(QMessageBox.Information, "Dataset imported", text, QMessageBox.Ok, parent)
        box.setObjectName("importSummary")
        if result.skipped or result.ignored:
            box.setDetailedText("\n".join([*result.skipped, *(f"ignored: {i}" for i in result.ignored)]))
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.open()
        self.summary_box = box
        self.accept()

    def _failed(self, message: str, _traceback: str) -> None:
        self.error = message
        self.import_button.setEnabled(True)
        show_error(self, "Import failed", message)


def open_import_dialog(ctx: AppContext, parent: QWidget | None = None) -> ImportDialog:
    """Open the import dialog (window-modal, non-blocking) and return it."""
    dialog = ImportDialog(ctx, parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose, False)
    dialog.open()
    return dialog
