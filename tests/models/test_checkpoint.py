"""Checkpoints: round trip, class mismatch, corrupt / foreign / pickled-code files, registry rows."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from geoquiz.models.registry import build_model
from geoquiz.models.spec import ModelSpec

CLASSES = ("France", "India", "Japan")


@pytest.fixture
def saved(tmp_path):
    spec = ModelSpec(
        "resnet10",
        "medium",
        CLASSES,
        input_size=32,
        pooling="concat",
        mean=(0.5, 0.4, 0.3),
        std=(0.2, 0.2, 0.25),
    )
    torch.manual_seed(0)
    model = build_model(spec).eval()
    path = save_checkpoint(
        tmp_path / "m.pt", model, spec, training={"epochs": np.int64(3)}, metrics={"val_acc": np.float32(0.5)}
    )
    return path, model, spec


def test_round_trip_gives_the_same_model_and_metadata(saved):
    path, model, spec = saved
    loaded = load_checkpoint(path, expected_classes=["Japan", "France", "India"], device="cpu")
    assert loaded.spec == spec
    assert loaded.metadata["training"] == {"epochs": 3} and loaded.metadata["metrics"] == {"val_acc": 0.5}
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    imgs = [[np.full((40, 50, 3), 30 * v, np.uint8) for v in range(4)] for _ in range(2)]
    probs = loaded.predict_arrays(imgs)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert loaded.predict(imgs)[0].topk(2)[0][0] in CLASSES


def test_checkpoint_for_other_classes_is_refused(saved):
    path, _, _ = saved
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, expected_classes=["France", "India", "Spain"])
    msg = str(err.value)
    assert (
        str(path) in msg
        and "Spain which the model does not know" in msg
        and "Japan which the dataset lacks" in msg
    )


def test_corrupt_truncated_and_foreign_files(saved, tmp_path):
    path, _, _ = saved
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or not a PyTorch checkpoint"):
        read_checkpoint(truncated)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.pt is corrupt"):
        read_checkpoint(text)
    plain = tmp_path / "plain.pt"
    torch.save(build_model(ModelSpec("resnet10", "single", CLASSES)).state_dict(), plain)
    with pytest.raises(CheckpointError, match="looks like a plain state_dict"):
        read_checkpoint(plain)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "missing.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("this code must never run",))


def test_pickled_code_is_never_executed(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        torch.save({"format": "geoquiz-checkpoint", "payload": _Evil()}, fh, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="contains Python objects"):
        read_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out


def test_weights_for_another_architecture(saved, tmp_path):
    path, _, _ = saved
    obj = torch.load(path, weights_only=True)
    obj["spec"]["arch"] = "resnet18"
    other = tmp_path / "other.pt"
    torch.save(obj, other)
    with pytest.raises(
        CheckpointError, match=r"do not fit the model it declares \(resnet18, medium integration.*48 missing"
    ):
        load_checkpoint(other)


def test_register_checks_classes_and_names(tiny_project_root, tmp_path, saved):
    import shutil

    from geoquiz.models.store import get_model, list_models, load_project_model, register_model
    from geoquiz.project import Project

    path, _, _ = saved
    root = tmp_path / "proj"
    shutil.copytree(tiny_project_root, root)
    with Project.open(root) as project:
        mid = register_model(project, "m", path, dataset="tiny4")
        assert get_model(project.db, "m").id == mid and [m.name for m in list_models(project.db)] == ["m"]
        with pytest.raises(GeoQuizError, match="already exists"):
            register_model(project, "m", path, dataset="tiny4")
        assert load_project_model(project, "m", device="cpu") is load_project_model(
            project, "m", device="cpu"
        )
        other = ModelSpec("resnet10", "single", ("A", "B"), input_size=32)
        p2 = save_checkpoint(tmp_path / "ab.pt", build_model(other), other)
        with pytest.raises(CheckpointError, match="trained for classes"):
            register_model(project, "ab", p2, dataset="tiny")
        assert [m.name for m in list_models(project.db)] == ["m"]
