"""Batched scoring of masked variants with tiny real models (single, early and medium integration);
ROAD's imputation against expectations computed by hand (one pixel, two coupled pixels, a linear ramp)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.faithfulness.engine import ImageFrame
from geoquiz.faithfulness.evaluate import EvalOptions, Selection, evaluate_image
from geoquiz.faithfulness.perturb import BlackFill, BlurFill, RoadFill, linear_imputation, perturb
from geoquiz.faithfulness.random import PlacedBox
from geoquiz.types import VIEWS, Element

SIZE = 40
DIRECT, DIAGONAL = 1 / 6, 1 / 12  # ROAD's weights (4 x 1/6 + 4 x 1/12 = 1)


def _by_hand(img: np.ndarray, y: int, x: int) -> np.ndarray:
    """The weighted mean of the 8 neighbours of an interior pixel (every channel)."""
    direct = img[y - 1, x] + img[y + 1, x] + img[y, x - 1] + img[y, x + 1]
    diagonal = img[y - 1, x - 1] + img[y - 1, x + 1] + img[y + 1, x - 1] + img[y + 1, x + 1]
    return DIRECT * direct + DIAGONAL * diagonal


def test_one_pixel_is_the_weighted_mean_of_its_neighbours():
    img = np.zeros((3, 3, 1))
    img[..., 0] = [[0.1, 0.2, 0.3], [0.4, 0.9, 0.6], [0.7, 0.8, 0.5]]
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    # 1/6 (0.2 + 0.4 + 0.6 + 0.8) + 1/12 (0.1 + 0.3 + 0.7 + 0.5) = 0.3333... + 0.1333... = 0.4666...
    np.testing.assert_allclose(linear_imputation(img, mask), [[2.0 / 6 + 1.6 / 12]], atol=1e-12)


def test_two_neighbouring_pixels_solve_the_coupled_equations():
    rng = np.random.default_rng(4)
    img = rng.random((3, 4, 2))
    mask = np.zeros((3, 4), bool)
    mask[1, 1] = mask[1, 2] = True  # p = (1, 1), q = (1, 2): each is a direct neighbour of the other
    # p = a + q / 6 and q = b + p / 6, where a and b are the known neighbours' weighted sums
    a = DIRECT * (img[0, 1] + img[2, 1] + img[1, 0]) + DIAGONAL * (
        img[0, 0] + img[0, 2] + img[2, 0] + img[2, 2]
    )
    b = DIRECT * (img[0, 2] + img[2, 2] + img[1, 3]) + DIAGONAL * (
        img[0, 1] + img[0, 3] + img[2, 1] + img[2, 3]
    )
    p = (a + b / 6) / (1 - 1 / 36)
    q = b + p / 6
    np.testing.assert_allclose(linear_imputation(img, mask), np.stack([p, q]), atol=1e-12)


def test_a_linear_ramp_is_imputed_exactly():
    ys, xs = np.mgrid[0:12, 0:12]
    img = np.stack([0.02 * xs + 0.01 * ys, 0.5 - 0.03 * ys, np.full(xs.shape, 0.25)], axis=-1)
    mask = np.zeros((12, 12), bool)
    mask[3:8, 4:10] = True  # interior: every removed pixel's neighbours are in the image
    np.testing.assert_allclose(linear_imputation(img, mask), img[mask], atol=1e-9)


@pytest.fixture(scope="module", params=["single", "early", "medium"])
def tiny(request):
    import torch

    from geoquiz.models.predictor import LoadedModel
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec("resnet10", request.param, ("France", "India", "Japan"), input_size=SIZE)
    return LoadedModel(build_model(spec), spec, "cpu")


def _sample(loaded, seed: int = 0):
    rng = np.random.default_rng(seed)
    views = [rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(loaded.spec.n_views)]
    return views[0] if loaded.spec.n_views == 1 else views


def _el(rank: int, box: Box, view: str | None, score: float) -> Element:
    return Element(rank, box, score, 1.0, 1.0, 1.0, box, box.area, view)


def test_variants_match_perturbing_the_pixels_then_predicting(tiny):
    sample = _sample(tiny)
    view = None if tiny.spec.n_views == 1 else "south"
    boxes = [PlacedBox(Box(3, 5, 20, 17), view), PlacedBox(Box(25, 22, 38, 40), view)]
    frame = ImageFrame(tiny, sample, BlackFill())
    masks = [
        frame.removal("deletion", []),
        frame.removal("deletion", boxes),
        frame.removal("insertion", boxes),
    ]
    scores = frame.score(masks, true_index=1, batch_size=2)
    assert frame.n_forward == 3 and frame.n_batches == 2

    def by_pixels(test: str) -> float:
        if view is None:
            img = perturb(sample, [b.box for b in boxes], test, BlackFill())
        else:
            img = [
                perturb(v, [b.box for b in boxes] if name == view else [], test, BlackFill())
                for name, v in zip(VIEWS, sample)
            ]
        return float(tiny.predict([img])[0].probs[1])

    np.testing.assert_allclose(scores.true_prob[0], tiny.predict([sample])[0].probs[1], atol=1e-5)
    np.testing.assert_allclose(scores.true_prob[1], by_pixels("deletion"), atol=1e-4)
    np.testing.assert_allclose(scores.true_prob[2], by_pixels("insertion"), atol=1e-4)
    assert scores.correct.dtype == bool and scores.probs.shape == (3, 3)


def test_road_fill_through_the_batched_scoring_path(tiny):
    """One removed pixel: the frame scores the image whose pixel is the hand-computed mean (the other
    views untouched); a removed box on a ramp changes nothing, so it scores as the intact image."""
    rng = np.random.default_rng(1)
    n = tiny.spec.n_views
    views = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(n)]
    sample = views[0] if n == 1 else views
    view = None if n == 1 else "east"
    y, x = 12, 10
    frame = ImageFrame(tiny, sample, RoadFill(noise=0.0))
    hole = frame.removal("deletion", [PlacedBox(Box(x, y, x + 1, y + 1), view)])
    assert hole.sum() == 1
    scores = frame.score([hole], true_index=2)

    at = 0 if view is None else VIEWS.index(view)
    by_hand = _by_hand(views[at].astype(np.float64) / 255.0, y, x)  # RGB in [0, 1]
    assert np.abs(by_hand - views[at][y, x] / 255.0).max() > 0.05  # the fill does change the pixel
    # the network input the frame scored: un-normalise the batch and read the pixel back
    batch = frame._batch([hole])[0]
    if frame.layout == "early":
        batch = batch[:, :, at * SIZE : (at + 1) * SIZE]
    elif frame.layout == "medium":
        batch = batch[at]
    seen = (batch * frame.std[0] + frame.mean[0]).numpy()  # (3, H, W) in [0, 1]
    np.testing.assert_allclose(seen[:, y, x], by_hand, atol=1e-5)
    others = np.ones((SIZE, SIZE), bool)
    others[y, x] = False
    np.testing.assert_allclose(seen[:, others], views[at].transpose(2, 0, 1)[:, others] / 255.0, atol=1e-5)
    # and its score is the model's on that image
    filled = [v.copy() for v in views]
    filled[at][y, x] = np.rint(by_hand * 255.0).astype(np.uint8)
    expected = tiny.predict([filled[0] if n == 1 else filled])[0].probs[2]
    np.testing.assert_allclose(scores.true_prob[0], expected, atol=2e-4)

    ramp = np.zeros((SIZE, SIZE, 3), np.uint8)
    ramp[..., 0] = np.arange(SIZE, dtype=np.uint8)[None, :] * 6
    ramp[..., 1] = np.arange(SIZE, dtype=np.uint8)[:, None] * 5
    ramp[..., 2] = 90
    ramps = [ramp] * n
    frame = ImageFrame(tiny, ramps[0] if n == 1 else ramps, RoadFill(noise=0.0))
    box = frame.removal("deletion", [PlacedBox(Box(8, 10, 30, 25), view)])
    both = frame.score([frame.removal("deletion", []), box], true_index=0)
    np.testing.assert_allclose(both.true_prob[1], both.true_prob[0], atol=1e-5)


def test_evaluate_image_rows_seeds_coverage_and_deduplication(tiny):
    view = None if tiny.spec.n_views == 1 else "east"
    els = (_el(2, Box(20, 20, 36, 30), view, 0.5), _el(1, Box(2, 2, 14, 16), view, 0.9))
    selections = [Selection("gradcampp", "default", els), Selection("gradcam", "default", els)]
    frame = ImageFrame(tiny, _sample(tiny), BlurFill())
    options = EvalOptions(repeats=3, seed=7, curves=True, curve_repeats=1, batch_size=16)
    res = evaluate_image(frame, 2, selections, image_key=42, options=options)

    assert len(res.rows) == 2 * (1 + 3) * 2
    guided = [r for r in res.rows if r["selection"] == "guided"]
    random = [r for r in res.rows if r["selection"] == "random"]
    assert {r["repeat"] for r in random} == {0, 1, 2} and all(r["seed"] is not None for r in random)
    assert all(r["seed"] is None and r["repeat"] == 0 for r in guided)
    assert all(r["fill"] == "blur" and r["n_boxes"] == 2 for r in res.rows)
    cov = guided[0]["coverage"]
    total_px = tiny.spec.n_views * SIZE * SIZE
    assert cov == pytest.approx((12 * 14 + 16 * 10) / total_px)
    assert all(abs(r["coverage"] - cov) <= max(0.02 * cov, 1 / total_px) for r in random)
    # the same boxes and seeds per method -> different seeds because the method enters the seed
    seeds = {(r["method"], r["repeat"]): r["seed"] for r in random}
    assert seeds[("gradcampp", 0)] != seeds[("gradcam", 0)]
    # curves: guided + 1 random, k = 0..2, deletion and insertion, per selection
    assert len(res.curve_rows) == 2 * 2 * 2 * 3
    first = [r for r in res.curve_rows if r["method"] == "gradcampp" and r["selection"] == "guided"]
    assert [r["k"] for r in first if r["test"] == "deletion"] == [0, 1, 2]
    step1 = next(r for r in first if r["test"] == "deletion" and r["k"] == 1)
    assert step1["coverage"] == pytest.approx(12 * 14 / total_px)  # the best-ranked box comes first
    # deletion k=0 is the unperturbed image; the two methods share all guided masks
    k0 = next(r for r in first if r["test"] == "deletion" and r["k"] == 0)
    assert k0["true_prob"] == pytest.approx(res.base_true_prob)
    planned = len(res.rows) + len(res.curve_rows) + 1
    assert res.n_variants < planned
    assert res.n_batches == math.ceil(res.n_variants / 16) and res.n_forward == res.n_variants


def test_boxes_in_another_frame_are_scaled_to_the_input(tiny):
    view = None if tiny.spec.n_views == 1 else "west"
    frame = ImageFrame(tiny, _sample(tiny), BlackFill(), box_frame=(2 * SIZE, 2 * SIZE))
    [scaled] = frame.to_input([PlacedBox(Box(10, 20, 30, 41), view)])
    assert scaled.box == Box(5, 10, 15, 21) and scaled.view == view
