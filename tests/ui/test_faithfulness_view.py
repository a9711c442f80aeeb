"""The Faithfulness tab on a project with a stored run: lists it, draws Figure 2 / 3 bars and curves
from the statistics a worker computed, fills the comparison table, exports CSV and PNG/SVG figures,
and refuses to start a run without a model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_png
from PySide6.QtCore import Qt

from geoquiz.data.store import store_dataset
from geoquiz.faithfulness import store
from geoquiz.types import ImageItem


def _rows(test: str, selection: str, repeat: int, correct: int, prob: float) -> dict:
    return {
        "method": "gradcampp",
        "segmenter": "default",
        "test": test,
        "selection": selection,
        "fill": "blur",
        "repeat": repeat,
        "seed": None if selection == "guided" else 100 + repeat,
        "n_boxes": 2,
        "coverage": 0.2,
        "correct": correct,
        "true_prob": prob,
        "base_correct": 1,
        "base_true_prob": 0.9,
    }


@pytest.fixture
def run_project(project, tmp_path):
    """A project with 6 images and one finished grid run with results and curves for each."""
    items = [
        ImageItem(
            f"im{i}",
            str(write_png(tmp_path / f"im{i}.png", np.full((8, 8, 3), 30 * i, np.uint8))),
            ("France", "Japan")[i % 2],
            "test",
        )
        for i in range(6)
    ]
    store_dataset(project, "toy", "single", items, source="test", classes=["France", "Japan"])
    ids = [r[0] for r in project.db.execute("SELECT id FROM images ORDER BY key").fetchall()]
    config = {"methods": ["gradcampp"], "segmenters": ["default"], "fill": "blur", "repeats": 2}
    config |= {"params": {"top_p": 20.0}, "model": "m", "dataset": "toy", "split": "test"}
    run_id = store.create_run(
        project.db, model_id=None, dataset_id=1, split="test", config=config, kind="grid"
    )
    rng = np.random.default_rng(0)
    for image_id in ids:
        rows = [_rows("deletion", "guided", 0, 0, 0.2), _rows("insertion", "guided", 0, 1, 0.7)]
        for r in range(2):
            rows.append(_rows("deletion", "random", r, int(rng.random() < 0.8), 0.6))
            rows.append(_rows("insertion", "random", r, int(rng.random() < 0.3), 0.4))
        curves = []
        for test, probs in (("deletion", (0.9, 0.4, 0.2)), ("insertion", (0.3, 0.6, 0.7))):
            for k, p in enumerate(probs):
                curves.append(
                    {
                        "method": "gradcampp",
                        "segmenter": "default",
                        "test": test,
                        "selection": "guided",
                        "repeat": 0,
                        "seed": None,
                        "k": k,
                        "n": 2,
                        "coverage": 0.1 * k,
                        "correct": int(p > 0.5),
                        "true_prob": p,
                    }
                )
        store.write_unit(project.db, run_id, image_id, None, rows, curves)
    store.finish_run(project.db, run_id, "done", {"top_p_source": {"kind": "settings"}})
    return project, run_id


@pytest.fixture
def view(qtbot, run_project):
    from ui.context import AppContext
    from ui.views.faithfulness_view import FaithfulnessView

    project, _ = run_project
    ctx = AppContext(project)
    w = FaithfulnessView(ctx)
    qtbot.addWidget(w)
    w.resize(1300, 800)
    w.show()
    yield w
    from ui.workers import wait_all

    wait_all(10000)


def test_selecting_a_run_draws_figures_and_table(qtbot, view, run_project, tmp_path):
    _, run_id = run_project
    assert view.runs_list.count() == 1
    view.runs_list.setCurrentRow(0)
    qtbot.waitUntil(lambda: view.results is not None, timeout=20000)
    assert f"Run #{run_id}" in view.summary_label.text()
    # Figure 2: deletion and insertion panels with guided and random bars for gradcampp
    # (methods and segmenters by their names, not their ids)
    assert [c.title for c in view.fig2.charts] == [
        "Deletion (Default (superpixels))",
        "Insertion (Default (superpixels))",
    ]
    deletion = view.fig2.charts[0]
    assert deletion.groups == ("Grad-CAM++",)
    assert [s.name for s in deletion.series] == ["model's elements", "random boxes, same coverage"]
    assert deletion.series[0].values == (0.0,)  # guided deletion: always wrong
    assert view.fig3.charts[0].groups == ("Default (superpixels)",)
    assert len(view.curves.charts) == 2 and view.curves.charts[0].lines[0].ys[0] == pytest.approx(0.9)
    assert view.table.rowCount() == 2
    header = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert view.table.item(0, header.index("Guided acc.")).text() == "0.000"
    assert view.table.item(0, header.index("Faithful direction")).text() == "yes"
    assert view.table.item(0, header.index("Method")).text() == "Grad-CAM++"  # names, not ids
    assert {view.table.item(r, header.index("Test")).text() for r in range(2)} == {"Deletion", "Insertion"}
    view.grab().save(str(tmp_path / "faithfulness_view.png"))

    # figures: PNG and SVG of the four panels (the last: segments and coverage), drawn as shown
    written = view.export_figures_to(tmp_path / "figs")
    assert sorted(p.name for p in written) == sorted(
        f"faithfulness_run{run_id}_{n}.{f}"
        for n in ("figure2", "figure3", "curve_plot", "segmenters")
        for f in ("png", "svg")
    )
    assert all(p.stat().st_size > 1000 for p in written)
    assert (tmp_path / "figs" / f"faithfulness_run{run_id}_figure2.svg").read_text().lstrip().startswith("<")

    # CSV export in a worker
    worker = view.export_csv_to(tmp_path / "csv")
    qtbot.waitUntil(lambda: worker.is_done, timeout=20000)
    assert worker.error is None
    names = {p.name for p in worker.result}
    assert (
        f"faithfulness_run{run_id}_comparison.csv" in names
        and f"faithfulness_run{run_id}_curves.csv" in names
    )


def test_cannot_start_without_a_model(qtbot, view):
    assert view.model_box.count() == 0
    view.start_run()
    assert view.worker is None
    box = view.findChild(object, "errorBox")
    assert box is not None and "no model" in box.text()


def test_running_a_grid_in_the_worker_lists_and_draws_the_run(qtbot, explain_project_root, tmp_path):
    """Start a real grid (tiny model) from the tab: progress, then the new run is listed and drawn."""
    import shutil

    from geoquiz.project import Project
    from ui.context import AppContext
    from ui.views.faithfulness_view import FaithfulnessView
    from ui.workers import wait_all

    root = tmp_path / "proj"
    shutil.copytree(explain_project_root, root)
    with Project.open(root) as project:
        w = FaithfulnessView(AppContext(project))
        qtbot.addWidget(w)
        w.show()
        form, controls = w.form, w.controls
        form.model_box.setCurrentIndex(form.model_box.findData("single"))
        form.dataset_box.setCurrentIndex(form.dataset_box.findData("tiny"))
        form.split_box.setCurrentText("test")
        form.repeats_spin.selectAll()
        qtbot.keyClicks(form.repeats_spin, "2")
        assert form.repeats_spin.value() == 2
        assert form.request().methods == ("gradcampp",) and form.request().segmenters == ("default",)
        qtbot.mouseClick(controls.run_button, Qt.LeftButton)
        assert (
            w.worker is not None
            and not controls.run_button.isEnabled()
            and controls.cancel_button.isEnabled()
        )
        with qtbot.waitSignal(controls.finished, timeout=120000):
            pass
        assert "finished" in w.status_label.text() and controls.run_button.isEnabled()
        assert w.runs_list.count() == 1
        qtbot.waitUntil(lambda: w.results is not None, timeout=30000)
        assert w.fig2.charts and w.table.rowCount() == 2  # deletion and insertion for gradcampp x default
        wait_all(10000)
