"""The demo model: trained by the real recipe in minutes, >= 90 % held-out top-1, cached, resumable."""

from __future__ import annotations

import shutil
import time

import pytest

pytestmark = pytest.mark.slow


def test_demo_model_reaches_90_percent_on_held_out_geoscenes(trained_demo):
    from geoquiz.models.demo import DEMO_CONFIG, DEMO_DATASET
    from geoquiz.models.evaluation import load_evaluation
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import get_model
    from geoquiz.project import Project

    root, name = trained_demo
    with Project.open(root) as project:
        metrics = load_evaluation(project.db, name, DEMO_DATASET, "test")
        info = get_model(project.db, name)
    assert metrics is not None and metrics["n"] >= 100
    assert metrics["top1"] >= 0.90, f"demo model top-1 on the test split is {metrics['top1']:.3f}"
    assert metrics["top5"] == 1.0  # three classes
    training = info.metadata["training"]
    assert training["config"] == DEMO_CONFIG.to_dict()
    assert training["stop_reason"] in ("epochs", "time") and training["best_epoch"] >= 1
    assert [e["epoch"] for e in training["history"]] == list(range(1, len(training["history"]) + 1))
    assert info.arch == "resnet10" and info.input_size == 112
    # the attribution map: Grad-CAM at layer3, a 7x7 grid (issue 17: at least 7x7)
    assert info.metadata["spec"]["target_layer"] == "layer3"
    assert ModelSpec.from_dict(info.metadata["spec"]).cam_grid >= 7


def test_second_call_reuses_the_cached_model(trained_demo, tmp_path):
    from geoquiz.models.demo import demo_model_ready, ensure_demo_model
    from geoquiz.progress import Reporter
    from geoquiz.project import Project

    root, name = trained_demo
    copy = tmp_path / "proj"
    shutil.copytree(root, copy)
    with Project.open(copy) as project:
        assert demo_model_ready(project)
        seen = []
        t0 = time.perf_counter()
        assert ensure_demo_model(project, reporter=Reporter(lambda d, t, m: seen.append((d, t, m)))) == name
        assert time.perf_counter() - t0 < 30  # no training: the registered model is reused
        assert seen[-1][0] == seen[-1][1] == 1000 and "ready" in seen[-1][2]


def test_a_demo_model_from_before_the_precision_setting_is_kept(trained_demo, tmp_path):
    """A project whose demo model was trained before ``precision`` existed (its stored recipe lacks
    the key) or in float32 keeps it, with its predictions and explanations: precision is how the
    arithmetic ran, not what was trained."""
    import json

    from geoquiz.models.demo import DEMO_MODEL, demo_model_ready
    from geoquiz.project import Project

    root, _name = trained_demo
    copy = tmp_path / "proj"
    shutil.copytree(root, copy)
    with Project.open(copy) as project:
        meta = json.loads(
            project.db.execute("SELECT metadata_json FROM models WHERE name = ?", [DEMO_MODEL]).fetchone()[0]
        )
        for stored in ({}, {"precision": "fp32"}):
            config = {k: v for k, v in meta["training"]["config"].items() if k != "precision"} | stored
            changed = {**meta, "training": {**meta["training"], "config": config}}
            project.db.execute(
                "UPDATE models SET metadata_json = ? WHERE name = ?", [json.dumps(changed), DEMO_MODEL]
            )
            assert demo_model_ready(project)
        config["epochs"] = 13  # another recipe: not the demo model
        changed = {**meta, "training": {**meta["training"], "config": config}}
        project.db.execute(
            "UPDATE models SET metadata_json = ? WHERE name = ?", [json.dumps(changed), DEMO_MODEL]
        )
        assert not demo_model_ready(project)
