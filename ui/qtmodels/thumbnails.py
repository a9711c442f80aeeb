"""Lazy, cached thumbnails for dataset grids.

:class:`ThumbnailLoader` (one per process, :func:`thumbnail_loader`) decodes images on its own small
thread pool (never on the GUI thread), turns them into ``QImage`` (safe off the GUI thread) and keeps
an LRU cache. A request names one path, or the four paths of a 4-view location, which then become one
strip (north | east | south | west). Newer requests run first, so the rows a person is looking at
load before the ones scrolled past.

:class:`ThumbnailListModel` is a ``QAbstractListModel`` over :class:`ImageItem` or :class:`Location`
rows: it asks for a thumbnail only when a view paints the row (``DecorationRole``), shows a grey
placeholder meanwhile, and emits ``dataChanged`` for the row when the image arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

from geoquiz.types import VIEWS, ImageItem, Location

ItemRole = Qt.UserRole + 1  # the ImageItem or Location of a row
KeyRole = Qt.UserRole + 2  # its key (str)

STRIP_GAP = 3  # pixels between the views of a 4-view strip


def array_to_qimage(arr: np.ndarray) -> QImage:
    """Copy an RGB uint8 HWC array into a ``QImage`` (Format_RGB888)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def compose_strip(images: Sequence[np.ndarray], height: int, gap: int = STRIP_GAP) -> np.ndarray:
    """Resize each RGB image to ``height`` (aspect kept) and lay them out left to right, ``gap`` apart."""
    from PIL import Image

    parts = []
    for arr in images:
        h, w = arr.shape[:2]
        new_w = max(1, round(w * height / h))
        parts.append(np.asarray(Image.fromarray(arr).resize((new_w, height), Image.Resampling.BILINEAR)))
    total = sum(p.shape[1] for p in parts) + gap * (len(parts) - 1)
    out = np.full((height, total, 3), 40, dtype=np.uint8)
    x = 0
    for p in parts:
        out[:, x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out


class _Signals(QObject):
    loaded = Signal(object, QImage)  # request key, image (null QImage when the file could not be read)
    failed = Signal(object, str)  # request key, message


class _Task(QRunnable):
    def __init__(self, signals: _Signals, key: tuple, paths: tuple[str, ...], size: int) -> None:
        super().__init__()
        self.signals, self.key, self.paths, self.size = signals, key, paths, size

    def run(self) -> None:
        from geoquiz.data.imageio import read_thumbnail

        try:
            arrays = [read_thumbnail(p, self.size) for p in self.paths]
            arr = arrays[0] if len(arrays) == 1 else compose_strip(arrays, min(a.shape[0] for a in arrays))
            self.signals.loaded.emit(self.key, array_to_qimage(arr))
        except Exception as exc:
            self.signals.failed.emit(self.key, str(exc))


class ThumbnailLoader(QObject):
    """Decodes thumbnails on a private thread pool; caches up to ``capacity`` images (LRU)."""

    ready = Signal(object)  # request key, after the image is in the cache
    broken = Signal(object, str)

    def __init__(self, capacity: int = 3000, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache: OrderedDict[tuple, QImage] = OrderedDict()
        self.errors: dict[tuple, str] = {}
        self.capacity = capacity
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._tasks: dict[tuple, _Task] = {}  # queued or running loads
        self._priority = 0
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._on_loaded, Qt.QueuedConnection)
        self._signals.failed.connect(self._on_failed, Qt.QueuedConnection)

    @staticmethod
    def key(paths: Sequence[str], size: int) -> tuple:
        return (tuple(str(p) for p in paths), int(size))

    def get(self, paths: Sequence[str], size: int) -> QImage | None:
        """The cached image, or ``None`` after queuing a load (``ready(key)`` follows)."""
        key = self.key(paths, size)
        img = self.cache.get(key)
        if img is not None:
            self.cache.move_to_end(key)
            return img
        if key not in self._tasks and key not in self.errors:
            task = _Task(self._signals, key, key[0], size)
            task.setAutoDelete(False)  # we keep it until it reports, so tryTake stays safe
            self._tasks[key] = task
            self._priority += 1
            self.pool.start(task, self._priority)
        return None

    def error(self, paths: Sequence[str], size: int) -> str | None:
        return self.errors.get(self.key(paths, size))

    def _on_loaded(self, key: tuple, img: QImage) -> None:
        self._tasks.pop(key, None)
        self.cache[key] = img
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        self.ready.emit(key)

    def _on_failed(self, key: tuple, message: str) -> None:
        self._tasks.pop(key, None)
        self.errors[key] = message
        self.broken.emit(key, message)

    def pending(self) -> int:
        """How many loads are queued or running."""
        return len(self._tasks)

    def forget(self, keys: Iterable[tuple]) -> None:
        """Drop the queued (not yet started) loads among ``keys``, e.g. when a grid shows other rows."""
        for key in keys:
            task = self._tasks.get(key)
            if task is not None and self.pool.tryTake(task):
                del self._tasks[key]

    def forget_pending(self) -> None:
        """Drop every queued load (at shutdown)."""
        self.forget(list(self._tasks))

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)


_loader: ThumbnailLoader | None = None


def thumbnail_loader() -> ThumbnailLoader:
    """The process-wide loader (created on first use, on the GUI thread; stopped when the app quits)."""
    global _loader
    if _loader is None:
        _loader = ThumbnailLoader()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(lambda: (_loader.forget_pending(), _loader.wait(5000)))
    return _loader


def row_paths(row: ImageItem | Location) -> tuple[str, ...]:
    """The file(s) a row's thumbnail is made from: one path, or the four views in VIEWS order."""
    if isinstance(row, Location):
        return tuple(row.views[v].path for v in VIEWS if v in row.views)
    return (row.path,)


class ThumbnailListModel(QAbstractListModel):
    """Rows of :class:`ImageItem` (single-view) or :class:`Location` (4-view) with lazy thumbnails.

    ``DisplayRole`` is ``"<label> · <split>"``, ``ToolTipRole`` the key and path(s), ``DecorationRole``
    the thumbnail (a placeholder until loaded), :data:`ItemRole` the row object, :data:`KeyRole` its key.
    """

    def __init__(
        self, thumb_size: int = 128, loader: ThumbnailLoader | None = None, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.rows: list[ImageItem | Location] = []
        self.thumb_size = thumb_size
        self.loader = loader or thumbnail_loader()
        self._row_of: dict[tuple, int] = {}
        self._placeholder: QPixmap | None = None
        self._pixmaps: dict[tuple, QPixmap] = {}
        self._requested: set[tuple] = set()
        self.loader.ready.connect(self._on_ready)
        self.loader.broken.connect(self._on_ready)

    # -- contents ---------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[ImageItem | Location], thumb_size: int | None = None) -> None:
        self.beginResetModel()
        self.loader.forget(self._requested)
        self._requested.clear()
        self.rows = list(rows)
        if thumb_size is not None:
            self.thumb_size = thumb_size
        self._row_of = {self.loader.key(row_paths(r), self.thumb_size): i for i, r in enumerate(self.rows)}
        self._pixmaps.clear()
        self._placeholder = None
        self.endResetModel()

    def row_object(self, row: int) -> ImageItem | Location:
        return self.rows[row]

    def is_loaded(self, row: int) -> bool:
        """True once row ``row``'s thumbnail (or its error) is available."""
        paths = row_paths(self.rows[row])
        key = self.loader.key(paths, self.thumb_size)
        return key in self.loader.cache or key in self.loader.errors

    def icon_size(self) -> QSize:
        """Icon size for the view: square for single images, a 4-wide strip for locations."""
        if self.rows and isinstance(self.rows[0], Location):
            return QSize(4 * self.thumb_size * 3 // 4 + 3 * STRIP_GAP, self.thumb_size * 3 // 4)
        return QSize(self.thumb_size, self.thumb_size)

    # -- Qt model API -----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        row = self.rows[index.row()]
        if role == Qt.DisplayRole:
            return f"{row.label} · {row.split}"
        if role == Qt.DecorationRole:
            return self._decoration(row)
        if role == Qt.ToolTipRole:
            paths = "\n".join(row_paths(row))
            err = self.loader.error(row_paths(row), self.thumb_size)
            return f"{row.key}\n{row.label} · {row.split}\n{paths}" + (f"\n\n{err}" if err else "")
        if role == ItemRole:
            return row
        if role == KeyRole:
            return row.key
        return None

    def _decoration(self, row: ImageItem | Location) -> QPixmap:
        paths = row_paths(row)
        # 4-view strips: each view is scaled so the strip's height is 3/4 of the thumbnail size
        size = self.thumb_size if len(paths) == 1 else self.thumb_size * 3 // 4
        key = self.loader.key(paths, self.thumb_size)
        pix = self._pixmaps.get(key)
        if pix is not None:
            return pix
        img = self.loader.get(paths, self.thumb_size)
        if img is None:
            self._requested.add(key)
            return self._broken() if self.loader.error(paths, self.thumb_size) else self._blank()
        if len(paths) > 1:
            img = img.scaledToHeight(size, Qt.SmoothTransformation)
        pix = QPixmap.fromImage(img)
        self._pixmaps[key] = pix
        return pix

    def _blank(self) -> QPixmap:
        if self._placeholder is None:
            self._placeholder = QPixmap(self.icon_size())
            self._placeholder.fill(QColor(70, 70, 70))
        return self._placeholder

    def _broken(self) -> QPixmap:
        pix = QPixmap(self.icon_size())
        pix.fill(QColor(90, 30, 30))
        p = QPainter(pix)
        p.setPen(QColor(255, 200, 200))
        p.drawText(pix.rect(), Qt.AlignCenter, "unreadable")
        p.end()
        return pix

    def _on_ready(self, key: tuple, *_: object) -> None:
        row = self._row_of.get(key)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.DecorationRole, Qt.ToolTipRole])
