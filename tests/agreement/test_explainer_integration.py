"""The real model side: agreement, the Review tab's explanation job and the export with a tiny
randomly-initialised ResNet through geoquiz.explain (maps at the model's 64 x 64 input, images of
64 x 48, so every box and map is rescaled into the participants' frame)."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("geoquiz.explain")
torch = pytest.importorskip("torch")

CLASSES = ("France", "India", "Japan")


@pytest.fixture
def real_model(seeded):
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    project, ids = seeded
    spec = ModelSpec("resnet10", "single", CLASSES, input_size=64)
    torch.manual_seed(0)
    path = save_checkpoint(project.root / "models" / "rand.pt", build_model(spec), spec)
    register_model(project, "rand", path, dataset="scenes")
    return project, ids


def test_agreement_review_and_export_with_the_real_explainer(real_model, tmp_path):
    from geoquiz.agreement import AgreementConfig, compute_agreement, load_agreement
    from geoquiz.study.export import export_all
    from geoquiz.study.review_data import ItemRef
    from ui.views.review_view import explain_job

    project, ids = real_model
    run = compute_agreement(
        project,
        "rand",
        method="gradcam",
        segmenter="default",
        study="pilot",
        config=AgreementConfig(n_boot=50),
    )
    rows = load_agreement(project.db, run, scope="item", ref=ItemRef("image", ids["images"][0]))
    values = {(r["reference"], r["metric"]): r["value"] for r in rows}
    assert values[("", "model_top1")] in (0.0, 1.0) and 0 < values[("", "model_confidence")] <= 1
    assert values[("", "human_top1")] == pytest.approx(2 / 3)
    assert 0.0 <= values[("human", "attribution_mass")] <= 1.0  # the map exists on every image
    n_elements = values[("human", "n_elements")]
    if n_elements:
        assert 0.0 <= values[("human", "mask_iou")] <= 1.0
    # the CLI runs the same computation (maps and elements now come from the Explainer's cache)
    from geoquiz.cli import main

    assert (
        main(
            [
                "agreement",
                "compute",
                "-p",
                str(project.root),
                "--model",
                "rand",
                "--study",
                "pilot",
                "--bootstrap",
                "20",
            ]
        )
        == 0
    )
    # the Review tab's explanation job: map and elements in the 64 x 48 image frame
    result = explain_job(str(project.root), "rand", ItemRef("image", ids["images"][0]), "gradcam", "default")
    heat, elements = result["views"][None]
    assert heat.shape == (48, 64) and 0.0 <= heat.min() and heat.max() <= 1.0
    assert all(e.box.x1 <= 64 and e.box.y1 <= 48 for e in elements) and len(elements) == n_elements
    # the export maps the Explainer's stored elements (64 x 64 frame) into the image's pixels
    export_all(project, tmp_path / "out", what=["elements", "model_predictions"])
    e = pd.read_csv(tmp_path / "out" / "elements.csv")
    mine = e[e["model"] == "rand"]
    assert len(mine) >= n_elements
    assert (mine["input_size"] == 64).all() and (mine["y1"] <= 48).all() and (mine["x1"] <= 64).all()
    assert (mine["y0"] == (mine["input_y0"] * 48 / 64).astype(int)).all()
