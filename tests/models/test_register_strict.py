"""``models register`` loads the weights strictly into the declared architecture: an empty state_dict,
another architecture's weights or wrongly shaped tensors are refused with the keys named (a few of
each, and the counts), and nothing is written. Checkpoint refusals never repeat torch's advice to
retry with ``weights_only=False``."""

from __future__ import annotations

import sqlite3

import pytest
import torch

from geoquiz.cli import main
from geoquiz.errors import CheckpointError
from geoquiz.models.checkpoint import FORMAT, FORMAT_VERSION, load_checkpoint
from geoquiz.models.registry import build_model
from geoquiz.models.spec import ModelSpec
from geoquiz.models.store import register_model

CLASSES = ("France", "India", "Japan")


def _save(path, spec: ModelSpec, state: dict) -> str:
    torch.save(
        {"format": FORMAT, "format_version": FORMAT_VERSION, "spec": spec.to_dict(), "state_dict": state},
        path,
    )
    return str(path)


def _models(project) -> list:
    return project.db.execute("SELECT * FROM models").fetchall()


def test_empty_state_dict_is_refused(project, tmp_path):
    path = _save(tmp_path / "empty.pt", ModelSpec("resnet10", "single", CLASSES, input_size=32), {})
    with pytest.raises(CheckpointError, match="empty.pt.* no weights"):
        register_model(project, "e", path, dataset=None)
    assert _models(project) == []


def test_weights_of_another_architecture_are_refused_with_the_keys(project, tmp_path):
    torch.manual_seed(0)
    r18 = build_model(ModelSpec("resnet18", "single", CLASSES, input_size=32)).state_dict()
    path = _save(tmp_path / "r18.pt", ModelSpec("resnet10", "single", CLASSES, input_size=32), r18)
    with pytest.raises(CheckpointError) as err:
        register_model(project, "r", path, dataset=None)
    msg = str(err.value)
    extra = len(r18) - len(build_model(ModelSpec("resnet10", "single", CLASSES)).state_dict())
    assert "r18.pt" in msg and "resnet10" in msg
    assert f"{extra} unexpected" in msg and "backbone.layer1.1.conv1.weight" in msg
    assert _models(project) == []


def test_missing_unexpected_and_misshaped_keys_are_all_named(project, tmp_path):
    torch.manual_seed(0)
    state = build_model(
        ModelSpec("resnet10", "single", ("a", "b", "c", "d", "e"), input_size=32)
    ).state_dict()
    removed = [k for k in state if k.startswith("backbone.layer4.0.bn2.")]
    for key in removed:
        del state[key]
    state["extra.weight"] = torch.zeros(2)
    path = _save(tmp_path / "mixed.pt", ModelSpec("resnet10", "single", CLASSES, input_size=32), state)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, device="cpu")
    msg = str(err.value)
    assert f"{len(removed)} missing" in msg and "backbone.layer4.0.bn2.weight" in msg
    assert "1 unexpected (extra.weight)" in msg
    assert "2 with the wrong shape" in msg and "head.weight: 5x512 in the file, 3x512 in the model" in msg
    # the message stays short: at most a few keys of each kind
    assert msg.count("backbone.layer4.0.bn2") <= 3


def test_cli_register_refusal_exits_2_and_writes_nothing(project, tmp_path, capsys):
    path = _save(tmp_path / "empty.pt", ModelSpec("resnet10", "single", CLASSES, input_size=32), {})
    db_file = project.db_path
    before = list(sqlite3.connect(db_file).iterdump())
    assert main(["models", "register", "x", path, "-p", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no weights" in err
    assert list(sqlite3.connect(db_file).iterdump()) == before


class _Pickled:
    pass


def test_pickled_code_refusal_does_not_suggest_weights_only_false(tmp_path):
    from geoquiz.models.checkpoint import read_checkpoint
    from geoquiz.segmentation.base import load_state_dict_checked
    from geoquiz.segmentation.sam import TINY_SAM

    path = tmp_path / "code.pt"
    torch.save({"obj": _Pickled()}, path)
    with pytest.raises(CheckpointError) as model_err:
        read_checkpoint(path)
    with pytest.raises(CheckpointError) as sam_err:
        load_state_dict_checked(torch.nn.Linear(1, 1), TINY_SAM, path)
    for err in (model_err, sam_err):
        msg = str(err.value)
        assert "weights_only" not in msg and "trust" not in msg and "two options" not in msg
        assert "_Pickled" in msg  # the offending class is named
