"""The Explainer: maps, segments and elements computed once, then served from the disk + DB cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from geoquiz.config import ElementSettings
from geoquiz.elements import extract_elements, merge_views, salient_threshold
from geoquiz.errors import GeoQuizError
from geoquiz.types import VIEWS

CLASSES = ("France", "India", "Japan")


@pytest.fixture
def explain_root(explain_project_root):
    return explain_project_root


@pytest.fixture
def project(explain_root):
    from geoquiz.project import Project

    with Project.open(explain_root) as p:
        yield p


PARAMS = ElementSettings(top_p=25.0, s_min=0.05, min_segment_area=4)


def test_maps_segments_and_elements_are_computed_once(project, explain_root):
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer
    from geoquiz.project import Project

    item = load_items(project.db, "tiny", "test")[0]
    ex = Explainer(project, "single")
    maps = ex.heatmaps(item, "gradcam")
    assert ex.stats["maps_computed"] == 1 and len(maps) == 1 and maps[0].view is None
    assert maps[0].values.shape == (64, 64) and maps[0].target in CLASSES
    again = ex.heatmaps(item, "gradcam")
    assert ex.stats["maps_computed"] == 1 and ex.stats["maps_cached"] == 1
    np.testing.assert_array_equal(maps[0].values, again[0].values)  # computed == read back, bit for bit
    segs = ex.segments(item, "default")
    assert ex.stats["segmentations_computed"] == 1 and len(segs) == 1 and segs[0]
    assert all(s.mask.shape == (64, 64) for s in segs[0])  # the model's input frame
    elements = ex.elements(item, "gradcam", "default", PARAMS)
    assert ex.stats["elements_computed"] == 1
    assert elements == extract_elements(maps[0].values, segs[0], PARAMS)
    assert ex.elements(item, "gradcam", "default", PARAMS) == elements
    assert ex.stats["elements_cached"] == 1 and ex.stats["maps_computed"] == 1

    # a new explainer (another process, another day) reads everything from the cache
    with Project.open(explain_root) as other:
        ex2 = Explainer(other, "single")
        assert ex2.elements(item, "gradcam", "default", PARAMS) == elements
        assert ex2.stats["maps_computed"] == 0 and ex2.stats["segmentations_computed"] == 0
        assert ex2.stats["elements_computed"] == 0 and ex2.stats["elements_cached"] == 1
        # other element settings: only the (cheap) element set is new
        ex2.elements(item, "gradcam", "default", dataclasses.replace(PARAMS, top_p=10.0))
        assert ex2.stats["elements_computed"] == 1 and ex2.stats["maps_computed"] == 0

    # indexed in the database
    db = project.db
    assert db.execute("SELECT COUNT(*) FROM attribution_maps WHERE method = 'gradcam'").fetchone()[0] == 1
    row = db.execute("SELECT n_elements FROM element_sets").fetchall()
    assert len(elements) in [r[0] for r in row]
    n = db.execute("SELECT COUNT(*) FROM elements WHERE segment_index IS NOT NULL").fetchone()[0]
    assert n >= len(elements)

    # a lost cache file is recomputed, not an error
    path = db.execute("SELECT path FROM attribution_maps WHERE method = 'gradcam'").fetchone()[0]
    (explain_root / "cache" / path).unlink()
    ex3 = Explainer(project, "single")
    np.testing.assert_array_equal(ex3.heatmaps(item, "gradcam")[0].values, maps[0].values)
    assert ex3.stats["maps_computed"] == 1


def test_targets_are_part_of_the_key(project):
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer

    item = load_items(project.db, "tiny", "test")[1]
    ex = Explainer(project, "single")
    by_class = {c: ex.heatmaps(item, "gradcampp", target=c)[0] for c in CLASSES}
    assert [h.target for h in by_class.values()] == list(CLASSES)
    assert ex.stats["maps_computed"] == 3
    assert ex.heatmaps(item, "gradcampp", target=1)[0].target == "India"
    assert ex.stats["maps_cached"] == 1


def test_four_view_elements_are_ranked_across_views(project):
    from geoquiz.data.dataset import load_locations
    from geoquiz.explain import Explainer

    loc = load_locations(project.db, "tiny4")[0]
    ex = Explainer(project, "medium")
    maps = ex.heatmaps(loc, "gradcam")
    assert [h.view for h in maps] == list(VIEWS)
    segs = ex.segments(loc, "default")
    assert len(segs) == 4
    params = dataclasses.replace(PARAMS, max_elements=5)
    elements = ex.elements(loc, "gradcam", "default", params)
    t = salient_threshold([h.values for h in maps], params.top_p)
    per_view = [extract_elements(h.values, s, params, h.view, threshold=t) for h, s in zip(maps, segs)]
    assert elements == merge_views(per_view, params.max_elements)
    assert [e.rank for e in elements] == list(range(1, len(elements) + 1))
    assert ex.elements(loc, "gradcam", "default", params) == elements
    assert ex.stats["elements_cached"] == 4  # one element set per view
    with pytest.raises(GeoQuizError, match="takes 4-view locations"):
        ex.heatmaps(loc.views["north"], "gradcam")


def test_guided_segmentation_follows_the_map(project, tmp_path):
    from geoquiz.data.dataset import load_items
    from geoquiz.explain import Explainer
    from geoquiz.segmentation.sam import TINY_SAM, SamSegmenter, build_tiny_sam

    ckpt = tmp_path / "tiny.pth"
    torch.save(build_tiny_sam(seed=4).state_dict(), ckpt)
    tiny = SamSegmenter(
        TINY_SAM,
        str(ckpt),
        "cpu",
        build=build_tiny_sam,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )
    item = load_items(project.db, "tiny", "test")[2]
    ex = Explainer(project, "single", segmenter_objects={"sam_vit_b": tiny})
    with pytest.raises(GeoQuizError, match="give the method"):
        ex.segments(item, "sam_vit_b:guided")
    full = ex.segments(item, "sam_vit_b")
    guided = ex.segments(item, "sam_vit_b:guided", method="gradcam")
    assert all(s.mask.shape == (64, 64) for s in full[0] + guided[0])
    assert tiny.encoder_runs == 1  # the guided run reused the full run's image embedding
    ex.segments(item, "sam_vit_b:guided", method="gradcampp")
    assert ex.stats["segmentations_computed"] == 3  # guided segmentations are keyed by their map
    ex.segments(item, "sam_vit_b:guided", method="gradcam")
    assert ex.stats["segmentations_cached"] == 1


def test_explain_dataset_and_cli(project, explain_root, capsys):
    from geoquiz.cli import main
    from geoquiz.explain import explain_dataset
    from geoquiz.progress import Reporter

    seen = []
    summary = explain_dataset(
        project,
        "single",
        "tiny",
        "val",
        ["gradcam"],
        ["default"],
        params=PARAMS,
        reporter=Reporter(lambda d, t, m: seen.append((d, t))),
    )
    assert summary["samples"] == 3 and seen[-1] == (3, 3)
    again = explain_dataset(project, "single", "tiny", "val", ["gradcam"], ["default"], params=PARAMS)
    assert again["stats"]["maps_computed"] == 0 and again["stats"]["segmentations_computed"] == 0
    assert again["elements"] == summary["elements"]
    with pytest.raises(GeoQuizError, match="takes 4-view locations"):
        explain_dataset(project, "medium", "tiny", "val", ["gradcam"], ["default"])
    code = main(
        [
            "explain",
            "-p",
            str(explain_root),
            "--model",
            "single",
            "--dataset",
            "tiny",
            "--split",
            "val",
            "--methods",
            "gradcam",
            "--segmenters",
            "default",
            "--top-p",
            "25",
            "--s-min",
            "0.05",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "explained 3 sample(s)" in out and "3 from cache" in out
    assert main(["explain", "-p", str(explain_root), "--status"]) == 0
    assert "default            ready" in capsys.readouterr().out
    assert (
        main(
            [
                "explain",
                "-p",
                str(explain_root),
                "--model",
                "single",
                "--dataset",
                "tiny",
                "--segmenters",
                "sam_vit_b",
            ]
        )
        == 2
    )
    assert "sam_vit_b is not ready" in capsys.readouterr().err
