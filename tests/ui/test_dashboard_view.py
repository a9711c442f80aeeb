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
    # top-1 only: with 3 classes, a top-5 list holds every class (100 % by construction)
    assert view.data.ks == (1,) and [b.series for b in view.data.accuracy] == ["people"]
    assert view.status.text().startswith("5 of")  # accuracy, per class, human confusion, times, confidence


def test_charts_empty_before_a_session_show_its_data_after_it(qtbot, project):
    """Opened on a project without answers every figure shows its empty state; when answers arrive
    (a session ran) and the tab reloads, the response-time and confidence charts hold the data and
    their view covers it (an empty state used to leave auto-range off: the charts stayed blank)."""
    import pyqtgraph as pg
    from fixtures.review_seed import seed_study
    from PySide6.QtCore import Qt

    view = DashboardView(AppContext(project))
    qtbot.addWidget(view)
    view.resize(1100, 1700)
    view.show()
    qtbot.waitUntil(lambda: view.data is not None, timeout=15000)
    assert view.status.text().startswith("0 of")
    for key in ("response_times", "human_confidence"):
        plot = view.panels[key].plot
        assert not plot.getAxis("left").isVisible()  # the empty state: a message, no axes
        assert any(isinstance(i, pg.TextItem) for i in plot.items)

    seed_study(project)  # a session's answers
    view.data = None
    view.ctx.data_changed.emit("sessions")
    qtbot.waitUntil(lambda: view.data is not None, timeout=15000)
    times = view.panels["response_times"].plot
    curves = [i for i in times.listDataItems() if i.name()]
    assert curves and curves[0].name().startswith("people (n=")
    xs, ys = curves[0].getData()

    def covers_times() -> bool:  # pyqtgraph applies auto-range when it next paints
        (x0, x1), (y0, y1) = times.viewRange()
        return x0 <= float(np.min(xs)) and float(np.max(xs)) <= x1 and y1 >= float(np.max(ys)) > y0

    qtbot.waitUntil(covers_times, timeout=5000)
    confidence = view.panels["human_confidence"].plot
    bars = [i for i in confidence.items if isinstance(i, pg.BarGraphItem)]
    assert bars and confidence.getAxis("left").isVisible()
    qtbot.waitUntil(
        lambda: confidence.viewRange()[1][1] >= float(np.max(bars[0].opts["height"])), timeout=5000
    )
    # the wheel over a chart scrolls the page; clicking the chart (focus) lets it zoom
    chart = view.panels["response_times"].widget
    assert chart.focusPolicy() == Qt.ClickFocus
    wait_all()


def _wheel(widget, steps: int = -3, modifiers=None) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    target = widget.viewport() if hasattr(widget, "viewport") else widget
    pos = QPointF(target.width() / 2, target.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(target.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.NoButton,
        modifiers or Qt.NoModifier,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(target, event)


def test_the_wheel_over_a_chart_scrolls_the_page_and_zooms_only_with_ctrl(dashboard, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QScrollArea

    view, _ = dashboard
    view.resize(1100, 600)
    qtbot.wait(50)
    scroll = view.findChild(QScrollArea)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0
    chart = view.panels["accuracy"].widget
    before = chart.getPlotItem().viewRange()
    _wheel(chart, -3)
    assert bar.value() > 0  # the page moved
    assert chart.getPlotItem().viewRange() == before  # the chart did not zoom
    _wheel(chart, 3, Qt.ControlModifier)
    assert chart.getPlotItem().viewRange() != before  # with Ctrl the wheel zooms the chart
