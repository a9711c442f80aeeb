"""geoquiz.segmentation.amg: SAM's automatic mask generator minus its overhead gives the same masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoquiz.segmentation.amg import fast_generator_class, mask_to_rle
from geoquiz.segmentation.sam import TINY_SAM, SamSegmenter, build_tiny_sam

pytest.importorskip("segment_anything")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(5)
    img = np.full((96, 112, 3), 70, dtype=np.uint8)
    img[10:50, 20:70] = (230, 200, 30)
    img[55:90, 60:105] = (30, 60, 210)
    return np.clip(img + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)


def test_rle_is_the_packages_rle():
    from segment_anything.utils.amg import mask_to_rle_pytorch

    g = torch.Generator().manual_seed(0)
    masks = torch.rand(40, 23, 17, generator=g) > 0.5
    masks[0] = False  # all background
    masks[1] = True  # all foreground: the run list starts with a zero-length background run
    masks[2, 3:9, 4:11] = True
    assert mask_to_rle(masks) == mask_to_rle_pytorch(masks)
    assert mask_to_rle(masks[:0]) == mask_to_rle_pytorch(masks[:0]) == []


def records(generator_cls, sam, image, **settings):
    with torch.inference_mode():
        return generator_cls(sam, output_mode="binary_mask", **settings).generate(image)


@pytest.mark.parametrize(
    "settings",
    [
        {
            "points_per_side": 8,
            "pred_iou_thresh": 0.0,
            "stability_score_thresh": 0.0,
            "min_mask_region_area": 20,
        },
        {"points_per_side": 6, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "crop_n_layers": 1},
        {"points_per_side": None, "point_grids": [np.array([[0.3, 0.3], [0.7, 0.8], [0.5, 0.5]])]},
    ],
    ids=["full", "crops", "guided-grid"],
)
def test_generate_returns_exactly_the_packages_records(image, settings):
    from segment_anything import SamAutomaticMaskGenerator

    sam = build_tiny_sam(seed=0)
    fast_cls = fast_generator_class(SamAutomaticMaskGenerator)
    assert issubclass(fast_cls, SamAutomaticMaskGenerator)
    ref = records(SamAutomaticMaskGenerator, sam, image, **settings)
    got = records(fast_cls, sam, image, **settings)
    assert len(got) == len(ref)
    for a, b in zip(ref, got):
        assert np.array_equal(a["segmentation"], b["segmentation"])
        assert {k: v for k, v in a.items() if k != "segmentation"} == {
            k: v for k, v in b.items() if k != "segmentation"
        }


def test_every_batch_keeps_every_candidate_mask(image):
    """Before NMS (where the tiny model's near-identical masks collapse), each batch's data is the
    package's, mask for mask."""
    from segment_anything import SamAutomaticMaskGenerator

    sam = build_tiny_sam(seed=0)
    kw = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    ref_gen = SamAutomaticMaskGenerator(sam, **kw)
    fast_gen = fast_generator_class(SamAutomaticMaskGenerator)(sam, **kw)
    points = ref_gen.point_grids[0] * np.array(image.shape[:2])[None, ::-1]
    box = [0, 0, image.shape[1], image.shape[0]]
    with torch.inference_mode():
        for gen in (ref_gen, fast_gen):
            gen.predictor.set_image(image)
        a = ref_gen._process_batch(points, image.shape[:2], box, image.shape[:2])
        b = fast_gen._process_batch(points, image.shape[:2], box, image.shape[:2])
    assert len(a["rles"]) == len(b["rles"]) == 3 * len(points)
    assert a["rles"] == b["rles"]
    for key in ("iou_preds", "points", "stability_score", "boxes"):
        assert torch.equal(a[key], b[key])


def test_the_session_uses_it_for_full_and_guided_prompting(image, tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save(build_tiny_sam(seed=0).state_dict(), path)
    kw = {"points_per_side": 6, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    seg = SamSegmenter(TINY_SAM, str(path), "cpu", build=build_tiny_sam, **kw)
    full = seg.segment(image)
    generator = seg._make_generator(dict(seg.amg))
    assert type(generator).__name__ == "FastAutomaticMaskGenerator"
    from segment_anything import SamAutomaticMaskGenerator

    ref = records(SamAutomaticMaskGenerator, seg._model, image, **{**seg.amg})
    assert [s.mask.tolist() for s in full] == [r["segmentation"].tolist() for r in ref]
    heat = np.zeros(image.shape[:2], np.float32)
    heat[10:50, 20:70] = 1.0
    guided = seg.segment_guided(image, heat, 30.0)
    assert all(s.mask.shape == image.shape[:2] for s in guided)
