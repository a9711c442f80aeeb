"""Ablated trials (issue 13): the study option, the Latin square, the prepared pictures, the
sessions that show them and the analysis per condition."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from geoquiz.errors import GeoQuizError, StudyDefinitionError
from geoquiz.study.definition import loads_study

HEAD = """slug = "abl"
title = "A"
[consent]
text = "c"
[instructions]
text = "i"
[items]
dataset = "tiny"
seed = 1
[trials]
count = 6
"""


@pytest.mark.parametrize(
    ("option", "line", "field", "message"),
    [
        (
            'ablation = { model = "m", conditions = ["intact", "ablated"] }',
            12,
            "trials.ablation.conditions[1]",
            "unknown condition 'ablated'",
        ),
        (
            'ablation = { model = "m", conditions = ["model"] }',
            12,
            "trials.ablation.conditions",
            "at least two",
        ),
        ('ablation = { conditions = ["intact", "model"] }', 12, "trials.ablation.model", "missing required"),
        ('ablation = { model = "m", fill = "sepia" }', 12, "trials.ablation.fill", "must be one of 'blur'"),
        ('ablation = { model = "m", top_k = 0 }', 12, "trials.ablation.top_k", "between 1 and 20"),
        ('ablation = { model = "m", method = "lime" }', 12, "trials.ablation.method", "'gradcampp'"),
        ('ablation = { model = "m", colour = 1 }', 12, "trials.ablation.colour", "unknown field"),
        ('ablation = "yes"', 12, "trials.ablation", "must be a table"),
        (
            '\n[trials.ablation]\nmodel = "m"\nsegmenter = "sam9"',
            15,
            "trials.ablation.segmenter",
            "'default'",
        ),
    ],
)
def test_a_bad_ablation_option_is_a_located_error(option, line, field, message):
    with pytest.raises(StudyDefinitionError) as info:
        loads_study(HEAD + option + "\n", "abl.toml")
    (got_line, got_field, got_message), *_ = info.value.problems
    assert (got_line, got_field) == (line, field) and message in got_message
    assert str(info.value).startswith(f"abl.toml, line {line}, field {field}: ")


def test_the_option_reads_either_form_and_keeps_the_canonical_order():
    inline = loads_study(HEAD + 'ablation = { model = "m", conditions = ["random", "intact"], top_k = 4 }\n')
    table = loads_study(
        HEAD + '[trials.ablation]\nmodel = "m"\nconditions = ["random", "intact"]\ntop_k = 4\n'
    )
    assert inline.ablation == table.ablation
    spec = inline.ablation
    assert spec.conditions == ("intact", "random") and spec.removes == ("random",)
    assert (spec.method, spec.segmenter, spec.fill, spec.top_k, spec.seed) == (
        "gradcampp",
        "default",
        "blur",
        4,
        0,
    )
    assert loads_study(HEAD).ablation is None


def test_the_latin_square_shows_every_item_in_every_condition_across_consecutive_participants():
    from geoquiz.study.ablation import assign_conditions, latin_row
    from geoquiz.study.selection import StudyItem

    items = [StudyItem("main", f"{label}-{n}", label) for label in ("A", "B", "C") for n in range(3)]
    items.append(StudyItem("practice", "P-0", "A"))
    conditions = ("intact", "model", "random")
    plans = [assign_conditions(items, conditions, p) for p in range(6)]
    assert all("P-0" not in plan for plan in plans)  # practice is always intact
    per_item = Counter((key, c) for plan in plans for key, c in plan.items())
    assert set(per_item.values()) == {2} and len(per_item) == 9 * 3
    for p, plan in enumerate(plans):
        assert Counter(plan.values()) == {c: 3 for c in conditions}
        assert latin_row(p, 3) == p % 3
    assert plans[0] == plans[3] and plans[0] != plans[1]


def test_installing_checks_the_model(both_ways_root):
    from fixtures.both_ways import ablation_text

    from geoquiz.project import Project
    from geoquiz.study.store import install_study

    with Project.open(both_ways_root) as project:
        for model, message in (
            ("nope", "no model named 'nope'"),
            ("medium", "does not take single pictures"),
        ):
            path = both_ways_root / f"{model}.toml"
            path.write_text(
                ablation_text().replace('model = "single"', f'model = "{model}"').replace('"abl"', '"abl2"')
            )
            with pytest.raises(StudyDefinitionError, match=message) as info:
                install_study(project, path)
            assert info.value.problems[0][1] == "trials.ablation.model"
        assert project.db.execute("SELECT COUNT(*) FROM studies WHERE slug = 'abl2'").fetchone()[0] == 0


def test_prepared_pictures_differ_only_inside_the_removed_boxes(both_ways_project):
    from geoquiz.data.dataset import get_item
    from geoquiz.data.imageio import read_image
    from geoquiz.study.ablation import prepare_ablation

    db = both_ways_project.db
    rows = db.execute(
        "SELECT item_key, image_id, condition, paths_json, boxes_json, n_boxes, coverage, true_prob, correct "
        "FROM ablation_items ORDER BY id"
    ).fetchall()
    assert Counter(r[2] for r in rows) == {"intact": 6, "model": 6, "random": 6}
    coverage = {}
    for key, image_id, condition, paths, boxes, n_boxes, cov, true_prob, correct in rows:
        assert true_prob is not None and correct in (0, 1)  # the model's own answer on these pictures
        coverage[(key, condition)] = cov
        if condition == "intact":
            assert json.loads(paths) == {} and n_boxes == 0
            continue
        original = read_image(get_item(db, image_id).path)
        shown = read_image(both_ways_project.root / json.loads(paths)[""])
        assert shown.shape == original.shape and n_boxes == 2
        inside = np.zeros(original.shape[:2], bool)
        for _view, x0, y0, x1, y1 in json.loads(boxes):
            inside[y0:y1, x0:x1] = True
        assert inside.mean() == pytest.approx(cov)
        assert np.array_equal(shown[~inside], original[~inside])
        assert not np.array_equal(shown[inside], original[inside])
    for key in {k for k, _ in coverage}:  # random boxes remove as much picture as the model's
        assert coverage[(key, "random")] == pytest.approx(
            coverage[(key, "model")], abs=0.02 * coverage[(key, "model")] + 1 / 1600
        )
    again = prepare_ablation(both_ways_project, "abl", device="cpu")
    assert again.n_prepared == 0 and again.n_items == 6


def test_sessions_get_a_participant_index_and_a_condition_per_trial(both_ways_project):
    from geoquiz.study.session import QuizSession, TrialResponse

    db = both_ways_project.db
    first = QuizSession.create(db, "abl", seed=1)
    second = QuizSession.create(db, "abl", seed=2)
    second.decline_consent()  # frees its index for the next participant
    third = QuizSession.create(db, "abl", seed=3)
    assert [s.ablation["participant_index"] for s in (first, second, third)] == [0, 1, 1]
    stored = db.execute(
        "SELECT participant_index, latin_row FROM sessions WHERE id IN (?, ?, ?) ORDER BY id",
        [first.id, second.id, third.id],
    ).fetchall()
    assert stored == [(0, 0), (1, 1), (1, 1)]
    first.accept_consent()
    first.begin_trials()
    for spec in first.order:
        ((view, path),) = first.item_paths(spec)
        prepared = Path(path).is_relative_to(both_ways_project.root / "ablation")
        assert view is None and prepared == (spec.condition != "intact")
        assert Path(path).exists() and (not prepared or path.endswith(f"_{spec.condition}.png"))
        first.submit(spec.position, TrialResponse(guesses=(spec.label,), confidence=2))
    got = db.execute(
        "SELECT position, condition FROM trials WHERE session_id = ? ORDER BY position", [first.id]
    )
    assert [c for _, c in got] == [s.condition for s in first.order]
    assert Counter(s.condition for s in first.order) == {"intact": 2, "model": 2, "random": 2}


def test_a_study_whose_pictures_are_not_prepared_cannot_start(both_ways_project):
    from fixtures.both_ways import ablation_text

    from geoquiz.study.session import QuizSession
    from geoquiz.study.store import install_study

    path = both_ways_project.root / "abl3.toml"
    path.write_text(ablation_text(", seed = 9").replace('"abl"', '"abl3"'))
    install_study(both_ways_project, path)
    with pytest.raises(GeoQuizError, match="geoquiz study prepare abl3"):
        QuizSession.create(both_ways_project.db, "abl3")
    n = "SELECT COUNT(*) FROM sessions s JOIN studies st ON st.id = s.study_id WHERE st.slug = 'abl3'"
    assert both_ways_project.db.execute(n).fetchone()[0] == 0


def test_the_analysis_reproduces_hand_computed_accuracies(both_ways_project):
    from fixtures.both_ways import answer_study

    from geoquiz.study.ablation_analysis import analyse

    db = both_ways_project.db
    others = {"France": "India", "India": "Japan", "Japan": "France"}

    def right(p: int, spec) -> bool:
        return (p + spec.position) % 3 != 0

    def guesses(p, spec):
        return (spec.label, others[spec.label]) if right(p, spec) else (others[spec.label], spec.label)

    sessions = answer_study(db, "abl", 6, guesses=guesses, confidence=lambda p, spec: 1 + (p % 5))
    expected: dict[str, list[float]] = {}
    per_item: dict[tuple[str, str], list[float]] = {}
    confidence: dict[str, list[int]] = {}
    for p, s in enumerate(sessions):
        for spec in s.order:
            expected.setdefault(spec.condition, []).append(float(right(p, spec)))
            per_item.setdefault((spec.key, spec.condition), []).append(float(right(p, spec)))
            confidence.setdefault(spec.condition, []).append(1 + (p % 5))
    out = analyse(db, "abl", n_boot=300)
    table = out["conditions"].set_index("condition")
    for condition, values in expected.items():
        assert table.loc[condition, "n_trials"] == len(values) == 12
        assert table.loc[condition, "top1"] == pytest.approx(np.mean(values))
        assert table.loc[condition, "topk"] == 1.0  # the true label is always among the two guesses
        assert table.loc[condition, "confidence"] == pytest.approx(np.mean(confidence[condition]))
        assert (
            table.loc[condition, "top1_lo"] <= table.loc[condition, "top1"] <= table.loc[condition, "top1_hi"]
        )
    diffs = out["differences"].set_index(["contrast", "who", "measure"])
    keys = {k for k, _ in per_item}
    hand = np.mean([np.mean(per_item[(k, "model")]) - np.mean(per_item[(k, "random")]) for k in keys])
    assert diffs.loc[("model - random", "people", "top1"), "value"] == pytest.approx(hand)
    assert diffs.loc[("model - random", "people", "top1"), "n_items"] == 6
    model = out["model"].pivot_table(index="item_key", columns="condition", values="true_prob")
    assert diffs.loc[("model - random", "model", "true_prob"), "value"] == pytest.approx(
        float((model["model"] - model["random"]).mean())
    )
