"""The Dataset tab: browse the project's datasets as a thumbnail grid, filter by label and split, and
inspect one image (or the four views of a location) with its planted cues and a model's top-5 guesses.

Listing comes from :mod:`geoquiz.data.dataset` on the GUI thread's project connection (a few cheap
SQL queries); pixels are decoded off the GUI thread by :mod:`ui.qtmodels.thumbnails`. The tab reloads
on ``ctx.project_changed`` and on ``ctx.data_changed("datasets")``.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from geoquiz.data.dataset import DatasetInfo, list_datasets, load_items, load_locations
from geoquiz.errors import GeoQuizError
from geoquiz.types import SPLITS, ImageItem, Location
from ui.context import AppContext
from ui.qtmodels.thumbnails import ThumbnailListModel
from ui.views.dataset_detail import DetailPane
from ui.workers import show_error

ALL = "__all__"


class DatasetView(QWidget):
    """Dataset selector, label/split filters, a lazy thumbnail grid and a detail pane."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetView")
        self.ctx = ctx
        self.datasets: dict[str, DatasetInfo] = {}

        self.dataset_box = QComboBox(self)
        self.dataset_box.setObjectName("datasetSelector")
        self.dataset_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.label_box = QComboBox(self)
        self.label_box.setObjectName("labelFilter")
        self.label_box.setMinimumContentsLength(12)
        self.split_box = QComboBox(self)
        self.split_box.setObjectName("splitFilter")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("datasetCount")
        self.import_button = QPushButton("Import dataset…", self)
        self.import_button.setObjectName("importButton")
        self.import_button.clicked.connect(self._open_import)

        top = QHBoxLayout()
        for text, widget in (
            ("Dataset", self.dataset_box),
            ("Label", self.label_box),
            ("Split", self.split_box),
        ):
            top.addWidget(QLabel(text, self))
            top.addWidget(widget)
        top.addWidget(self.count_label, 1)
        top.addWidget(self.import_button)

        self.model = ThumbnailListModel(parent=self)
        self.grid = QListView(self)
        self.grid.setObjectName("thumbnailGrid")
        self.grid.setViewMode(QListView.IconMode)
        self.grid.setResizeMode(QListView.Adjust)
        self.grid.setMovement(QListView.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSelectionMode(QAbstractItemView.SingleSelection)
        self.grid.setWordWrap(True)
        self.grid.setSpacing(6)
        self.grid.setModel(self.model)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.detail = DetailPane(parent=self, ctx=ctx)

        splitter = QSplitter(Qt.Horizontal, self)
        splitter.addWidget(self.grid)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([700, 480])
        self.empty = QLabel(self)
        self.empty.setObjectName("datasetEmpty")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(splitter, 1)
        self.splitter = splitter

        self.dataset_box.currentIndexChanged.connect(self._dataset_changed)
        self.label_box.currentIndexChanged.connect(self.reload_rows)
        self.split_box.currentIndexChanged.connect(self.reload_rows)
        ctx.project_changed.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        self.refresh()

    # -- public API (also used by tests) -----------------------------------------------------------
    @property
    def current_dataset(self) -> DatasetInfo | None:
        return self.datasets.get(self.dataset_box.currentData())

    def select_dataset(self, name: str) -> None:
        i = self.dataset_box.findData(name)
        if i < 0:
            raise KeyError(f"no dataset {name!r} in the selector")
        self.dataset_box.setCurrentIndex(i)

    def set_label_filter(self, label: str | None) -> None:
        self.label_box.setCurrentIndex(max(0, self.label_box.findData(ALL if label is None else label)))

    def set_split_filter(self, split: str | None) -> None:
        self.split_box.setCurrentIndex(max(0, self.split_box.findData(ALL if split is None else split)))

    def select_row(self, row: int) -> None:
        idx = self.model.index(row)
        self.grid.selectionModel().setCurrentIndex(idx, QItemSelectionModel.ClearAndSelect)

    # -- loading ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the dataset list (keeping the selected dataset if it still exists)."""
        project = self.ctx.project
        previous = self.dataset_box.currentData()
        try:
            infos = list_datasets(project.db) if project is not None else []
        except GeoQuizError as exc:
            show_error(self, "Cannot read datasets", str(exc))
            infos = []
        self.datasets = {i.name: i for i in infos}
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        for info in infos:
            unit = f"{info.n_locations} locations" if info.is_four_view else f"{info.n_images} images"
            self.dataset_box.addItem(f"{info.name}  ({info.kind}, {unit})", info.name)
        if previous in self.datasets:
            self.dataset_box.setCurrentIndex(self.dataset_box.findData(previous))
        self.dataset_box.blockSignals(False)
        if project is None:
            self._set_empty("No project open. Use File › Open project…")
        elif not infos:
            self._set_empty("This project has no datasets yet. Import one with “Import dataset…”.")
        else:
            self._set_empty(None)
        self.import_button.setEnabled(project is not None)
        self._dataset_changed()

    def _set_empty(self, text: str | None) -> None:
        self.empty.setVisible(text is not None)
        self.empty.setText(text or "")
        self.splitter.setVisible(text is None)

    def _data_changed(self, kind: str) -> None:
        if kind == "datasets":
            self.refresh()

    def _dataset_changed(self, *_: object) -> None:
        info = self.current_dataset
        self.detail.set_dataset(info)
        for box, values, everything in (
            (self.label_box, info.classes if info else (), "All labels"),
            (self.split_box, [s for s in SPLITS if info and s in info.splits], "All splits"),
        ):
            previous = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(everything, ALL)
            for v in values:
                box.addItem(v, v)
            box.setCurrentIndex(max(0, box.findData(previous)))
            box.blockSignals(False)
        self.reload_rows()

    def _fit_splitter(self, info: DatasetInfo | None) -> None:
        """4-view locations need a wider detail pane (four images side by side)."""
        kind = info.kind if info else None
        if kind == getattr(self, "_splitter_kind", None):
            return
        self._splitter_kind = kind
        total = max(sum(self.splitter.sizes()), 900)
        grid = int(total * (0.38 if kind == "4view" else 0.58))
        self.splitter.setSizes([grid, total - grid])

    def reload_rows(self, *_: object) -> None:
        """Load the rows of the current dataset with the current filters into the grid."""
        info = self.current_dataset
        rows: list[ImageItem | Location] = []
        if info is not None and self.ctx.project is not None:
            label = None if self.label_box.currentData() in (None, ALL) else self.label_box.currentData()
            split = None if self.split_box.currentData() in (None, ALL) else self.split_box.currentData()
            load = load_locations if info.is_four_view else load_items
            rows = load(self.ctx.project.db, info.name, split=split, label=label)
        self.model.set_rows(rows)
        self._fit_splitter(info)
        icon = self.model.icon_size()
        self.grid.setIconSize(icon)
        self.grid.setGridSize(QSize(icon.width() + 16, icon.height() + 34))
        total = (info.n_locations if info.is_four_view else info.n_images) if info else 0
        unit = "locations" if info is not None and info.is_four_view else "images"
        self.count_label.setText(f"{len(rows)} of {total} {unit}" if info else "")
        if rows:
            self.select_row(0)
        else:
            self.detail.clear("No images match these filters." if info else "")

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.detail.show_row(self.model.row_object(current.row()))

    def _open_import(self) -> None:
        from ui.dialogs.import_dialog import open_import_dialog

        open_import_dialog(self.ctx, self)
