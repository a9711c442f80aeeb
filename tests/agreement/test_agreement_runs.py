"""compute_agreement on the seeded study: per-item values worked out by hand, overall values, storage."""

import json

import pytest
from fixtures.review_seed import FixedEvidence

from geoquiz import agreement as ar
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Cancelled, Reporter
from geoquiz.study.review_data import ItemRef, guess_distribution, load_answers, reviewable_items


def _values(rows, **match):
    out = {}
    for r in rows:
        if all(r[k] == v for k, v in match.items()):
            out[(r["reference"], r["metric"], r["tag"])] = r["value"]
    return out


def test_review_data_reads_answers_back(seeded):
    project, ids = seeded
    items = reviewable_items(project.db, study="pilot")
    assert [s.key for s in items] == ["img0", "img1", "img2", "img3", "img4"]
    assert items[0].n_trials == 3 and items[0].n_participants == 3
    answers = load_answers(project.db, ItemRef("image", ids["images"][0]))
    (ref, ans), *_ = answers.items()
    assert [a.participant for a in ans] == ["P1-AAAA", "P2-BBBB", "P3-CCCC"]
    assert ans[1].guesses == ("France",) and len(ans[1].cues) == 2
    assert ans[0].cues[0].detail.startswith("=cmd")
    assert guess_distribution(ans) == pytest.approx({"France": 2 / 3, "India": 1 / 3})
    assert guess_distribution(ans, rank=None) == pytest.approx({"France": 1.0, "India": 2 / 3})
    four = reviewable_items(project.db, study="pilot4")
    assert [(s.ref.kind, s.n_trials, len(s.views)) for s in four] == [("location", 2, 4)]
    with pytest.raises(GeoQuizError, match="no study 'nope'.*pilot, pilot4"):
        reviewable_items(project.db, study="nope")


def test_item_measures_match_hand_computation(seeded):
    project, ids = seeded
    run = ar.compute_agreement(
        project,
        "m1",
        study="pilot",
        evidence=FixedEvidence(project.db),
        config=ar.AgreementConfig(n_boot=200),
    )
    rows = ar.load_agreement(project.db, run, ref=ItemRef("image", ids["images"][0]))
    v = _values(rows)
    # three participants: P1 box == element 1; P2 boxes cover both elements; P3 misses both
    p1, p2, p3 = 384 / 672, 672 / 1056, 0.0
    assert v[("human", "mask_iou", "")] == pytest.approx((p1 + p2 + p3) / 3)
    assert v[("human", "ref_coverage", "")] == pytest.approx((1.0 + 672 / 1056 + 0) / 3)
    assert v[("human", "model_precision", "")] == pytest.approx((384 / 672 + 1.0 + 0) / 3)
    assert v[("human", "ref_best_iou", "")] == pytest.approx((1.0 + 0.75 + 0) / 3)
    assert v[("human", "model_best_iou", "")] == pytest.approx((0.5 + 0.75 + 0) / 3)
    assert v[("human", "pointing_hit", "")] == 1.0
    assert v[("human", "pointing_share", "")] == pytest.approx(2 / 3)
    assert v[("human", "heatmap_pointing_hit", "")] == 1.0
    assert v[("human", "tag_overlap", "bollards")] == pytest.approx(384 / 672)
    assert v[("human", "tag_overlap", "signs")] == pytest.approx(288 / 672)
    assert v[("human", "tag_overlap", "architecture")] == 0.0
    assert v[("human", "top_tag", "bollards")] == pytest.approx(384 / 672)
    # the map (rescaled bilinearly from 32x32) puts ~384 of ~576 units of mass in P1's box
    assert v[("human", "attribution_mass", "")] == pytest.approx((384 / 576 + 384 / 576 + 0) / 3, abs=0.03)
    # planted cues are exactly the two rescaled elements
    for metric in ("mask_iou", "ref_coverage", "model_precision", "ref_best_iou", "model_best_iou"):
        assert v[("planted", metric, "")] == pytest.approx(1.0), metric
    assert v[("planted", "pointing_hit", "")] == 1.0
    assert v[("planted", "human_ref_coverage", "")] == pytest.approx((384 / 672 + 1.0 + 0) / 3)
    # answers: P1, P2 right at top-1, P3 right at rank 2; the model is right
    assert v[("", "human_top1", "")] == pytest.approx(2 / 3)
    assert v[("", "human_top5", "")] == 1.0
    assert v[("", "model_top1", "")] == 1.0
    assert v[("", "model_confidence", "")] == pytest.approx(0.7)
    assert v[("", "human_agreement", "")] == pytest.approx(1 / 3)
    assert v[("", "n_trials", "")] == 3


def test_overall_measures_and_storage(seeded):
    project, ids = seeded
    reporter_calls = []
    run = ar.compute_agreement(
        project,
        "m1",
        study="pilot",
        evidence=FixedEvidence(project.db),
        config=ar.AgreementConfig(n_boot=200),
        reporter=Reporter(lambda d, t, m: reporter_calls.append((d, t))),
    )
    assert reporter_calls[-1][0] == reporter_calls[-1][1]
    overall = ar.load_agreement(project.db, run, scope="overall")
    v = _values(overall)
    by = {(r["reference"], r["metric"], r["tag"]): r for r in overall}
    # Fleiss' kappa on top-1: img0 F,F,I; img1 J,I,I; img2 J,I; img3 F,I (img4 timed out, no guess)
    assert v[("", "fleiss_kappa", "")] == pytest.approx((1 / 6 - 0.38) / 0.62)
    assert by[("", "fleiss_kappa", "")]["n"] == 4
    # human top-1 on the 5 shared items: 6 right out of 11 trials (the timed-out trial counts as wrong)
    assert v[("", "human_top1", "")] == pytest.approx(6 / 11)
    assert by[("", "human_top1", "")]["n"] == 11
    assert by[("", "human_top1", "")]["ci_low"] < 6 / 11 < by[("", "human_top1", "")]["ci_high"]
    # the model: images 0,1,3,4 right, image 2 (Japan) wrong
    assert v[("", "model_top1", "")] == pytest.approx(4 / 5)
    per_item_human = [2 / 3, 2 / 3, 1 / 2, 1 / 2, 0.0]
    assert v[("", "model_minus_human_top1", "")] == pytest.approx(4 / 5 - sum(per_item_human) / 5)
    # pointing game: the top element's centre (8, 12) is in a box on image 0 only (images 1-3 have
    # boxes elsewhere, image 4 none) -> 1 of 4
    assert v[("human", "pointing_hit", "")] == 0.25 and by[("human", "pointing_hit", "")]["n"] == 4
    classes = ar.load_agreement(project.db, run, scope="class")
    cv = {(r["metric"], r["label"]): r["value"] for r in classes}
    assert cv[("model_top1", "Japan")] == 0.0 and cv[("human_top1", "France")] == pytest.approx(3 / 5)
    runs = ar.list_runs(project.db)
    assert runs[0]["model"] == "m1" and runs[0]["study"] == "pilot"
    assert runs[0]["summary"]["fleiss_kappa"] == pytest.approx((1 / 6 - 0.38) / 0.62)
    # a second run with the same settings replaces the first
    run2 = ar.compute_agreement(
        project, "m1", study="pilot", evidence=FixedEvidence(project.db), config=ar.AgreementConfig(n_boot=50)
    )
    assert [r["id"] for r in ar.list_runs(project.db)] == [run2]
    assert ar.latest_run(project.db, "m1", method="gradcam") == run2
    assert ar.latest_run(project.db, "m1", method="ig") is None
    assert project.db.execute("SELECT count(*) FROM agreement WHERE run_id = ?", [run]).fetchone()[0] == 0
    json.loads(project.db.execute("SELECT config_json FROM agreement_runs").fetchone()[0])


def test_four_view_locations_pool_their_views(seeded):
    project, ids = seeded
    run = ar.compute_agreement(
        project,
        "m4",
        study="pilot4",
        evidence=FixedEvidence(project.db),
        config=ar.AgreementConfig(n_boot=50),
    )
    v = _values(ar.load_agreement(project.db, run, ref=ItemRef("location", ids["locations"][0])))
    # areas pool over the four views shown; every view has elements (0,0,8,16) + (20,0,32,8) = 224 px
    # Q1: east (0,0,16,16) overlaps east's first element by 128: IoU 128 / (256 + 4 * 224 - 128)
    q1 = 128 / (256 + 4 * 224 - 128)
    # Q2: east (8,8,24,24) touches no element (edges only); south (0,0,8,8) lies in south's first
    #     element: IoU 64 / (256 + 64 + 4 * 224 - 64)
    q2 = 64 / (256 + 64 + 4 * 224 - 64)
    assert v[("human", "mask_iou", "")] == pytest.approx((q1 + q2) / 2)
    # the top element is north's rank 1; nobody drew on north
    assert v[("human", "pointing_hit", "")] == 0.0
    assert v[("", "model_top1", "")] == 1.0 and v[("", "human_top1", "")] == 1.0
    # a single-view model cannot see locations: human measures only
    run = ar.compute_agreement(
        project, "m1", evidence=FixedEvidence(project.db), config=ar.AgreementConfig(n_boot=20)
    )
    loc_rows = ar.load_agreement(project.db, run, ref=ItemRef("location", ids["locations"][0]))
    assert {r["metric"] for r in loc_rows} == {
        "n_trials",
        "n_participants",
        "human_top1",
        "human_top5",
        "human_agreement",
    }


def test_cancelled_run_writes_nothing(seeded):
    project, _ = seeded
    reporter = Reporter()
    reporter.token.cancel()
    with pytest.raises(Cancelled):
        ar.compute_agreement(
            project, "m1", study="pilot", evidence=FixedEvidence(project.db), reporter=reporter
        )
    assert project.db.execute("SELECT count(*) FROM agreement_runs").fetchone()[0] == 0
    with pytest.raises(GeoQuizError, match="no model named 'zz'"):
        ar.compute_agreement(project, "zz", evidence=FixedEvidence(project.db))
