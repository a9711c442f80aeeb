"""Training: real steps lower the loss, resume == uninterrupted, cancel, early stopping, 4-view, CLI."""

from __future__ import annotations

import shutil

import pytest
import torch

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.training import TrainConfig, resume_path, train
from geoquiz.progress import Cancelled, Reporter

TINY = dict(
    arch="resnet10", init="scratch", input_size=32, batch_size=16, lr=3e-3, cache_images=True, device="cpu"
)


@pytest.fixture
def proj(tiny_project_root, tmp_path):
    from geoquiz.project import Project

    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    with Project.open(root) as project:
        yield project


def _samples(project, dataset="tiny", integration="single"):
    from geoquiz.models.jobs import load_samples

    return load_samples(project, dataset, "train", integration), load_samples(
        project, dataset, "val", integration
    )


def test_a_few_real_training_steps_lower_the_loss(proj, tmp_path):
    tr, va = _samples(proj)
    seen = []
    result = train(
        tr,
        va,
        ("France", "India", "Japan"),
        TrainConfig(epochs=4, **TINY),
        tmp_path / "m.pt",
        on_epoch=seen.append,
    )
    assert [e["epoch"] for e in seen] == [1, 2, 3, 4]
    assert seen[-1]["train_loss"] < seen[0]["train_loss"]
    assert result.best_val_loss == min(e["val_loss"] for e in seen)
    assert result.checkpoint.exists() and not resume_path(tmp_path / "m.pt").exists()
    assert result.train_images_per_s > 0 and result.stop_reason == "epochs"


def test_resumed_run_equals_an_uninterrupted_one(proj, tmp_path):
    tr, va = _samples(proj)
    classes = ("France", "India", "Japan")
    full = train(tr, va, classes, TrainConfig(epochs=3, **TINY), tmp_path / "full.pt")
    token_reporter = Reporter()
    stop_after = []

    def on_epoch(entry):
        stop_after.append(entry["epoch"])
        if entry["epoch"] == 2:
            token_reporter.token.cancel()

    with pytest.raises(Cancelled):
        train(
            tr,
            va,
            classes,
            TrainConfig(epochs=3, **TINY),
            tmp_path / "part.pt",
            reporter=token_reporter,
            on_epoch=on_epoch,
        )
    assert resume_path(tmp_path / "part.pt").exists() and (tmp_path / "part.pt").exists()
    resumed = train(tr, va, classes, TrainConfig(epochs=3, **TINY), tmp_path / "part.pt", resume=True)
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3]
    for a, b in zip(full.history, resumed.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    a = torch.load(tmp_path / "full.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part.pt", weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)
    # a resume with other model settings is refused, naming them
    with pytest.raises(Cancelled):
        r = Reporter()
        train(
            tr,
            va,
            classes,
            TrainConfig(epochs=3, **TINY),
            tmp_path / "x.pt",
            reporter=r,
            on_epoch=lambda e: r.token.cancel(),
        )
    changed = {**TINY, "input_size": 40}
    with pytest.raises(CheckpointError, match="input_size"):
        train(tr, va, classes, TrainConfig(epochs=3, **changed), tmp_path / "x.pt", resume=True)


def test_early_stopping_and_dataset_normalisation(proj, tmp_path):
    tr, va = _samples(proj)
    cfg = TrainConfig(epochs=30, patience=1, min_delta=10.0, normalization="dataset", **TINY)
    result = train(tr, va, ("France", "India", "Japan"), cfg, tmp_path / "m.pt")
    assert result.stop_reason == "early_stopping" and len(result.history) == 2 and result.best_epoch == 1
    meta = torch.load(tmp_path / "m.pt", weights_only=True)
    assert (
        meta["spec"]["mean"] != [0.485, 0.456, 0.406] and meta["training"]["stop_reason"] == "early_stopping"
    )


@pytest.mark.parametrize("integration", ["early", "medium"])
def test_four_view_training_and_registration(proj, integration):
    from geoquiz.models.evaluation import evaluate_model
    from geoquiz.models.jobs import train_model

    cfg = TrainConfig(epochs=1, integration=integration, **{**TINY, "batch_size": 8})
    result = train_model(proj, f"m-{integration}", "tiny4", cfg)
    assert result.checkpoint.name == f"m-{integration}.pt"
    metrics = evaluate_model(proj, f"m-{integration}", "tiny4", "test", device="cpu")
    assert metrics["kind"] == "location" and metrics["n"] == 6
    with pytest.raises(GeoQuizError, match="needs a 4-view dataset"):
        train_model(proj, "x", "tiny", cfg)


def test_invalid_settings_are_listed():
    with pytest.raises(GeoQuizError) as err:
        TrainConfig(epochs=0, lr=-1, normalization="zscore")
    msg = str(err.value)
    assert "epochs must be >= 1" in msg and "lr must be > 0" in msg and "normalization must be" in msg


def test_cli_train_models_and_evaluate(proj, capsys, tmp_path):
    from geoquiz.cli import main

    root = str(proj.root)
    args = [
        "train",
        "-p",
        root,
        "--dataset",
        "tiny",
        "--name",
        "cli",
        "--arch",
        "resnet10",
        "--init",
        "scratch",
        "--input-size",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--no-hflip",
        "--color-jitter",
        "0.1,0.1,0.1,0",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "model cli: best epoch" in out.out and "epoch   2:" in out.err
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main(["models", "list", "-p", root]) == 0
    assert "cli" in capsys.readouterr().out
    assert main(["models", "show", "cli", "-p", root]) == 0
    shown = capsys.readouterr().out
    assert "resnet10, single integration, 32 px" in shown and "hflip" not in shown
    out_json = tmp_path / "m.json"
    assert (
        main(
            [
                "evaluate-model",
                "-p",
                root,
                "--model",
                "cli",
                "--dataset",
                "tiny",
                "--device",
                "cpu",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "top-1" in text and "confusion" in text and out_json.exists()
    assert main(["train", "-p", root, "--dataset", "tiny", "--name", "bad", "--epochs", "0"]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    assert main(["models", "delete", "cli", "-p", root]) == 0
    assert main(["evaluate-model", "-p", root, "--model", "cli", "--dataset", "tiny"]) == 2
    assert "no model named 'cli'" in capsys.readouterr().err


def test_bf16_mixed_precision_trains_and_stores_contiguous_float32_weights(proj, tmp_path):
    """``precision="bf16"``: the forward pass under bfloat16 autocast (channels-last batches), the
    loss still falls, the checkpoint holds float32 weights in the usual contiguous layout and says
    which precision the run used; an fp32 recipe's dict is what it was before the setting existed."""
    tr, va = _samples(proj)
    seen, dtypes = [], set()

    def record(module, _inputs, output):
        if isinstance(module, torch.nn.Conv2d) and module.training:
            dtypes.add((output.dtype, output.is_contiguous(memory_format=torch.channels_last)))

    hook = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        result = train(
            tr,
            va,
            ("France", "India", "Japan"),
            TrainConfig(epochs=3, precision="bf16", **TINY),
            tmp_path / "m.pt",
            on_epoch=seen.append,
        )
    finally:
        hook.remove()
    assert (torch.bfloat16, True) in dtypes  # the training convolutions ran in bf16, channels-last
    assert seen[-1]["train_loss"] < seen[0]["train_loss"]
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["training"]["precision"] == "bf16"
    assert saved["training"]["config"]["precision"] == "bf16"
    weights = [t for t in saved["state_dict"].values() if t.is_floating_point()]
    assert weights and all(t.dtype == torch.float32 and t.is_contiguous() for t in weights)
    assert any(t.dim() == 4 for t in weights)  # conv kernels: contiguous, not channels-last
    assert "precision" not in TrainConfig(**TINY).to_dict()
    assert TrainConfig.from_dict(TrainConfig(precision="auto", **TINY).to_dict()).precision == "auto"
    with pytest.raises(GeoQuizError, match="precision must be one of fp32, bf16, auto"):
        TrainConfig(precision="fp8")


def test_auto_precision_is_bf16_only_on_native_hardware(monkeypatch):
    from geoquiz.models.training import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert resolve_precision("auto", cpu) == "fp32"  # emulated bf16 would be slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert resolve_precision("auto", cpu) == "bf16"
    asked = []

    def supported(including_emulation=True):  # a pre-Ampere GPU: bf16 only emulated
        asked.append(including_emulation)
        return including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert resolve_precision("auto", torch.device("cuda")) == "fp32" and asked == [False]
