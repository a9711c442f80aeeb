"""Issue 13, proof a: on GeoScenes, "the model needs people's cues" points the way the ground truth does.

Simulated participants box the planted cues of one kind (:func:`fixtures.both_ways.planted_boxes`).
The measure -- the demo model's true-class probability after deleting the union of their boxes minus
after deleting random boxes of the same count, sizes and coverage (blur fill, 10 repeats; the
``item`` scope, through :func:`geoquiz.faithfulness.request.run_request` and
:func:`geoquiz.agreement.both_ways.both_ways_table`, as ``geoquiz evaluate --selections human`` and
``geoquiz bothways`` run it) -- is checked against the generator's ground truth: the same scenes
re-rendered without those cues (``render_scene(..., omit=...)``, everything else identical).

The kind: ``architecture`` (buildings and block walls: about a quarter of the picture where planted,
and the demo model leans on them: re-rendering a scene without them lowers its true-class
probability by about 0.15 on average). The test first checks that ground truth (the re-rendered drop
is below zero on most items), then that the measure is below zero with a 95 % CI that excludes zero
(deleting people's boxes hurts more than deleting random picture of the same area), and that item by
item the two go together (positive correlation, most signs agree).

Not every kind can be checked this way: a blur fill keeps a region's colours, so for cues that are
mostly colour (``vegetation``: green rice fields, red-brown verges) deleting their boxes removes
little although re-rendering without them removes a lot; docs/both_ways.md discusses it.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

KIND = "architecture"  # the kind of cue the simulated participants box
N_ITEMS = 24  # items of the study: the first test images with that kind planted


@pytest.fixture(scope="module")
def demo_copy(trained_demo, tmp_path_factory):
    root, name = trained_demo
    dest = tmp_path_factory.mktemp("human_geoscenes") / "proj"
    shutil.copytree(root, dest)
    return dest, name


def _scene(item, dataset_seed: int) -> tuple[str, int]:
    from geoquiz.data.geoscenes.dataset import scene_seed

    m = re.fullmatch(r"([a-z]+)_(\d+)", item.key)
    country = m.group(1).capitalize()
    return country, scene_seed(dataset_seed, country, int(m.group(2)))


def _omit_effects(loaded, items, dataset_seed: int, kind: str) -> dict[str, dict[str, float]]:
    """Per item key: the true-class probability of the scene re-rendered without ``kind`` minus as it is."""
    from geoquiz.data.dataset import read_sample
    from geoquiz.data.geoscenes import CUE_KEYS, render_scene

    omit = [k for k, t in CUE_KEYS.items() if t == kind]
    out: dict[str, dict[str, float]] = {kind: {}}
    for item in items:
        pixels = read_sample(item)
        country, seed = _scene(item, dataset_seed)
        without, _ = render_scene(country, seed, pixels.shape[0], omit=omit)
        probs = loaded.predict_arrays([pixels, without])[:, loaded.class_index(item.label)]
        out[kind][item.key] = float(probs[1] - probs[0])
    return out


@pytest.mark.slow
def test_model_needs_people_cues_points_the_way_of_the_rerendered_truth(demo_copy):
    from fixtures.both_ways import answer_study, planted_boxes

    from geoquiz.agreement.both_ways import both_ways_table
    from geoquiz.data.dataset import get_dataset, load_items
    from geoquiz.faithfulness.human_stats import by_item
    from geoquiz.faithfulness.request import GridRequest, run_request
    from geoquiz.faithfulness.store import load_run
    from geoquiz.models.store import load_project_model
    from geoquiz.project import Project
    from geoquiz.study.store import install_study

    root, model = demo_copy
    with Project.open(root) as project:
        db = project.db
        dataset_seed = int(get_dataset(db, "geoscenes").params.get("seed", 0))
        loaded = load_project_model(project, model, device="cpu")
        scanned = [it for it in load_items(db, "geoscenes", "test") if any(c.tag == KIND for c in it.cues)]
        scanned = scanned[:N_ITEMS]
        assert len(scanned) == N_ITEMS
        effects = _omit_effects(loaded, scanned, dataset_seed, KIND)
        kind, keys = KIND, sorted(effects[KIND])
        truth = np.array([effects[kind][k] for k in keys])
        # the ground truth: the model relies on this kind of cue
        assert truth.mean() < 0 and np.mean(truth < 0) > 0.5, (kind, truth.mean())

        study = root / "planted.toml"
        study.write_text(
            f'slug = "planted"\ntitle = "T"\n[consent]\ntext = "c"\n[instructions]\ntext = "i"\n'
            f'[items]\ndataset = "geoscenes"\nselection = "fixed"\nkeys = {keys!r}\n'.replace("'", '"')
            + f"[trials]\ncount = {N_ITEMS}\n[responses]\ntop_k = 3\n"
        )
        install_study(project, study)
        answer_study(db, "planted", 2, boxes=planted_boxes(db, kind))

        request = GridRequest(
            model,
            "geoscenes",
            "test",
            selections=("human",),
            study="planted",
            human_scopes=("item",),
            repeats=10,
            seed=0,
            curves=False,
            device="cpu",
        )
        run_id = run_request(project, request).run_id
        table = both_ways_table(db, "planted", run_id=run_id, n_boot=1000)
        items = by_item(load_run(db, run_id), n_boot=200)

    overall = table[
        (table["scope"] == "overall") & (table["test"] == "deletion") & (table["measure"] == "true_prob")
    ]
    row = overall.iloc[0]
    assert row["n"] == N_ITEMS and abs(row["removed_coverage"] - row["random_coverage"]) < 0.01
    # the measure: deleting people's boxes of that kind hurts more than deleting random boxes of equal area
    assert row["removed_minus_random"] < 0 and row["ci_high"] < 0, row.to_dict()
    # item by item, the measure follows the re-rendered truth
    deletion = items[items["test"] == "deletion"].copy()
    key_of = {it.id: it.key for it in scanned}
    measured = np.array(
        [deletion.set_index("image_id").loc[i, "diff_true_prob"] for i in sorted(key_of) if key_of[i] in keys]
    )
    rerendered = np.array([effects[kind][key_of[i]] for i in sorted(key_of) if key_of[i] in keys])
    assert np.corrcoef(measured, rerendered)[0, 1] > 0.3
    assert np.mean(np.sign(measured) == np.sign(rerendered)) > 0.6
