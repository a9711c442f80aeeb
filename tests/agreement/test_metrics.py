"""Agreement measures on hand-made boxes, maps and answers whose results are known by hand."""

import numpy as np
import pytest

from geoquiz import agreement as ag
from geoquiz.boxes import Box
from geoquiz.types import CueBox


def test_iou_matrix_and_best_iou():
    a = [Box(0, 0, 10, 10), Box(20, 20, 30, 30)]
    b = [Box(5, 0, 15, 10)]  # overlaps a[0] by 50 of union 150
    m = ag.iou_matrix(a, b)
    assert m.shape == (2, 1)
    assert m[0, 0] == pytest.approx(50 / 150)
    assert m[1, 0] == 0.0
    assert ag.best_iou(a, b) == pytest.approx((50 / 150 + 0) / 2)
    assert ag.best_iou(b, a) == pytest.approx(50 / 150)
    assert ag.best_iou([], b) is None
    assert ag.best_iou(a, []) == 0.0


def test_overlap_union_masks_and_coverages():
    # human: two overlapping boxes, union area 100 + 100 - 25 = 175
    human = [Box(0, 0, 10, 10), Box(5, 5, 15, 15)]
    # model: one box over the left half of the first human box plus 50 pixels outside
    model = [Box(0, 0, 5, 20)]
    o = ag.overlap(human, model, 40, 40)
    assert (o.human_area, o.model_area, o.inter_area, o.image_area) == (175, 100, 50, 1600)
    assert o.mask_iou == pytest.approx(50 / 225)
    assert o.human_coverage == pytest.approx(50 / 175)
    assert o.model_coverage == pytest.approx(0.5)
    assert ag.mask_iou(human, model, 40, 40) == pytest.approx(50 / 225)
    assert ag.coverage(human, model, 40, 40) == pytest.approx(50 / 175)
    assert ag.coverage(model, human, 40, 40) == pytest.approx(0.5)
    empty = ag.overlap([], [], 10, 10)
    assert (empty.mask_iou, empty.human_coverage, empty.model_coverage) == (None, None, None)


def test_boxes_are_clipped_to_the_image():
    o = ag.overlap([Box(-5, -5, 5, 5)], [Box(0, 0, 100, 100)], 10, 10)
    assert (o.human_area, o.model_area, o.inter_area) == (25, 100, 25)


def test_pool_views_sums_areas_before_taking_ratios():
    north = ag.overlap([Box(0, 0, 10, 10)], [Box(0, 0, 10, 10)], 20, 20)  # perfect
    east = ag.overlap([Box(0, 0, 10, 10)], [Box(10, 10, 20, 20)], 20, 20)  # disjoint
    pooled = ag.pool_views([north, east])
    assert pooled.inter_area == 100 and pooled.human_area == 200 and pooled.model_area == 200
    assert pooled.mask_iou == pytest.approx(100 / 300)
    assert pooled.human_coverage == pytest.approx(0.5)


def test_pointing_game():
    human = [Box(10, 10, 20, 20)]
    assert ag.pointing_hit(Box(12, 12, 18, 18), human) is True  # centre (15, 15)
    assert ag.pointing_hit(Box(0, 0, 10, 10), human) is False  # centre (5, 5)
    assert ag.pointing_hit(Box(0, 0, 10, 10), human, tolerance=7.1) is True  # distance sqrt(50)
    assert ag.pointing_hit(Box(0, 0, 10, 10), human, tolerance=7.0) is False
    assert ag.pointing_hit(None, human) is None
    assert ag.pointing_hit(Box(0, 0, 1, 1), []) is None
    # inclusive-exclusive: a centre exactly on x1 is outside
    assert ag.pointing_hit(Box(18, 10, 22, 20), human) is False


def test_heatmap_pointing_game():
    heat = np.zeros((30, 30), dtype=np.float32)
    heat[15, 12] = 1.0
    assert ag.heatmap_pointing_hit(heat, [Box(10, 10, 20, 20)]) is True
    assert ag.heatmap_pointing_hit(heat, [Box(0, 0, 10, 10)]) is False
    assert ag.heatmap_pointing_hit(heat, []) is None


def test_attribution_mass():
    heat = np.zeros((10, 10), dtype=np.float32)
    heat[0:5, 0:5] = 1.0  # mass 25
    heat[9, 9] = 5.0  # mass 5, total 30
    m = ag.attribution_mass(heat, [Box(0, 0, 5, 5)])
    assert m.inside == pytest.approx(25) and m.total == pytest.approx(30)
    assert m.fraction == pytest.approx(25 / 30)
    assert m.area_fraction == pytest.approx(0.25)
    assert m.ratio == pytest.approx((25 / 30) / 0.25)
    assert ag.attribution_mass(np.zeros((4, 4)), [Box(0, 0, 2, 2)]).fraction is None
    with pytest.raises(ValueError, match="HxW"):
        ag.attribution_mass(np.zeros((2, 2, 3)), [])


def test_tag_overlap_orders_tags_by_overlap():
    model = [Box(0, 0, 10, 10)]  # area 100
    cues = [
        CueBox(Box(0, 0, 10, 3), "signs"),  # 30
        CueBox(Box(0, 5, 10, 10), "road_markings"),  # 50
        CueBox(Box(0, 8, 10, 10), "road_markings"),  # inside the previous: union still 50
        CueBox(Box(50, 50, 60, 60), "poles"),  # 0
    ]
    out = ag.tag_overlap(model, cues, 64, 64)
    assert list(out) == ["road_markings", "signs", "poles"]
    assert out == pytest.approx({"road_markings": 0.5, "signs": 0.3, "poles": 0.0})
    assert ag.tag_overlap([], cues, 64, 64) == {}
    pooled = ag.pool_tag_overlaps([({"signs": 1.0}, 100), ({"signs": 0.0, "poles": 1.0}, 300)])
    assert pooled == pytest.approx({"poles": 0.75, "signs": 0.25})


def test_box_density():
    d = ag.box_density([Box(0, 0, 4, 4), Box(2, 2, 6, 6)], 8, 8)
    assert d.dtype == np.float32 and d.shape == (8, 8)
    assert d[3, 3] == 1.0 and d[0, 0] == 0.5 and d[7, 7] == 0.0
    d3 = ag.box_density([Box(0, 0, 4, 4)], 8, 8, n=4)
    assert d3.max() == pytest.approx(0.25)
    smooth = ag.box_density([Box(2, 2, 6, 6)], 8, 8, sigma=1.0)
    assert smooth.max() == pytest.approx(1.0) and 0 < smooth[0, 0] < 0.5
    assert ag.box_density([], 3, 3).sum() == 0


def test_participant_density_counts_each_participant_once():
    p1 = [Box(0, 0, 4, 4), Box(2, 2, 6, 6)]  # overlapping boxes of one participant
    p2 = [Box(0, 0, 2, 2)]
    p3: list[Box] = []  # answered but marked nothing
    d = ag.participant_density([p1, p2, p3], 8, 8)
    assert d.dtype == np.float32 and d.shape == (8, 8)
    assert d[1, 1] == pytest.approx(2 / 3) and d[3, 3] == pytest.approx(1 / 3) and d[7, 7] == 0
    assert ag.participant_density([], 4, 4).sum() == 0
    assert ag.participant_density([p1], 8, 8, sigma=1.0).max() < 1.0


def test_rescale_box():
    assert ag.rescale_box(Box(0, 0, 112, 56), (224, 224), (448, 448)) == Box(0, 0, 224, 112)
    assert ag.rescale_box(Box(1, 1, 3, 3), (10, 10), (10, 10)) == Box(1, 1, 3, 3)


def test_wilson_interval_known_values():
    # Wilson (1927) / Newcombe (1998) example: 81 of 263 -> 0.2553 to 0.3662 (95 %)
    low, high = ag.wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-4) and high == pytest.approx(0.3662, abs=5e-4)
    assert ag.wilson_interval(0, 10)[0] == 0.0
    assert ag.wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert ag.wilson_interval(0, 0) == (None, None)


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    values = np.arange(100, dtype=float)
    low, high = ag.bootstrap_ci(values, n_boot=500, seed=1)
    assert low < 49.5 < high and high - low < 20
    assert ag.bootstrap_ci(values, n_boot=500, seed=1) == (low, high)
    assert ag.bootstrap_ci([]) == (None, None)


def test_topk_accuracy_and_per_class():
    ranked = [["A", "B", "C"], ["B", "A", "C"], ["C", "B", "A"], ["A", "C", "B"]]
    truths = ["A", "A", "A", "B"]
    top1 = ag.accuracy(ranked, truths, k=1)
    assert (top1.k, top1.n, top1.rate) == (1, 4, 0.25)
    top2 = ag.accuracy(ranked, truths, k=2)
    assert top2.rate == 0.5
    per = ag.per_class_accuracy(ranked, truths, k=1)
    assert list(per) == ["A", "B"]
    assert per["A"].rate == pytest.approx(1 / 3) and per["B"].rate == 0.0
    assert per["A"].low == pytest.approx(ag.wilson_interval(1, 3)[0])


def test_compare_accuracy_on_shared_items():
    truths = {"i1": "A", "i2": "B", "i3": "C", "i4": "A"}
    model = {"i1": ["A", "B"], "i2": ["B", "A"], "i3": ["A", "C"]}  # i4 has no prediction
    human = {
        "i1": [["A"], ["B"]],  # 1 of 2
        "i2": [["A"], ["A"], ["B"]],  # 1 of 3
        "i3": [["C"]],  # 1 of 1
        "i4": [["A"]],  # left out: no model answer
    }
    c = ag.compare_accuracy(human, model, truths, k=1, n_boot=300)
    assert c.n_items == 3
    assert (c.human.k, c.human.n) == (3, 6)
    assert (c.model.k, c.model.n) == (2, 3)
    assert c.difference == pytest.approx(2 / 3 - (1 / 2 + 1 / 3 + 1) / 3)
    assert c.difference_ci[0] <= c.difference <= c.difference_ci[1]
    c2 = ag.compare_accuracy(human, model, truths, k=2, n_boot=100)
    assert c2.model.rate == 1.0
    none = ag.compare_accuracy({}, model, truths)
    assert none.n_items == 0 and none.difference is None


# Fleiss (1971) as reproduced on Wikipedia ("Fleiss' kappa", worked example): 10 subjects,
# 14 raters, 5 categories; P_bar = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_fleiss_kappa_textbook_example():
    k = ag.fleiss_kappa(FLEISS_EXAMPLE)
    assert k.p_bar == pytest.approx(0.378, abs=5e-4)
    assert k.p_e == pytest.approx(0.213, abs=5e-4)
    assert k.kappa == pytest.approx(0.210, abs=5e-4)
    assert (k.n_items, k.n_ratings) == (10, 140)


def test_fleiss_kappa_from_label_lists_matches_table():
    cats = ["c1", "c2", "c3", "c4", "c5"]
    ratings = {i: [c for c, n in zip(cats, row) for _ in range(n)] for i, row in enumerate(FLEISS_EXAMPLE)}
    table = ag.rating_table(ratings, cats)
    assert np.array_equal(table, FLEISS_EXAMPLE)
    k, (low, high) = ag.fleiss_kappa_ci(ratings, n_boot=200)
    assert k.kappa == pytest.approx(0.210, abs=5e-4)
    assert low < k.kappa < high
    with pytest.raises(ValueError, match="not one of the categories"):
        ag.rating_table({"x": ["zz"]}, cats)


def test_fleiss_kappa_edge_cases():
    perfect = ag.fleiss_kappa(np.array([[3, 0], [0, 3]]))
    assert perfect.kappa == pytest.approx(1.0)
    single_rater = ag.fleiss_kappa(np.array([[1, 0], [0, 1]]))
    assert single_rater.kappa is None and single_rater.n_items == 0
    all_same = ag.fleiss_kappa(np.array([[2, 0], [3, 0]]))
    assert all_same.kappa is None and all_same.p_bar == 1.0
    assert ag.item_agreement(["A", "A", "B"]) == pytest.approx(1 / 3)
    assert ag.item_agreement(["A"]) is None
