"""The batch commands on both engines: ``geoquiz explain``, ``geoquiz evaluate`` and ``geoquiz predict``
on a small GeoScenes split with a tiny random ResNet, once with ``--engine local`` and once with
``--engine ray`` (the session's local Ray instance, 2 CPUs, 2 workers).

Each engine works on its own copy of the project, with the same corrupt image planted in both. The
checks: the corrupt image is listed as failed and the run goes on; every stored number (cache keys,
map files, segmentations, element boxes and scores, faithfulness rows and curves, predictions) is
identical between the engines; fixing the image and running the same commands again does only that
image; a third explain / predict finds everything done.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.engine import RAY_INSTALLED, copy_project

from geoquiz.cli import main

MODEL = "tiny"
DATASET = "geoscenes"
SPLIT = "train"
PER_CLASS = 3  # train images per country kept in the test project
N = 3 * PER_CLASS
EVAL_LIMIT = 6  # 2 per country (class-balanced), the corrupt one among them
ENGINE_ARGS = {"local": [], "ray": ["--engine", "ray", "--concurrency", "2"]}


def ray_test(fn):
    """Mark a test as needing Ray (skipped cleanly without it)."""
    fn = pytest.mark.skipif(not RAY_INSTALLED, reason='ray not installed: pip install "geoquiz[ray]"')(fn)
    return pytest.mark.ray(fn)


def image_path(root: Path, key: str) -> Path:
    from geoquiz.project import Project

    with Project.open(root) as project:
        return Path(project.db.execute("SELECT path FROM images WHERE key = ?", [key]).fetchone()[0])


@pytest.fixture(scope="module")
def base_project(geoscenes_project_root, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the GeoScenes project, its train split cut to 3 images per country, with model
    ``tiny`` (random resnet10, 64 px) and one corrupt image, among those the evaluation (``--limit 6``) picks."""
    import torch

    from geoquiz.db import transaction
    from geoquiz.faithfulness.grid import load_units
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model
    from geoquiz.project import Project

    root = copy_project(geoscenes_project_root, tmp_path_factory.mktemp("engine_cmds") / "base")
    with Project.open(root) as project:
        with transaction(project.db):  # a small split: the first PER_CLASS train images of each country
            project.db.execute(
                "DELETE FROM images WHERE split = ? AND dataset_id = (SELECT id FROM datasets WHERE name = ?) "
                "AND (SELECT COUNT(*) FROM images j WHERE j.dataset_id = images.dataset_id AND j.split = images.split "
                "AND j.label = images.label AND j.key < images.key) >= ?",
                [SPLIT, DATASET, PER_CLASS],
            )
        spec = ModelSpec("resnet10", "single", ("France", "India", "Japan"), input_size=64)
        torch.manual_seed(0)
        path = save_checkpoint(root / "models" / f"{MODEL}.pt", build_model(spec), spec)
        register_model(project, MODEL, path, dataset=DATASET)
        bad = load_units(project.db, DATASET, SPLIT, 1, EVAL_LIMIT)[1].key
    image_path(root, bad).write_bytes(b"\x89PNG\r\n\x1a\n not an image at all")
    return root, bad


def commands(root: Path) -> dict[str, list[str]]:
    common = ["-p", str(root), "--model", MODEL, "--dataset", DATASET, "--split", SPLIT]
    return {
        "explain": [
            "explain",
            *common,
            "--methods",
            "gradcam",
            "--segmenters",
            "default",
            "--batch-size",
            "3",
        ],
        "evaluate": [
            "evaluate",
            *common,
            "--methods",
            "gradcam,gradcampp",
            "--segmenters",
            "default",
            "--repeats",
            "3",
            "--curve-repeats",
            "1",
            "--limit",
            str(EVAL_LIMIT),
            "--engine-batch-size",
            "2",
        ],
        "predict": ["predict", *common, "--batch-size", "4"],
    }


def run_all(root: Path, engine: str, capsys, names=("explain", "evaluate", "predict")) -> dict:
    """Run the commands with ``engine``; ``{command: (exit code, stdout)}``."""
    out = {}
    for name in names:
        code = main([*commands(root)[name], *ENGINE_ARGS[engine]])
        out[name] = (code, capsys.readouterr().out)
    return out


def snapshot(root: Path) -> dict[str, list]:
    """Everything the commands stored, without row ids or times, in a canonical order."""
    from geoquiz.explain.cache import _load_npz
    from geoquiz.project import Project

    with Project.open(root) as project:
        db = project.db
        q = lambda sql: sorted(tuple(r) for r in db.execute(sql).fetchall())  # noqa: E731
        maps = q(
            "SELECT am.cache_key, i.key, am.method, am.target, am.params_json, am.path FROM attribution_maps am "
            "JOIN images i ON i.id = am.image_id"
        )
        map_values = [(m[0], _load_npz(root / "cache" / m[5])["values"].tobytes()) for m in maps]
        segs = q(
            "SELECT sg.cache_key, i.key, sg.segmenter, sg.params_json, sg.n_segments, sg.path FROM segmentations sg "
            "JOIN images i ON i.id = sg.image_id"
        )
        seg_masks = [(s[0], _load_npz(root / "cache" / s[5])["masks"].tobytes()) for s in segs]
        return {
            "maps": maps,
            "map_values": map_values,
            "segments": segs,
            "segment_masks": seg_masks,
            "element_sets": q(
                "SELECT am.cache_key, sg.cache_key, es.params_key, es.params_json, es.n_elements FROM element_sets es "
                "JOIN attribution_maps am ON am.id = es.attribution_map_id JOIN segmentations sg ON sg.id = es.segmentation_id"
            ),
            "elements": q(
                "SELECT i.key, am.method, sg.segmenter, e.rank, e.x0, e.y0, e.x1, e.y1, e.score, e.overlap, e.mean_attr, "
                "e.centre_attr, e.view, e.segment_index, e.segment_x0, e.segment_y0, e.segment_x1, e.segment_y1, "
                "e.segment_area FROM elements e JOIN attribution_maps am ON am.id = e.attribution_map_id "
                "JOIN segmentations sg ON sg.id = e.segmentation_id JOIN images i ON i.id = am.image_id"
            ),
            "results": q(
                "SELECT i.key, r.method, r.segmenter, r.test, r.selection, r.fill, r.repeat, r.seed, r.n_boxes, "
                "r.coverage, r.correct, r.true_prob, r.base_correct, r.base_true_prob FROM evaluation_results r "
                "JOIN images i ON i.id = r.image_id"
            ),
            "curves": q(
                "SELECT i.key, c.method, c.segmenter, c.test, c.selection, c.repeat, c.seed, c.k, c.n, c.coverage, "
                "c.correct, c.true_prob FROM evaluation_curves c JOIN images i ON i.id = c.image_id"
            ),
            "runs": q("SELECT status, config_json FROM evaluation_runs"),
            "predictions": q(
                "SELECT i.key, p.true_label, p.pred_label, p.confidence, p.probs_json FROM predictions p "
                "JOIN images i ON i.id = p.image_id"
            ),
        }


def run_summary(root: Path) -> dict:
    from geoquiz.faithfulness.store import list_runs
    from geoquiz.project import Project

    with Project.open(root) as project:
        [run] = list_runs(project.db)
        return {"status": run.status, **run.summary, "n_units": run.n_units}


@pytest.fixture(scope="module")
def projects(base_project, tmp_path_factory) -> tuple[dict[str, Path], str, dict]:
    """``(roots, corrupt key, outputs)``: a copy of the base project per engine, and a dict that
    :func:`outputs_for` fills with each engine's first-run outputs (so each runs once per module)."""
    root, bad = base_project
    engines = ("local", "ray") if RAY_INSTALLED else ("local",)
    roots = {e: copy_project(root, tmp_path_factory.mktemp(f"engine_cmds_{e}") / "proj") for e in engines}
    return roots, bad, {}


def outputs_for(engine: str, projects, capsys) -> tuple[Path, str, dict]:
    """``(root, corrupt key, {command: (exit code, stdout)})`` of ``engine``'s first run."""
    roots, bad, outputs = projects
    if engine not in outputs:
        outputs[engine] = run_all(roots[engine], engine, capsys)
    return roots[engine], bad, outputs[engine]


def check_first_run(root: Path, bad: str, outputs: dict, engine: str) -> None:
    for name, (code, text) in outputs.items():
        assert code == 1, f"{name} should report the corrupt image (exit 1): {text}"
        assert f"engine {engine}:" in text
        assert f"failed {bad}:" in text and "not an image" in text, text
    assert f"engine {engine}: {N - 1} explained, 0 already done (skipped), 1 failed" in outputs["explain"][1]
    assert f"engine {engine}: {N - 1} predicted, 0 already done (skipped), 1 failed" in outputs["predict"][1]
    summary = run_summary(root)
    assert summary["status"] == "incomplete" and summary["engine"] == engine
    assert [f["key"] for f in summary["failed"]] == [bad] and summary["n_units"] == EVAL_LIMIT - 1
    snap = snapshot(root)
    assert len({m[1] for m in snap["maps"]}) == N - 1  # every image but the corrupt one
    # explain: gradcam on N - 1 images; evaluate added gradcampp on its 5 (its gradcam maps came from the cache)
    n_eval = EVAL_LIMIT - 1
    assert len(snap["maps"]) == N - 1 + n_eval and len(snap["segments"]) == N - 1
    assert len(snap["element_sets"]) == N - 1 + n_eval
    assert len(snap["predictions"]) == N - 1 and bad not in {p[0] for p in snap["predictions"]}
    assert (
        bad not in {r[0] for r in snap["results"]} and len({r[0] for r in snap["results"]}) == EVAL_LIMIT - 1
    )


def test_local_engine_reports_the_corrupt_image_and_goes_on(projects, capsys):
    root, bad, outputs = outputs_for("local", projects, capsys)
    check_first_run(root, bad, outputs, "local")


@ray_test
def test_ray_engine_stores_exactly_what_the_local_engine_stores(ray_local, projects, capsys):
    local_root, bad, _ = outputs_for("local", projects, capsys)
    ray_root, _, outputs = outputs_for("ray", projects, capsys)
    check_first_run(ray_root, bad, outputs, "ray")
    local, remote = snapshot(local_root), snapshot(ray_root)
    for table in local:
        assert remote[table] == local[table], f"{table} differs between the local and the Ray engine"
    assert local["elements"] and local["results"] and local["curves"]  # not trivially equal
    assert len({r[11] for r in local["results"]}) > 10  # real, varied probabilities


@ray_test
def test_rerun_does_only_the_missing_image_then_nothing(ray_local, projects, capsys, geoscenes_project_root):
    """Fix the corrupt image in both copies: the same commands redo only it, on each engine, and
    the two projects are identical again; a third explain / predict has nothing left to do."""
    local_root, bad, _ = outputs_for("local", projects, capsys)
    ray_root, _, _ = outputs_for("ray", projects, capsys)
    good = image_path(geoscenes_project_root, bad).read_bytes()
    for root, engine in ((local_root, "local"), (ray_root, "ray")):
        image_path(root, bad).write_bytes(good)
        again = run_all(root, engine, capsys)
        assert all(code == 0 for code, _ in again.values()), again
        assert (
            f"engine {engine}: 1 explained, {N - 1} already done (skipped), 0 failed" in again["explain"][1]
        )
        assert (
            f"engine {engine}: 1 evaluated, {EVAL_LIMIT - 1} already done (skipped), 0 failed"
            in again["evaluate"][1]
        )
        assert (
            f"engine {engine}: 1 predicted, {N - 1} already done (skipped), 0 failed" in again["predict"][1]
        )
        summary = run_summary(root)
        assert summary["status"] == "done" and summary["n_units"] == EVAL_LIMIT and not summary["failed"]
        third = run_all(root, engine, capsys, names=("explain", "predict"))
        assert f"engine {engine}: 0 explained, {N} already done (skipped), 0 failed" in third["explain"][1]
        assert f"engine {engine}: 0 predicted, {N} already done (skipped), 0 failed" in third["predict"][1]
    local, remote = snapshot(local_root), snapshot(ray_root)
    assert len(local["predictions"]) == N and len({r[0] for r in local["results"]}) == EVAL_LIMIT
    for table in local:
        assert remote[table] == local[table], f"{table} differs after the re-runs"
