"""A progress dialog whose title is never cut and whose text says how long is left.

``EtaProgressDialog(title, parent)`` is a :class:`QProgressDialog` that is at least wide enough for
its window title (plus room for the window manager's buttons) and for its longest line, and whose
label reads ``"<message>\\n<done> of <total> — about 20 s left"`` (the estimate comes from
:class:`geoquiz.progress.Eta`). Feed it with :meth:`update_progress` (a worker's progress signal).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from geoquiz.progress import Eta, format_eta

#: Pixels the window manager needs beside the title (icon, buttons, margins), generously.
TITLE_CHROME_PX = 180


class EtaProgressDialog(QProgressDialog):
    def __init__(
        self, title: str, parent: QWidget | None = None, cancel_text: str = "Cancel", counts: bool = True
    ) -> None:
        super().__init__(title, cancel_text, 0, 0, parent)
        self.counts = counts  # show "12 of 80" (False: the bar alone shows how far along)
        self.setObjectName("etaProgress")
        self.title = title
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModal)
        self.setMinimumDuration(300)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.eta = Eta()
        self._fit(title)

    def _fit(self, text: str) -> None:
        """Grow (never shrink) so that the title and every line of ``text`` fit."""
        fm = self.fontMetrics()
        lines = [self.title, *text.splitlines()]
        need = max(fm.horizontalAdvance(line) for line in lines) + TITLE_CHROME_PX
        if need > self.minimumWidth():
            self.setMinimumWidth(min(need, 900))

    def label_for(self, done: int, total: int, message: str) -> str:
        """The label's text for this progress (also used by tests)."""
        eta = format_eta(self.eta.update(done, total))
        count = f"{done} of {total}" if total > 0 and self.counts else ""
        tail = " — ".join(p for p in (count, eta) if p)
        return "\n".join(p for p in (message or self.title, tail) if p)

    def update_progress(self, done: int, total: int, message: str = "") -> None:
        self.setMaximum(max(total, 0))
        self.setValue(min(done, total) if total > 0 else 0)
        text = self.label_for(done, total, message)
        self._fit(text)
        self.setLabelText(text)
