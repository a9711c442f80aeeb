"""Random baseline boxes: same count, sizes and views, inside the image, matched union coverage."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.faithfulness.random import PlacedBox, derive_seed, random_boxes, union_area, union_coverage
from geoquiz.types import Element

SHAPES = {None: (64, 80)}


def _random_guided(rng: np.random.Generator, n: int, shapes, views) -> list[PlacedBox]:
    out = []
    for _ in range(n):
        view = views[int(rng.integers(len(views)))]
        h, w = shapes[view]
        bw, bh = int(rng.integers(4, w // 2)), int(rng.integers(4, h // 2))
        x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
        out.append(PlacedBox(Box(x0, y0, x0 + bw, y0 + bh), view))
    return out


def _check_matched(guided, result, shapes, rel_tol=0.02):
    assert len(result.boxes) == len(guided)
    for g, r in zip(guided, result.boxes):
        assert (r.box.width, r.box.height, r.view) == (g.box.width, g.box.height, g.view)
        h, w = shapes[r.view]
        assert 0 <= r.box.x0 and r.box.x1 <= w and 0 <= r.box.y0 and r.box.y1 <= h
    target, got = union_area(guided, shapes), union_area(list(result.boxes), shapes)
    for view in shapes:
        assert abs(got[view] - target[view]) <= max(rel_tol * target[view], 1)
    assert result.coverage == pytest.approx(union_coverage(list(result.boxes), shapes))
    assert result.target_coverage == pytest.approx(union_coverage(guided, shapes))


def test_matched_coverage_property_over_many_guided_sets():
    rng = np.random.default_rng(1)
    modes = []
    for trial in range(40):
        guided = _random_guided(rng, int(rng.integers(1, 7)), SHAPES, [None])
        result = random_boxes(guided, SHAPES, seed=trial)
        assert result.mode in ("independent", "cluster")
        _check_matched(guided, result, SHAPES)
        modes.append(result.mode)
    assert "independent" in modes


def test_nested_overlapping_boxes_fall_back_to_cluster_placement():
    # a big box with two boxes inside: independent placement almost never reproduces that overlap
    shapes = {None: (200, 200)}
    guided = [PlacedBox(Box(10, 10, 70, 70)), PlacedBox(Box(20, 20, 40, 40)), PlacedBox(Box(40, 45, 65, 65))]
    result = random_boxes(guided, shapes, seed=5)
    assert result.mode == "cluster"
    _check_matched(guided, result, shapes)
    # the cluster keeps its inner geometry: the small boxes are still inside the big one
    big = result.boxes[0].box
    assert big.containment(result.boxes[1].box) == 1.0 and big.containment(result.boxes[2].box) == 1.0


def test_four_view_boxes_stay_in_their_view():
    shapes = {v: (40, 40) for v in ("north", "east", "south", "west")}
    rng = np.random.default_rng(2)
    for trial in range(10):
        guided = _random_guided(rng, 5, shapes, list(shapes))
        result = random_boxes(guided, shapes, seed=trial)
        _check_matched(guided, result, shapes)


def test_full_image_box_and_elements_are_accepted():
    guided = [Element(1, Box(0, 0, 80, 64), 1.0, 1.0, 1.0, 1.0, Box(0, 0, 80, 64), 80 * 64)]
    result = random_boxes(guided, SHAPES, seed=0)
    assert result.boxes[0].box == Box(0, 0, 80, 64)
    assert result.coverage == 1.0
    empty = random_boxes([], SHAPES, seed=0)
    assert empty.boxes == () and empty.coverage == 0.0


def test_seeds_reproduce_and_differ():
    guided = [PlacedBox(Box(0, 0, 10, 10)), PlacedBox(Box(30, 30, 50, 40))]
    assert random_boxes(guided, SHAPES, 11) == random_boxes(guided, SHAPES, 11)
    draws = {random_boxes(guided, SHAPES, s).boxes for s in range(10)}
    assert len(draws) == 10
    a = derive_seed(0, 17, "gradcampp", "default", 3)
    assert a == derive_seed(0, 17, "gradcampp", "default", 3)
    assert 0 <= a < 2**32
    assert len({derive_seed(0, 17, "gradcampp", "default", r) for r in range(10)}) == 10
    assert derive_seed(0, 17, "gradcam", "default", 3) != a


def test_box_in_unknown_view_is_an_error():
    with pytest.raises(ValueError, match="view 'north'"):
        random_boxes([PlacedBox(Box(0, 0, 2, 2), "north")], SHAPES, 0)
