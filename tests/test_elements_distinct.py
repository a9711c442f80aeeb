"""Distinct element boxes (geoquiz.elements step 5): the pile-up of issue 17 and its fix."""

from __future__ import annotations

import itertools
from dataclasses import asdict, replace

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings
from geoquiz.elements import boxes_overlap_strongly, select_elements
from geoquiz.errors import ConfigError
from geoquiz.types import Segment


def seg(mask: np.ndarray) -> Segment:
    return Segment(mask=mask, box=Box.from_mask(mask), area=int(mask.sum()))


def rect(y0: int, y1: int, x0: int, x1: int, size: int = 128) -> np.ndarray:
    m = np.zeros((size, size), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def pile_up() -> tuple[np.ndarray, list[Segment]]:
    """What france_0021 looked like: a 4x4 Grad-CAM upsampled to 128 px with its maximum in the
    bottom-right cell (bilinear with clamped edges: a flat plateau of exactly 1.0 over the corner's
    16 x 16 px), cut by a fine superpixel level into interleaved pieces (irregular superpixels: their
    masks are disjoint, so no containment duplicates, but their boxes are near-identical), a second
    level's slightly shifted pieces, a coarser level holding the hot object, and weaker segments
    elsewhere."""
    import cv2

    cells = np.array(
        [[0.1, 0.1, 0.2, 0.1], [0.1, 0.3, 0.2, 0.2], [0.2, 0.2, 0.4, 0.6], [0.1, 0.3, 0.6, 1.0]], np.float32
    )
    values = cv2.resize(cells, (128, 128), interpolation=cv2.INTER_LINEAR)
    values /= values.max()
    assert (values[112:, 112:] == 1.0).all()
    yy, xx = np.mgrid[0:128, 0:128]
    plateau = (yy >= 112) & (xx >= 112)
    interleaved = [plateau & ((yy // 2 + xx // 2) % 3 == k) for k in range(3)]  # 3 x ~85 px, one box
    shifted = [rect(113, 127, 113, 123), rect(114, 126, 116, 127)]  # a second level, overlapping
    hot_object = rect(100, 128, 100, 128)
    elsewhere = [
        rect(60, 80, 104, 124),
        rect(104, 124, 60, 80),
        rect(70, 88, 74, 92),
        rect(86, 98, 94, 106),
        rect(20, 40, 20, 40),
    ]
    return values, [seg(m) for m in [*interleaved, *shifted, hot_object, *elsewhere]]


PAPER = ElementSettings(top_p=20.0, s_min=0.1, min_segment_area=16, max_elements=10, box_rule="plain")


def top_boxes(params: ElementSettings, k: int = 5) -> list:
    values, segments = pile_up()
    return [e for _, e in select_elements(values, segments, params)][:k]


def test_the_plain_rule_reproduces_the_pile_up():
    top = top_boxes(PAPER)
    # the plateau's pieces score exactly 1 and, smaller area first, take the first places
    assert [e.score for e in top] == [1.0] * 5  # every piece of the plateau scores exactly 1
    assert all(e.box.area <= 20 * 20 for e in top)  # tiny boxes, all in the corner
    assert sum(a.box.iou(b.box) > 0.5 for a, b in itertools.combinations(top, 2)) >= 6


@pytest.mark.parametrize("rule", ["merge", "drop"])
def test_after_the_fix_no_two_top_boxes_overlap_strongly(rule):
    params = replace(PAPER, box_rule=rule)
    top = top_boxes(params)
    assert len(top) == 5
    for a, b in itertools.combinations(top, 2):
        assert a.box.iou(b.box) <= params.box_iou, (a.box, b.box)
        assert not boxes_overlap_strongly(a.box, b.box, params)
    assert [e.rank for e in top] == [1, 2, 3, 4, 5]
    assert top[0].score == 1.0  # the best place is still found first


def test_merge_makes_one_element_of_the_pieces():
    merged = top_boxes(replace(PAPER, box_rule="merge"), k=10)
    first = merged[0]
    values, segments = pile_up()
    union = np.zeros_like(segments[0].mask)
    for s in segments[:5]:  # the plateau's pieces
        union |= s.mask
    # the element's segment box covers all the pieces; the score is its best member's
    assert first.segment_box.containment(Box.from_mask(union)) == 1.0
    assert first.segment_area >= int(union.sum())
    dropped = top_boxes(replace(PAPER, box_rule="drop"), k=10)
    assert dropped[0].segment_area < first.segment_area  # drop keeps the best piece alone


def test_plain_rule_is_the_old_behaviour_exactly():
    """The plain rule = the containment de-duplication alone (written out here independently)."""
    from geoquiz.elements import is_duplicate, pad_box, rank_segments

    values, segments = pile_up()
    ranked = rank_segments(values, segments, PAPER)
    kept = []
    for cand in ranked:
        if any(is_duplicate(segments[k.index].mask, segments[cand.index].mask, 0.8, 0.5) for k in kept):
            continue
        kept.append(cand)
        if len(kept) >= PAPER.max_elements:
            break
    expected = [(k.index, pad_box(segments[k.index].box, PAPER, 128, 128), k.score) for k in kept]
    got = [(i, e.box, e.score) for i, e in select_elements(values, segments, PAPER)]
    assert got == expected


def test_box_rule_is_a_recorded_setting():
    assert ElementSettings().box_rule == "merge"
    stored = asdict(ElementSettings())
    assert {"box_rule", "box_iou", "box_containment"} <= set(stored)
    assert ElementSettings.from_dict(stored) == ElementSettings()
    legacy = {k: v for k, v in stored.items() if not k.startswith("box_")}
    assert ElementSettings.from_dict(legacy).box_rule == "plain"  # older records used the paper's rule
    with pytest.raises(ConfigError, match="box_rule"):
        ElementSettings(box_rule="nms")
    with pytest.raises(ConfigError, match="box_iou"):
        ElementSettings(box_iou=1.5)


def test_cache_keys_differ_by_rule():
    from geoquiz.explain.cache import element_params_key

    keys = {element_params_key(replace(PAPER, box_rule=r), False) for r in ("plain", "merge", "drop")}
    assert len(keys) == 3


def test_the_cap_counts_distinct_elements():
    """Ten adjacent 1-px rows: padded, their boxes overlap, so they make fewer than three elements
    although three are allowed; four separate squares fill the cap with three distinct elements."""
    values = np.full((40, 40), 0.5, dtype=np.float32)
    far = [rect(0, 4, 0, 4, 40), rect(0, 4, 30, 34, 40), rect(30, 34, 0, 4, 40), rect(30, 34, 30, 34, 40)]
    for m in far:
        values[m] = 1.0
    rows = [rect(14 + y, 15 + y, 15, 25, 40) for y in range(10)]
    params = ElementSettings(top_p=100.0, s_min=0.0, max_elements=3, min_segment_area=1)
    merged = [e for _, e in select_elements(values, [seg(m) for m in rows], params)]
    assert 1 <= len(merged) < 3
    assert not any(boxes_overlap_strongly(a.box, b.box, params) for a, b in itertools.combinations(merged, 2))
    picked = select_elements(values, [seg(m) for m in rows + far], params)
    assert len(picked) == 3 and {i for i, _ in picked} <= {10, 11, 12, 13}  # the squares first; three only
