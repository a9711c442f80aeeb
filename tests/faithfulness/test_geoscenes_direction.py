"""Issue #5 item 7: on GeoScenes, the demo model's Grad-CAM++ x default-segmenter elements are faithful.

Paper 000, section 5: occluding the attribution-guided boxes (deletion) must hurt the model more than
occluding random boxes of matched coverage, and keeping only the guided boxes (insertion) must keep
more of its evidence than keeping random ones. Run through the real pipeline
(:func:`geoquiz.faithfulness.grid.run_grid` with the project's Explainer, blur fill, 10 random
selections per image) on 60 class-balanced test images of the trained demo model, and judged with
:func:`geoquiz.faithfulness.stats.compare` (paired per image).

Why 60 images: on GeoScenes the deletion effect is modest (about -0.03 to -0.05 in true-class
probability; the guided boxes cover ~13 % of the image and a blurred road line keeps its colour),
so 30 images leave its confidence interval across zero; with 60 it is consistently below zero across
splits and random seeds, while the run stays around a minute on 2 cores.
"""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="module")
def demo_copy(trained_demo, tmp_path_factory):
    """A writable copy of the demo project (runs and the explanation cache are written into it)."""
    root, name = trained_demo
    dest = tmp_path_factory.mktemp("geoscenes_direction") / "proj"
    shutil.copytree(root, dest)
    return dest, name


@pytest.mark.slow
def test_guided_deletion_hurts_and_guided_insertion_keeps_more_than_random(demo_copy):
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.stats import compare, summarise
    from geoquiz.faithfulness.store import get_run, load_run
    from geoquiz.project import Project

    root, name = demo_copy
    with Project.open(root) as project:
        run_id = run_grid(
            project,
            name,
            "geoscenes",
            "test",
            ["gradcampp"],
            ["default"],
            fill="blur",
            repeats=10,
            seed=0,
            limit=60,
            curves=False,
            resume=False,
        )
        run = get_run(project.db, run_id)
        df = load_run(project.db, run_id)
    assert run.status == "done" and run.n_units == 60
    summary = summarise(df, n_boot=1000).set_index(["test", "selection"])
    cmp = compare(df, n_boot=1000).set_index("test")
    deletion, insertion = cmp.loc["deletion"], cmp.loc["insertion"]
    assert deletion["n"] == insertion["n"] == 60

    # the comparison is fair: random boxes cover as much of the image as the guided ones
    for test in ("deletion", "insertion"):
        cov_g, cov_r = summary.loc[(test, "guided"), "coverage"], summary.loc[(test, "random"), "coverage"]
        assert cov_g > 0.02 and abs(cov_g - cov_r) < 0.02, (test, cov_g, cov_r)
    # and the model is good on the unperturbed images (otherwise the tests mean little)
    assert summary.loc[("deletion", "guided"), "base_accuracy"] >= 0.85

    # deletion: occluding the guided boxes lowers accuracy and the true-class probability more than
    # occluding random boxes of the same coverage
    assert bool(deletion["expected"])
    assert deletion["diff_accuracy"] <= 0.0, deletion.to_dict()
    assert deletion["diff_true_prob"] < -0.01, deletion.to_dict()
    assert deletion["guided_true_prob"] < deletion["random_true_prob"]

    # insertion: keeping only the guided boxes keeps clearly more than keeping random ones
    assert bool(insertion["expected"])
    assert insertion["diff_accuracy"] > 0.05, insertion.to_dict()
    assert insertion["diff_true_prob"] > 0.03, insertion.to_dict()
    assert insertion["diff_true_prob_lo"] > 0.0, insertion.to_dict()  # the paired CI excludes zero
    assert insertion["guided_accuracy"] > insertion["random_accuracy"]
