"""A banner saying that a model is being trained in the background (e.g. the demo model on first launch).

``TrainingBanner(ctx, parent)`` follows :attr:`ui.context.AppContext.training`: hidden while nothing
trains, otherwise one line of text ("The demo model is training in the background: epoch 3 of 12,
about 1 min left. This tab fills in when it is ready.") and a progress bar. A view hosts it with one
line, e.g. ``layout.insertWidget(0, TrainingBanner(ctx, self))``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from ui.context import AppContext, TrainingStatus

PHASES = {
    "preparing": "is waiting for its training images, which are being drawn",
    "training": "is training in the background",
    "evaluating": "is being evaluated on the test images",
}


def banner_text(status: TrainingStatus, hint: str) -> str:
    """The banner's sentence for ``status`` (plain text)."""
    what = "The demo model" if status.model.startswith("demo") else f"The model {status.model}"
    detail = ", ".join(p for p in (status.message, status.eta) if p)
    text = f"{what} {PHASES.get(status.phase, 'is being prepared')}"
    return f"{text}{': ' + detail if detail else ''}. {hint}".strip()


class TrainingBanner(QFrame):
    """Shows :attr:`AppContext.training` while it is set; ``hint`` is the view's own last sentence."""

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        hint: str = "This tab fills in when it is ready.",
    ) -> None:
        super().__init__(parent)
        self.ctx, self.hint = ctx, hint
        self.setObjectName("trainingBanner")
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet(
            "#trainingBanner { background: #fff4d6; border: 1px solid #e0b850; border-radius: 4px; }"
            "#trainingBanner QLabel { color: #4a3b00; }"
        )
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.label = QLabel(self)
        self.label.setObjectName("trainingBannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("trainingBannerProgress")
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar, 0, Qt.AlignVCenter)
        ctx.training_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        status = self.ctx.training
        self.setVisible(status is not None)
        if status is None:
            return
        self.label.setText(banner_text(status, self.hint))
        self.bar.setRange(0, max(status.total, 0))
        self.bar.setValue(min(status.done, status.total) if status.total > 0 else 0)
