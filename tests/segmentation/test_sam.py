"""SAM-family sessions with tiny random-weight models built from the real packages' modules, saved
and loaded through GeoQuiz's checkpoint code and run through the real automatic mask generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoquiz.boxes import Box
from geoquiz.config import SegmenterSettings
from geoquiz.errors import CheckpointError
from geoquiz.segmentation import get_segmenter, segmenter_status
from geoquiz.segmentation.sam import (
    TINY_MOBILESAM,
    TINY_SAM,
    SamSegmenter,
    build_tiny_mobilesam,
    build_tiny_sam,
)

FAST = {
    "points_per_side": 4,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "min_mask_region_area": 0,
}


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    img = np.full((96, 128, 3), 90, dtype=np.uint8)
    img[20:60, 30:80] = (220, 40, 40)
    return np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(build_tiny_sam(seed=1).state_dict(), path)
    return path


class NotATensor:
    """An arbitrary pickled object: torch.load(weights_only=True) must refuse it."""


def check_segments(segments, shape):
    for s in segments:
        assert s.mask.dtype == bool and s.mask.shape == shape
        assert s.area == int(s.mask.sum()) > 0
        assert s.box == Box.from_mask(s.mask)
        assert isinstance(s.quality, float)


def test_tiny_sam_loads_through_checkpoint_code_and_segments(image, tiny_ckpt):
    seg = SamSegmenter(TINY_SAM, str(tiny_ckpt), "cpu", build=lambda: build_tiny_sam(seed=0), **FAST)
    assert not seg.loaded
    segments = seg.segment(image)
    assert seg.loaded
    saved = torch.load(tiny_ckpt, weights_only=True)
    loaded = seg._model.state_dict()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)  # the file's weights, not the build's
    assert len(segments) >= 1
    check_segments(segments, image.shape[:2])
    # embedding cache: the encoder ran once; a second full run and a guided run reuse it
    assert seg.encoder_runs == 1
    again = seg.segment(image)
    assert [s.area for s in again] == [s.area for s in segments]
    heat = np.zeros(image.shape[:2], dtype=np.float32)
    heat[20:60, 30:80] = 1.0
    guided = seg.segment_guided(image, heat, top_p=20.0)
    check_segments(guided, image.shape[:2])
    assert seg.encoder_runs == 1 and seg.embedding_cache.hits >= 2
    seg.segment(image[::-1].copy())
    assert seg.encoder_runs == 2


def test_tiny_mobilesam_through_the_mobile_sam_package(image, tmp_path):
    path = tmp_path / "mobile_sam_tiny.pt"
    torch.save(build_tiny_mobilesam(seed=2).state_dict(), path)
    seg = SamSegmenter(
        TINY_MOBILESAM, str(path), "cpu", build=build_tiny_mobilesam, **{**FAST, "points_per_side": 2}
    )
    segments = seg.segment(image)
    check_segments(segments, image.shape[:2])
    assert type(seg._model).__module__.startswith("mobile_sam")


def test_wrong_checkpoints_name_the_official_file(tmp_path, tiny_ckpt):
    other = tmp_path / "other.pth"
    torch.save(build_tiny_sam(seed=0, embed_dim=48).state_dict(), other)
    seg = SamSegmenter(TINY_SAM, str(other), "cpu", build=build_tiny_sam, **FAST)
    with pytest.raises(CheckpointError, match="does not fit the tiny_random_sam architecture"):
        seg.load()
    assert not seg.loaded  # never a silent fallback to random weights
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        SamSegmenter(TINY_SAM, str(garbage), "cpu", build=build_tiny_sam).load()
    nothing = tmp_path / "nothing.pth"
    torch.save({"note": "no tensors here"}, nothing)
    with pytest.raises(CheckpointError, match="holds no model weights"):
        SamSegmenter(TINY_SAM, str(nothing), "cpu", build=build_tiny_sam).load()
    pickled = tmp_path / "pickled.pth"
    torch.save({"w": torch.zeros(1), "obj": NotATensor()}, pickled)  # weights_only refuses arbitrary objects
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        SamSegmenter(TINY_SAM, str(pickled), "cpu", build=build_tiny_sam).load()


def test_registry_errors_name_the_official_files(tmp_path, tiny_ckpt):
    with pytest.raises(CheckpointError, match=r"sam_vit_b: no checkpoint configured.*sam_vit_b_01ec64\.pth"):
        get_segmenter("sam_vit_b", SegmenterSettings()).load()
    missing = SegmenterSettings(mobilesam_vit_t=str(tmp_path / "nope.pt"))
    with pytest.raises(
        CheckpointError, match=r"does not exist \(expected the official file mobile_sam\.pt\)"
    ):
        get_segmenter("mobilesam_vit_t", missing).load()
    # the tiny model's file given for the real ViT-B architecture: a clear mismatch, not a crash
    with pytest.raises(
        CheckpointError, match=r"does not fit the sam_vit_b architecture.*sam_vit_b_01ec64\.pth"
    ):
        get_segmenter("sam_vit_b", SegmenterSettings(sam_vit_b=str(tiny_ckpt)), device="cpu").load()


def test_segmenter_status(tmp_path, tiny_ckpt):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    status = segmenter_status(
        SegmenterSettings(
            sam_vit_b=str(tiny_ckpt), sam_vit_l=str(tmp_path / "missing.pth"), sam_vit_h=str(text)
        )
    )
    assert status["default"] == "ready"
    assert status["sam_vit_b"] == "ready"
    assert status["sam_vit_l"].startswith("checkpoint not found")
    assert status["sam_vit_h"].startswith("not a PyTorch checkpoint")
    assert "mobile_sam.pt" in status["mobilesam_vit_t"]
    assert set(status) >= {"sam2_hiera_t", "sam2_hiera_l"}


def test_sam2_without_the_package_says_what_to_install(tmp_path):
    import importlib.util

    from geoquiz.segmentation import SegmenterUnavailable

    if importlib.util.find_spec("sam2") is not None:
        pytest.skip("sam2 is installed here")
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(SegmenterUnavailable, match=r"pip install geoquiz\[sam2\]"):
        get_segmenter("sam2_hiera_t", SegmenterSettings(sam2_hiera_t=str(path))).load()
    assert "pip install geoquiz[sam2]" in segmenter_status(SegmenterSettings())["sam2_hiera_t"]
