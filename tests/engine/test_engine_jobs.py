"""The batch jobs' remote code path without Ray: a worker's core computes, the driver stores.

:class:`fixtures.engine.PicklingEngine` runs a job the way a Ray worker does (pickled, not bound to
the driver's Explainer, results pickled back) in this process, so these tests are quick and cover
what the Ray tests (tests/engine/test_engine_commands.py) do not: 4-view locations, guided SAM,
batch-size independence of predictions, the mean fill's colour, the CLI's engine errors.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures.engine import PicklingEngine, copy_project

from geoquiz.config import ElementSettings
from geoquiz.engine import LocalEngine
from geoquiz.types import VIEWS

PARAMS = ElementSettings(top_p=25.0, s_min=0.05, min_segment_area=4, max_elements=6)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread, as a Ray worker with one CPU has (and immune to a busy machine, where two
    OpenMP threads on two shared cores can be many times slower); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_sam_ckpt(tmp_path_factory):
    from geoquiz.segmentation.sam import build_tiny_sam

    path = tmp_path_factory.mktemp("tiny_sam") / "tiny.pth"
    torch.save(build_tiny_sam(seed=4).state_dict(), path)
    return path


def tiny_sam(ckpt):
    from geoquiz.segmentation.sam import TINY_SAM, SamSegmenter, build_tiny_sam

    return SamSegmenter(
        TINY_SAM,
        str(ckpt),
        "cpu",
        build=build_tiny_sam,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
    )


def cache_index(db):
    """Every cache key with its element rows (no ids), canonically ordered."""
    maps = sorted(
        db.execute("SELECT cache_key, view, method, target, params_json FROM attribution_maps").fetchall()
    )
    segs = sorted(
        db.execute("SELECT cache_key, segmenter, params_json, n_segments FROM segmentations").fetchall()
    )
    elements = sorted(
        db.execute(
            "SELECT am.cache_key, sg.cache_key, e.params_key, e.rank, e.x0, e.y0, e.x1, e.y1, e.score, e.overlap, "
            "e.mean_attr, e.centre_attr, e.view, e.segment_index, e.segment_area FROM elements e "
            "JOIN attribution_maps am ON am.id = e.attribution_map_id JOIN segmentations sg ON sg.id = e.segmentation_id"
        ).fetchall()
    )
    return maps, segs, elements


def test_worker_core_and_store_equal_the_explainer_on_four_views_with_guided_sam(
    explain_project_root, tmp_path, tiny_sam_ckpt
):
    """A 4-view location, gradcam x (default, guided tiny SAM): the worker's core + the driver's
    store_explanation give the same keys, files and elements as the app's cache-aware Explainer."""
    from geoquiz.data.dataset import load_locations
    from geoquiz.explain import CheckpointExplainCore, Explainer
    from geoquiz.explain.cache import _load_npz
    from geoquiz.project import Project

    segmenters = ["default", "sam_vit_b:guided"]
    roots = {k: copy_project(explain_project_root, tmp_path / k) for k in ("app", "worker")}
    with Project.open(roots["app"]) as project:
        loc = load_locations(project.db, "tiny4")[0]
        ex = Explainer(project, "medium", segmenter_objects={"sam_vit_b": tiny_sam(tiny_sam_ckpt)})
        expected = {s: ex.elements(loc, "gradcam", s, PARAMS) for s in segmenters}
        app_index = cache_index(project.db)
        app_files = {
            p.relative_to(roots["app"] / "cache"): p.read_bytes()
            for p in (roots["app"] / "cache").rglob("*.npz")
        }
    with Project.open(roots["worker"]) as project:
        driver = Explainer(project, "medium", segmenter_objects={"sam_vit_b": tiny_sam(tiny_sam_ckpt)})
        core = CheckpointExplainCore(
            driver.checkpoint,
            "medium",
            model_hash=driver.model_hash,
            device="cpu",
            segmenter_objects={"sam_vit_b": tiny_sam(tiny_sam_ckpt)},
        )
        explanation = core.explain_sample(loc, ["gradcam"], segmenters, PARAMS)
        assert {s: explanation.elements_of("gradcam", s) for s in segmenters} == expected
        assert expected["sam_vit_b:guided"] and all(e.view in VIEWS for v in expected.values() for e in v)
        assert driver.explained([loc], ["gradcam"], segmenters, PARAMS) == {}
        driver.store_explanation(loc, explanation)
        assert cache_index(project.db) == app_index
        files = {
            p.relative_to(roots["worker"] / "cache"): p.read_bytes()
            for p in (roots["worker"] / "cache").rglob("*.npz")
        }
        assert files.keys() == app_files.keys()
        for rel in files:  # the same arrays (zip metadata aside)
            a, b = _load_npz(roots["app"] / "cache" / rel), _load_npz(roots["worker"] / "cache" / rel)
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        n = sum(len(v) for v in expected.values())
        assert driver.explained([loc], ["gradcam"], segmenters, PARAMS) == {loc.key: n}
        # the stored explanation now serves the Explainer from its cache
        again = Explainer(project, "medium", segmenter_objects={"sam_vit_b": tiny_sam(tiny_sam_ckpt)})
        assert again.elements(loc, "gradcam", "sam_vit_b:guided", PARAMS) == expected["sam_vit_b:guided"]
        assert again.stats["maps_computed"] == 0 and again.stats["elements_cached"] == 4


def test_explain_dataset_on_a_remote_style_engine_matches_local_and_skips_done(
    explain_project_root, tmp_path
):
    from geoquiz.explain import explain_dataset
    from geoquiz.project import Project

    summaries, indexes = {}, {}
    for name, engine in (("local", LocalEngine(batch_size=2)), ("pickling", PicklingEngine(batch_size=3))):
        root = copy_project(explain_project_root, tmp_path / name)
        with Project.open(root) as project:
            summaries[name] = explain_dataset(
                project,
                "medium",
                "tiny4",
                None,
                ["gradcam", "gradcampp"],
                ["default"],
                params=PARAMS,
                engine=engine,
            )
            indexes[name] = cache_index(project.db)
            again = explain_dataset(
                project, "medium", "tiny4", None, ["gradcam"], ["default"], params=PARAMS, engine=engine
            )
            assert (again["skipped"], again["explained"], again["stats"]["maps_computed"]) == (6, 0, 0)
    assert indexes["pickling"] == indexes["local"]
    local, remote = summaries["local"], summaries["pickling"]
    assert (remote["engine"], remote["explained"], remote["failed"]) == ("pickling", 6, 0)
    assert remote["elements"] == local["elements"] > 0
    assert remote["stats"]["maps_computed"] == local["stats"]["maps_computed"] == 6 * 2 * 4
    with pytest.raises(Exception, match="custom segmenter objects cannot be shipped"):
        from geoquiz.explain import Explainer

        with Project.open(tmp_path / "local") as project:
            ex = Explainer(project, "medium", segmenter_objects={"sam_vit_b": object()})
            explain_dataset(
                project,
                "medium",
                "tiny4",
                None,
                ["gradcam"],
                ["default"],
                explainer=ex,
                engine=PicklingEngine(),
            )


def test_predictions_do_not_depend_on_the_batch_or_the_engine(explain_project_root, tmp_path):
    from geoquiz.models.evaluation import load_predictions, predict_dataset
    from geoquiz.project import Project

    stored = {}
    for name, engine in (("one", LocalEngine(batch_size=1)), ("five", PicklingEngine(batch_size=5))):
        root = copy_project(explain_project_root, tmp_path / name)
        with Project.open(root) as project:
            summary = predict_dataset(project, "single", "tiny", "all", engine=engine)
            assert (summary["samples"], summary["predicted"], summary["failed"]) == (15, 15, 0)
            assert 0.0 <= summary["top1"] <= 1.0 and summary["n_labelled"] == 15
            stored[name] = sorted(
                (p["image_id"], p["pred_label"], p["confidence"], tuple(p["probs"]))
                for p in load_predictions(project.db, "single")
            )
            again = predict_dataset(project, "single", "tiny", "all", engine=engine)
            assert (again["skipped"], again["predicted"]) == (15, 0)
            redo = predict_dataset(project, "single", "tiny", "test", engine=engine, redo=True)
            assert (redo["skipped"], redo["predicted"]) == (0, 3)
            assert len(load_predictions(project.db, "single")) == 15  # replaced, not duplicated
    assert stored["one"] == stored["five"] and len(stored["one"]) == 15


def test_mean_fill_colour_from_worker_sums_equals_the_local_mean(explain_project_root):
    from geoquiz.faithfulness.grid import _mean_fill_colour, load_units
    from geoquiz.project import Project

    with Project.open(explain_project_root) as project:
        units = load_units(project.db, "tiny4", "train", 4)
    local = _mean_fill_colour(units, None)
    assert _mean_fill_colour(units, None, PicklingEngine(batch_size=2)) == local
    assert all(0.0 < c < 1.0 for c in local)


def test_cli_engine_errors(explain_project_root, capsys):
    from geoquiz.cli import main

    argv = ["predict", "-p", str(explain_project_root), "--model", "single", "--dataset", "tiny"]
    assert main([*argv, "--concurrency", "2"]) == 2
    assert "only apply to --engine ray" in capsys.readouterr().err
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from geoquiz.cli import main\n"
        f"sys.exit(main({[*argv, '--engine', 'ray']!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and 'pip install "geoquiz[ray]"' in out.stderr


def test_grouped_store_commits_groups_and_flushes_on_exit(memdb):
    from geoquiz.db import transaction
    from geoquiz.engine.base import GroupedStore

    with transaction(memdb):
        memdb.execute("CREATE TABLE t (k TEXT, v INTEGER)")
    commits = []
    memdb.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)

    def store(key, value):
        memdb.execute("INSERT INTO t (k, v) VALUES (?, ?)", [key, value])

    with GroupedStore(memdb, store, max_items=3, max_seconds=3600) as grouped:
        for i in range(7):
            grouped(f"k{i}", i)
        assert len(commits) == 2 and memdb.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 6
    assert len(commits) == 3 and memdb.execute("SELECT SUM(v) FROM t").fetchone()[0] == sum(range(7))
    with pytest.raises(RuntimeError), GroupedStore(memdb, store, max_items=10) as grouped:
        grouped("late", 100)
        raise RuntimeError("the run stopped")
    assert memdb.execute("SELECT v FROM t WHERE k = 'late'").fetchone()[0] == 100  # kept, not lost
    memdb.conn.set_trace_callback(None)
