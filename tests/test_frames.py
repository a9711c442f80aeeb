"""geoquiz.explain.frames: maps, boxes and masks from the model-input frame to the image frame."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.config import ElementSettings
from geoquiz.explain import ImageFrame
from geoquiz.explain.frames import box_to_image, heatmap_to_image, mask_to_image
from geoquiz.types import Element, Heatmap, Segment


def test_boxes_scale_outwards_and_clip_like_the_export():
    # 128 px model input, 448 x 336 image: x * 3.5, y * 2.625, floor / ceil, clipped
    assert box_to_image(Box(10, 10, 20, 21), 128, 448, 336) == Box(35, 26, 70, 56)
    assert box_to_image(Box(0, 0, 128, 128), 128, 448, 336) == Box(0, 0, 448, 336)
    frame = ImageFrame(128, 448, 336)
    assert frame.scale == (3.5, 2.625)
    # the elements export computes x0 = floor(input_x0 * w / S), x1 = min(ceil(input_x1 * w / S), w)
    b = Box(3, 7, 101, 127)
    assert frame.box(b).as_tuple() == (
        int(np.floor(3 * 3.5)),
        int(np.floor(7 * 2.625)),
        min(int(np.ceil(101 * 3.5)), 448),
        min(int(np.ceil(127 * 2.625)), 336),
    )


def test_heatmap_upsampling_keeps_values_and_alignment():
    values = np.zeros((8, 8), np.float32)
    values[2, 5] = 1.0
    up = heatmap_to_image(values, 64, 64)
    assert up.shape == (64, 64) and up.dtype == np.float32
    assert 0.0 <= up.min() and up.max() <= 1.0
    ys, xs = np.unravel_index(np.argmax(up), up.shape)
    assert (ys // 8, xs // 8) == (2, 5)  # the peak stays in the same cell (pixel centres aligned)
    assert np.allclose(up.reshape(8, 8, 8, 8).mean(axis=(1, 3)).argmax(), 2 * 8 + 5)
    flat = np.full((16, 16), 0.3, np.float32)
    assert np.allclose(heatmap_to_image(flat, 40, 30), 0.3)
    with pytest.raises(ValueError, match="2-D"):
        heatmap_to_image(np.zeros((2, 2, 2)), 4, 4)


def test_masks_and_whole_objects_map_to_the_image():
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    big = mask_to_image(mask, 8, 8)
    assert big.sum() == 4 and big[2:4, 4:6].all()
    frame = ImageFrame.of(4, np.zeros((8, 8, 3), np.uint8))
    seg = frame.segment(Segment(mask=mask, box=Box(2, 1, 3, 2), area=1, quality=0.7))
    assert seg.box == Box(4, 2, 6, 4) and seg.area == 4 and seg.quality == 0.7
    el = Element(1, Box(1, 1, 3, 3), 0.9, 1.0, 0.8, 0.9, Box(2, 1, 3, 2), 1)
    mapped = frame.element(el)
    assert mapped.box == Box(2, 2, 6, 6) and mapped.segment_box == Box(4, 2, 6, 4)
    assert mapped.segment_area == 4 and mapped.score == el.score and mapped.rank == 1
    heat = frame.heatmap(Heatmap(values=np.eye(4, dtype=np.float32), method="gradcam", target="France"))
    assert heat.values.shape == (8, 8) and heat.method == "gradcam"


def test_explainer_gives_each_view_its_image_frame(explain_project_root):
    from geoquiz.data.dataset import load_items, load_locations
    from geoquiz.explain import Explainer
    from geoquiz.project import Project

    with Project.open(explain_project_root) as project:
        ex = Explainer(project, "single")
        item = load_items(project.db, "tiny")[0]
        (frame,) = ex.image_frames(item)
        assert (frame.size, frame.width, frame.height) == (64, 40, 40)  # 40 px images, 64 px model
        heat = ex.heatmaps(item, "gradcam")[0]
        full = frame.heatmap(heat)
        assert full.values.shape == (40, 40)
        for el in ex.elements(item, "gradcam", "default", ElementSettings(s_min=0.0, min_segment_area=4)):
            box = frame.element(el).box
            assert 0 <= box.x0 < box.x1 <= 40 and 0 <= box.y0 < box.y1 <= 40
        loc = load_locations(project.db, "tiny4")[0]
        assert len(Explainer(project, "medium").image_frames(loc)) == 4
