"""Issue 13 on the command line: ``geoquiz evaluate --selections model,human --study``,
``geoquiz study prepare / ablation`` and ``geoquiz bothways`` (in process, real project): what is
printed, what is stored in the project's database and what the CSV files hold."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from geoquiz.cli import main

OTHERS = {"France": "India", "India": "Japan", "Japan": "France"}


def _guesses(_p, spec):
    """Right on intact and random pictures, wrong when the model's elements are removed."""
    wrong = spec.condition == "model"
    return (OTHERS[spec.label], spec.label) if wrong else (spec.label, OTHERS[spec.label])


def test_evaluate_with_people_then_both_ways(both_ways_root, tmp_path, capsys):
    from fixtures.both_ways import answer_study

    from geoquiz.project import Project

    p = ["-p", str(both_ways_root)]
    args = ["evaluate", *p, "--model", "single", "--dataset", "tiny", "--split", "all", "--repeats", "2"]
    assert main([*args, "--selections", "human"]) == 2
    assert "error: the human selection needs a study (--study SLUG)" in capsys.readouterr().err

    # the ablation study's answers: 6 participants, wrong exactly on the trials without the model's elements
    with Project.open(both_ways_root) as project:
        answer_study(project.db, "abl", 6, guesses=_guesses, confidence=lambda p, spec: 1 + p % 3)
    assert main([*args, "--selections", "model,human", "--study", "people", "--no-curves"]) == 0
    out = capsys.readouterr().out
    assert "model vs people vs random, on the 3 items with both" in out and "people: item" in out

    db = sqlite3.connect(both_ways_root / "geoquiz.sqlite")
    # stored: every answered trial has its condition; 6 participants x 6 items, balanced 12/12/12
    counts = dict(
        db.execute(
            "SELECT t.condition, COUNT(*) FROM trials t JOIN sessions s ON s.id = t.session_id "
            "JOIN studies st ON st.id = s.study_id WHERE st.slug = 'abl' GROUP BY t.condition"
        ).fetchall()
    )
    assert counts == {"intact": 12, "model": 12, "random": 12}
    # stored: people's boxes of study 'people' as guided selections, every scope, beside the model's
    human = pd.read_sql_query(
        "SELECT image_id, test, selection, human_scope, trial_id, cue_tag, true_prob, coverage "
        "FROM evaluation_results WHERE selection_source = 'human'",
        db,
    )
    assert set(human["human_scope"]) == {"trial", "item", "tag"}
    item = human[(human["human_scope"] == "item")]
    assert item["image_id"].nunique() == 3 and set(item["test"]) == {"deletion", "insertion"}
    assert len(item[item["selection"] == "guided"]) == 6  # 3 items x 2 tests
    assert len(item[item["selection"] == "random"]) == 12  # x 2 repeats
    trial = human[human["human_scope"] == "trial"]
    assert trial["trial_id"].nunique() == 8  # 3 participants x 3 trials, one without boxes
    assert set(human.loc[human["human_scope"] == "tag", "cue_tag"]) == {"signs", "road_markings"}
    assert db.execute("SELECT COUNT(*) FROM evaluation_results WHERE selection_source = 'model'").fetchone()[
        0
    ]

    assert main(["study", "ablation", *p, "abl", "--out", str(tmp_path / "abl"), "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "model - random" in out and "ablation_conditions.csv" in out
    conditions = pd.read_csv(tmp_path / "abl" / "ablation_conditions.csv").set_index("condition")
    assert list(conditions.index) == ["intact", "model", "random"] and (conditions["n_trials"] == 12).all()
    assert list(conditions["top1"]) == [1.0, 0.0, 1.0] and (conditions["topk"] == 1.0).all()
    assert conditions.loc["intact", "confidence"] == pytest.approx(2.0)  # ratings 1, 2, 3 in every condition
    model_answers = pd.read_sql_query(
        "SELECT ai.condition, ai.true_prob FROM ablation_items ai JOIN ablation_sets a ON a.id = ai.set_id "
        "JOIN studies st ON st.id = a.study_id WHERE st.slug = 'abl'",
        db,
    )
    for condition, group in model_answers.groupby("condition"):
        assert conditions.loc[condition, "model_true_prob"] == pytest.approx(group["true_prob"].mean())
    differences = pd.read_csv(tmp_path / "abl" / "ablation_differences.csv").set_index(
        ["contrast", "who", "measure"]
    )
    assert differences.loc[("model - random", "people", "top1"), "value"] == -1.0
    assert differences.loc[("model - random", "people", "top1"), "n_items"] == 6

    assert (
        main(["bothways", *p, "--study", "people", "--out", str(tmp_path / "bw.csv"), "--n-boot", "200"]) == 0
    )
    out = capsys.readouterr().out
    assert "model needs people's cues: true-class probability" in out
    assert "people need the model's evidence: no data" in out
    table = pd.read_csv(tmp_path / "bw.csv")
    assert set(table["direction"]) == {"model_needs_people"} and len(table[table["scope"] == "item"]) == 12
    # the overall deletion row is the mean over items of the stored guided and random values
    row = table[
        (table["scope"] == "overall") & (table["test"] == "deletion") & (table["measure"] == "true_prob")
    ]
    deletion = item[item["test"] == "deletion"]
    guided = deletion[deletion["selection"] == "guided"].groupby("image_id")["true_prob"].mean()
    random = deletion[deletion["selection"] == "random"].groupby("image_id")["true_prob"].mean()
    assert row["removed_value"].item() == pytest.approx(guided.mean())
    assert row["random_value"].item() == pytest.approx(random.mean())
    assert row["removed_minus_random"].item() == pytest.approx((guided - random).mean())
    coverage = deletion[deletion["selection"] == "guided"]["coverage"].mean()
    assert row["removed_coverage"].item() == pytest.approx(coverage)

    assert (
        main(["bothways", *p, "--study", "abl", "--out", str(tmp_path / "abl.csv"), "--n-boot", "200"]) == 0
    )
    assert "people need the model's evidence: top-1 accuracy" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "abl.csv")
    people = table[(table["direction"] == "people_need_model") & (table["who"] == "people")]
    top1 = people[(people["measure"] == "top1") & (people["scope"] == "overall")]
    assert (top1["intact_value"].item(), top1["removed_value"].item(), top1["random_value"].item()) == (
        1,
        0,
        1,
    )
    assert top1["removed_minus_random"].item() == -1.0
    items = people[(people["measure"] == "top1") & (people["scope"] == "item")]
    assert len(items) == 6 and np.allclose(items["removed_minus_random"], -1.0)
    db.close()


def test_study_prepare_and_its_errors(both_ways_root, capsys):
    from fixtures.both_ways import ablation_text

    p = ["-p", str(both_ways_root)]
    assert main(["study", "prepare", *p, "people"]) == 2
    assert "error: study 'people' has no [trials] ablation option" in capsys.readouterr().err
    assert main(["study", "prepare", *p, "nosuch"]) == 2
    assert "error:" in capsys.readouterr().err
    path = both_ways_root / "again.toml"
    path.write_text(ablation_text(', fill = "black"').replace('"abl"', '"again"'))
    assert main(["study", "install", str(path), *p]) == 0
    assert "ablation intact/model/random (top 2 elements of single" in capsys.readouterr().out
    assert main(["study", "prepare", *p, "again"]) == 0
    assert "study 'again': 6 items ready in ablation/again/set" in capsys.readouterr().out
    # stored: the set is done, 6 items x 3 conditions, the removed pictures exist, intact has none
    db = sqlite3.connect(both_ways_root / "geoquiz.sqlite")
    rows = db.execute(
        "SELECT a.status, ai.condition, ai.paths_json, ai.n_boxes, ai.coverage FROM ablation_items ai "
        "JOIN ablation_sets a ON a.id = ai.set_id JOIN studies st ON st.id = a.study_id WHERE st.slug = 'again'"
    ).fetchall()
    db.close()
    assert len(rows) == 18 and {r[0] for r in rows} == {"done"}
    for _status, condition, paths_json, n_boxes, coverage in rows:
        paths = json.loads(paths_json)
        if condition == "intact":
            assert len(paths) == 0 and n_boxes == 0
        else:
            assert n_boxes == 2 and 0 < coverage < 1
            assert paths and all((both_ways_root / rel).is_file() for rel in paths.values())
    assert main(["study", "prepare", *p, "again"]) == 0
    assert "0 prepared now" in capsys.readouterr().out
