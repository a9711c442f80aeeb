"""The weight-free default segmenter, mask packing and the guided point prompts."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.errors import GeoQuizError
from geoquiz.segmentation import get_segmenter, parse_segmenter
from geoquiz.segmentation.base import guided_points, pack_masks, unpack_masks
from geoquiz.segmentation.default import DefaultSegmenter


def scene(h: int = 120, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[: h // 2] = (120, 170, 230)  # sky
    img[h // 2 :] = (90, 90, 90)  # road
    img[20:50, 100:130] = (230, 30, 30)  # a red sign ...
    img[30:40, 108:122] = (250, 250, 250)  # ... with white text on it (a hole to fill)
    img[70:100, 20:60] = (240, 200, 20)  # a yellow car
    return np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def best_iou(segments, target):
    return max(np.logical_and(s.mask, target).sum() / np.logical_or(s.mask, target).sum() for s in segments)


def test_default_segmenter_finds_object_like_regions():
    img = scene()
    segments = DefaultSegmenter().segment(img)
    assert 3 <= len(segments) <= 400
    for s in segments:
        assert s.mask.shape == img.shape[:2] and s.mask.dtype == bool and s.area == s.mask.sum()
        assert s.area <= 0.5 * img.shape[0] * img.shape[1]
    sign = np.zeros(img.shape[:2], bool)
    sign[20:50, 100:130] = True  # hole-filled: the text belongs to the sign
    car = np.zeros(img.shape[:2], bool)
    car[70:100, 20:60] = True
    assert best_iou(segments, sign) > 0.9
    assert best_iou(segments, car) > 0.9
    ious = [
        np.logical_and(a.mask, b.mask).sum() / np.logical_or(a.mask, b.mask).sum()
        for i, a in enumerate(segments)
        for b in segments[i + 1 :]
    ]
    assert max(ious) < 0.9  # near-identical regions from different levels are kept once


def test_large_images_are_segmented_small_and_masks_scaled_back():
    big = np.kron(scene(), np.ones((4, 4, 1), dtype=np.uint8))  # 480 x 640
    segments = DefaultSegmenter(max_side=160).segment(big)
    assert segments and all(s.mask.shape == (480, 640) for s in segments)


def test_registry_names_and_params():
    seg = get_segmenter("default")
    assert seg is get_segmenter("default")  # cached per process
    assert seg.params["felzenszwalb_scales"] == [60.0, 200.0, 600.0]
    assert parse_segmenter("mobilesam_vit_t:guided") == ("mobilesam_vit_t", True)
    with pytest.raises(GeoQuizError, match="unknown segmenter 'sam_vit_x'"):
        parse_segmenter("sam_vit_x")
    with pytest.raises(GeoQuizError, match="guided mode needs a SAM-family"):
        parse_segmenter("default:guided")
    with pytest.raises(ValueError, match="RGB uint8"):
        seg.segment(np.zeros((10, 10), dtype=np.uint8))


def test_pack_roundtrip():
    segments = DefaultSegmenter().segment(scene(37, 53))  # odd width: packbits padding
    data = pack_masks(segments, (37, 53))
    back = unpack_masks(data)
    assert len(back) == len(segments)
    assert all((a.mask == b.mask).all() and a.box == b.box for a, b in zip(segments, back))
    assert unpack_masks(pack_masks([], (5, 7))) == []


def test_guided_points_lie_in_the_salient_region():
    heat = np.zeros((100, 100), dtype=np.float32)
    heat[60:100, 0:40] = 1.0  # 16 % of the image
    pts = guided_points(heat, top_p=20.0, points_per_side=10)
    assert len(pts) == 16  # the 4x4 grid points inside the hot corner
    assert (pts[:, 0] < 0.4).all() and (pts[:, 1] > 0.6).all()
    spot = np.zeros((100, 100), dtype=np.float32)
    spot[20:22, 20:22] = 1.0  # between grid points: the hottest pixels are used instead
    pts = guided_points(spot, top_p=20.0, points_per_side=4, min_points=3)
    assert len(pts) == 3 and ((pts * 100 >= 20) & (pts * 100 <= 22)).all()
    assert len(guided_points(np.zeros((10, 10), np.float32), 20.0, 4)) == 0
