"""Model families: tiny random-weight timm (ViT, ConvNeXt), torchvision and CLIP (transformers,
open_clip) networks saved in their packages' formats, imported through GeoQuiz's checkpoint code and
reloaded: the same logits as the package, shapes, determinism, Grad-CAM equal to the raw
pytorch-grad-cam call with the right reshape, and clear errors for missing or mismatched files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures.model_families import FAMILY_CLASSES, SIZE, native_logits, require

from geoquiz.errors import CheckpointError, GeoQuizError

KEYS = ("timm_vit", "timm_convnext", "tv_mobilenet", "clip_hf", "clip_open")


def _image(seed: int = 0, shape=(72, 90, 3)) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def imported(native_models, tmp_path_factory):
    """``{key: (native, GeoQuiz checkpoint path, spec)}`` for every installed family."""
    from geoquiz.models.importing import import_weights

    root = tmp_path_factory.mktemp("imported")
    out = {}
    for key, native in native_models.items():
        path = root / f"{key}.pt"
        spec = import_weights(
            native.path,
            path,
            arch=native.arch,
            classes=FAMILY_CLASSES,
            input_size=native.input_size,
            options=native.options,
        )
        out[key] = (native, path, spec)
    return out


def _get(imported, key):
    require(key)
    return imported[key]


@pytest.mark.parametrize("key", KEYS)
def test_imported_model_gives_the_packages_logits_features_and_is_deterministic(imported, key):
    from geoquiz.models.checkpoint import load_checkpoint

    native, path, spec = _get(imported, key)
    a = load_checkpoint(path, expected_classes=list(FAMILY_CLASSES), device="cpu")
    b = load_checkpoint(path, device="cpu")
    assert a.spec == spec and spec.family == key.split("_")[0].replace("tv", "torchvision")
    x = a.preprocess([_image(), _image(1)])
    assert tuple(x.shape) == (2, 3, native.input_size, native.input_size)
    with torch.no_grad():
        logits = a.model(x)
        assert torch.allclose(logits, native_logits(native, x), atol=1e-5)
        assert torch.equal(logits, b.model(x))
    probs, feats = a.predict_arrays([_image(), _image(1)], features=True)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert feats.shape == (2, a.model.feature_dim) and np.isfinite(feats).all()
    if spec.family == "clip":  # features are the normalised image embeddings, the head the prompts'
        assert np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-4)
        assert spec.options["prompt"] == "a street view photo in {label}"


@pytest.mark.parametrize("key", KEYS)
def test_gradcam_equals_the_raw_pytorch_grad_cam_call_and_every_method_runs(imported, key):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from geoquiz.attribution import METHODS, get_attributor
    from geoquiz.models.checkpoint import load_checkpoint

    _, path, _ = _get(imported, key)
    lm = load_checkpoint(path, device="cpu")
    image = _image(2)
    size = lm.spec.input_size
    ours = get_attributor("gradcam", lm)(image)[0]
    target = FAMILY_CLASSES.index(ours.target)
    net = lm.model
    with GradCAM(model=net, target_layers=[net.target_layer], reshape_transform=net.reshape_transform) as cam:
        raw = cam(lm.preprocess([image]), [ClassifierOutputTarget(target)])[0]
    ours = ours.values
    assert ours.shape == raw.shape == (size, size) and raw.std() > 0
    assert np.corrcoef(ours.ravel(), raw.ravel())[0, 1] > 0.99
    if key in ("timm_vit", "clip_hf", "clip_open"):
        assert net.reshape_transform is not None  # tokens -> (B, C, 4, 4): class token dropped
        act = net.target_layer(torch.zeros(1, 17, net.target_layer.normalized_shape[0]))
        assert tuple(net.reshape_transform(act).shape[-2:]) == (4, 4)
    for method in METHODS:
        params = {"channels": 8} if method == "scorecam" else {}
        params |= {"n_samples": 4, "batch_size": 4} if method == "smoothgrad" else {}
        params |= {"n_steps": 4} if method == "ig" else {}
        first = get_attributor(method, lm, **params)(image)
        again = get_attributor(method, lm, **params)(image)
        assert (
            first[0].values.shape == (size, size) and 0 <= first[0].values.min() <= first[0].values.max() <= 1
        )
        assert np.array_equal(first[0].values, again[0].values)


def test_missing_file_and_mismatched_weights_name_the_file_and_the_keys(native_models, tmp_path):
    from geoquiz.models.importing import import_weights

    require("timm_vit")
    vit = native_models["timm_vit"]
    kwargs = {"classes": FAMILY_CLASSES, "input_size": SIZE}
    with pytest.raises(CheckpointError, match=r"weights file .*nowhere\.safetensors does not exist"):
        import_weights(tmp_path / "nowhere.safetensors", tmp_path / "x.pt", arch="timm:test_vit", **kwargs)
    # ViT weights read as a ConvNeXt: the file and the keys are named
    with pytest.raises(CheckpointError) as err:
        import_weights(vit.path, tmp_path / "x.pt", arch="timm:test_convnext", **kwargs)
    msg = str(err.value)
    assert (
        str(vit.path) in msg
        and "missing keys: stem.0.weight" in msg
        and "unexpected keys: blocks.0.attn" in msg
    )
    # a classifier for 3 classes given 4: the head and its shape are named, with the way out
    with pytest.raises(CheckpointError) as err:
        import_weights(vit.path, tmp_path / "x.pt", arch="timm:test_vit", classes=(*FAMILY_CLASSES, "Peru"))
    msg = str(err.value)
    assert "head.weight [3, 64]" in msg and "4 classes were given" in msg and "--weights" in msg
    # a file that is not a state dict at all
    junk = tmp_path / "junk.pth"
    torch.save({"epoch": 3}, junk)
    with pytest.raises(CheckpointError, match=r"junk\.pth is not a state_dict"):
        import_weights(junk, tmp_path / "x.pt", arch="timm:test_vit", **kwargs)
    assert not (tmp_path / "x.pt").exists()


def test_a_tampered_geoquiz_checkpoint_names_the_keys(imported, tmp_path):
    from geoquiz.models.checkpoint import atomic_torch_save, load_checkpoint

    _, path, _ = _get(imported, "timm_convnext")
    obj = torch.load(path, weights_only=True)
    obj["state_dict"].pop("backbone.stem.0.weight")
    obj["state_dict"]["head.weight"] = torch.zeros(5, 64)
    atomic_torch_save(obj, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "bad.pt", device="cpu")
    msg = str(err.value)
    assert "bad.pt" in msg and "1 missing (backbone.stem.0.weight)" in msg
    assert "head.weight: 5x64 in the file, 3x64 in the model" in msg


def test_clip_folder_without_weights_or_config_is_refused(native_models, tmp_path):
    import shutil

    from geoquiz.models.importing import import_weights

    require("clip_hf")
    with pytest.raises(CheckpointError, match="config.json is missing"):
        import_weights(tmp_path, tmp_path / "x.pt", arch="clip:x", classes=FAMILY_CLASSES)
    folder = shutil.copytree(native_models["clip_hf"].path, tmp_path / "clip")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"clip: cannot read the CLIP model"):
        import_weights(folder, tmp_path / "x.pt", arch="clip:x", classes=FAMILY_CLASSES)
    with pytest.raises(GeoQuizError, match=r"must contain \{label\}"):
        import_weights(
            native_models["clip_hf"].path,
            tmp_path / "x.pt",
            arch="clip:x",
            classes=FAMILY_CLASSES,
            options={"prompt": "a photo"},
        )


def test_medium_integration_and_token_networks_refuse_early(native_models, tmp_path):
    from geoquiz.models.checkpoint import load_checkpoint
    from geoquiz.models.families import family_for
    from geoquiz.models.importing import import_weights

    require("timm_convnext")
    cnx = native_models["timm_convnext"]
    import_weights(
        cnx.path,
        tmp_path / "m.pt",
        arch=cnx.arch,
        classes=FAMILY_CLASSES,
        input_size=SIZE,
        integration="medium",
    )
    lm = load_checkpoint(tmp_path / "m.pt", device="cpu")
    views = [_image(i) for i in range(4)]
    assert lm.predict_arrays([views]).shape == (1, 3)
    from geoquiz.attribution import get_attributor

    maps = get_attributor("gradcampp", lm)(views)
    assert [h.view for h in maps] == ["north", "east", "south", "west"] and max(
        h.values.max() for h in maps
    ) == 1
    spec = family_for("timm:test_vit").make_spec(
        "timm:test_vit", FAMILY_CLASSES, input_size=SIZE, integration="early"
    )
    with pytest.raises(GeoQuizError, match="dynamic_img_size"):
        family_for("timm:test_vit").build(spec)


def test_resnet_family_is_unchanged_and_names_are_checked():
    from geoquiz.models.families import RESNETS, family_for, family_name, family_status
    from geoquiz.models.registry import ARCHS, GeoClassifier, build_model
    from geoquiz.models.spec import ModelSpec

    assert tuple(ARCHS) == RESNETS and family_name("resnet50") == "resnet"
    spec = ModelSpec("resnet10", "single", FAMILY_CLASSES, input_size=32)
    assert "options" not in spec.to_dict() and ModelSpec.from_dict(spec.to_dict()) == spec
    torch.manual_seed(0)
    a = build_model(spec)
    torch.manual_seed(0)
    b = family_for("resnet10").build(spec)
    assert (
        isinstance(a, GeoClassifier)
        and a.target_layer is a.backbone.layer4[-1]
        and a.reshape_transform is None
    )
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert family_status("torchvision") == "ready"
    with pytest.raises(GeoQuizError, match=r"unknown architecture 'vit'; known: resnet10.*timm:NAME"):
        family_name("vit")
    with pytest.raises(GeoQuizError, match="torchvision has no classifier 'resnet9000'"):
        family_for("torchvision:resnet9000").defaults("torchvision:resnet9000", {})
    with pytest.raises(CheckpointError, match="downloads no weights"):
        family_for("torchvision:mobilenet_v3_small").build(
            ModelSpec("torchvision:mobilenet_v3_small", "single", FAMILY_CLASSES), "imagenet"
        )
