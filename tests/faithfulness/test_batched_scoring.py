"""Batched scoring of masked variants with tiny real models (single, early and medium integration)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.faithfulness.engine import ImageFrame
from geoquiz.faithfulness.evaluate import EvalOptions, Selection, evaluate_image
from geoquiz.faithfulness.perturb import BlackFill, BlurFill, RoadFill, perturb
from geoquiz.faithfulness.random import PlacedBox
from geoquiz.types import VIEWS, Element

SIZE = 40


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


def test_road_fill_goes_through_the_same_path(tiny):
    frame = ImageFrame(tiny, _sample(tiny, 1), RoadFill(noise=0.0))
    view = None if tiny.spec.n_views == 1 else "north"
    scores = frame.score([frame.removal("deletion", [PlacedBox(Box(10, 10, 20, 20), view)])], 0)
    assert 0.0 <= float(scores.true_prob[0]) <= 1.0


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
