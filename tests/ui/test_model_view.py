"""The Model tab on a tiny project: models listed with their training curves (checkpoint metadata), a
real evaluation in the worker drawn as ROC / confusion / confidence / PCA / accuracy figures whose
data match the stored metrics, PNG + SVG export, cancel, and a class mismatch reported."""

from __future__ import annotations

import shutil
import xml.dom.minidom

import numpy as np
import pyqtgraph as pg
import pytest
from fixtures.demo_model import TINY_CLASSES
from PySide6.QtGui import QImage

HISTORY = [
    {
        "epoch": e,
        "train_loss": 1.1 - 0.2 * e,
        "train_acc": 0.3 * e,
        "val_loss": 1.0 - 0.1 * e,
        "val_acc": 0.25 * e,
        "lr": 3e-4,
        "seconds": 1.0,
        "images_per_s": 50.0,
        "best": e in (1, 2),
    }
    for e in (1, 2, 3)
]


def register(project, name: str, classes=TINY_CLASSES, dataset: str | None = "tiny", seed: int = 0) -> None:
    """A random resnet10 at 40 px saved with a training record, registered in ``project``."""
    import torch

    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    spec = ModelSpec("resnet10", "single", tuple(classes), input_size=40)
    torch.manual_seed(seed)
    training = {
        "dataset": dataset,
        "history": HISTORY,
        "best_epoch": 2,
        "stop_reason": "epochs",
        "n_train": 54,
        "n_val": 18,
        "config": {"init": "scratch", "lr": 3e-4},
        "precision": "bf16",
    }
    path = save_checkpoint(project.root / "models" / f"{name}.pt", build_model(spec), spec, training=training)
    register_model(project, name, path, dataset=dataset)


@pytest.fixture
def view(qtbot, tmp_path, tiny_project_root):
    from geoquiz.project import Project
    from ui.context import AppContext
    from ui.views.model_view import ModelView
    from ui.workers import wait_all

    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    project = Project.open(root)
    register(project, "r10")
    register(project, "other", classes=("Brazil", "Chile", "France"), dataset=None, seed=1)
    v = ModelView(AppContext(project))
    qtbot.addWidget(v)
    v.resize(1280, 900)
    v.show()
    yield v
    wait_all()
    project.close()


def _evaluate(qtbot, view, model: str, split: str = "test"):
    view.select_model(model)
    view.eval_dataset.setCurrentIndex(view.eval_dataset.findData("tiny"))
    view.eval_split.setCurrentIndex(view.eval_split.findData(split))
    view.eval_embedding.setCurrentIndex(view.eval_embedding.findData("pca"))
    worker = view.evaluate()
    assert worker is not None
    qtbot.waitUntil(lambda: not view._evaluating, timeout=60_000)
    return worker


def _items(panel, cls):
    return [i for i in panel.plot.items if isinstance(i, cls)]


def test_lists_models_with_training_curves(view):
    assert view.model_table.rowCount() == 2
    rows = {
        view.model_table.item(r, 0).text(): [view.model_table.item(r, c).text() for c in range(6)]
        for r in range(2)
    }
    assert rows["r10"] == ["r10", "resnet10", "single", "France, India, Japan", "40px", "tiny"]
    assert rows["other"][5] == "—"
    view.select_model("r10")
    loss = {i.name(): i.getData() for i in view.panels["train_loss"].plot.listDataItems() if i.name()}
    assert list(loss["train loss"][0]) == [1, 2, 3] and loss["val loss"][1] == pytest.approx([0.9, 0.8, 0.7])
    assert "kept: epoch 2" in loss  # the best (kept) epoch is marked
    assert "best epoch 2 of 3" in view.details.text()
    assert "precision bf16" in view.details.text()  # the precision the run used (geoquiz.models.summary)


def test_evaluate_draws_every_figure_and_exports(qtbot, view, tmp_path):
    from geoquiz.models.evaluation import list_evaluations

    changes = []
    view.ctx.data_changed.connect(changes.append)
    _evaluate(qtbot, view, "r10")
    qtbot.waitUntil(lambda: view.metrics is not None, timeout=30_000)
    m = view.metrics
    n = m["n"]
    assert n == 18 and changes == ["evaluations"] and view.eval_table.rowCount() == 1
    assert [e["id"] for e in list_evaluations(view.ctx.project.db, "r10")] == [m["evaluation_id"]]
    # ROC: one curve per class (plus the chance diagonal), AUC in the legend
    roc = [i for i in view.panels["eval_roc"].plot.listDataItems() if i.name()]
    assert sorted(i.name().split(" (")[0] for i in roc) == sorted(TINY_CLASSES)
    assert all("AUC" in i.name() for i in roc)
    # confusion: the counts written in the cells sum to n
    texts = _items(view.panels["eval_confusion"], pg.TextItem)
    assert len(texts) == 9 and sum(int(t.toPlainText()) for t in texts) == n
    # PCA scatter: one point per sample
    scatter = _items(view.panels["eval_embedding"], pg.ScatterPlotItem)
    assert sum(len(s.points()) for s in scatter) == n
    # confidence: right + wrong histograms hold every sample; means as vertical lines
    conf = m["confidence"]
    assert sum(conf["hist_right"]) + sum(conf["hist_wrong"]) == n
    lines = _items(view.panels["eval_confidence"], pg.InfiniteLine)
    assert len(lines) == (conf["mean_right"] is not None) + (conf["mean_wrong"] is not None)
    # top-1 and per-class bars; no top-5 for a 3-class model (100 % by construction)
    bars = _items(view.panels["eval_accuracy"], pg.BarGraphItem)
    heights = np.concatenate([b.opts["height"] for b in bars])
    assert heights[0] == pytest.approx(m["top1"]) and len(heights) == 1 + len(TINY_CLASSES)
    assert "top-5" not in view.eval_summary.text() and not view.eval_table.isColumnHidden(4)
    assert view.eval_table.isColumnHidden(5)  # the Top-5 column
    assert f"n = {n}" in view.eval_summary.text()
    # export: PNG and SVG of one figure, then everything
    png, svg = (
        view.panels["eval_roc"].save(tmp_path / "roc.png"),
        view.panels["eval_roc"].save(tmp_path / "roc.svg"),
    )
    assert QImage(str(png)).width() == 1200
    assert xml.dom.minidom.parse(str(svg)).documentElement.tagName == "svg"
    files = view.save_all(tmp_path / "all")
    assert len(files) == 2 * len(view.panels) and all(f.stat().st_size > 0 for f in files)


def test_cancel_and_mismatch_store_nothing(qtbot, view):
    from geoquiz.models.evaluation import list_evaluations

    view.select_model("r10")
    view.eval_dataset.setCurrentIndex(view.eval_dataset.findData("tiny"))
    worker = view.evaluate()
    view.cancel_evaluation()  # the job stops at its next progress step
    qtbot.waitUntil(lambda: not view._evaluating, timeout=60_000)
    assert worker.cancelled and "cancelled" in view.status.text()
    assert list_evaluations(view.ctx.project.db) == []
    _evaluate(qtbot, view, "other")
    assert "Evaluation failed" in view.status.text() and "Brazil" in view.status.text()
    assert list_evaluations(view.ctx.project.db) == [] and view.evaluate_button.isEnabled()


def test_register_a_checkpoint_and_remove_a_model(qtbot, view, tmp_path):
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import list_models

    spec = ModelSpec("resnet10", "single", TINY_CLASSES, input_size=40)
    good = save_checkpoint(tmp_path / "outside.pt", build_model(spec), spec)
    worker = view.register_checkpoint(good, "imported", "tiny")
    qtbot.waitUntil(lambda: worker.is_done and view.register_worker is None, timeout=30_000)
    assert "imported" in view.models and view.current_model.name == "imported"
    # a checkpoint trained for other classes is refused with the classes named, nothing registered
    other = ModelSpec("resnet10", "single", ("Brazil", "Chile"), input_size=40)
    bad = save_checkpoint(tmp_path / "bc.pt", build_model(other), other)
    worker = view.register_checkpoint(bad, "bc", "tiny")
    qtbot.waitUntil(lambda: worker.is_done and view.register_worker is None, timeout=30_000)
    box = view.findChild(object, "errorBox")
    assert box is not None and "trained for classes" in box.text() and "bc" not in view.models
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    worker = view.register_checkpoint(junk, "junk", None)
    qtbot.waitUntil(lambda: worker.is_done and view.register_worker is None, timeout=30_000)
    assert "junk" not in view.models
    # remove (no confirmation in the test): the row goes, the file stays
    view.select_model("imported")
    view.remove_model(confirm=False)
    assert "imported" not in view.models and good.exists()
    assert "imported" not in {m.name for m in list_models(view.ctx.project.db)}
