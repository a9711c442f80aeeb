"""The model's guess for the image (or location) shown in the Dataset tab: a model chooser and the
top-5 classes with their probabilities as labelled bars.

The prediction runs in a worker (:func:`predict_job`: a private project connection,
:func:`geoquiz.models.store.load_project_model`, :meth:`LoadedModel.predict_samples`); results are
cached per (model, sample), and while one job runs only the latest request waits, so scrolling
through a dataset never piles up work. Cases without a prediction say why: no model in the project,
a model trained for other classes than the dataset's, a 4-view model and a single image. A
single-view model on a 4-view location predicts each view (a view chooser picks the one shown).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from geoquiz.data.dataset import DatasetInfo
from geoquiz.types import VIEWS, ImageItem, Location, Prediction
from ui.context import AppContext
from ui.workers import start

TOP_K = 5
BAR_COLOUR, TRUE_COLOUR = QColor("#4c78a8"), QColor("#2ca02c")


def predict_job(root: str, model: str, samples: list, *, reporter=None) -> list[Prediction]:
    """Worker job: one :class:`Prediction` per sample (ImageItems, or Locations for a 4-view model)."""
    from geoquiz.models.store import load_project_model
    from geoquiz.progress import step
    from geoquiz.project import Project

    with Project.open(root) as project:
        step(reporter, 0, 2, f"loading {model}")
        loaded = load_project_model(project, model)
        step(reporter, 1, 2, "predicting")
        return loaded.predict_samples(samples)


class ProbabilityBars(QWidget):
    """Horizontal bars: class name, a bar as long as the probability, the percentage.

    ``entries`` are ``(class, probability in [0, 1])``, most probable first; the true class (if
    given) is drawn in green.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionBars")
        self.entries: list[tuple[str, float]] = []
        self.truth: str | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setFixedHeight(self._row_height() * TOP_K + 2)

    def _row_height(self) -> int:
        return QFontMetrics(self.font()).height() + 8

    def set_entries(self, entries: list[tuple[str, float]], truth: str | None) -> None:
        self.entries, self.truth = list(entries), truth
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, self._row_height() * TOP_K + 2)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        bold = QFont(self.font())
        bold.setBold(True)
        fm = QFontMetrics(bold)  # the widest rendering (the top-1 row is bold)
        rh = self._row_height()
        pct_w = fm.horizontalAdvance("100.0%") + 8
        name_w = min(
            max((fm.horizontalAdvance(c) for c, _ in self.entries), default=40) + 14, int(self.width() * 0.4)
        )
        bar_w = max(self.width() - name_w - pct_w, 10)
        for i, (cls, prob) in enumerate(self.entries):
            y = i * rh
            font = bold if i == 0 else self.font()
            p.setFont(font)
            p.setPen(self.palette().windowText().color())
            name = QFontMetrics(font).elidedText(cls, Qt.ElideRight, name_w - 8)
            p.drawText(QRectF(0, y, name_w - 6, rh), Qt.AlignVCenter | Qt.AlignRight, name)
            p.fillRect(QRectF(name_w, y + 4, bar_w, rh - 8), QColor(0, 0, 0, 18))
            colour = TRUE_COLOUR if cls == self.truth else BAR_COLOUR
            p.fillRect(QRectF(name_w, y + 4, bar_w * max(0.0, min(prob, 1.0)), rh - 8), colour)
            p.drawText(QRectF(name_w + bar_w, y, pct_w, rh), Qt.AlignVCenter | Qt.AlignRight, f"{prob:.1%}")
        p.end()


class PredictionPanel(QWidget):
    """Model chooser + top-5 bars for the row shown in the detail pane."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionPanel")
        self.ctx = ctx
        self.models: dict[str, Any] = {}
        self.dataset: DatasetInfo | None = None
        self.row: ImageItem | Location | None = None
        self.cache: dict[tuple, list[Prediction] | str] = {}
        self._busy = False
        self._pending: tuple | None = None
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("predictionModel")
        self.model_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(12)
        self.model_box.currentIndexChanged.connect(self._update)
        self.view_box = QComboBox(self)
        self.view_box.setObjectName("predictionView")
        self.view_box.addItems(list(VIEWS))
        self.view_box.setToolTip("A single-view model predicts each view of a location separately")
        self.view_box.currentIndexChanged.connect(self._render)
        self.caption = QLabel(self)
        self.caption.setObjectName("predictionCaption")
        self.bars = ProbabilityBars(self)
        self.message = QLabel(self)
        self.message.setObjectName("predictionMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #444")
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Model guess</b>", self))
        head.addWidget(self.model_box, 1)
        head.addWidget(self.view_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.caption)
        layout.addWidget(self.bars)
        layout.addWidget(self.message)
        layout.addStretch(1)
        # a constant height, so that the image above does not jump when the bars give way to a message
        self.setFixedHeight(layout.sizeHint().height() + self.message.sizeHint().height())
        ctx.project_changed.connect(self.refresh_models)
        ctx.data_changed.connect(lambda kind: self.refresh_models() if kind == "models" else None)
        self.refresh_models()

    # -- state --------------------------------------------------------------------------------
    @property
    def entries(self) -> list[tuple[str, float]]:
        """The shown top-5 ``(class, probability)`` (empty when no prediction is shown)."""
        return self.bars.entries if self.bars.isVisibleTo(self) else []

    @property
    def model(self):
        return self.models.get(self.model_box.currentData())

    def set_dataset(self, info: DatasetInfo | None) -> None:
        """The dataset whose rows will be shown; picks a fitting model if the current one does not fit."""
        self.dataset = info
        if self.model is None or not self._fits(self.model):
            best = next((m for m in self.models.values() if self._fits(m)), None)
            if best is not None:
                self.model_box.setCurrentIndex(self.model_box.findData(best.name))
        self._update()

    def set_row(self, row: ImageItem | Location | None) -> None:
        self.row = row
        self._update()

    def refresh_models(self) -> None:
        """Re-read the project's models (cheap SQL) and keep the chosen one if it still exists."""
        from geoquiz.models.store import list_models

        project = self.ctx.project
        previous = self.model_box.currentData()
        infos = list_models(project.db) if project is not None else []
        self.models = {m.name: m for m in infos}
        self.cache.clear()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for m in infos:
            kind = "4-view" if m.integration != "single" else "single-view"
            self.model_box.addItem(f"{m.name}  ({kind}, {m.arch})", m.name)
        self.model_box.blockSignals(False)
        fallback = next((m.name for m in infos if self._fits(m)), infos[0].name if infos else None)
        choice = previous if previous in self.models else fallback
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(choice)))
        self._update()

    def _fits(self, m) -> bool:
        """Same classes as the dataset, and 4-view integration exactly when the dataset is 4-view."""
        if self.dataset is None:
            return True
        return (
            set(m.classes) == set(self.dataset.classes)
            and (m.integration != "single") == self.dataset.is_four_view
        )

    def _why_not(self, m) -> str | None:
        """Why model ``m`` cannot predict the current row, or None."""
        name = html.escape(m.name)
        if self.dataset is not None and set(m.classes) != set(self.dataset.classes):
            have, want = set(m.classes), set(self.dataset.classes)
            parts = []
            if want - have:
                parts.append(f"it does not know {', '.join(sorted(want - have))}")
            if have - want:
                parts.append(f"it predicts {', '.join(sorted(have - want))}, which this dataset lacks")
            return (
                f"<b>Classes differ.</b> “{name}” was trained for {', '.join(map(html.escape, m.classes))}; "
                f"dataset “{html.escape(self.dataset.name)}” is labelled {', '.join(map(html.escape, self.dataset.classes))} "
                f"({'; '.join(map(html.escape, parts))}). Choose a model trained on this dataset's classes."
            )
        if m.integration != "single" and isinstance(self.row, ImageItem):
            return (
                f"<b>No prediction for a single image.</b> “{name}” is a 4-view model ({m.integration} "
                "integration): it needs the four views of a location at once, and this is one image. "
                "Choose a single-view model, or browse a 4-view dataset."
            )
        return None

    def _key_and_samples(self, m) -> tuple[tuple, list]:
        row = self.row
        if isinstance(row, Location) and m.integration == "single":
            samples: list = row.ordered()
        else:
            samples = [row]
        kind = "location" if isinstance(row, Location) else "image"
        return (m.name, m.created_at, kind, row.id if row.id is not None else row.key), samples

    # -- prediction ---------------------------------------------------------------------------
    def _update(self, *_: object) -> None:
        m = self.model
        self.view_box.setVisible(
            isinstance(self.row, Location) and m is not None and m.integration == "single"
        )
        if self.ctx.project is None:
            return self._say("")
        if m is None:
            return self._say(
                "No model in this project yet. Train one (Model › Train a model…) to see its top-5 guesses here."
            )
        if self.row is None:
            return self._say("Select an image to see the model's top-5 guesses.")
        reason = self._why_not(m)
        if reason:
            return self._say(reason)
        key, samples = self._key_and_samples(m)
        if key not in self.cache:
            self._request(key, m.name, samples)
        self._render()

    def _request(self, key: tuple, model: str, samples: list) -> None:
        if self._busy:
            self._pending = (key, model, samples)
            return
        self._busy = True
        start(
            predict_job,
            str(self.ctx.root),
            model,
            samples,
            on_result=lambda preds, k=key: self._arrived(k, preds),
            on_error=lambda msg, _tb, k=key: self._arrived(k, msg),
        )

    def _arrived(self, key: tuple, result: list[Prediction] | str) -> None:
        self._busy = False
        self.cache[key] = result
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] not in self.cache:
            self._request(*pending)
        self._render()

    def _render(self, *_: object) -> None:
        m = self.model
        if m is None or self.row is None or self._why_not(m):
            return
        key, _ = self._key_and_samples(m)
        result = self.cache.get(key)
        if result is None:
            return self._say(f"Predicting with “{html.escape(m.name)}”…")
        if isinstance(result, str):
            return self._say(
                f"<span style='color:#b00020'><b>Cannot predict:</b> {html.escape(result)}</span>"
            )
        view = None
        pred = result[0]
        if len(result) == len(VIEWS) and isinstance(self.row, Location):
            view = self.view_box.currentText()
            pred = result[VIEWS.index(view)]
        top = pred.topk(TOP_K)
        truth = self.row.label
        rank = next((i + 1 for i, (c, _) in enumerate(pred.topk(len(pred.classes))) if c == truth), None)
        where = f"{view} view, " if view else ""
        verdict = "✓ top-1" if rank == 1 else (f"rank {rank}" if rank else "not a model class")
        shown = f"top-{len(top)} of {len(pred.classes)} classes"
        self.caption.setText(f"{where}{shown} · true label <b>{html.escape(truth)}</b>: {verdict}")
        self.bars.set_entries(top, truth)
        self.message.hide()
        self.caption.show()
        self.bars.show()

    def _say(self, text: str) -> None:
        self.bars.set_entries([], None)
        self.bars.hide()
        self.caption.hide()
        self.message.setText(text)
        self.message.setVisible(bool(text))
