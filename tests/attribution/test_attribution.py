"""Attributions on tiny random GeoClassifiers (resnet10, 64 px: a 2x2 target layer): one [0, 1] map per view, for
single-view and both 4-view integration modes, checked against the libraries' own outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoquiz.attribution import METHODS, get_attributor
from geoquiz.progress import Cancelled, Reporter
from geoquiz.types import VIEWS

S = 64


def make_model(integration: str, seed: int = 0, size: int = S):
    from geoquiz.models.predictor import LoadedModel
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec

    spec = ModelSpec("resnet10", integration, ("France", "India", "Japan"), input_size=size)
    torch.manual_seed(seed)
    return LoadedModel(build_model(spec), spec, "cpu")


@pytest.fixture(scope="module")
def models():
    return {i: make_model(i) for i in ("single", "early", "medium")}


@pytest.fixture(scope="module")
def views():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (S, S, 3), dtype=np.uint8) for _ in range(4)]


FAST = {
    "scorecam": {"channels": 16, "batch_size": 8},
    "smoothgrad": {"n_samples": 4, "batch_size": 4},
    "ig": {"n_steps": 8},
}


@pytest.mark.parametrize("integration", ["single", "early", "medium"])
@pytest.mark.parametrize("method", METHODS)
def test_one_unit_map_per_view(models, views, integration, method):
    lm = models[integration]
    sample = views[0] if integration == "single" else views
    heatmaps = get_attributor(method, lm, **FAST.get(method, {}))(sample)
    expected_views = [None] if integration == "single" else list(VIEWS)
    assert [h.view for h in heatmaps] == expected_views
    predicted = lm.predict([sample])[0].label
    for h in heatmaps:
        assert h.values.shape == (S, S) and h.values.dtype == np.float32
        assert h.values.min() >= 0.0 and h.values.max() <= 1.0
        assert h.method == method and h.target == predicted
    assert max(float(h.values.max()) for h in heatmaps) == pytest.approx(1.0)  # one joint scale


def _library_gradcam(net, layer, x, target):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam = GradCAM(net, [layer])
    try:
        return cam(x, [ClassifierOutputTarget(target)])
    finally:
        cam.activations_and_grads.release()


def test_single_and_early_gradcam_match_pytorch_grad_cam(models, views):
    for integration, sample in (("single", views[0]), ("early", views)):
        lm = models[integration]
        ours = get_attributor("gradcam", lm)(sample, target=1)
        x = lm.preprocess([sample])
        lib = _library_gradcam(lm.model, lm.model.target_layer, x, 1)[0]  # per-image min-max, (S, W)
        joined = np.concatenate([h.values for h in ours], axis=1)  # views left to right
        assert joined.shape == lib.shape
        assert np.ptp(lib) > 0.5  # a real spatial map, not a constant
        # the package min-max scales each image; GeoQuiz only divides by the (joint) maximum
        np.testing.assert_allclose((joined - joined.min()) / np.ptp(joined), lib, atol=1e-4)


def test_medium_gradcam_is_per_view_and_follows_view_order(models, views):
    from geoquiz.attribution.cam import ViewsAsBatch

    lm = models["medium"]
    ours = get_attributor("gradcam", lm)(views, target=2)
    x = lm.preprocess([views]).reshape(4, 3, S, S)
    lib = _library_gradcam(
        ViewsAsBatch.wrap(lm.model), lm.model.target_layer, x, 2
    )  # (4, S, S), per view min-max
    for h, ref in zip(ours, lib):
        v = h.values
        np.testing.assert_allclose((v - v.min()) / max(np.ptp(v), 1e-7), ref, atol=1e-4)
    swapped = get_attributor("gradcam", lm)([views[1], views[0], views[2], views[3]], target=2)
    np.testing.assert_allclose(swapped[0].values, ours[1].values, atol=1e-5)  # the map moves with its view
    np.testing.assert_allclose(swapped[1].values, ours[0].values, atol=1e-5)
    same = get_attributor("gradcam", lm)([views[3]] * 4, target=2)  # identical views -> identical maps
    assert all(np.allclose(h.values, same[0].values, atol=1e-6) for h in same)


def test_scorecam_all_channels_matches_the_package(views):
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    lm = make_model("single", size=48)  # 48 px: still a 2x2 target layer, 512 masked images are cheaper
    ours = get_attributor("scorecam", lm, channels="all", batch_size=64)(views[0], target=0)[0].values
    cam = ScoreCAM(lm.model, [lm.model.target_layer])
    cam.batch_size = 64
    try:
        lib = cam(lm.preprocess([views[0]]), [ClassifierOutputTarget(0)])[0]
    finally:
        cam.activations_and_grads.release()
    assert np.ptp(lib) > 0.5
    np.testing.assert_allclose((ours - ours.min()) / np.ptp(ours), lib, atol=1e-4)


def test_scorecam_channel_subset_is_batched(models, views):
    lm = models["single"]
    rows = []
    handle = lm.model.register_forward_hook(lambda m, inp, out: rows.append(inp[0].shape[0]))
    try:
        att = get_attributor("scorecam", lm, channels=10, batch_size=4)
        assert att.params == {"channels": 10, "batch_size": 4}
        att(views[0])
    finally:
        handle.remove()
    assert rows == [1, 4, 4, 2]  # the forward pass, then 10 masked images in batches of 4
    assert get_attributor("scorecam", lm).params["channels"] == 256  # "auto" on a CPU


def test_scorecam_can_be_cancelled(models, views):
    reporter = Reporter()
    reporter.token.cancel()
    with pytest.raises(Cancelled):
        get_attributor("scorecam", models["medium"], channels=8, batch_size=4)(views, reporter=reporter)


def test_gradient_maps_match_captum_and_are_reproducible(models, views):
    from captum.attr import IntegratedGradients

    lm = models["single"]
    att = get_attributor("ig", lm, n_steps=8, blur_sigma=0.0, baseline="mean")
    target, raw = att._raw_maps(lm.preprocess([views[0]]), 1, None)
    x = lm.preprocess([views[0]])
    ref = IntegratedGradients(lm.model).attribute(x, baselines=torch.zeros_like(x), target=1, n_steps=8)
    np.testing.assert_allclose(raw, ref.abs().sum(dim=1)[0].numpy(), rtol=1e-4, atol=1e-6)
    sg = get_attributor("smoothgrad", lm, n_samples=4)
    a, b = sg(views[0]), sg(views[0])
    np.testing.assert_array_equal(a[0].values, b[0].values)


def test_targets_by_index_or_name_and_bad_input(models, views):
    lm = models["single"]
    att = get_attributor("gradcampp", lm)
    assert att(views[0], target="India")[0].target == "India"
    assert att(views[0], target=2)[0].target == "Japan"
    with pytest.raises(ValueError, match="out of range"):
        att(views[0], target=3)
    with pytest.raises(Exception, match="not one of the model's classes"):
        att(views[0], target="Peru")
    with pytest.raises(ValueError, match="unknown attribution method"):
        get_attributor("lime", lm)
    with pytest.raises(ValueError, match="unknown parameter"):
        get_attributor("smoothgrad", lm, samples=3)
