"""GeoScenes at the level of cue objects: removing one instance (or one tag group) changes pixels only
inside its own boxes, and the ``single`` cue mode plants exactly one diagnostic cue object."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.data.geoscenes.dataset import generate_geoscenes, scene_spec
from geoquiz.data.geoscenes.scene import render_instances, render_scene
from geoquiz.data.geoscenes.select import NOT_DIAGNOSTIC
from geoquiz.data.geoscenes.styles import CUE_KEYS
from geoquiz.data.imageio import read_image


def _inside(boxes, shape) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for b in boxes:
        mask[b.y0 : b.y1, b.x0 : b.x1] = True
    return mask


def _owned(cues, removed: set[int]) -> list:
    """Boxes of the removed instances and of the instances drawn on them (a sign's script)."""
    return [c.box for i, _, c in cues if i in removed]


@pytest.mark.parametrize(("country", "seed", "k"), [("France", 1, None), ("Japan", 2, None), ("India", 3, 1)])
def test_removing_one_cue_object_changes_only_its_pixels(country, seed, k):
    full, cues = render_instances(country, seed, 160, diagnostic_cues=k)
    assert cues
    for index, key, cue in cues:
        without, rest = render_instances(country, seed, 160, omit_instances={index}, diagnostic_cues=k)
        # the indices name the same objects whatever is omitted (an object it hid may show up)
        assert index not in {i for i, _, _ in rest}
        assert all(k2 == key2 for i, k2, _ in rest for j, key2, _ in cues if i == j)
        changed = np.any(full != without, axis=2)
        assert changed[cue.box.y0 : cue.box.y1, cue.box.x0 : cue.box.x1].any(), (
            f"{key} #{index}: nothing removed"
        )
        # a removed sign takes its script along: every object missing afterwards may change
        gone = {i for i, _, _ in cues} - {i for i, _, _ in rest}
        outside = changed & ~_inside(_owned(cues, gone), changed.shape)
        assert not outside.any(), (
            f"{country} {seed}: removing {key} #{index} changed {int(outside.sum())} px outside it"
        )


def test_removing_a_tag_group_changes_only_its_pixels():
    full, cues = render_instances("Japan", 5, 160)
    tags = {c.tag for _, _, c in cues}
    assert len(tags) >= 3
    for tag in sorted(tags):
        group = {i for i, _, c in cues if c.tag == tag}
        without, rest = render_instances("Japan", 5, 160, omit_instances=group)
        assert not any(c.tag == tag for _, _, c in rest)
        changed = np.any(full != without, axis=2)
        gone = {i for i, _, _ in cues} - {i for i, _, _ in rest}
        assert changed.any()
        assert not (changed & ~_inside(_owned(cues, gone), changed.shape)).any(), tag


def test_single_mode_keeps_one_diagnostic_object_and_marks_distractors():
    n_distractors, n_one = 0, 0
    for country in ("France", "India", "Japan"):
        for seed in range(6):
            _, cues = render_instances(country, seed, 96, diagnostic_cues=1)
            diagnostic = [(i, k) for i, k, _ in cues if k not in NOT_DIAGNOSTIC]
            assert len(diagnostic) <= 1, (country, seed, diagnostic)
            if diagnostic:
                n_one += 1
                box = next(c.box for i, _, c in cues if i == diagnostic[0][0])
                assert box.area >= (96 // 16) ** 2  # visible, not a remnant
            n_distractors += sum(1 for _, k, c in cues if k == "distractor" and c.tag == "other")
            # the realistic scene of that seed is another picture with more cues
            _, realistic = render_scene(country, seed, 96)
            assert not any(c.tag == "other" for c in realistic)
    assert n_distractors > 0
    assert n_one >= 16  # nearly every scene keeps one visible diagnostic object
    assert CUE_KEYS["distractor"] == "other"


def test_single_dataset_records_its_mode_and_re_renders(tmp_path):
    items = generate_geoscenes(tmp_path, n_per_class=2, size=64, countries=("France", "India"), cues="single")
    params = {"generator": "geoscenes", "seed": 0, "size": 64, "four_view": False, "cues": "single"}
    for it in items:
        spec = scene_spec(params, it.key, it.label)
        assert spec.diagnostic_cues == 1
        img, _ = render_instances(
            spec.country, spec.seed, spec.size, spec.view, diagnostic_cues=spec.diagnostic_cues
        )
        assert np.array_equal(img, read_image(it.path))
    with pytest.raises(ValueError, match="unknown GeoScenes cue mode 'few'"):
        generate_geoscenes(tmp_path / "x", n_per_class=1, size=64, cues="few")
    with pytest.raises(ValueError, match="not a GeoScenes dataset"):
        scene_spec({}, "france_0000", "France")
    with pytest.raises(ValueError, match="not named like"):
        scene_spec(params, "paris_7", "France")
    with pytest.raises(ValueError, match="diagnostic_cues must be"):
        render_scene("France", 0, diagnostic_cues=0)
