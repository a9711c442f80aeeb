"""The Dashboards tab on the seeded study, offscreen: every figure drawn from real data, PNG/SVG
export of each figure, the human-only view without a model; grab() a PNG and check it."""

from __future__ import annotations

import xml.dom.minidom

import numpy as np
import pytest
from PySide6.QtGui import QImage

from geoquiz.study.dashboard_data import load_dashboard
from ui.context import AppContext
from ui.plots.dashboard_plots import FIGURES
from ui.views.dashboard_view import NO_MODEL, DashboardView
from ui.workers import wait_all


@pytest.fixture
def dashboard(qtbot, seeded):
    project, ids = seeded
    view = DashboardView(AppContext(project))
    qtbot.addWidget(view)
    view.resize(1100, 1700)
    view.show()
    qtbot.waitUntil(lambda: view.data is not None, timeout=15000)
    yield view, project
    wait_all()


def test_dashboard_data_values(seeded):
    project, _ = seeded
    data = load_dashboard(project.db, model="m1", study="pilot", n_boot=50)
    acc = {(b.group, b.series): b for b in data.accuracy}
    assert acc[("top-1", "people")].value == pytest.approx(6 / 11) and acc[("top-1", "model")].value == 0.8
    assert acc[("top-1", "people")].low < 6 / 11 < acc[("top-1", "people")].high
    assert data.n_shared_items == 5 and data.kappa == pytest.approx((1 / 6 - 0.38) / 0.62)
    assert data.human_confusion.tolist() == [[3, 2, 0], [0, 2, 1], [0, 1, 1]]  # rows France, India, Japan
    assert data.model_confusion.tolist() == [[2, 0, 0], [0, 2, 0], [0, 2, 0]]
    faith = {(b.group, b.series): b.value for b in data.faithfulness}
    assert (
        faith[("gradcam/default", "deletion:guided")] == 0.0
        and faith[("gradcam/default", "insertion:guided")] == 1.0
    )
    assert data.embedding["labels"][:3] == ["France", "India", "Japan"]
    # histograms counted by SQLite: the slowest of the 11 main trials took 30 s, all 11 rated confidence
    assert data.response_times.top == 30.0 and data.response_times.n == 11
    assert sum(data.human_confidence.values()) == 11
    assert data.model_confidence["right"].n == 4 and data.model_confidence["wrong"].n == 2


def test_dashboard_draws_and_exports_every_figure(dashboard, tmp_path):
    view, _ = dashboard
    assert view.status.text().startswith(f"{len(FIGURES)} of {len(FIGURES)} figures have data")
    files = view.save_all(tmp_path / "figs")
    assert len(files) == 2 * len(FIGURES)
    for path in files:
        if path.suffix == ".png":
            img = QImage(str(path))
            assert img.width() == 1200 and img.height() > 100, path.name
        else:
            doc = xml.dom.minidom.parse(str(path))
            assert doc.documentElement.tagName == "svg", path.name
    grab = tmp_path / "dashboard.png"
    assert view.grab().save(str(grab))
    img = QImage(str(grab)).convertToFormat(QImage.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[
        :, : img.width() * 3
    ]
    rgb = arr.reshape(-1, 3).astype(np.uint32)
    assert len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])) > 100


def test_dashboard_without_a_model_shows_the_human_side(dashboard, qtbot):
    view, _ = dashboard
    view.data = None
    view.model_combo.setCurrentText(NO_MODEL)
    view.reload()
    qtbot.waitUntil(lambda: view.data is not None, timeout=15000)
    assert view.selection() == (None, None)
    assert [b.series for b in view.data.accuracy] == ["people", "people"]
    assert view.status.text().startswith("5 of")  # accuracy, per class, human confusion, times, confidence
