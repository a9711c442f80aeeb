"""Help › Welcome: the four things a researcher does with GeoQuiz, one button each.

Shown when the demo project is first built (:mod:`ui.first_launch`) and from the Help menu. Each
button closes the panel and goes to the tab where that work starts:

* **Browse & predict**: the Dataset tab (images, planted cues, the model's top guesses);
* **Explain**: the Explain tab (attribution maps and the ranked element boxes);
* **Run a quiz**: the Studies tab (install a study, start a participant session);
* **Review & export**: the Review tab (human boxes vs model elements), with File › Export for CSVs.

While the demo model trains in the background the panel says so (the same banner as the tabs).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.widgets.training_banner import TrainingBanner

#: (object name, button text, tab title, what it is for)
WORKFLOWS: tuple[tuple[str, str, str, str], ...] = (
    (
        "welcomeBrowse",
        "Browse && predict",
        "Dataset",
        "Look through the GeoScenes street scenes with their planted cues, and see the model's top guesses.",
    ),
    (
        "welcomeExplain",
        "Explain",
        "Explain",
        "See where the model looked: attribution maps and the ranked object-like element boxes.",
    ),
    (
        "welcomeQuiz",
        "Run a quiz",
        "Studies",
        "Start a participant session: people guess the country, say why and box the cues they used.",
    ),
    (
        "welcomeReview",
        "Review && export",
        "Review",
        "Compare people's cue boxes with the model's elements, then export tidy CSVs (File › Export).",
    ),
)


class WelcomeDialog(QDialog):
    """The welcome panel; ``window`` is the main window (its ``tabs`` and ``views``)."""

    def __init__(self, ctx: AppContext, window: QWidget) -> None:
        super().__init__(window)
        self.ctx, self.window_ = ctx, window
        self.setObjectName("welcomeDialog")
        self.setWindowTitle("Welcome to GeoQuiz")
        self.setMinimumWidth(620)
        intro = QLabel(
            "<h2>Welcome to GeoQuiz</h2>"
            "<p>Which visual cues does an image-geolocation model rely on, and are they the cues people "
            "use? The demo project holds <b>GeoScenes</b>, street scenes from France, India and Japan "
            "whose cues are planted and recorded, a small demo model and two example studies.</p>"
            "<p>Where would you like to start?</p>",
            self,
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.RichText)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(10)
        views = getattr(window, "views", {})
        self.buttons: dict[str, QPushButton] = {}
        for row, (name, text, tab, description) in enumerate(WORKFLOWS):
            button = QPushButton(text, self)
            button.setObjectName(name)
            button.setMinimumWidth(170)
            button.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
            button.setEnabled(tab in views)
            button.clicked.connect(lambda _=False, t=tab: self.go(t))
            label = QLabel(description, self)
            label.setWordWrap(True)
            grid.addWidget(button, row, 0, Qt.AlignTop)
            grid.addWidget(label, row, 1)
            self.buttons[name] = button
        grid.setColumnStretch(1, 1)
        close = QDialogButtonBox(QDialogButtonBox.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(TrainingBanner(ctx, self, "The Model and Explain tabs fill in when it is ready."))
        layout.addLayout(grid)
        layout.addWidget(QLabel("This panel is in the Help menu (Help › Welcome).", self))
        layout.addWidget(close)

    def go(self, tab: str) -> None:
        """Close the panel and show ``tab`` in the main window."""
        view = getattr(self.window_, "views", {}).get(tab)
        if view is not None:
            self.window_.tabs.setCurrentWidget(view)
        self.accept()


def open_welcome(ctx: AppContext, parent: QWidget | None = None) -> WelcomeDialog:
    """Open the welcome panel (non-blocking) over the main window ``parent`` (one panel per window)."""
    dialog = parent.findChild(WelcomeDialog) if parent is not None else None
    if dialog is None:
        dialog = WelcomeDialog(ctx, parent)
        dialog.setAttribute(Qt.WA_DeleteOnClose, False)
    dialog.open()
    return dialog
