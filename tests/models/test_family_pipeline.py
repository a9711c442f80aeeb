"""Every pipeline step with models of every family, on the tiny explain project: registered through
``geoquiz models register --arch`` (timm ViT, CLIP zero-shot) then predicted on a remote-style
engine (jobs pickle settings, not models), evaluated (top-k, ROC, PCA), explained into elements,
faithfulness-tested; a timm ConvNeXt fine-tuned by ``geoquiz train --arch timm:... --weights``."""

from __future__ import annotations

import shutil

import pytest
from fixtures.engine import PicklingEngine, copy_project
from fixtures.model_families import FAMILY_CLASSES, require

from geoquiz.config import ElementSettings
from geoquiz.engine import LocalEngine

PARAMS = ElementSettings(top_p=25.0, s_min=0.05, min_segment_area=4, max_elements=6)


@pytest.fixture(scope="module")
def family_project(explain_project_root, native_models, tmp_path_factory):
    """The explain project with ``vit`` (timm), ``clip`` (transformers) and ``oclip`` (open_clip)
    registered from their native files through the CLI; ``(root, registered names)``."""
    from geoquiz.cli import main

    root = copy_project(explain_project_root, tmp_path_factory.mktemp("families") / "proj")
    names = []
    for name, key, extra in (
        ("vit", "timm_vit", ["--input-size", "64"]),
        ("clip", "clip_hf", ["--prompt", "a street view photo in {label}"]),
        ("oclip", "clip_open", ["--backend", "open_clip"]),
    ):
        native = native_models.get(key)
        if native is None:
            continue
        options = (
            [f"--model-option=model_config={_json(native.options['model_config'])}"]
            if key == "clip_open"
            else []
        )
        argv = ["models", "register", name, str(native.path), "--arch", native.arch, "--dataset", "tiny"]
        assert main([*argv, *extra, *options, "-p", str(root)]) == 0
        names.append(name)
    return root, names


def _json(obj) -> str:
    import json

    return json.dumps(obj)


@pytest.mark.parametrize("name,key", [("vit", "timm_vit"), ("clip", "clip_hf"), ("oclip", "clip_open")])
def test_predict_evaluate_explain_and_faithfulness(family_project, tmp_path, name, key, capsys):
    from geoquiz.cli import main
    from geoquiz.explain import Explainer, explain_dataset
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.models.evaluation import evaluate_model, load_predictions, predict_dataset
    from geoquiz.models.store import get_model
    from geoquiz.project import Project

    require(key)
    src, _ = family_project
    stored = {}
    for engine_name, engine in (
        ("local", LocalEngine(batch_size=4)),
        ("pickling", PicklingEngine(batch_size=5)),
    ):
        root = copy_project(src, tmp_path / engine_name)
        with Project.open(root) as project:
            summary = predict_dataset(project, name, "tiny", "all", engine=engine)
            assert (summary["predicted"], summary["failed"]) == (15, 0)
            stored[engine_name] = sorted(
                (p["image_id"], tuple(p["probs"])) for p in load_predictions(project.db, name)
            )
    assert stored["local"] == stored["pickling"]

    with Project.open(tmp_path / "local") as project:
        info = get_model(project.db, name)
        assert info.classes == FAMILY_CLASSES and info.input_size == 64
        assert info.metadata["source"]["family"] == info.arch.split(":")[0]
        metrics = evaluate_model(project, name, "tiny", "all", device="cpu")
        assert metrics["n"] == 15 and 0 <= metrics["top1"] <= metrics["top5"] == 1.0
        assert set(metrics["roc"]) == set(FAMILY_CLASSES) and metrics["embedding"]["method"] == "pca"
        assert len(metrics["embedding"]["coords"]) == 15
        ex = Explainer(project, name, device="cpu")
        item = ex.sample_items(project_items(project)[0])[0]
        elements = ex.elements(item, "gradcam", "default", PARAMS)
        assert ex.stats["maps_computed"] == 1 and all(0 <= e.box.x0 < e.box.x1 <= 64 for e in elements)
        batch = explain_dataset(
            project,
            name,
            "tiny",
            "test",
            ["gradcampp"],
            ["default"],
            params=PARAMS,
            engine=PicklingEngine(batch_size=2),
        )
        assert (batch["explained"], batch["failed"]) == (3, 0)
        run = run_grid(
            project, name, "tiny", "test", ["gradcam"], ["default"], repeats=1, curves=False, params=PARAMS
        )
        assert run > 0
    assert main(["models", "show", name, "-p", str(tmp_path / "local")]) == 0
    out = capsys.readouterr().out
    assert "imported from" in out and ("prompt: a street view photo in {label}" in out or name == "vit")


def project_items(project):
    from geoquiz.data.dataset import load_items

    return load_items(project.db, "tiny", split="test")


def test_register_errors_leave_the_project_as_it_was(family_project, tmp_path, native_models, capsys):
    from geoquiz.cli import main
    from geoquiz.models.store import list_models
    from geoquiz.project import Project

    require("timm_vit")
    root = copy_project(family_project[0], tmp_path / "p")
    base = ["models", "register", "x", "--arch", "timm:test_vit", "--dataset", "tiny", "-p", str(root)]
    assert main([*base[:3], str(tmp_path / "missing.safetensors"), *base[3:]]) == 2
    assert "error: weights file" in capsys.readouterr().err
    # a 3-output classifier registered for 4 classes: refused, the head named, nothing written
    vit = native_models["timm_vit"]
    assert (
        main([*base[:3], str(vit.path), *base[3:-4], "--classes", "France,India,Japan,Peru", "-p", str(root)])
        == 2
    )
    assert "head.weight [3, 64]" in capsys.readouterr().err
    # the classes do not match the dataset: refused before anything is written
    assert main([*base[:3], str(vit.path), *base[3:], "--classes", "Japan,India,Peru"]) == 2
    assert "Peru which the dataset lacks" in capsys.readouterr().err
    with Project.open(root) as project:
        assert "x" not in {m.name for m in list_models(project.db)}
    assert not list((root / "models").glob("x*"))


def test_train_a_timm_model_from_local_weights(family_project, tmp_path, native_models, capsys):
    from geoquiz.cli import main
    from geoquiz.models.store import load_project_model
    from geoquiz.project import Project

    require("timm_convnext")
    root = copy_project(family_project[0], tmp_path / "p")
    weights = native_models["timm_convnext"].path
    argv = ["train", "-p", str(root), "--dataset", "tiny", "--name", "cnx", "--arch", "timm:test_convnext"]
    argv += ["--weights", str(weights), "--input-size", "64", "--epochs", "1", "--batch-size", "8"]
    argv += ["--normalization", "model", "--device", "cpu", "--model-option", "drop_path_rate=0.0"]
    assert main(argv) == 0
    with Project.open(root) as project:
        lm = load_project_model(project, "cnx", device="cpu")
        assert lm.spec.arch == "timm:test_convnext" and lm.spec.mean == (0.5, 0.5, 0.5)
        assert lm.spec.options == {"drop_path_rate": 0.0}
        assert lm.metadata["training"]["config"]["init"] == str(weights)
    # ImageNet weights are never downloaded for timm models: the message says what to do
    assert (
        main(
            [
                *argv[:7],
                "--name",
                "cnx2",
                "--arch",
                "timm:test_convnext",
                "--init",
                "imagenet",
                "--epochs",
                "1",
            ]
        )
        == 2
    )
    assert "--weights FILE" in capsys.readouterr().err
    shutil.rmtree(root)


def test_agreement_with_a_timm_model(seeded, native_models):
    from geoquiz.agreement import AgreementConfig, compute_agreement, load_agreement
    from geoquiz.models.importing import import_model

    require("timm_vit")
    project, _ = seeded
    import_model(
        project, "vit", native_models["timm_vit"].path, arch="timm:test_vit", dataset="scenes", input_size=64
    )
    run = compute_agreement(
        project,
        "vit",
        method="gradcam",
        segmenter="default",
        study="pilot",
        config=AgreementConfig(n_boot=20),
    )
    rows = load_agreement(project.db, run, scope="item")
    assert rows and any(r["metric"] == "attribution_mass" for r in rows)
