"""Element extraction (paper 000, 3.3) on hand-made maps and segments with known answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings
from geoquiz.elements import (
    containment,
    extract_elements,
    geometric_centre,
    is_duplicate,
    merge_views,
    rank_segments,
    salient_mask,
    salient_threshold,
    select_elements,
)
from geoquiz.types import Segment


def seg(mask: np.ndarray) -> Segment:
    return Segment(mask=mask, box=Box.from_mask(mask), area=int(mask.sum()))


def rect(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


P = ElementSettings(
    top_p=50.0,
    s_min=0.3,
    iou_threshold=0.8,
    detail_ratio=0.5,
    padding=0.1,
    min_padding_px=2,
    max_elements=10,
    min_segment_area=1,
    box_rule="plain",  # these tests check the paper's rule; the box rule: test_elements_distinct.py
)


@pytest.fixture
def halves():
    """10x10 map: left half 0.8, right half 0.2. Top 50 % -> the left half is salient."""
    values = np.full((10, 10), 0.2, dtype=np.float32)
    values[:, :5] = 0.8
    return values


def test_salient_region_is_the_top_p_percentile(halves):
    assert salient_threshold(halves, 50.0) == pytest.approx(0.5)
    assert (salient_mask(halves, 50.0) == (halves > 0.5)).all()


def test_zero_pixels_are_never_salient():
    values = np.zeros((10, 10), dtype=np.float32)
    values[0, :4] = 1.0  # 4 % of pixels are non-zero; the 80th percentile is 0
    mask = salient_mask(values, 20.0)
    assert mask.sum() == 4 and mask[0, :4].all()


def test_scores_have_the_hand_computed_values(halves):
    left = rect(10, 10, 0, 10, 0, 5)  # inside the salient half
    straddle = rect(10, 10, 0, 10, 3, 7)  # half in, centre column 4.5 -> 5 (value 0.2)
    right = rect(10, 10, 0, 10, 5, 10)  # outside: overlap 0
    ranked = rank_segments(halves, [seg(right), seg(straddle), seg(left)], P)
    assert [s.index for s in ranked] == [2, 1]
    best, second = ranked
    assert (best.overlap, best.mean_attr, best.centre_attr) == pytest.approx((1.0, 0.8, 0.8))
    assert best.score == pytest.approx((1.0 * 0.8 * 0.8) ** (1 / 3))
    assert second.centre == (5, 5)
    assert (second.overlap, second.mean_attr, second.centre_attr) == pytest.approx((0.5, 0.5, 0.2))
    assert second.score == pytest.approx((0.5 * 0.5 * 0.2) ** (1 / 3))


def test_s_min_drops_weak_segments(halves):
    straddle = rect(10, 10, 0, 10, 3, 7)  # score 0.368
    assert rank_segments(halves, [seg(straddle)], P) != []
    assert rank_segments(halves, [seg(straddle)], ElementSettings(**{**P.__dict__, "s_min": 0.4})) == []


def test_boxes_are_padded_and_clipped(halves):
    elements = extract_elements(halves, [seg(rect(10, 10, 0, 10, 0, 5))], P)
    (e,) = elements
    assert e.rank == 1 and e.segment_box == Box(0, 0, 5, 10) and e.segment_area == 50
    # padding 0.1 * 10 = 1 < min_padding_px 2 -> 2 px, clipped to the 10x10 image
    assert e.box == Box(0, 0, 7, 10)
    big = ElementSettings(**{**P.__dict__, "padding": 0.5})
    assert extract_elements(halves, [seg(rect(10, 10, 3, 6, 1, 3))], big)[0].box == Box(0, 1, 5, 8)


def test_centre_of_convex_segment_is_its_centroid():
    assert geometric_centre(rect(9, 9, 2, 5, 1, 8)) == (3, 4)


def test_centre_of_a_ring_is_the_nearest_ring_pixel_in_row_major_order():
    ring = rect(9, 9, 0, 9, 0, 9) & ~rect(9, 9, 1, 8, 1, 8)
    assert not ring[4, 4]
    assert geometric_centre(ring) == (0, 4)


def test_centre_of_an_l_shape_lies_on_the_shape():
    ell = rect(10, 10, 0, 10, 0, 2) | rect(10, 10, 8, 10, 0, 10)
    cy, cx = geometric_centre(ell)
    assert ell[cy, cx]
    ys, xs = np.nonzero(ell)
    d = (ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2
    assert (cy - ys.mean()) ** 2 + (cx - xs.mean()) ** 2 == pytest.approx(d.min())


def test_centre_attribution_uses_the_on_segment_centre():
    values = np.zeros((9, 9), dtype=np.float32)
    values[0, 4] = 1.0  # the ring's centre pixel
    values[4, 4] = 0.5  # the hole: never read
    ring = rect(9, 9, 0, 9, 0, 9) & ~rect(9, 9, 1, 8, 1, 8)
    (s,) = rank_segments(values, [seg(ring)], ElementSettings(top_p=100.0, s_min=0.0, min_segment_area=1))
    assert s.centre_attr == 1.0


# --- containment de-duplication ---------------------------------------------------------------


def test_containment_is_intersection_over_the_smaller():
    a, b = rect(10, 10, 0, 10, 0, 10), rect(10, 10, 0, 2, 0, 5)
    assert containment(a, b) == 1.0
    assert containment(rect(10, 10, 0, 4, 0, 4), rect(10, 10, 0, 4, 2, 10)) == pytest.approx(8 / 16)
    assert containment(a, np.zeros_like(a)) == 0.0


@pytest.mark.parametrize(
    ("big", "small", "ratio", "threshold", "duplicate"),
    [
        ((0, 10, 0, 10), (0, 10, 0, 10), 0.5, 0.8, True),  # identical
        ((0, 10, 0, 10), (0, 2, 0, 5), 0.5, 0.8, False),  # small detail inside: kept
        ((0, 10, 0, 10), (0, 2, 0, 5), 0.0, 0.8, True),  # plain containment rule removes it
        ((0, 10, 0, 10), (0, 5, 0, 10), 0.5, 0.8, True),  # exactly half the size: duplicate (inclusive)
        ((0, 10, 0, 10), (0, 5, 0, 9), 0.5, 0.8, False),  # just under half: a detail
        ((0, 10, 0, 5), (0, 10, 1, 6), 0.5, 0.8, True),  # containment exactly 0.8 (inclusive)
        ((0, 10, 0, 5), (0, 10, 2, 7), 0.5, 0.8, False),  # containment 0.6
        ((0, 5, 0, 5), (5, 10, 5, 10), 0.0, 0.0, False),  # disjoint, even with a zero threshold
    ],
)
def test_duplicate_rule(big, small, ratio, threshold, duplicate):
    a, b = rect(10, 10, *big), rect(10, 10, *small)
    if threshold == 0.0:
        assert containment(a, b) == 0.0
        assert is_duplicate(a, b, 1e-9, ratio) is duplicate
    else:
        assert is_duplicate(a, b, threshold, ratio) is duplicate
        assert is_duplicate(b, a, threshold, ratio) is duplicate  # symmetric


def test_dedup_keeps_the_better_ranked_and_small_details():
    values = np.zeros((20, 20), dtype=np.float32)
    values[:10, :10] = 1.0
    values[2:4, 2:4] = 0.9  # a slightly weaker spot inside
    wall = rect(20, 20, 0, 10, 0, 10)
    wall_again = rect(20, 20, 0, 10, 0, 11)  # the wall plus a zero column: same object, lower score
    sign = rect(20, 20, 2, 4, 2, 4)  # a small detail inside the wall
    params = ElementSettings(top_p=25.0, s_min=0.1, min_segment_area=1, box_rule="plain")
    picked = select_elements(values, [seg(wall_again), seg(sign), seg(wall)], params)
    assert [i for i, _ in picked] == [2, 1]  # the wall, then the sign; wall_again is the wall's duplicate
    assert [e.rank for _, e in picked] == [1, 2]
    # the distinct-box rule: the sign's padded box lies inside the wall's, so it is not a place of its own
    merged = select_elements(
        values, [seg(wall_again), seg(sign), seg(wall)], replace(params, box_rule="merge")
    )
    assert [i for i, _ in merged] == [2] and merged[0][1].box == picked[0][1].box


def test_dedup_compares_with_kept_segments_only():
    values = np.ones((10, 30), dtype=np.float32)
    a = rect(10, 30, 0, 10, 0, 10)  # 100 px
    b = rect(10, 30, 0, 10, 0, 18)  # 180 px: contains a -> duplicate of a (ratio 0.56)
    c = rect(10, 30, 0, 10, 9, 27)  # 180 px: overlaps b by 90 (0.5), a by 10 -> kept
    params = ElementSettings(top_p=100.0, s_min=0.0, min_segment_area=1)
    picked = [i for i, _ in select_elements(values, [seg(a), seg(b), seg(c)], params)]
    assert picked == [0, 2]


def test_max_elements_and_min_area():
    values = np.ones((10, 10), dtype=np.float32)
    masks = [rect(10, 10, y, y + 1, 0, 10) for y in range(10)]  # ten disjoint 10-px rows
    params = ElementSettings(top_p=100.0, s_min=0.0, max_elements=3, min_segment_area=1, box_rule="plain")
    assert len(extract_elements(values, [seg(m) for m in masks], params)) == 3
    assert (
        extract_elements(
            values, [seg(m) for m in masks], ElementSettings(top_p=100.0, s_min=0.0, min_segment_area=11)
        )
        == []
    )


def test_all_zero_map_gives_no_elements():
    values = np.zeros((10, 10), dtype=np.float32)
    assert extract_elements(values, [seg(rect(10, 10, 0, 5, 0, 5))]) == []


def test_mask_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="segment 0 has mask shape"):
        extract_elements(np.zeros((5, 5), np.float32), [seg(rect(6, 6, 0, 2, 0, 2))])


def test_joint_threshold_and_view_merge():
    north = np.zeros((10, 10), dtype=np.float32)
    north[:4, :4] = 1.0
    east = np.full((10, 10), 0.3, dtype=np.float32)
    east[5:, 5:] = 0.6
    t = salient_threshold([north, east], 8.0)  # the top 8 % of 200 px = 16 px: all in north
    assert (north >= t).sum() == 16 and (east >= t).sum() == 0
    params = ElementSettings(top_p=8.0, s_min=0.05, min_segment_area=1)
    n_el = extract_elements(north, [seg(rect(10, 10, 0, 4, 0, 4))], params, view="north", threshold=t)
    e_el = extract_elements(east, [seg(rect(10, 10, 5, 10, 5, 10))], params, view="east", threshold=t)
    assert n_el[0].overlap == 1.0 and e_el == []  # east has no salient pixel under the joint threshold
    own = extract_elements(east, [seg(rect(10, 10, 5, 10, 5, 10))], params, view="east")
    assert own[0].overlap == 1.0  # with its own percentile it would have
    merged = merge_views([own, n_el], max_elements=0)
    assert [(e.view, e.rank) for e in merged] == [("north", 1), ("east", 2)]
    assert merge_views([own, n_el], max_elements=1)[0].view == "north"
