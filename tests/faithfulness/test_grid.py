"""The faithfulness grid on a tiny real model: maps and segments computed once per image and reused
across methods x segmenters, one stored unit per image, resume after cancel, and the top-p sweep."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness.sweep import choose
from geoquiz.progress import Cancelled, Reporter


@pytest.fixture
def proj(explain_project_root, tmp_path):
    from geoquiz.project import Project

    root = tmp_path / "proj"
    shutil.copytree(explain_project_root, root)
    with Project.open(root) as project:
        yield project


def test_grid_reuses_maps_and_segments_across_the_grid(proj):
    from geoquiz.explain import Explainer
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import get_run, load_curves, load_run

    ex = Explainer(proj, "single")
    methods = ["gradcam", "gradcampp"]
    run_id = run_grid(
        proj,
        "single",
        "tiny",
        "test",
        methods,
        ["default"],
        repeats=2,
        curve_repeats=1,
        explainer=ex,
        device="cpu",
    )
    n_images = proj.db.execute(
        "SELECT COUNT(*) FROM images i JOIN datasets d ON d.id = i.dataset_id "
        "WHERE d.name = 'tiny' AND i.split = 'test'"
    ).fetchone()[0]
    # one map per image and method, one segmentation per image shared by both methods
    assert ex.stats["maps_computed"] == n_images * len(methods)
    assert ex.stats["segmentations_computed"] == n_images
    df = load_run(proj.db, run_id)
    assert set(df["method"]) == set(methods) and set(df["fill"]) == {"blur"}
    # per image, method, test: 1 guided + 2 random rows
    assert len(df) == n_images * len(methods) * 2 * (1 + 2)
    random_seeds = df[df["selection"] == "random"]["seed"]
    assert random_seeds.notna().all()
    assert len(load_curves(proj.db, run_id)) > 0 and get_run(proj.db, run_id).status == "done"

    # a second grid with the same model reads every map and segmentation from the cache
    ex2 = Explainer(proj, "single")
    run_grid(
        proj,
        "single",
        "tiny",
        "test",
        methods,
        ["default"],
        repeats=1,
        curves=False,
        explainer=ex2,
        device="cpu",
        seed=5,
    )
    assert ex2.stats["maps_computed"] == 0 and ex2.stats["segmentations_computed"] == 0


def test_cancelled_grid_resumes_without_redoing_images(proj):
    from geoquiz.explain import Explainer
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import done_units, list_runs

    reporter = Reporter()
    seen = []

    def on_step(done, total, message):
        seen.append(done)
        if done >= 1:
            reporter.token.cancel()

    reporter.callback = on_step
    with pytest.raises(Cancelled):
        run_grid(
            proj,
            "single",
            "tiny",
            "test",
            ["gradcam"],
            ["default"],
            repeats=1,
            curves=False,
            reporter=reporter,
            device="cpu",
        )
    (run,) = list_runs(proj.db, kind="grid")
    first = done_units(proj.db, run.id)
    assert len(first) >= 1
    ex = Explainer(proj, "single")
    again = run_grid(
        proj,
        "single",
        "tiny",
        "test",
        ["gradcam"],
        ["default"],
        repeats=1,
        curves=False,
        explainer=ex,
        device="cpu",
    )
    assert again == run.id  # the same settings resume the same run
    assert ex.stats["maps_computed"] == 3 * 1 - len(first)  # only the images not done yet (3 test images)


def test_sweep_chooses_a_top_p_and_bad_settings_are_refused(proj):
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import get_run
    from geoquiz.faithfulness.sweep import sweep_top_p

    res = sweep_top_p(
        proj, "single", "tiny", split="val", method="gradcam", values=(10, 30), repeats=1, device="cpu"
    )
    assert res.chosen_top_p in (10.0, 30.0)
    assert list(res.table["top_p"]) == [10.0, 30.0]
    excess = dict(zip(res.table["top_p"], res.table["excess"]))
    assert excess[res.chosen_top_p] == max(excess.values())  # the documented criterion
    assert get_run(proj.db, res.run_id).kind == "p_sweep"
    assert ((res.table["coverage"] > 0) & (res.table["coverage"] <= 1)).all()
    with pytest.raises(GeoQuizError, match="top-p values"):
        sweep_top_p(proj, "single", "tiny", values=(0,), device="cpu")
    with pytest.raises(GeoQuizError):
        run_grid(proj, "single", "tiny", "test", ["lime"], ["default"], device="cpu")
    with pytest.raises(GeoQuizError):
        run_grid(proj, "single", "tiny", "test", ["gradcam"], ["default"], fill="purple", device="cpu")


def _table(rows: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["top_p", "excess"])


def test_choose_on_hand_made_tables():
    assert choose(_table([(5, 0.01), (10, 0.08), (20, 0.05), (30, -0.02)])) == 10.0
    assert choose(_table([(30, 0.02), (20, 0.07), (5, 0.01)])) == 20.0  # rows in any order
    assert choose(_table([(20, 0.05), (10, 0.05)])) == 10.0  # a tie goes to the smaller p
    assert choose(_table([(10, 0.05), (20, 0.05 + 1e-13)])) == 10.0  # numerically tied
    assert choose(_table([(10, 0.05), (20, 0.05 + 1e-6)])) == 20.0  # a real, small difference
    assert choose(_table([(5, -0.03), (10, -0.01), (15, -0.02)])) == 10.0  # all negative: the largest
    assert choose(_table([(40, 0.0)])) == 40.0
    # a p whose excess could not be computed (NaN) is never chosen, wherever it sits
    assert choose(_table([(5, float("nan")), (10, 0.02), (20, 0.03)])) == 20.0
    assert choose(_table([(5, 0.04), (10, float("nan"))])) == 5.0
    with pytest.raises(GeoQuizError):
        choose(_table([]))
    with pytest.raises(GeoQuizError):
        choose(_table([(5, float("nan"))]))


def test_validate_accepts_guided_sam_and_names_bad_segmenters():
    from geoquiz.faithfulness.grid import validate

    validate(["gradcam"], ["default", "mobilesam_vit_t:guided"], "blur", 2)
    with pytest.raises(GeoQuizError, match="guided mode needs a SAM-family"):
        validate(["gradcam"], ["default:guided"], "blur", 2)
    with pytest.raises(GeoQuizError, match="unknown segmenter.*nosuch:guided"):
        validate(["gradcam"], ["nosuch:guided"], "blur", 2)
