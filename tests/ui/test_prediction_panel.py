"""The Dataset tab's prediction panel: a model's top-5 with probabilities for the selected image or
4-view location, computed in a worker and equal to the library's prediction; and the cases without a
prediction (no model, classes that differ from the dataset's, a 4-view model on a single image)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fixtures.demo_model import TINY_CLASSES

SIX = ("Brazil", "Chile", "France", "India", "Japan", "Peru")


def register(project, name: str, classes, integration: str = "single", dataset: str | None = None) -> None:
    """A random resnet10 at 40 px, registered in ``project``."""
    import torch

    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    spec = ModelSpec("resnet10", integration, tuple(classes), input_size=40)
    torch.manual_seed(len(name))
    path = save_checkpoint(project.root / "models" / f"{name}.pt", build_model(spec), spec)
    register_model(project, name, path, dataset=dataset)


def _project(tmp_path, tiny_project_root, *, with_models: bool):
    from geoquiz.data.imageio import write_image
    from geoquiz.data.store import store_dataset
    from geoquiz.project import Project
    from geoquiz.types import ImageItem

    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    project = Project.open(root)
    if with_models:
        rng = np.random.default_rng(0)
        items = [
            ImageItem(
                f"{c}-{i}",
                str(write_image(root / "six" / f"{c}-{i}.png", rng.integers(0, 255, (40, 40, 3), np.uint8))),
                c,
                "test",
            )
            for c in SIX
            for i in range(2)
        ]
        store_dataset(project, "six", "single", items, source="test", classes=list(SIX))
        register(project, "single", TINY_CLASSES, dataset="tiny")
        register(project, "medium4", TINY_CLASSES, integration="medium", dataset="tiny4")
        register(project, "six-way", SIX, dataset="six")
    return project


@pytest.fixture
def make_view(qtbot, tmp_path, tiny_project_root):
    from ui.context import AppContext
    from ui.views.dataset_view import DatasetView
    from ui.workers import wait_all

    projects = []

    def make(with_models: bool = True):
        project = _project(tmp_path, tiny_project_root, with_models=with_models)
        projects.append(project)
        view = DatasetView(AppContext(project))
        qtbot.addWidget(view)
        view.resize(1200, 800)
        view.show()
        return view, view.detail.prediction

    yield make
    wait_all()
    for p in projects:
        p.close()


def _library_top5(project, model: str, sample) -> list[tuple[str, float]]:
    from geoquiz.models.store import load_project_model

    return load_project_model(project, model).predict_samples([sample])[0].topk(5)


def test_top5_with_probabilities_as_bars(qtbot, make_view):
    view, panel = make_view()
    view.select_dataset("six")
    view.select_row(3)
    assert panel.model.name == "six-way"  # the model trained for this dataset's classes is chosen
    qtbot.waitUntil(lambda: len(panel.entries) == 5, timeout=60_000)
    probs = [p for _, p in panel.entries]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-6
    assert sum(probs) < 1  # 6 classes: the sixth is not shown
    expected = _library_top5(view.ctx.project, "six-way", view.detail.current)
    assert [c for c, _ in panel.entries] == [c for c, _ in expected]
    assert probs == pytest.approx([p for _, p in expected], abs=1e-6)
    assert panel.bars.truth == view.detail.current.label and "top-5 of 6 classes" in panel.caption.text()
    # a 4-view location with a 4-view model: one prediction for the place
    view.select_dataset("tiny4")
    assert panel.model.name == "medium4"
    qtbot.waitUntil(lambda: len(panel.entries) == 3, timeout=60_000)
    assert [c for c, _ in panel.entries] == [
        c for c, _ in _library_top5(view.ctx.project, "medium4", view.detail.current)
    ]
    assert sum(p for _, p in panel.entries) == pytest.approx(1.0, abs=1e-5)


def test_class_mismatch_and_four_view_model_on_an_image(qtbot, make_view):
    view, panel = make_view()
    view.select_dataset("tiny")
    assert panel.model.name == "single"
    panel.model_box.setCurrentIndex(panel.model_box.findData("six-way"))
    assert panel.entries == [] and panel.message.isVisible()
    text = panel.message.text()
    assert "Classes differ" in text and "Brazil" in text and "Choose a model trained on this dataset" in text
    panel.model_box.setCurrentIndex(panel.model_box.findData("medium4"))
    assert (
        panel.entries == []
        and "4-view model" in panel.message.text()
        and "single image" in panel.message.text()
    )
    panel.model_box.setCurrentIndex(panel.model_box.findData("single"))
    qtbot.waitUntil(lambda: len(panel.entries) == 3, timeout=60_000)
    assert not panel.message.isVisible()


def test_single_view_model_on_a_location_predicts_each_view(qtbot, make_view):
    view, panel = make_view()
    view.select_dataset("tiny4")
    panel.model_box.setCurrentIndex(panel.model_box.findData("single"))
    assert panel.view_box.isVisibleTo(panel)
    qtbot.waitUntil(lambda: len(panel.entries) == 3, timeout=60_000)
    loc = view.detail.current
    panel.view_box.setCurrentText("west")
    west = _library_top5(view.ctx.project, "single", loc.views["west"])
    assert [c for c, _ in panel.entries] == [c for c, _ in west] and "west view" in panel.caption.text()
    assert [p for _, p in panel.entries] == pytest.approx([p for _, p in west], abs=1e-6)


def test_no_model_says_how_to_get_one(make_view):
    view, panel = make_view(with_models=False)
    view.select_dataset("tiny")
    assert panel.entries == [] and "No model in this project" in panel.message.text()
    assert panel.model_box.count() == 0
