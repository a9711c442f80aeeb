"""First-launch widgets: the training banner (and its hosts), the welcome panel, the ETA progress dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from geoquiz.progress import Eta, format_eta
from ui.context import AppContext, TrainingStatus


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_eta_from_the_progress_rate():
    clock = Clock()
    eta = Eta(clock)
    assert eta.update(0, 100) is None  # nothing to go by yet
    clock.t = 10.0
    assert eta.update(20, 100) == pytest.approx(40.0)  # 10 s for 20 units, 80 to go
    clock.t = 20.0
    assert eta.update(50, 100) == pytest.approx(20.0)
    assert eta.update(10, 0) is None  # unknown total
    eta.reset()
    assert eta.seconds_left is None
    assert format_eta(None) == "" and format_eta(1) == "almost done"
    assert format_eta(42) == "about 40 s left" and format_eta(150) == "about 2 min left"


@pytest.fixture
def window(qtbot, tmp_path):
    from geoquiz.project import Project
    from ui.main_window import MainWindow

    ctx = AppContext()
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    ctx.set_project(Project.open(tmp_path / "proj", create=True))
    win.resize(1366, 768)
    win.show()
    yield win
    win.close()


def test_training_banner_follows_the_context_in_model_and_explain(window, qtbot):
    from ui.widgets.training_banner import TrainingBanner

    banners = {
        tab: window.views[tab].findChild(TrainingBanner, "trainingBanner") for tab in ("Model", "Explain")
    }
    assert all(b is not None for b in banners.values())
    assert not any(b.isVisibleTo(window) for b in banners.values())
    window.ctx.set_training(
        TrainingStatus("demo-resnet10", "training", 3, 12, "epoch 3/12", "about 1 min left")
    )
    for tab, banner in banners.items():
        window.tabs.setCurrentWidget(window.views[tab])
        qtbot.waitUntil(banner.isVisible, timeout=2000)
        text = banner.label.text()
        assert text.startswith("The demo model is training in the background: epoch 3/12, about 1 min left.")
        assert banner.bar.maximum() == 12 and banner.bar.value() == 3
        label = banner.label  # the wrapped text is not cut: the label is as tall as it needs at its width
        qtbot.waitUntil(lambda lb=label: lb.height() >= lb.heightForWidth(lb.width()), timeout=2000)
    window.ctx.set_training(None)
    assert not any(b.isVisibleTo(window) for b in banners.values())


def test_welcome_from_the_help_menu_goes_to_each_workflow(window, qtbot):
    from PySide6.QtGui import QAction

    from ui.dialogs.welcome import WelcomeDialog

    action = window.findChild(QAction, "action_open_welcome")
    assert action is not None and action.text().startswith("&Welcome")
    menu_titles = [a.text() for a in window.menuBar().actions()]
    assert menu_titles.count("&Help") == 1 and menu_titles[-1] == "&Help"
    for name, tab in (
        ("welcomeBrowse", "Dataset"),
        ("welcomeExplain", "Explain"),
        ("welcomeQuiz", "Studies"),
        ("welcomeReview", "Review"),
    ):
        action.trigger()
        dialog = window.findChild(WelcomeDialog)
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        qtbot.mouseClick(dialog.buttons[name], Qt.LeftButton)
        assert window.tabs.currentWidget() is window.views[tab]
        assert not dialog.isVisible()


def test_progress_dialog_title_fits_and_shows_time_left(qtbot):
    from ui.widgets.eta_progress import TITLE_CHROME_PX, EtaProgressDialog

    clock = Clock()
    dialog = EtaProgressDialog("Preparing the GeoScenes demo project", None, counts=False)
    qtbot.addWidget(dialog)
    dialog.eta = Eta(clock)
    assert dialog.minimumWidth() >= dialog.fontMetrics().horizontalAdvance(dialog.title) + TITLE_CHROME_PX
    dialog.update_progress(0, 1000, "First GeoScenes images: France france_0000")
    clock.t = 2.0
    dialog.update_progress(500, 1000, "First GeoScenes images: India india_0002")
    assert dialog.labelText() == "First GeoScenes images: India india_0002\nalmost done"  # 2 s left
    clock.t = 20.0
    dialog.update_progress(600, 1000, "First GeoScenes images: Japan japan_0001")
    # 20 s for 600 units, 400 to go: 13.3 s; counts are off (the bar shows how far along)
    assert dialog.labelText() == "First GeoScenes images: Japan japan_0001\nabout 15 s left"
    assert dialog.value() == 600 and dialog.maximum() == 1000
    long = "x" * 200
    dialog.update_progress(700, 1000, long)
    assert dialog.minimumWidth() >= min(900, dialog.fontMetrics().horizontalAdvance(long))
