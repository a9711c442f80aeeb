"""People's cue boxes as an explanation of the model (issue 13): the deletion / insertion tests with
participants' boxes (per trial, their union per item, per cue tag) against random boxes of matched
count, sizes and coverage, on a tiny real model and a real quiz database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoquiz.boxes import Box
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness.random import PlacedBox


def _request(**kw):
    from geoquiz.faithfulness.request import GridRequest

    base = dict(split="test", repeats=3, curves=False, device="cpu", selections=("model", "human"))
    base.update(kw)
    if "human" in base["selections"]:
        base.setdefault("study", "people")
    return GridRequest("single", "tiny", **base)


def _trials_with_boxes(db, study: str) -> dict[int, str]:
    rows = db.execute(
        "SELECT DISTINCT t.id, p.code FROM trials t JOIN cue_boxes c ON c.trial_id = t.id "
        "JOIN sessions s ON s.id = t.session_id JOIN participants p ON p.id = s.participant_id "
        "JOIN studies st ON st.id = s.study_id WHERE st.slug = ?",
        [study],
    ).fetchall()
    return {int(t): code for t, code in rows}


def test_boxes_in_image_pixels_are_scaled_to_the_model_input(both_ways_project):
    from geoquiz.data.dataset import get_item, read_sample
    from geoquiz.faithfulness.engine import ImageFrame
    from geoquiz.faithfulness.evaluate import EvalOptions, Selection, evaluate_image
    from geoquiz.faithfulness.perturb import make_fill
    from geoquiz.models.store import load_project_model

    loaded = load_project_model(both_ways_project, "single", device="cpu")
    item = get_item(both_ways_project.db, 5)
    pixels = read_sample(item)
    assert pixels.shape[:2] == (40, 40) and loaded.spec.input_size == 64
    frame = ImageFrame(loaded, pixels, make_fill("blur"), box_frame=(64, 64))
    # the model sees the whole image resized to 64 x 64: x and y scale by 64 / width and 64 / height
    assert frame.to_input([PlacedBox(Box(10, 20, 30, 40))], {None: (40, 40)}) == [
        PlacedBox(Box(16, 32, 48, 64))
    ]
    assert frame.to_input([PlacedBox(Box(8, 5, 40, 15))], {None: (20, 80)}) == [PlacedBox(Box(6, 16, 32, 48))]
    # without frames, boxes are in the maps' frame (here the input's): unchanged
    assert frame.to_input([PlacedBox(Box(1, 2, 3, 4))]) == [PlacedBox(Box(1, 2, 3, 4))]

    left_half = Selection(
        "human", "item", (PlacedBox(Box(0, 0, 20, 40)),), frames={None: (40, 40)}, curves=False
    )
    result = evaluate_image(frame, 0, [left_half], 5, EvalOptions(repeats=2, curves=True))
    guided = [r for r in result.rows if r["selection"] == "guided"]
    assert {r["coverage"] for r in guided} == {0.5}  # 32 of 64 columns
    assert not result.curve_rows  # people's boxes have no rank order: no progressive curves


def test_people_are_tested_per_trial_item_and_tag_on_the_same_items_as_the_model(both_ways_project):
    from geoquiz.faithfulness.request import run_request
    from geoquiz.faithfulness.store import get_run, load_run

    db = both_ways_project.db
    run_id = run_request(both_ways_project, _request()).run_id
    run = get_run(db, run_id)
    assert run.status == "done" and run.config["study"] == "people" and "people of people" in run.title()
    df = load_run(db, run_id)
    df["unit"] = df["image_id"]
    people, model = df[df["selection_source"] == "human"], df[df["selection_source"] == "model"]
    assert set(people["method"]) == {"human"} and (people["segmenter"] == people["human_scope"]).all()
    # the model's elements and people's boxes are tested on the same items: the 3 test items
    assert set(model["unit"]) == set(people["unit"]) and len(set(people["unit"])) == 3

    guided = people[(people["selection"] == "guided") & (people["test"] == "deletion")]
    trials = _trials_with_boxes(db, "people")
    assert len(trials) == 8  # 3 participants x 3 items, one trial drew no box
    by_trial = guided[guided["human_scope"] == "trial"]
    assert sorted(by_trial["trial_id"].astype(int)) == sorted(trials)
    assert {int(t): p for t, p in zip(by_trial["trial_id"], by_trial["participant"])} == trials
    assert len(guided[guided["human_scope"] == "item"]) == 3
    tags = guided[guided["human_scope"] == "tag"]
    assert sorted(tags["cue_tag"]) == ["road_markings"] * 3 + ["signs"] * 3
    assert tags["trial_id"].isna().all() and guided[guided["human_scope"] == "item"]["cue_tag"].isna().all()
    # the union of an item holds every participant's boxes (count) and covers their union
    item = guided[guided["human_scope"] == "item"].set_index("unit")
    n_boxes = db.execute(
        "SELECT t.image_id, COUNT(*) FROM cue_boxes c JOIN trials t ON t.id = c.trial_id GROUP BY t.image_id"
    ).fetchall()
    assert {int(u): int(n) for u, n in n_boxes} == item["n_boxes"].astype(int).to_dict()

    # random boxes match the coverage of their people's boxes (2 % or one pixel of the 64 x 64 input)
    rand = people[people["selection"] == "random"]
    keys = ["unit", "human_scope", "trial_id", "cue_tag", "test"]
    matched = rand.merge(guided.drop(columns="test"), on=keys[:-1], suffixes=("", "_g"))
    assert len(matched) == len(rand[rand["test"] == "deletion"]) * 2
    assert (abs(matched["coverage"] - matched["coverage_g"]) <= 0.02 * matched["coverage_g"] + 1 / 4096).all()
    # every selection draws its own random boxes
    seeds = rand[(rand["human_scope"] == "trial") & (rand["repeat"] == 0) & (rand["test"] == "deletion")]
    assert seeds["seed"].nunique() == len(seeds)


def test_people_boxes_leave_the_models_numbers_and_seeds_as_they_were(both_ways_project):
    from geoquiz.faithfulness.request import run_request
    from geoquiz.faithfulness.store import load_run

    db = both_ways_project.db
    both = load_run(db, run_request(both_ways_project, _request()).run_id)
    alone = load_run(db, run_request(both_ways_project, _request(selections=("model",), study=None)).run_id)
    cols = ["image_id", "test", "selection", "repeat", "seed", "coverage", "true_prob", "correct"]
    model = both[both["selection_source"] == "model"][cols].sort_values(cols[:4]).reset_index(drop=True)
    pd.testing.assert_frame_equal(model, alone[cols].sort_values(cols[:4]).reset_index(drop=True))


def test_people_alone_need_no_explanation_and_use_only_intact_trials(both_ways_project):
    from fixtures.both_ways import answer_study

    from geoquiz.boxes import Box
    from geoquiz.faithfulness.request import run_request
    from geoquiz.faithfulness.store import get_run, load_run
    from geoquiz.types import CueBox

    db = both_ways_project.db
    answer_study(db, "abl", 3, boxes=lambda p, spec: [CueBox(Box(0, 0, 10 + p, 10), "vehicles")])
    shown = db.execute(
        "SELECT t.id, t.condition, i.split FROM trials t JOIN images i ON i.id = t.image_id "
        "JOIN sessions s ON s.id = t.session_id JOIN studies st ON st.id = s.study_id WHERE st.slug = 'abl'"
    ).fetchall()
    intact = {t for t, c, _ in shown if c == "intact"}
    split = next(sp for _, c, sp in shown if c == "intact")
    request = _request(selections=("human",), study="abl", split=split, methods=("ig",))
    run_id = run_request(both_ways_project, request).run_id
    run, df = get_run(db, run_id), load_run(db, run_id)
    assert run.config["methods"] == [] and (df["selection_source"] == "human").all()
    n_maps = db.execute("SELECT COUNT(*) FROM attribution_maps WHERE method = 'ig'").fetchone()[0]
    assert n_maps == 0
    used = set(df.loc[df["human_scope"] == "trial", "trial_id"].astype(int))
    expected = {t for t, c, sp in shown if c == "intact" and sp == split}
    assert used == expected and used <= intact  # trials that showed pictures with parts removed are left out


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"selections": ("human",), "study": None}, "needs a study"),
        ({"selections": ("people",)}, "unknown selection"),
        ({"study": "nope"}, "no study 'nope'"),
        ({"study": "abl"}, "has no main trials with cue boxes"),  # no session yet
        ({"selections": ("human",), "choose_p": True}, "choosing top-p"),
        ({"human_scopes": ("session",)}, "unknown scope"),
    ],
)
def test_bad_requests_name_what_is_wrong(both_ways_project, kw, message):
    from geoquiz.faithfulness.request import run_request
    from geoquiz.faithfulness.store import list_runs

    with pytest.raises(GeoQuizError, match=message):
        run_request(both_ways_project, _request(**kw))
    assert not list_runs(both_ways_project.db)


def test_tables_by_participant_tag_and_item_and_the_export(both_ways_project, tmp_path):
    from geoquiz.faithfulness import human_stats
    from geoquiz.faithfulness.export import export_run
    from geoquiz.faithfulness.request import run_request
    from geoquiz.faithfulness.store import load_run
    from geoquiz.study.export import export_all

    db = both_ways_project.db
    run_id = run_request(both_ways_project, _request()).run_id
    df = load_run(db, run_id)
    per_participant = human_stats.by_participant(df, n_boot=200)
    assert sorted(per_participant["n"]) == [2, 2, 3, 3, 3, 3]  # trials with boxes per participant x 2 tests
    assert set(human_stats.by_tag(df, n_boot=200)["cue_tag"]) == {"signs", "road_markings"}
    items = human_stats.by_item(df, n_boot=200)
    assert len(items) == 6 and (items["n_repeats"] == 3).all()
    row = items.iloc[0]
    assert row["diff_true_prob"] == pytest.approx(row["guided_true_prob"] - row["random_true_prob"])
    sources = human_stats.sources(df, n_boot=200)
    assert list(dict.fromkeys(sources["name"])) == [
        "gradcampp x default",
        "people: item",
        "people: tag",
        "people: trial",
    ]
    assert np.allclose(sources["guided_coverage"], sources["random_coverage"], atol=0.01)

    written = {p.name for p in export_run(db, run_id, tmp_path / "run")}
    for name in (
        "sources.csv",
        "human_by_item.csv",
        "human_by_participant.csv",
        "human_by_tag.csv",
        "sources.png",
    ):
        assert f"faithfulness_run{run_id}_{name}" in written
    export_all(both_ways_project, tmp_path / "study", what=["faithfulness"])
    exported = pd.read_csv(tmp_path / "study" / "faithfulness.csv")
    people = exported[exported["selection_source"] == "human"]
    assert set(people["human_scope"]) == {"trial", "item", "tag"}
    assert set(people["participant"].dropna()) == set(_trials_with_boxes(db, "people").values())
