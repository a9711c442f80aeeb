"""Classifier registry: shapes per integration mode, per-view splitting, initialisation errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.models.registry import ARCHS, build_model, imagenet_state_dict, imagenet_weights_file
from geoquiz.models.spec import ModelSpec

CLASSES = ("France", "India", "Japan")


@pytest.mark.parametrize(
    ("integration", "pooling", "shape", "feat_dim"),
    [
        ("single", "mean", (2, 3, 32, 32), 512),
        ("early", "mean", (2, 3, 32, 128), 512),
        ("medium", "mean", (2, 4, 3, 32, 32), 512),
        ("medium", "concat", (2, 4, 3, 32, 32), 2048),
    ],
)
def test_output_shapes_for_each_integration_mode(integration, pooling, shape, feat_dim):
    spec = ModelSpec("resnet10", integration, CLASSES, input_size=32, pooling=pooling)
    torch.manual_seed(0)
    model = build_model(spec).eval()
    assert tuple(spec.input_shape) == shape[1:]
    x = torch.randn(*shape)
    with torch.no_grad():
        feats, logits = model.forward_with_features(x)
        assert logits.shape == (2, 3) and torch.allclose(model(x), logits)
    assert feats.shape == (2, feat_dim)
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(2, 3, 32))


def test_medium_pooling_is_the_mean_of_the_shared_backbone_per_view():
    spec = ModelSpec("resnet10", "medium", CLASSES, input_size=32)
    torch.manual_seed(1)
    model = build_model(spec).eval()
    x = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        per_view = torch.stack([model.backbone(x[:, v]) for v in range(4)], dim=1)
        assert torch.allclose(model.features(x), per_view.mean(dim=1), atol=1e-5)
        assert torch.allclose(model.view_features(x), per_view, atol=1e-5)


def test_split_views_cuts_early_input_left_to_right():
    spec = ModelSpec("resnet10", "early", CLASSES, input_size=32)
    model = build_model(spec)
    x = torch.arange(4).float().repeat_interleave(32).view(1, 1, 1, 128).expand(1, 3, 32, 128)
    views = model.split_views(x)
    assert views.shape == (1, 4, 3, 32, 32)
    assert [float(views[0, v].mean()) for v in range(4)] == [0.0, 1.0, 2.0, 3.0]


def test_registry_has_the_torchvision_resnets():
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} <= set(ARCHS)
    spec = ModelSpec("resnet50", "single", CLASSES, input_size=64)
    model = build_model(spec)
    assert model.feature_dim == 2048 and model.head.out_features == 3
    assert model.target_layer is model.backbone.layer4[-1]


def test_unknown_arch_and_missing_imagenet_weights_are_clear(monkeypatch, tmp_path):
    with pytest.raises(GeoQuizError, match="unknown architecture 'vgg16'"):
        build_model(ModelSpec("vgg16", "single", CLASSES))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("GEOQUIZ_OFFLINE", "1")
    url, path = imagenet_weights_file("resnet18")
    with pytest.raises(CheckpointError) as err:
        imagenet_state_dict("resnet18")
    assert url in str(err.value) and str(path) in str(err.value) and path.name.startswith("resnet18-")
    with pytest.raises(CheckpointError, match="no ImageNet weights"):
        imagenet_weights_file("resnet10")


def test_imagenet_init_reads_the_hub_cache_file(monkeypatch, tmp_path):
    """A torchvision state_dict placed where the error message says is used as the backbone."""
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    _, path = imagenet_weights_file("resnet18")
    path.parent.mkdir(parents=True)
    torch.manual_seed(3)
    reference = resnet18()
    torch.save(reference.state_dict(), path)
    model = build_model(ModelSpec("resnet18", "single", CLASSES, input_size=32), "imagenet")
    assert torch.equal(model.backbone.conv1.weight, reference.conv1.weight)
    path.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="corrupt"):
        build_model(ModelSpec("resnet18", "single", CLASSES, input_size=32), "imagenet")


def test_init_from_a_plain_state_dict_and_a_wrong_file(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(4)
    ref = resnet18()
    sd_path = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), sd_path)
    spec = ModelSpec("resnet18", "medium", CLASSES, input_size=32)
    model = build_model(spec, sd_path)
    assert torch.equal(model.backbone.layer4[0].conv1.weight, ref.layer4[0].conv1.weight)
    with pytest.raises(CheckpointError, match="does not fit a resnet34 backbone"):
        build_model(ModelSpec("resnet34", "single", CLASSES, input_size=32), sd_path)
    junk = tmp_path / "junk.pt"
    torch.save({"weights": np.arange(3).tolist()}, junk)
    with pytest.raises(CheckpointError, match="neither a GeoQuiz checkpoint nor"):
        build_model(spec, junk)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_model(spec, tmp_path / "nowhere.pt")


def test_target_layer_is_a_spec_setting_that_sets_the_cam_grid():
    from geoquiz.attribution import get_attributor
    from geoquiz.models.predictor import LoadedModel
    from geoquiz.models.training import TrainConfig

    spec = ModelSpec("resnet10", "single", ("a", "b", "c"), input_size=128, target_layer="layer3")
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    legacy = {k: v for k, v in spec.to_dict().items() if k != "target_layer"}
    assert ModelSpec.from_dict(legacy).target_layer == "layer4"  # checkpoints from before the setting
    assert (spec.cam_grid, ModelSpec("resnet10", "single", ("a", "b"), input_size=128).cam_grid) == (8, 4)
    with pytest.raises(ValueError, match="target_layer"):
        ModelSpec("resnet10", "single", ("a", "b"), target_layer="fc")
    with pytest.raises(GeoQuizError, match="target_layer"):
        TrainConfig(target_layer="layer5")
    torch.manual_seed(0)
    model = build_model(spec)
    assert model.target_layer is model.backbone.layer3[-1]
    # the raw Grad-CAM is piecewise bilinear between the centres of an 8x8 grid: 16 px cells
    lm = LoadedModel(model, spec, "cpu")
    image = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    att = get_attributor("gradcam", lm)
    _, raw = att._raw_maps(lm.preprocess([image]), None, None)
    with torch.no_grad():
        acts = {}
        handle = model.backbone.layer3.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
        model(lm.preprocess([image]))
        handle.remove()
    assert tuple(acts["a"].shape[-2:]) == (8, 8) and raw.shape == (128, 128)
