"""The dataset browser's detail pane: the selected image (or the 4 views of a location) larger, with
its key, label, split, path and size, its planted cues drawn as boxes with their tags and, given the
app context, a model's top-5 guesses for it (:class:`ui.views.prediction_panel.PredictionPanel`).

Images are decoded off the GUI thread by :class:`ui.qtmodels.thumbnails.ThumbnailLoader` (at
:data:`DETAIL_SIZE` pixels on the longer side); cue boxes are in the original image's pixel
coordinates (XYXY, inclusive-exclusive) and are scaled to the displayed size.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from geoquiz.data.dataset import DatasetInfo
from geoquiz.types import CUE_TAG_LABELS, CUE_TAGS, VIEWS, CueBox, ImageItem, Location
from ui.context import AppContext
from ui.qtmodels.thumbnails import ThumbnailLoader, thumbnail_loader
from ui.views.prediction_panel import PredictionPanel
from ui.widgets.label_layout import place_labels
from ui.widgets.palette import CUE_COLOURS

DETAIL_SIZE = 640

#: One colour per cue tag (shared look for planted cues).


class CueImage(QWidget):
    """Paints one image scaled to fit (aspect kept, centred) with cue boxes and tag labels on top."""

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self.image: QImage | None = None
        self.message = ""
        self.orig_size: tuple[int, int] | None = None  # (w, h) of the file, the cue boxes' frame
        self.cues: tuple[CueBox, ...] = ()
        self.label_rects: list[QRectF] = []  # where the tag names were last drawn (widget pixels)
        self.show_cues = True
        self.tag_filter: str | None = None  # draw only this tag (None = all)
        self.setMinimumSize(120, 100)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 320)

    def set_content(
        self, image: QImage | None, orig_size: tuple[int, int] | None, cues: tuple[CueBox, ...]
    ) -> None:
        self.image, self.orig_size, self.cues = image, orig_size, cues
        self.update()

    def set_message(self, text: str) -> None:
        self.image, self.message = None, text
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates (below the caption)."""
        top = 18 if self.caption else 0
        if self.image is None or self.image.isNull():
            return QRectF(0, top, self.width(), self.height() - top)
        w, h = self.image.width(), self.image.height()
        scale = min(self.width() / w, (self.height() - top) / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, top + (self.height() - top - dh) / 2, dw, dh)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.fillRect(self.rect(), QColor(30, 30, 30))
        if self.caption:
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(0, 0, self.width(), 18), Qt.AlignCenter, self.caption)
        rect = self.image_rect()
        if self.image is None or self.image.isNull():
            p.setPen(QColor(180, 180, 180))
            p.drawText(rect, Qt.AlignCenter | Qt.TextWordWrap, self.message or "loading…")
            p.end()
            return
        p.drawImage(rect, self.image)
        if self.show_cues and self.cues and self.orig_size:
            self._paint_cues(p, rect)
        p.end()

    def visible_cues(self) -> list[CueBox]:
        """The cues drawn (after the tag filter), largest first."""
        cues = [c for c in self.cues if self.tag_filter in (None, c.tag)]
        return sorted(cues, key=lambda c: -c.box.area)

    def _paint_cues(self, p: QPainter, rect: QRectF) -> None:
        """Boxes in their tag's colour; each tag is named once (on its largest box) if there is room,
        the names kept apart (:func:`ui.widgets.label_layout.place_labels`, above a box first)."""
        sx, sy = rect.width() / self.orig_size[0], rect.height() / self.orig_size[1]
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = QFontMetrics(font)
        labelled: set[str] = set()
        boxes, texts = [], []
        for cue in self.visible_cues():
            colour = QColor(CUE_COLOURS.get(cue.tag, "#ffffff"))
            b = cue.box
            r = QRectF(rect.x() + b.x0 * sx, rect.y() + b.y0 * sy, b.width * sx, b.height * sy)
            p.setPen(QPen(colour, 2))
            p.setBrush(Qt.NoBrush)
            p.drawRect(r)
            if cue.tag in labelled or rect.width() < 200:
                continue
            labelled.add(cue.tag)
            boxes.append(r)
            texts.append((CUE_TAG_LABELS.get(cue.tag, cue.tag), colour))
        sizes = [(fm.horizontalAdvance(text) + 6, fm.height() + 2) for text, _ in texts]
        self.label_rects = place_labels(boxes, sizes, rect, outside_first=True)
        for (text, colour), spot in zip(texts, self.label_rects):
            p.fillRect(spot, colour)
            p.setPen(QColor(0, 0, 0))
            p.drawText(spot.adjusted(3, 0, 0, 0), Qt.AlignVCenter | Qt.AlignLeft, text)


class ViewStrip(QWidget):
    """The four view panels in a row; its height follows its width so the images are not letterboxed."""

    def __init__(self, panels: list[CueImage], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panels = panels
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for p in panels:
            p.setMinimumSize(40, 40)
            layout.addWidget(p)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setFixedHeight(self.height_for(480))

    def aspect(self) -> float:
        """Height / width of the first loaded view (3/4 until one is loaded)."""
        for p in self.panels:
            if p.image is not None and not p.image.isNull() and p.image.width():
                return p.image.height() / p.image.width()
        return 0.75

    def height_for(self, width: int) -> int:
        n = len(self.panels)
        return int((width - 4 * (n - 1)) / n * self.aspect()) + 18

    def fit(self) -> None:
        """Set the height that shows the views without letterboxing at the current width."""
        h = self.height_for(max(self.width(), 160))
        if h != self.height():
            self.setFixedHeight(h)
            self.layout().activate()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            QTimer.singleShot(0, self, self.fit)  # not from inside the resize: let the layout settle first


class DetailPane(QWidget):
    """Shows one :class:`ImageItem` or one :class:`Location` (its 4 views side by side); with ``ctx``
    also a model's prediction for it."""

    def __init__(
        self,
        loader: ThumbnailLoader | None = None,
        parent: QWidget | None = None,
        ctx: AppContext | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("datasetDetail")
        self.loader = loader or thumbnail_loader()
        self.current: ImageItem | Location | None = None
        self.single = CueImage()
        self.single.setObjectName("detailImage")
        self.views = {v: CueImage(v) for v in VIEWS}
        for v in VIEWS:
            self.views[v].setObjectName(f"detailView_{v}")
        self.strip = strip = ViewStrip([self.views[v] for v in VIEWS], self)
        self.show_cues = QCheckBox("Show planted cues", self)
        self.show_cues.setObjectName("showCues")
        self.show_cues.setChecked(True)
        self.show_cues.toggled.connect(self._toggle_cues)
        self.tag_box = QComboBox(self)
        self.tag_box.setObjectName("cueTagFilter")
        self.tag_box.currentIndexChanged.connect(self._tag_changed)
        cue_row = QHBoxLayout()
        cue_row.addWidget(self.show_cues)
        cue_row.addWidget(self.tag_box)
        cue_row.addStretch(1)
        self.info = QLabel(self)
        self.info.setObjectName("detailInfo")
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        layout = QVBoxLayout(self)
        layout.addWidget(self.single, 1)
        layout.addWidget(strip)
        layout.addLayout(cue_row)
        layout.addWidget(self.info)
        self.prediction = PredictionPanel(ctx, self) if ctx is not None else None
        if self.prediction is not None:
            layout.addWidget(self.prediction)
        layout.addStretch(0)
        self.loader.ready.connect(self._on_loaded)
        self.loader.broken.connect(self._on_loaded)
        self.clear()

    def clear(self, text: str = "Select an image to see it here.") -> None:
        self.current = None
        self.strip.hide()
        self.single.show()
        self.single.set_message(text)
        self.info.setText("")
        self._fill_tags(None)
        if self.prediction is not None:
            self.prediction.set_row(None)

    def set_dataset(self, info: DatasetInfo | None) -> None:
        """The dataset the rows come from (the prediction panel checks the model's classes against it)."""
        if self.prediction is not None:
            self.prediction.set_dataset(info)

    def panels(self) -> list[tuple[CueImage, ImageItem]]:
        """The visible image panels and the item each shows."""
        if isinstance(self.current, Location):
            return [(self.views[v], it) for v, it in self.current.views.items()]
        if isinstance(self.current, ImageItem):
            return [(self.single, self.current)]
        return []

    def show_row(self, row: ImageItem | Location) -> None:
        self.current = row
        is_loc = isinstance(row, Location)
        self.strip.setVisible(is_loc)
        self.single.setVisible(not is_loc)
        for v in VIEWS:
            self.views[v].set_message("missing view" if is_loc else "")
        for panel, _ in self.panels():
            panel.set_message("loading…")
        self.info.setText(self._describe(row))
        self._fill_tags(row)
        self._refresh()
        if self.prediction is not None:
            self.prediction.set_row(row)

    def _refresh(self) -> None:
        for panel, item in self.panels():
            img = self.loader.get([item.path], DETAIL_SIZE)
            if img is not None:
                size = (
                    (item.width, item.height) if item.width and item.height else (img.width(), img.height())
                )
                panel.set_content(img, size, item.cues)
                if panel is not self.single:
                    self.strip.fit()
            elif err := self.loader.error([item.path], DETAIL_SIZE):
                panel.set_message(err)

    def _on_loaded(self, key: tuple, *_: object) -> None:
        if any(self.loader.key([it.path], DETAIL_SIZE) == key for _, it in self.panels()):
            self._refresh()

    def _toggle_cues(self, on: bool) -> None:
        for panel in [self.single, *self.views.values()]:
            panel.show_cues = on
            panel.update()
        self.tag_box.setEnabled(on)

    def _tag_changed(self, *_: object) -> None:
        tag = self.tag_box.currentData()
        for panel in [self.single, *self.views.values()]:
            panel.tag_filter = tag
            panel.update()

    def _fill_tags(self, row: ImageItem | Location | None) -> None:
        items = [] if row is None else (list(row.views.values()) if isinstance(row, Location) else [row])
        tags = [t for t in CUE_TAGS if any(c.tag == t for it in items for c in it.cues)]
        previous = self.tag_box.currentData()
        self.tag_box.blockSignals(True)
        self.tag_box.clear()
        self.tag_box.addItem("all cue kinds", None)
        for t in tags:
            self.tag_box.addItem(CUE_TAG_LABELS.get(t, t), t)
        self.tag_box.setCurrentIndex(max(0, self.tag_box.findData(previous)))
        self.tag_box.blockSignals(False)
        has_cues = bool(tags)
        self.show_cues.setVisible(has_cues)
        self.tag_box.setVisible(has_cues)
        self._tag_changed()

    @staticmethod
    def _describe(row: ImageItem | Location) -> str:
        def esc(x: object) -> str:
            return html.escape(str(x))

        lines = [
            f"<b>{esc(row.key)}</b>",
            f"label <b>{esc(row.label)}</b> · split <b>{esc(row.split)}</b>",
        ]
        if row.latitude is not None and row.longitude is not None:
            lines.append(f"lat {row.latitude:.5f}, lon {row.longitude:.5f}")
        items = [row.views[v] for v in VIEWS if v in row.views] if isinstance(row, Location) else [row]
        for it in items:
            size = f" · {it.width}×{it.height}px" if it.width else ""
            view = f"{esc(it.view)}: " if it.view else ""
            lines.append(f"<span style='color:#888'>{view}{esc(it.path)}{size}</span>")
        cues = [c for it in items for c in it.cues]
        if cues:
            counts = {t: sum(c.tag == t for c in cues) for t in CUE_TAGS if any(c.tag == t for c in cues)}
            legend = " ".join(
                f"<span style='color:{CUE_COLOURS.get(t, '#fff')}'>&#9632;</span>&nbsp;{esc(CUE_TAG_LABELS.get(t, t))}"
                f"&nbsp;({n})"
                for t, n in counts.items()
            )
            lines.append(f"{len(cues)} planted cue(s): {legend}")
        return "<br>".join(lines)
