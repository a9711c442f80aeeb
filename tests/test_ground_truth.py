"""Ground truth (issue #4 item 7): the pointing game of :mod:`geoquiz.ground_truth`.

Unit tests on hand-made boxes (hit criteria, frames, the random baseline, the summary), then the
real thing: the demo model's Grad-CAM++ x default-segmenter top elements on GeoScenes' test split
land on planted cues far more often than random boxes of the same size.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.ground_truth import (
    PointingRecord,
    PointingResult,
    PointingSettings,
    balanced,
    cues_of,
    hit_cues,
    hits,
    point_to_box_distance,
    random_box,
    random_hit_rate,
    score_image,
    to_image_frame,
)
from geoquiz.types import CueBox, Element, ImageItem, Location


def element(rank: int, box: Box, view: str | None = None) -> Element:
    return Element(rank, box, 1.0 / rank, 1.0, 1.0, 1.0, box, box.area, view=view)


def test_distance_to_a_closed_box():
    b = Box(10, 20, 30, 40)
    assert point_to_box_distance(15, 25, b) == 0.0
    assert point_to_box_distance(30, 40, b) == 0.0  # the closed box: its far corner counts
    assert point_to_box_distance(33, 25, b) == 3.0
    assert point_to_box_distance(33, 44, b) == 5.0  # 3-4-5 from the corner (30, 40)
    assert point_to_box_distance(0, 0, b) == pytest.approx(math.hypot(10, 20))


def test_centre_criterion_with_and_without_tolerance():
    cues = [Box(0, 0, 10, 10), Box(50, 50, 60, 60)]
    on_first = Box(2, 2, 8, 8)  # centre (5, 5)
    assert hit_cues(on_first, cues) == [0]
    near_second = Box(60, 60, 70, 70)  # centre (65, 65): 5*sqrt(2) = 7.07 px from the second cue
    strict = PointingSettings()
    assert not hits(near_second, cues, strict)
    assert not hits(near_second, cues, PointingSettings(tolerance_px=7.0))
    assert hit_cues(near_second, cues, PointingSettings(tolerance_px=7.1)) == [1]
    # a box much larger than the cue, centred on it, still points at it
    assert hits(Box(0, 0, 110, 110), [Box(50, 50, 60, 60)])
    # a box covering a cue but centred elsewhere does not
    assert not hits(Box(0, 0, 100, 20), [Box(0, 0, 10, 10)])


def test_overlap_criterion_uses_the_union_of_cues():
    s = PointingSettings(criterion="overlap", min_overlap=0.5)
    box = Box(0, 0, 10, 10)
    # each cue covers 30 % of the box, together 60 %
    cues = [Box(0, 0, 3, 10), Box(7, 0, 20, 10)]
    assert hit_cues(box, cues, s, frame=(20, 10)) == [0, 1]
    assert hits(box, cues, s)  # the frame defaults to what the boxes need
    assert not hits(box, cues, PointingSettings(criterion="overlap", min_overlap=0.7), frame=(20, 10))
    assert not hits(box, cues[:1], s, frame=(20, 10))
    assert hit_cues(Box(30, 30, 40, 40), cues, s, frame=(50, 50)) == []  # touches nothing
    # overlapping cues are not counted twice
    assert not hits(box, [Box(0, 0, 4, 10), Box(0, 0, 4, 10)], s, frame=(10, 10))


def test_settings_are_checked():
    for bad in (
        {"criterion": "iou"},
        {"tolerance_px": -1},
        {"min_overlap": 0},
        {"top_k": 0},
        {"repeats": 0},
    ):
        with pytest.raises(GeoQuizError):
            PointingSettings(**bad)


def test_random_boxes_keep_their_size_stay_inside_and_are_seeded():
    rng = np.random.default_rng(1)
    boxes = [random_box(7, 5, (20, 12), rng) for _ in range(500)]
    assert all(b.width == 7 and b.height == 5 for b in boxes)
    assert all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= 20 and b.y1 <= 12 for b in boxes)
    assert {b.x0 for b in boxes} == set(range(14)) and {b.y0 for b in boxes} == set(
        range(8)
    )  # every position
    again = [random_box(7, 5, (20, 12), np.random.default_rng(1)) for _ in range(1)]
    assert again[0] == boxes[0]
    assert random_box(30, 30, (20, 12), rng) == Box(0, 0, 20, 12)  # larger than the frame: the frame


def test_random_hit_rate_matches_the_exact_chance_level():
    frame = {None: (10, 10)}
    box = [(Box(0, 0, 2, 2), None)]
    s = PointingSettings(repeats=20000)
    # a 2x2 box has 9 positions per axis, centres x = 1..9; the closed cue [0, 5] takes x <= 5: 5 of 9
    half = [CueBox(Box(0, 0, 5, 10), "signs")]
    rate = random_hit_rate(box, half, frame, s, np.random.default_rng(0))
    assert rate == pytest.approx(5 / 9, abs=0.015)
    everywhere = [CueBox(Box(0, 0, 10, 10), "signs")]
    assert (
        random_hit_rate(box, everywhere, frame, PointingSettings(repeats=50), np.random.default_rng(0)) == 1.0
    )
    assert random_hit_rate(box, [], frame, PointingSettings(repeats=50), np.random.default_rng(0)) == 0.0
    # top-k: with two boxes a draw hits when either does: 1 - (4/9)^2
    two = box + [(Box(0, 0, 2, 2), None)]
    s2 = PointingSettings(repeats=20000, top_k=2)
    assert random_hit_rate(two, half, frame, s2, np.random.default_rng(0)) == pytest.approx(
        1 - (4 / 9) ** 2, abs=0.015
    )
    # the same seed gives the same rate
    a = random_hit_rate(box, half, frame, PointingSettings(repeats=30), np.random.default_rng(7))
    b = random_hit_rate(box, half, frame, PointingSettings(repeats=30), np.random.default_rng(7))
    assert a == b


def test_boxes_move_from_the_model_frame_to_the_image_frame():
    assert to_image_frame(Box(32, 32, 64, 64), 128, (224, 224)) == Box(56, 56, 112, 112)
    assert to_image_frame(Box(10, 10, 20, 20), 128, (128, 128)) == Box(10, 10, 20, 20)
    assert to_image_frame(Box(0, 0, 64, 64), (128, 128), (256, 512)) == Box(0, 0, 128, 256)
    assert to_image_frame(Box(0, 0, 300, 10), None, (224, 224)) == Box(0, 0, 224, 10)


def test_score_image_uses_the_top_ranked_element_in_the_image_frame():
    frames = {None: (224, 224)}
    cues = [
        CueBox(Box(150, 150, 200, 200), "signs", detail="warning sign"),
        CueBox(Box(0, 200, 224, 224), "road_markings"),
    ]
    # model frame 128: element rank 1 at (96..112) -> image (168..196): centre (182, 182) on the sign;
    # rank 2 far from every cue. Given out of order: rank decides, not list position.
    top = element(1, Box(96, 96, 112, 112))
    other = element(2, Box(0, 0, 16, 16))
    rec = score_image(
        [other, top],
        cues,
        frames,
        PointingSettings(repeats=200),
        model_size=128,
        key="k",
        label="France",
        method="gradcampp",
        segmenter="default",
    )
    assert rec.hit and rec.hit_tags == ("signs",)
    assert rec.boxes == ((Box(168, 168, 196, 196), None),)
    assert rec.n_cues == 2 and rec.key == "k" and rec.method == "gradcampp"
    assert 0.0 < rec.random_rate < 1.0
    miss = score_image([other], cues, frames, PointingSettings(repeats=200), model_size=128)
    assert not miss.hit and miss.hit_tags == ()
    # same seed, same baseline
    again = score_image([other], cues, frames, PointingSettings(repeats=200), model_size=128)
    assert again.random_rate == miss.random_rate
    # top-2: the second element may make the hit
    both = score_image([top, other], cues[:1], frames, PointingSettings(top_k=2, repeats=10), model_size=128)
    assert both.hit and len(both.boxes) == 2
    # no element: no hit, no baseline
    empty = score_image([], cues, frames)
    assert not empty.hit and empty.boxes == () and math.isnan(empty.random_rate)


def test_four_views_match_cues_in_their_own_view_only():
    frames = {v: (100, 100) for v in ("north", "east", "south", "west")}
    cues = [CueBox(Box(0, 0, 50, 50), "signs", view="north")]
    in_north = element(1, Box(10, 10, 20, 20), view="north")
    in_east = element(1, Box(10, 10, 20, 20), view="east")
    assert score_image([in_north], cues, frames, PointingSettings(repeats=20)).hit
    rec = score_image([in_east], cues, frames, PointingSettings(repeats=20))
    assert not rec.hit and rec.random_rate == 0.0  # no cue in the east view: random boxes cannot hit either


def test_cues_of_items_and_locations(tmp_path):
    cue = CueBox(Box(1, 1, 5, 5), "poles", view="east")
    item = ImageItem("a", "a.png", "Japan", cues=(cue,))
    assert [c.view for c in cues_of(item)] == [None]  # a single image: no view
    views = {
        v: ImageItem(
            f"l_{v}",
            f"{v}.png",
            "Japan",
            location_key="l",
            view=v,
            cues=(CueBox(Box(0, 0, 2, 2), "signs", view=v),),
        )
        for v in ("north", "east", "south", "west")
    }
    loc = Location("l", "Japan", "test", views)
    assert [c.view for c in cues_of(loc)] == ["north", "east", "south", "west"]


def test_balanced_takes_labels_in_turn():
    items = [ImageItem(f"{c}{i}", "", c) for c in "ABC" for i in range(5)]
    picked = balanced(items, 7)
    assert len(picked) == 7
    counts = {c: sum(s.label == c for s in picked) for c in "ABC"}
    assert sorted(counts.values()) == [2, 2, 3]
    assert balanced(items, None) == items


def test_summary_statistics_by_hand():
    def rec(hit: bool, rate: float, method: str = "m", boxes: bool = True) -> PointingRecord:
        b = ((Box(0, 0, 1, 1), None),) if boxes else ()
        return PointingRecord(
            "k", "L", method, "default", b, hit, ("signs",) if hit else (), rate if boxes else float("nan"), 1
        )

    result = PointingResult(settings=PointingSettings())
    result.records = [
        rec(True, 0.5),
        rec(True, 0.3),
        rec(False, 0.1),
        rec(True, 0.1),
        rec(False, 0.0, boxes=False),
    ]
    result.records += [rec(False, 0.5, "other"), rec(False, 0.5, "other")]
    rows = {r["method"]: r for r in result.summary(n_boot=200)}
    m = rows["m"]
    assert m["n"] == 4 and m["n_empty"] == 1
    assert m["hit_rate"] == pytest.approx(0.75)
    assert m["random_rate"] == pytest.approx(0.25)
    assert m["diff"] == pytest.approx(0.5)
    assert m["hit_lo"] <= m["hit_rate"] <= m["hit_hi"]
    assert m["ratio"] == pytest.approx(3.0)
    assert m["hit_tags"] == {"signs": 3}
    o = rows["other"]
    assert o["hit_rate"] == 0.0 and o["diff"] == pytest.approx(-0.5) and o["ratio"] == 0.0


# --- the demo model on GeoScenes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_copy(trained_demo, tmp_path_factory):
    """A writable copy of the demo project (the Explainer writes its cache into the project)."""
    root, name = trained_demo
    dest = tmp_path_factory.mktemp("ground_truth") / "proj"
    shutil.copytree(root, dest)
    return dest, name


@pytest.mark.slow
def test_demo_top_elements_point_at_planted_cues_far_more_often_than_random(demo_copy):
    from geoquiz.ground_truth import pointing_on_dataset
    from geoquiz.project import Project

    root, name = demo_copy
    with Project.open(root) as project:
        result = pointing_on_dataset(
            project,
            name,
            "geoscenes",
            "test",
            ["gradcampp"],
            ["default"],
            limit=60,
            settings=PointingSettings(repeats=50, seed=0),
        )
    (row,) = result.summary()
    assert not result.no_cues  # GeoScenes: every image has planted cues
    assert len(result.wrong) <= 12  # the demo model is ~93 % accurate
    assert row["n"] + row["n_empty"] == 60 - len(result.wrong)
    assert row["n"] >= 40
    # the top element is on a planted cue in most correctly classified images ...
    assert row["hit_rate"] >= 0.65
    # ... far more often than a box of its size placed at random (chance is high on GeoScenes: road
    # markings, buildings and vegetation are large cues), with a clear paired margin
    assert row["diff"] >= 0.12, row
    assert row["diff_lo"] > 0.05, row
    assert row["hit_rate"] >= 1.2 * row["random_rate"], row
    assert row["p_value"] < 0.01
    # the hits are spread over several kinds of cue, not one artefact
    assert len(row["hit_tags"]) >= 3
