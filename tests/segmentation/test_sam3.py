"""SAM3 through Transformers with a tiny random-weight model built from the real classes, saved and
reloaded through GeoQuiz's checkpoint code, prompted with text end to end. Random weights give
meaningless scores, so the concept/tag plumbing is checked with an injected scorer whose scores are
known (:class:`PlantedScorer`, a component of the segmenter, not a mock of the library)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from fixtures.sam3 import PLANTED, VOCAB_TOML, PlantedScorer

pytest.importorskip("transformers")
import torch

from geoquiz.config import SegmenterSettings
from geoquiz.errors import CheckpointError, GeoQuizError
from geoquiz.segmentation import (
    SEGMENTERS,
    checkpoint_id,
    get_segmenter,
    parse_segmenter,
    require_ready,
    segmenter_status,
)
from geoquiz.segmentation.base import pack_masks, unpack_masks
from geoquiz.segmentation.concepts import parse_vocabulary
from geoquiz.segmentation.sam3 import TINY_SAM3, Sam3Segmenter, build_tiny_sam3, merge_masks
from geoquiz.segmentation.sam3_checkpoint import (
    check_checkpoint_dir,
    save_checkpoint_dir,
)

VOCAB = parse_vocabulary(VOCAB_TOML, "test-vocabulary.toml")


@pytest.fixture
def tiny(tiny_sam3):
    return tiny_sam3


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(5)
    img = np.full((60, 84, 3), 100, dtype=np.uint8)
    img[10:40, 20:60] = (230, 200, 30)
    return np.clip(img + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)


def test_tiny_sam3_reloads_from_geoquiz_folder_and_segments_with_text_prompts(tiny, image):
    model, _, folder = tiny
    assert sorted(p.name for p in folder.iterdir()) >= ["config.json", "model.safetensors"]
    assert segmenter_status(SegmenterSettings(sam3=str(folder)))["sam3"] == "ready"
    seg = Sam3Segmenter(TINY_SAM3, str(folder), "cpu", concepts=VOCAB, score_threshold=0.0, prompt_batch=3)
    assert not seg.loaded
    segments = seg.segment(image)
    assert seg.loaded
    reloaded = seg._model.state_dict()
    assert all(torch.equal(v, reloaded[k]) for k, v in model.state_dict().items())  # the folder's weights
    assert segments, "score_threshold 0 keeps every non-empty detection"
    tags = dict(zip(VOCAB.texts, VOCAB.tags))
    for s in segments:
        assert s.mask.shape == image.shape[:2] and s.mask.dtype == bool and s.area == int(s.mask.sum()) > 0
        assert s.concept in tags and s.tag == tags[s.concept]
        assert 0.0 <= s.quality <= 1.0
    assert [s.quality for s in segments] == sorted((s.quality for s in segments), reverse=True)
    # one image encoding for all 8 concepts (3 prompt batches), reused by a second call
    assert (seg.encoder_runs, seg.prompt_batches) == (1, 3)
    again = seg.segment(image)
    assert seg.encoder_runs == 1 and seg.embedding_cache.hits == 1
    assert [(s.concept, s.area) for s in again] == [(s.concept, s.area) for s in segments]
    seg.segment(image[:, ::-1].copy())
    assert seg.encoder_runs == 2


def test_batched_prompts_match_the_library_called_one_concept_at_a_time(tiny, image):
    """Every mask and score equals Sam3Processor + Sam3Model run on (image, one concept) the
    plain way, so the cached embedding and the batching change nothing."""
    model, processor, folder = tiny
    seg = Sam3Segmenter(
        TINY_SAM3, str(folder), "cpu", concepts=VOCAB, score_threshold=0.0, merge_iou=1.01, prompt_batch=5
    )
    ours = seg.segment(image)
    for concept in VOCAB.texts[:3]:
        with torch.inference_mode():
            inputs = processor(images=image, text=concept, return_tensors="pt")
            out = model(**inputs)
        ref = processor.post_process_instance_segmentation(
            out, threshold=0.0, mask_threshold=0.5, target_sizes=[image.shape[:2]]
        )[0]
        expected = sorted(
            (round(float(s), 5), m.numpy().astype(bool).tobytes())
            for s, m in zip(ref["scores"], ref["masks"])
            if m.any()
        )
        got = sorted((round(s.quality, 5), s.mask.tobytes()) for s in ours if s.concept == concept)
        assert got == expected


def test_planted_scores_name_the_segments_and_the_best_concept_wins(tiny, image):
    _, _, folder = tiny
    table = PLANTED
    seg = Sam3Segmenter(
        TINY_SAM3, str(folder), "cpu", concepts=VOCAB, scorer=PlantedScorer(table), merge_iou=1.01
    )
    segments = seg.segment(image)
    named = {(s.concept, s.tag, round(s.quality, 6)) for s in segments}
    assert named <= {
        ("yellow centre line", "road_markings", 0.9),
        ("utility pole", "poles", 0.7),
        ("palm tree", "vegetation", 0.6),
    }
    assert ("yellow centre line", "road_markings", 0.9) in named
    assert seg.params["scorer"].startswith("planted:") and seg.params["n_concepts"] == len(VOCAB)
    # with merging, kept masks overlap less than merge_iou and each keeps the higher score
    merged = Sam3Segmenter(TINY_SAM3, str(folder), "cpu", concepts=VOCAB, scorer=PlantedScorer(table))
    kept = merged.segment(image)
    assert kept[0].concept == "yellow centre line"
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            assert (a.mask & b.mask).sum() / (a.mask | b.mask).sum() < 0.8
    # the names survive the segmentation cache file
    restored = unpack_masks(pack_masks(kept, image.shape[:2]))
    assert [(s.concept, s.tag, s.area) for s in restored] == [(s.concept, s.tag, s.area) for s in kept]


def test_merge_masks_keeps_the_highest_scoring_of_a_duplicate():
    masks = torch.zeros((4, 10, 10), dtype=torch.bool)
    masks[0, 0:5, 0:5] = True  # score 0.6
    masks[1, 0:5, 0:5] = True  # the same mask, score 0.9: wins
    masks[1, 5, 0] = True
    masks[2, 6:10, 6:10] = True  # elsewhere: kept
    scores = torch.tensor([0.6, 0.9, 0.5, 0.95])  # mask 3 is empty: dropped
    assert merge_masks(masks, scores, 0.8) == [1, 2]
    assert merge_masks(masks, scores, 1.01) == [1, 0, 2]


def test_missing_or_wrong_checkpoints_are_named_before_any_work(tiny, tmp_path):
    _, _, folder = tiny
    info = SEGMENTERS["sam3"]
    assert "not found" in check_checkpoint_dir(info, tmp_path / "nope")
    meta = tmp_path / "sam3.pt"
    meta.write_bytes(b"PK\x03\x04 not really")
    assert "Meta's sam3.pt" in check_checkpoint_dir(info, meta)
    other = tmp_path / "sam2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "sam2"}))
    assert "holds a sam2 model, not SAM3" in check_checkpoint_dir(info, other)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((folder / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x00" * 16)
    assert "not a readable safetensors file" in check_checkpoint_dir(info, broken)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((folder / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x02")
    assert "pickled .bin weights only" in check_checkpoint_dir(info, pickled)
    settings = SegmenterSettings(sam3=str(other))
    with pytest.raises(GeoQuizError, match="segmenter sam3 is not ready: .*not SAM3.*File > Settings"):
        require_ready(["default", "sam3"], settings)
    with pytest.raises(GeoQuizError, match="no guided mode"):
        parse_segmenter("sam3:guided")
    # a folder of another SAM3 size: config and weights disagree -> refused on load, not silently random
    big_model, big_proc = build_tiny_sam3(seed=2, queries=12)
    mixed = save_checkpoint_dir(big_model, big_proc, tmp_path / "mixed")
    (mixed / "config.json").write_text((folder / "config.json").read_text())
    assert check_checkpoint_dir(info, mixed) is None  # looks right without torch ...
    with pytest.raises(CheckpointError, match="does not fit the SAM3 architecture"):
        Sam3Segmenter(TINY_SAM3, str(mixed), "cpu", concepts=VOCAB).load()  # ... but not when loaded


def test_registry_builds_sam3_with_the_checkpoint_from_settings(tiny, image):
    _, _, folder = tiny
    seg = get_segmenter("sam3", SegmenterSettings(sam3=str(folder)), "cpu", concepts="", score_threshold=0.9)
    assert isinstance(seg, Sam3Segmenter) and len(seg.vocabulary) > 150  # assets/concepts.toml
    assert seg is get_segmenter(
        "sam3", SegmenterSettings(sam3=str(folder)), "cpu", concepts="", score_threshold=0.9
    )
    assert checkpoint_id(str(folder))[0] == "tiny_sam3" and checkpoint_id(str(folder))[1] > 0
    assert pickle.loads(pickle.dumps(PlantedScorer({"a": {0: 1.0}}))).name.startswith("planted:")
