"""Removal masks and fills on small arrays with known results."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness.perturb import (
    BlackFill,
    BlurFill,
    MeanFill,
    RoadFill,
    coverage,
    linear_imputation,
    make_fill,
    mean_colour,
    perturb,
    removal_mask,
)


def test_removal_masks_for_deletion_and_insertion():
    boxes = [Box(1, 1, 3, 2), Box(2, 1, 4, 3)]
    expected_inside = np.array(
        [
            [0, 0, 0, 0, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(removal_mask("deletion", boxes, 4, 5), expected_inside)
    np.testing.assert_array_equal(removal_mask("insertion", boxes, 4, 5), ~expected_inside)
    assert coverage(boxes, 4, 5) == pytest.approx(5 / 20)
    assert not removal_mask("deletion", [], 4, 5).any()
    assert removal_mask("insertion", [], 4, 5).all()
    with pytest.raises(ValueError, match="unknown test"):
        removal_mask("erase", boxes, 4, 5)


def test_black_and_mean_fill_replace_only_masked_pixels():
    image = np.full((3, 4, 3), 200, dtype=np.uint8)
    out = perturb(image, [Box(0, 0, 2, 1)], "deletion", BlackFill())
    expected = image.copy()
    expected[0, 0:2] = 0
    np.testing.assert_array_equal(out, expected)
    out = perturb(image, [Box(0, 0, 2, 1)], "insertion", MeanFill((1.0, 0.0, 0.5)))
    expected = np.empty_like(image)
    expected[:] = (255, 0, 128)
    expected[0, 0:2] = 200
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


def test_float_images_stay_float():
    image = np.full((2, 2, 3), 0.25, dtype=np.float32)
    out = BlackFill()(image, np.array([[True, False], [False, False]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], [[0.0, 0.25], [0.25, 0.25]])


def test_blur_fill_keeps_constants_and_smooths_detail():
    flat = np.full((20, 20, 3), 0.4, dtype=np.float32)
    np.testing.assert_allclose(BlurFill(0.1).background(flat), flat, atol=1e-6)
    checker = (np.indices((20, 20)).sum(axis=0) % 2).astype(np.float32)
    checker = np.repeat(checker[..., None], 3, axis=2)
    blurred = BlurFill(0.1).background(checker)
    assert blurred.std() < 0.05 * checker.std()
    assert blurred.mean() == pytest.approx(0.5, abs=0.01)
    mask = np.zeros((20, 20), dtype=bool)
    mask[5:10, 5:10] = True
    out = BlurFill(0.1)(checker, mask)
    np.testing.assert_array_equal(out[~mask], checker[~mask])
    np.testing.assert_allclose(out[mask], blurred[mask])


def test_road_single_pixel_is_weighted_mean_of_neighbours():
    # 3x3: direct neighbours 1, diagonal neighbours 0 -> centre = 4 * 1/6 / (4/6 + 4/12) = 2/3
    image = np.zeros((3, 3, 3), dtype=np.float32)
    image[0, 1] = image[1, 0] = image[1, 2] = image[2, 1] = 1.0
    mask = np.zeros((3, 3), dtype=bool)
    mask[1, 1] = True
    np.testing.assert_allclose(linear_imputation(image, mask), [[2 / 3, 2 / 3, 2 / 3]])
    out = RoadFill(noise=0.0)(image, mask)
    np.testing.assert_allclose(out[1, 1], [2 / 3] * 3, atol=1e-6)


def test_road_reproduces_a_linear_ramp_inside_the_image():
    h, w = 12, 16
    ramp = np.broadcast_to(np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None], (h, w, 3)).copy()
    ramp[..., 1] = np.linspace(0.2, 0.8, h)[:, None]
    mask = np.zeros((h, w), dtype=bool)
    mask[3:9, 4:12] = True
    out = RoadFill(noise=0.0)(ramp, mask)
    np.testing.assert_allclose(out, ramp, atol=1e-5)


def test_road_noise_is_seeded_and_only_on_masked_pixels():
    image = np.full((10, 10, 3), 0.5, dtype=np.float32)
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 2:8] = True
    a = RoadFill(noise=0.05)(image, mask, np.random.default_rng(3))
    b = RoadFill(noise=0.05)(image, mask, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[~mask], image[~mask])
    assert 0.03 < (a[mask] - 0.5).std() < 0.07
    everything = RoadFill(noise=0.0)(image, np.ones((10, 10), dtype=bool))
    np.testing.assert_allclose(everything, 0.5)


def test_mean_colour_and_make_fill():
    images = [np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)]
    assert mean_colour(images) == pytest.approx((0.5, 0.5, 0.5))
    assert make_fill("blur", sigma_frac=0.2).params() == {"sigma_frac": 0.2}
    assert make_fill("road").mask_dependent
    assert make_fill("mean", colour=(0.1, 0.2, 0.3)).describe() == "mean(colour=[0.1, 0.2, 0.3])"
    with pytest.raises(GeoQuizError, match="unknown fill 'grey'"):
        make_fill("grey")
    with pytest.raises(GeoQuizError, match="colour"):
        make_fill("mean", colour=(2, 0, 0))
    with pytest.raises(GeoQuizError, match="no images"):
        mean_colour([])
