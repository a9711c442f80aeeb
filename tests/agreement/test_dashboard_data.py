"""The dashboards' SQL aggregates equal the same measures computed trial by trial (the way
load_dashboard worked before it read only aggregates): on the seeded study and on the bench's study
(bench._study_data, small), for every model / study choice."""

from __future__ import annotations

import numpy as np
import pytest

from bench._study_data import build
from geoquiz import agreement as ag
from geoquiz.project import Project
from geoquiz.study.dashboard_data import CONFIDENCE_EDGES, load_dashboard
from geoquiz.study.review_data import load_answers, load_predictions


def _reference(db, model, study, n_boot, ks=(1, 5)):
    """The measures from every answer object, with geoquiz.agreement (the former implementation)."""
    answers = load_answers(db, study=study)
    trials = [a for ans in answers.values() for a in ans]
    truths = {ref: ans[0].true_label for ref, ans in answers.items() if ans}
    ratings = {ref: [a.top1 for a in ans if a.top1] for ref, ans in answers.items()}
    out = {"kappa": ag.fleiss_kappa(ag.rating_table(ratings)).kappa if ratings else None}
    ranked = {}
    if model is not None:
        ranked = {
            ref: [c for c, _ in p.topk(len(p.classes))] for ref, p in load_predictions(db, model).items()
        }
    human = {ref: [a.guesses for a in ans] for ref, ans in answers.items()}
    accuracy, difference = [], {}
    for k in ks:
        if ranked:
            c = ag.compare_accuracy(human, ranked, truths, k, n_boot=n_boot)
            accuracy += [(f"top-{k}", "people", c.human), (f"top-{k}", "model", c.model)]
            difference[k] = (c.difference, c.difference_ci)
        else:
            p = ag.proportion(ag.topk_correct(g, truths[r], k) for r, gs in human.items() for g in gs)
            accuracy.append((f"top-{k}", "people", p))
    out.update(accuracy=accuracy, difference=difference)
    shared = [r for r in human if human[r] and (r in ranked or not ranked)]
    out["people_per_class"] = ag.per_class_accuracy(
        [g for r in shared for g in human[r]], [truths[r] for r in shared for _ in human[r]]
    )
    out["model_per_class"] = ag.per_class_accuracy(
        [ranked[r] for r in shared if r in ranked], [truths[r] for r in shared if r in ranked]
    )
    out["confusion"] = {}
    for a in trials:
        if a.top1:
            out["confusion"][(a.true_label, a.top1)] = out["confusion"].get((a.true_label, a.top1), 0) + 1
    rt = np.array([a.response_time_ms / 1000.0 for a in trials])
    out["rt"] = rt
    out["confidence"] = [a.confidence for a in trials if a.confidence is not None]
    return out


def _check(db, model, study):
    data = load_dashboard(db, model=model, study=study, n_boot=40)
    ref = _reference(db, model, study, 40, data.ks)
    assert data.kappa == pytest.approx(ref["kappa"]) if ref["kappa"] is not None else data.kappa is None
    got = [(b.group, b.series, b.value, b.low, b.high, b.n) for b in data.accuracy]
    want = [(g, s, p.rate, p.low, p.high, p.n) for g, s, p in ref["accuracy"]]
    assert got == want  # the same counts through the same Wilson formula: equal, not close
    for k, (diff, ci) in ref["difference"].items():
        assert data.difference[k][0] == pytest.approx(diff)
        assert data.difference[k][1] == pytest.approx(ci)
    bars = {(b.group, b.series): (b.value, b.n) for b in data.per_class}
    for series, table in (("people", ref["people_per_class"]), ("model", ref["model_per_class"])):
        for cls, p in table.items():
            if cls in data.classes:
                assert bars.pop((cls, series)) == pytest.approx((p.rate, p.n))
    assert bars == {}
    cols = data.human_confusion_guesses
    got_cm = {(data.classes[i], cols[j]): int(n) for (i, j), n in np.ndenumerate(data.human_confusion) if n}
    assert got_cm == {key: n for key, n in ref["confusion"].items() if key[0] in data.classes}
    rt = ref["rt"]
    assert data.response_times.n == len(rt)
    if len(rt):
        top = float(np.quantile(rt, 0.99)) if rt.size > 20 else float(rt.max())
        edges = np.linspace(0.0, max(top, 1.0), 21)
        counts, _ = np.histogram(np.clip(rt, 0, edges[-1]), edges)
        assert data.response_times.edges == pytest.approx(edges)
        assert data.response_times.counts.tolist() == counts.tolist()
        assert data.response_times.top == rt.max()
    levels = ref["confidence"]
    assert data.human_confidence == {k: levels.count(k) for k in set(levels)}
    if model is not None:
        conf = db.execute(
            "SELECT pr.confidence, pr.pred_label = pr.true_label FROM predictions pr JOIN models m "
            "ON m.id = pr.model_id WHERE m.name = ? AND pr.true_label IS NOT NULL",
            [model],
        ).fetchall()
        for name, ok in (("right", 1), ("wrong", 0)):
            counts, _ = np.histogram([c for c, r in conf if r == ok], bins=CONFIDENCE_EDGES)
            assert data.model_confidence[name].counts.tolist() == counts.tolist()
    return data


@pytest.mark.parametrize(
    ("model", "study"), [("m1", None), ("m1", "pilot"), ("m4", "pilot4"), (None, None), (None, "pilot")]
)
def test_seeded_study_aggregates_match_the_trial_by_trial_measures(seeded, model, study):
    project, _ = seeded
    _check(project.db, model, study)


@pytest.fixture(scope="module")
def bench_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash") / "proj"
    build(root, 12, 8, 16, 2)
    with Project.open(root) as project:
        yield project


@pytest.mark.parametrize(("model", "study"), [("m", None), ("m", "big"), ("m4", "big4"), (None, "big4")])
def test_bench_study_aggregates_match_the_trial_by_trial_measures(bench_project, model, study):
    data = _check(bench_project.db, model, study)
    assert data.response_times.n > 0 and data.accuracy
