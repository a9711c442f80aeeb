"""Tag agreement (geoquiz.agreement.tags): the model's element tags (SAM3 names its elements) vs the
participants' and the planted cues' tags, per item and overall with a chance baseline, worked out by
hand on the seeded study."""

from __future__ import annotations

import dataclasses

import pytest
from fixtures.review_seed import FixedEvidence

from geoquiz import agreement as ar
from geoquiz.agreement import tags as tg
from geoquiz.boxes import Box
from geoquiz.study.review_data import ItemRef
from geoquiz.types import CueBox, Element

#: the tags the model's two elements carry on images 0..4 of the seeded study
ITEM_TAGS = {
    "img0": ("bollards", "signs"),
    "img1": ("signs", "signs"),
    "img2": ("road_markings", "bollards"),
    "img3": ("vegetation", "vegetation"),
    "img4": ("bollards", "signs"),
}


class NamedEvidence(FixedEvidence):
    """:class:`FixedEvidence` whose two elements are named, as SAM3's are."""

    def elements(self, item, method, segmenter, params=None):
        names = ITEM_TAGS.get(item.key, (None, None))
        return [
            dataclasses.replace(e, concept=f"a {t}" if t else None, tag=t, concept_score=0.8 if t else None)
            for e, t in zip(super().elements(item, method, segmenter, params), names * 4)
        ]


def _element(tag):
    box = Box(0, 0, 4, 4)
    return Element(1, box, 0.5, 0.5, 0.5, 0.5, box, 16, tag=tag, concept=tag and f"a {tag}")


def _cue(tag):
    return CueBox(Box(0, 0, 2, 2), tag)


def test_distributions_and_intersection():
    assert tg.distribution(["signs", "signs", "poles", None, "unknown"]) == {"signs": 2 / 3, "poles": 1 / 3}
    assert tg.distribution([None]) == {}
    assert tg.mean_distribution([{"signs": 1.0}, {"signs": 0.5, "poles": 0.5}, {}]) == {
        "signs": 0.75,
        "poles": 0.25,
    }
    assert tg.intersection({"signs": 0.5, "poles": 0.5}, {"signs": 1.0}) == 0.5
    assert tg.intersection({"signs": 1.0}, {"poles": 1.0}) == 0.0


def test_item_rows_need_named_elements_and_give_cis():
    assert tg.item_tag_rows([_element(None)], [[_cue("signs")]], []) == []
    rows = tg.item_tag_rows(
        [_element("signs"), _element("signs"), _element("poles"), _element(None)],
        [[_cue("signs")], [_cue("signs"), _cue("bollards")], []],
        [_cue("poles")],
        n_boot=200,
    )
    by = {(r["reference"], r["metric"], r["tag"]): r for r in rows}
    share = by[("", "model_tag_share", "signs")]
    assert (share["value"], share["n"]) == (pytest.approx(2 / 3), 3)
    assert share["ci_low"] < 2 / 3 < share["ci_high"]  # Wilson
    human = by[("human", "ref_tag_share", "signs")]
    assert (human["value"], human["n"]) == (pytest.approx(0.75), 2)  # two trials drew boxes
    assert by[("human", "ref_tag_share", "bollards")]["value"] == pytest.approx(0.25)
    agree = by[("human", "tag_agreement", "")]
    assert agree["value"] == pytest.approx(2 / 3)  # min(2/3, 3/4) + min(1/3, 0) + min(0, 1/4)
    assert agree["ci_low"] <= agree["value"] <= agree["ci_high"]
    assert by[("planted", "tag_agreement", "")]["value"] == pytest.approx(1 / 3)
    assert by[("planted", "tag_agreement", "")]["ci_low"] is None


def test_study_tag_agreement_per_item_and_overall(seeded):
    project, ids = seeded
    run = ar.compute_agreement(
        project,
        "m1",
        study="pilot",
        evidence=NamedEvidence(project.db),
        config=ar.AgreementConfig(n_boot=300),
    )
    img0 = {
        (r["reference"], r["metric"], r["tag"]): r
        for r in ar.load_agreement(project.db, run, ref=ItemRef("image", ids["images"][0]))
    }
    # img0: model {bollards .5, signs .5}; trials P1 [bollards], P2 [bollards, signs], P3 [architecture]
    assert img0[("", "model_tag_share", "bollards")]["value"] == pytest.approx(0.5)
    assert img0[("human", "ref_tag_share", "bollards")]["value"] == pytest.approx(0.5)
    assert img0[("human", "ref_tag_share", "signs")]["value"] == pytest.approx(1 / 6)
    assert img0[("human", "ref_tag_share", "architecture")]["value"] == pytest.approx(1 / 3)
    assert img0[("human", "tag_agreement", "")]["value"] == pytest.approx(2 / 3)
    assert img0[("planted", "tag_agreement", "")]["value"] == pytest.approx(1.0)
    # chance for img0: its human distribution against the model on img1..img4: 1/6, 1/2, 0, 2/3
    chance = img0[("human", "tag_agreement_chance", "")]
    assert (chance["value"], chance["n"]) == (pytest.approx(1 / 3), 4)
    overall = {
        (r["reference"], r["metric"], r["tag"]): r
        for r in ar.load_agreement(project.db, run, scope="overall")
    }
    # items with both: img0..img3 (img4's only trial timed out without boxes): 2/3, 1, 1/2, 1
    observed = overall[("human", "tag_agreement", "")]
    assert (observed["value"], observed["n"]) == (pytest.approx((2 / 3 + 1 + 0.5 + 1) / 4), 4)
    # chance: the 12 ordered pairs of different items sum to 1/6 + 1/2 + 1/2 = 7/6
    assert overall[("human", "tag_agreement_chance", "")]["value"] == pytest.approx(7 / 72)
    excess = overall[("human", "tag_agreement_excess", "")]
    assert excess["value"] == pytest.approx((2 / 3 + 1 + 0.5 + 1) / 4 - 7 / 72)
    assert excess["ci_low"] <= excess["value"] <= excess["ci_high"]
    # planted cues are the same on every image, so the model's tags beat chance by exactly nothing
    assert overall[("planted", "tag_agreement", "")]["value"] == pytest.approx(0.6)
    assert overall[("planted", "tag_agreement_excess", "")]["value"] == pytest.approx(0.0)
    # overall model shares: mean over the 5 named items
    assert overall[("", "model_tag_share", "signs")]["value"] == pytest.approx((0.5 + 1 + 0 + 0 + 0.5) / 5)
    summary = ar.list_runs(project.db)[0]["summary"]
    assert summary["tag_agreement[human]"] == pytest.approx(observed["value"])


def test_unnamed_elements_give_no_tag_rows(seeded):
    project, _ = seeded
    run = ar.compute_agreement(
        project, "m1", study="pilot", evidence=FixedEvidence(project.db), config=ar.AgreementConfig(n_boot=50)
    )
    metrics = {r["metric"] for r in ar.load_agreement(project.db, run)}
    assert not metrics & set(tg.OVERALL_METRICS)
