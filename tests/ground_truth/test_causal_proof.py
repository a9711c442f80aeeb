"""PROOF of the causal benchmark on a scene whose only diagnostic cue is known.

Japan, seed 0, ``diagnostic_cues=1`` at 96 px: the one diagnostic object is a yellow solid centre line;
four shared distractors (shrubs, trees, lamps) stand around it. The model is built here, small and
deterministic: it answers "Japan" when the image shows enough yellow paint (green minus blue above
0.5, averaged over the image) and "France" otherwise, so the yellow line is, by construction, the
only cue it uses. The counterfactual pipeline must find that out, and the causal measures must tell
an explanation placed on the line from a random box of its size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from geoquiz.boxes import Box
from geoquiz.data.geoscenes.dataset import SceneSpec
from geoquiz.data.geoscenes.scene import render_instances
from geoquiz.ground_truth.causal import counterfactuals
from geoquiz.ground_truth.versus import VersusSettings, score_unit
from geoquiz.models.network import GeoNetwork
from geoquiz.models.predictor import LoadedModel
from geoquiz.models.spec import ModelSpec
from geoquiz.types import Element

CLASSES = ("France", "India", "Japan")
SIZE = 96
SPEC = SceneSpec("Japan", 0, SIZE, None, 1)


class YellowPaint(nn.Module):
    """``(B, 3, S, S)`` normalised input -> ``(B, 1)``: mean of relu(G - B - 0.5) in [0, 1] units."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x * self.std + self.mean
        return torch.relu(v[:, 1] - v[:, 2] - 0.5).mean(dim=(1, 2)).unsqueeze(1)


@pytest.fixture(scope="module")
def yellow_model() -> LoadedModel:
    spec = ModelSpec("resnet10", "single", CLASSES, input_size=SIZE)
    head = nn.Linear(1, 3)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[0.0], [0.0], [10000.0]]))
        head.bias.copy_(torch.tensor([0.0, -1.0, -2.0]))
    return LoadedModel(GeoNetwork(spec, YellowPaint(spec.mean, spec.std), 1, head=head), spec, "cpu")


def _element(box: Box) -> Element:
    return Element(1, box, 1.0, 1.0, 1.0, 1.0, box, box.area)


def test_the_only_diagnostic_cue_is_found_and_an_oracle_explanation_hits_it(yellow_model):
    image, cues = render_instances(SPEC.country, SPEC.seed, SIZE, diagnostic_cues=1)
    keys = [k for _, k, _ in cues]
    assert keys.count("centre_line") == 1 and set(keys) == {"centre_line", "distractor"}
    assert keys.count("distractor") >= 2

    unit = counterfactuals(yellow_model, [SPEC], "Japan", key="japan_0000", stored=[image])
    assert unit.pred_label == "Japan" and unit.true_prob > 0.9
    line = next(e for e in unit.objects if e.cue_key == "centre_line")
    distractors = [e for e in unit.objects if e.cue_key == "distractor"]
    # removing the diagnostic cue changes the prediction ...
    assert line.flipped and line.pred_label == "France" and line.drop > 0.5
    # ... removing a non-diagnostic one does not
    for e in distractors:
        assert not e.flipped and e.pred_label == "Japan" and abs(e.drop) < 1e-6
    by_tag = {e.tag: e for e in unit.tags}
    assert by_tag["road_markings"].flipped and not by_tag["other"].flipped

    frames = {None: (SIZE, SIZE)}
    settings = VersusSettings(top_k=1, repeats=200, seed=0)
    oracle = score_unit(unit, [_element(line.box)], None, frames, settings, model_size=SIZE)
    assert oracle.values["causal_hit"] == 1.0 and oracle.values["topk_share"] == 1.0
    assert oracle.random["causal_hit"] < 0.5 and oracle.random["topk_share"] < 0.5
    # an explanation on a distractor points at a cue (the old game counts it) but not the causal one
    wrong = score_unit(unit, [_element(distractors[0].box)], None, frames, settings, model_size=SIZE)
    assert wrong.values["causal_hit"] == 0.0 and wrong.values["any_cue"] == 1.0
    # a map whose mass lies on the line ranks the cues as the interventions do
    heat = np.zeros((SIZE, SIZE), np.float32)
    b = line.box
    heat[b.y0 : b.y1, b.x0 : b.x1] = 1.0
    mass = score_unit(unit, [_element(line.box)], {None: heat}, frames, settings, model_size=SIZE)
    assert mass.values["spearman_mass"] > 0.5


def test_sign_flip_test_of_paired_differences():
    from geoquiz.ground_truth.versus import sign_flip_p

    assert sign_flip_p([0.5] * 10) == pytest.approx(2 / 2**10)  # exact: only all-plus or all-minus
    assert sign_flip_p([0.0, 0.0]) == 1.0 and np.isnan(sign_flip_p([]))
    assert sign_flip_p([1.0, -1.0] * 10) > 0.9
    # hits (0/1) against a random rate of 0.12: a mean difference Wilcoxon misses is found
    diffs = [0.88] * 30 + [-0.12] * 96
    assert sign_flip_p(diffs, n_perm=2000) < 0.01
