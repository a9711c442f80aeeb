"""Issue 13 in the app: the Faithfulness tab tests participants' boxes and shows the model's elements vs
people's boxes vs random; the Dashboards' "Both ways" panel shows both directions and exports the
tidy CSV. Real widgets, real clicks; screenshots at 1366x768 and 1920x1080 go to ``tmp_path`` (or
to ``$GEOQUIZ_SCREENSHOTS`` when set, to look at them)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import QPoint, Qt

from ui.context import AppContext
from ui.workers import wait_all


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("GEOQUIZ_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _click_check(qtbot, box) -> None:
    qtbot.mouseClick(box, Qt.LeftButton, pos=QPoint(8, box.height() // 2))


def _grab(qtbot, widget, path: Path, size: tuple[int, int]) -> None:
    widget.resize(*size)
    qtbot.wait(50)
    assert widget.grab().save(str(path))


def _fits(qtbot, view) -> None:
    """At the window sizes of tests/ui/test_window_layout.py (less the tab bar), no control of
    ``view`` is squeezed below its minimum size."""
    from fixtures.layout import squeezed

    for width, height in ((1366, 768), (1024, 700)):
        view.resize(width, height - 60)
        qtbot.wait(50)
        assert squeezed(view) == [], (width, height)


def test_the_faithfulness_tab_tests_participants_boxes(qtbot, both_ways_project, tmp_path):
    from ui.views.faithfulness_view import FaithfulnessView

    view = FaithfulnessView(AppContext(both_ways_project))
    qtbot.addWidget(view)
    view.show()
    form = view.form
    form.model_box.setCurrentIndex(form.model_box.findData("single"))
    form.dataset_box.setCurrentIndex(form.dataset_box.findData("tiny"))
    assert not form.study_box.isEnabled()
    _click_check(qtbot, form.people_check)
    assert form.people_check.isChecked() and form.study_box.isEnabled()
    form.study_box.setCurrentIndex(form.study_box.findData("people"))
    form.repeats_spin.selectAll()
    qtbot.keyClicks(form.repeats_spin, "3")
    request = form.request()
    assert request.selections == ("model", "human") and request.study == "people"

    with qtbot.waitSignal(view.controls.finished, timeout=120000):
        qtbot.mouseClick(view.controls.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.results is not None and bool(view.results.get("people")), timeout=30000)
    page = view.people_page
    view.tabs.setCurrentWidget(page)
    names = [page.table.item(r, 0).text() for r in range(page.table.rowCount())]
    assert sorted(set(names)) == [
        "Model elements",
        "People: each cue tag",
        "People: each trial",
        "People: union per item",
    ]
    assert [g.rsplit("\n", 1)[0] for g in page.chart.charts[0].groups] == [
        "Model elements",
        "People\nunion per item",
        "People\neach cue tag",
        "People\neach trial",
    ]
    _fits(qtbot, view)
    assert page.participants.rowCount() == 6 and page.tags.rowCount() == 4
    from geoquiz.types import CUE_TAG_LABELS

    assert {page.table.item(r, 1).text() for r in range(page.table.rowCount())} <= {"Deletion", "Insertion"}
    assert {page.tags.item(r, 0).text() for r in range(4)} <= set(CUE_TAG_LABELS.values())
    assert [c.title for c in page.chart.charts] == [
        "Deletion: model vs people vs random",
        "Insertion: model vs people vs random",
    ]
    shots = _shots(tmp_path)
    for size in ((1366, 768), (1920, 1080)):
        _grab(qtbot, view, shots / f"faithfulness_people_{size[0]}.png", size)
    written = view.export_figures_to(tmp_path / "figs", formats=("png",))
    assert any(p.name.endswith("_sources.png") for p in written)

    # neither kind of box ticked: a clear message, nothing runs
    _click_check(qtbot, form.people_check)
    _click_check(qtbot, form.model_check)
    with pytest.raises(ValueError, match="Tick the model's elements, the participants' boxes, or both"):
        form.request()
    wait_all(10000)


def test_the_dashboards_show_both_ways_and_export_the_table(qtbot, both_ways_project, tmp_path):
    from fixtures.both_ways import answer_study

    from geoquiz.boxes import Box
    from geoquiz.faithfulness.request import GridRequest, run_request
    from geoquiz.types import CueBox
    from ui.views.dashboard_view import DashboardView

    db = both_ways_project.db
    others = {"France": "India", "India": "Japan", "Japan": "France"}

    def guesses(p, spec):  # people miss more often without the model's elements
        wrong = spec.condition == "model" and p % 2 == 0
        return (others[spec.label],) if wrong else (spec.label,)

    answer_study(db, "abl", 6, guesses=guesses, boxes=lambda p, spec: [CueBox(Box(4, 4, 24, 20), "signs")])
    request = GridRequest(
        "single",
        "tiny",
        "all",
        selections=("model", "human"),
        study="abl",
        repeats=3,
        curves=False,
        device="cpu",
    )
    run_request(both_ways_project, request)

    view = DashboardView(AppContext(both_ways_project))
    qtbot.addWidget(view)
    view.show()
    panel = view.both_ways
    assert "Choose a study" in panel.status.text()
    for combo, name in ((view.model_combo, "single"), (view.study_combo, "abl")):
        combo.setFocus()
        qtbot.keyClicks(combo, name)  # typing an item's name selects it, and the dashboards reload
    assert view.selection() == ("single", "abl")
    qtbot.waitUntil(lambda: panel.table is not None, timeout=60000)
    text = panel.status.text()
    assert "Model without people's cue boxes" in text and "People without the model's top elements" in text
    assert "no data" not in text
    assert [c.title for c in panel.chart.charts] == [
        "Model needs people's cues? (their boxes removed)",
        "People need the model's evidence? (its elements removed)",
    ]
    people = panel.table[(panel.table["scope"] == "overall") & (panel.table["who"] == "people")]
    top1 = people[people["measure"] == "top1"].iloc[0]
    assert top1["removed_minus_random"] == pytest.approx(
        -0.5
    )  # half the participants miss every model picture
    assert panel.overall.rowCount() == len(panel.table[panel.table["scope"] == "overall"])
    shown = {panel.overall.item(r, 0).text() for r in range(panel.overall.rowCount())}
    assert shown == {"Model needs people's cues", "People need the model's evidence"}
    measures = {panel.overall.item(r, 3).text() for r in range(panel.overall.rowCount())}
    assert "Top-2 accuracy" in measures  # the study's responses.top_k
    assert "People\ntop-2 accuracy" in panel.chart.charts[1].groups
    _fits(qtbot, view)
    shots = _shots(tmp_path)
    for size in ((1366, 768), (1920, 1080)):
        panel.resize(size[0] - 40, 640)
        _grab(qtbot, panel, shots / f"dashboard_both_ways_{size[0]}.png", (size[0] - 40, 640))

    written = panel.export_to(tmp_path / "both_ways.csv")
    table = pd.read_csv(written)
    assert set(table["direction"]) == {"model_needs_people", "people_need_model"}
    assert set(table["scope"]) == {"item", "overall"}
    wait_all(10000)
