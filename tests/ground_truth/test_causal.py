"""Counterfactual cue importance: stored per unit in one transaction, resumable, the same on a worker
as in process, with clear errors on bad input; explanations scored against it."""

from __future__ import annotations

import pytest

from geoquiz.errors import GeoQuizError

CLASSES = ("France", "India", "Japan")


def _register(project, name: str, integration: str, seed: int, dataset: str):
    import torch

    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    spec = ModelSpec("resnet10", integration, CLASSES, input_size=64)
    torch.manual_seed(seed)
    path = save_checkpoint(project.root / "models" / f"{name}.pt", build_model(spec), spec)
    register_model(project, name, path, dataset=dataset)


@pytest.fixture(scope="module")
def causal_project(tmp_path_factory):
    from fixtures.demo_model import make_items

    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.data.store import store_dataset
    from geoquiz.project import Project

    root = tmp_path_factory.mktemp("causal") / "proj"
    with Project.open(root, create=True) as project:
        import_geoscenes(project, "gs", n_per_class=3, size=64, seed=0)
        import_geoscenes(project, "gs4", n_per_class=1, size=64, seed=0, four_view=True, cues="single")
        store_dataset(project, "plain", "single", make_items(root / "plain", n_per_class=2), source="test")
        _register(project, "single", "single", 0, "gs")
        _register(project, "medium", "medium", 1, "gs4")
        yield project


def _counts(db):
    return [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("causal_units", "causal_cues")]  # noqa: S608 - fixed names


def test_run_stores_every_unit_once_and_resumes(causal_project):
    from geoquiz.data.dataset import load_items
    from geoquiz.engine import make_engine
    from geoquiz.ground_truth.causal import run_causal
    from geoquiz.ground_truth.causal_store import load_units
    from geoquiz.hashing import file_hash
    from geoquiz.models.store import get_model

    db = causal_project.db
    items = load_items(db, "gs", None)
    summary = run_causal(causal_project, "single", "gs", None, engine=make_engine("local", batch_size=2))
    assert (summary.done, summary.failed) == (len(items), 0)
    n_units, n_cues = _counts(db)
    assert n_units == len(items) and n_cues > 3 * n_units
    again = run_causal(causal_project, "single", "gs", None)
    assert (again.done, again.skipped) == (0, len(items))
    assert _counts(db) == [n_units, n_cues]
    info = get_model(db, "single")
    units = load_units(db, file_hash(info.resolve(causal_project.root)), 1)
    for it in items:
        u = units[it.key]
        listed = {(c.tag, c.box.as_tuple()) for c in it.cues}
        assert {(e.tag, e.box.as_tuple()) for e in u.objects} == listed
        assert {e.tag for e in u.tags} == {c.tag for c in it.cues}
        for e in u.effects:
            assert e.drop == pytest.approx(u.true_prob - e.true_prob, abs=1e-6)
            assert e.flipped == (e.pred_label != u.pred_label)


def test_worker_setup_gives_the_same_numbers_and_four_views(causal_project):
    from geoquiz.data.dataset import get_dataset, load_locations
    from geoquiz.ground_truth.causal import CausalJob, run_causal

    ds = get_dataset(causal_project.db, "gs4")
    loc = load_locations(causal_project.db, "gs4", None)[0]
    ckpt = causal_project.root / "models" / "medium.pt"
    job = CausalJob(checkpoint=str(ckpt), model_hash="x", params=ds.params, device="cpu")
    import pickle

    (res,) = pickle.loads(pickle.dumps(job))([loc])  # shipped, then set up from the checkpoint (Ray)
    assert res.ok, res.error
    unit = res.value
    assert {e.view for e in unit.objects} <= {"north", "east", "south", "west"}
    assert unit.n_renders == 4 + len(unit.effects)
    summary = run_causal(causal_project, "medium", "gs4", None)
    assert summary.failed == 0
    from geoquiz.ground_truth.causal_store import load_units
    from geoquiz.hashing import file_hash

    stored = load_units(causal_project.db, file_hash(ckpt), ds.id)[loc.key]
    assert stored.true_prob == pytest.approx(unit.true_prob, abs=1e-5)
    assert [e.drop for e in stored.effects] == pytest.approx([e.drop for e in unit.effects], abs=1e-5)


def test_bad_input_is_named_and_a_changed_image_fails_alone(causal_project, tmp_path):
    import shutil

    from geoquiz.data.dataset import get_dataset, load_items
    from geoquiz.data.imageio import read_image, write_image
    from geoquiz.ground_truth.causal import CausalJob, run_causal

    with pytest.raises(GeoQuizError, match="no model named 'nope'"):
        run_causal(causal_project, "nope", "gs")
    with pytest.raises(GeoQuizError, match="'plain' is not a GeoScenes dataset"):
        run_causal(causal_project, "single", "plain")
    with pytest.raises(GeoQuizError, match="no dataset named"):
        run_causal(causal_project, "single", "missing")
    with pytest.raises(GeoQuizError, match="takes 1 view"):
        run_causal(causal_project, "single", "gs4", None)
    it = load_items(causal_project.db, "gs", None)[0]
    copy = tmp_path / "x.png"
    shutil.copy(it.path, copy)
    img = read_image(copy).copy()
    img[0, 0] = 255 - img[0, 0]
    write_image(copy, img)
    from dataclasses import replace

    job = CausalJob(
        checkpoint=str(causal_project.root / "models" / "single.pt"),
        model_hash="x",
        params=get_dataset(causal_project.db, "gs").params,
        device="cpu",
    )
    bad, good = job([replace(it, path=str(copy)), it])
    assert not bad.ok and "differs from its GeoScenes re-render" in bad.error
    assert good.ok


def test_explanations_are_scored_against_the_stored_truth(causal_project):
    from geoquiz.ground_truth.causal import run_causal
    from geoquiz.ground_truth.versus import MEASURES, VersusSettings, versus_on_dataset

    run_causal(causal_project, "single", "gs", None)
    result = versus_on_dataset(
        causal_project, "single", "gs", None, ["gradcam"], ["default"], settings=VersusSettings(repeats=5)
    )
    assert len(result.records) + len(result.wrong) == 9
    rows = result.summary(n_boot=100)
    assert [r["measure"] for r in rows] == list(MEASURES)
    for r in rows:
        if r["n"]:
            assert r["lo"] <= r["value"] <= r["hi"]
    with pytest.raises(GeoQuizError, match="no causal ground truth stored"):
        versus_on_dataset(causal_project, "medium", "gs", None)


def test_cli_runs_shows_scores_and_names_bad_input(causal_project, capsys):
    from geoquiz.cli import main

    root = str(causal_project.root)
    base = ["-p", root, "--model", "single", "--dataset", "gs", "--split", "all"]
    assert main(["groundtruth", "run", *base]) == 0
    assert main(["groundtruth", "run", *base]) == 0
    assert "0 computed, 9 already done" in capsys.readouterr().out
    assert main(["groundtruth", "show", *base]) == 0
    out = capsys.readouterr().out
    assert "(any single cue)" in out and "road_markings" in out
    assert main(["groundtruth", "score", *base, "--methods", "gradcam", "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "causal_hit" in out and "any_cue" in out
    assert main(["groundtruth", "run", "-p", root, "--model", "nope", "--dataset", "gs"]) == 2
    assert "error: no model named 'nope'" in capsys.readouterr().err
    assert main(["groundtruth", "run", "-p", root, "--model", "single", "--dataset", "plain"]) == 2
    assert "is not a GeoScenes dataset" in capsys.readouterr().err
    assert main(["groundtruth", "score", *base, "--methods", "magic"]) == 2
    assert "unknown attribution method(s) magic" in capsys.readouterr().err
    assert main(["groundtruth", "show", "-p", root, "--model", "medium", "--dataset", "gs"]) == 2
    assert "run: geoquiz groundtruth run" in capsys.readouterr().err


def test_participants_boxing_the_causal_cue_score_above_random(causal_project):
    from geoquiz.data.dataset import load_items
    from geoquiz.db import insert, transaction
    from geoquiz.ground_truth.causal import run_causal, stored_units
    from geoquiz.ground_truth.human import human_vs_causal

    db = causal_project.db
    run_causal(causal_project, "single", "gs", None)
    units = {u.key: u for u in stored_units(causal_project, "single", "gs", None)}
    items = [
        it for it in load_items(db, "gs", None) if max((e.drop for e in units[it.key].objects), default=0) > 0
    ]
    assert len(items) >= 3
    t = "2026-01-01T00:00:00"
    with transaction(db):
        sid = insert(db, "studies", {"slug": "s", "title": "S", "definition_toml": "", "created_at": t})
        for code in ("finder", "sky"):
            pid = insert(db, "participants", {"study_id": sid, "code": code, "created_at": t})
            ses = insert(
                db,
                "sessions",
                {"study_id": sid, "participant_id": pid, "seed": 0, "order_json": "[]", "started_at": t},
            )
            for pos, it in enumerate(items):
                trial = insert(
                    db,
                    "trials",
                    {
                        "session_id": ses,
                        "position": pos,
                        "kind": "main",
                        "image_id": it.id,
                        "true_label": it.label,
                        "shown_at": t,
                        "submitted_at": t,
                        "response_time_ms": 1000,
                    },
                )
                best = max(units[it.key].objects, key=lambda e: e.drop)
                b = best.box if code == "finder" else type(best.box)(0, 0, 2, 2)
                tag = best.tag if code == "finder" else "other"
                insert(
                    db,
                    "cue_boxes",
                    {
                        "trial_id": trial,
                        "view": None,
                        "tag": tag,
                        "x0": b.x0,
                        "y0": b.y0,
                        "x1": b.x1,
                        "y1": b.y1,
                    },
                )
    result = human_vs_causal(causal_project, "single", "s", repeats=20)
    rows = {r["participant"]: r for r in result.summary(by_participant=True, n_boot=100)}
    assert rows["finder"]["causal_hit"] == 1.0 and rows["finder"]["random_hit"] < 1.0
    assert rows["finder"]["share"] > rows["finder"]["random_share"]
    assert rows["sky"]["causal_hit"] == 0.0
    assert {r["tag"] for r in result.tag_rows} >= {"other"}
    with pytest.raises(GeoQuizError, match="no study 'nope'"):
        human_vs_causal(causal_project, "single", "nope")
    from geoquiz.cli import main

    assert (
        main(["groundtruth", "humans", "-p", str(causal_project.root), "--model", "single", "--study", "s"])
        == 0
    )


def _causal_rows(root) -> list[tuple]:
    from geoquiz.project import Project

    with Project.open(root) as project:
        return project.db.execute(
            "SELECT u.unit_key, u.label, u.true_prob, u.pred_label, u.n_renders, c.kind, c.view, c.instance, "
            "c.cue_key, c.tag, c.x0, c.y0, c.x1, c.y1, c.true_prob, c.drop_prob, c.pred_label, c.flipped "
            "FROM causal_cues c JOIN causal_units u ON u.id = c.unit_id "
            "WHERE u.model_name = 'single' ORDER BY u.unit_key, c.kind, c.view, c.instance, c.tag"
        ).fetchall()


@pytest.mark.ray
def test_ray_engine_stores_what_the_local_engine_stores(causal_project, ray_local, tmp_path, capsys):
    """``geoquiz groundtruth run --engine ray`` (the session's local Ray, 2 workers) on a copy of the
    project stores exactly the rows the local engine stored."""
    from fixtures.engine import copy_project

    from geoquiz.cli import main
    from geoquiz.db import transaction
    from geoquiz.project import Project

    args = ["--model", "single", "--dataset", "gs", "--split", "all"]
    assert main(["groundtruth", "run", "-p", str(causal_project.root), *args]) == 0  # local (or done)
    causal_project.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = copy_project(causal_project.root, tmp_path / "ray_copy")
    with Project.open(copy) as project, transaction(project.db):
        project.db.execute("DELETE FROM causal_units")  # the cues go with them (ON DELETE CASCADE)
    capsys.readouterr()
    assert main(["groundtruth", "run", "-p", str(copy), *args, "--engine", "ray", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    local, remote = _causal_rows(causal_project.root), _causal_rows(copy)
    with Project.open(copy) as project:
        units = project.db.execute("SELECT COUNT(*) FROM causal_units").fetchone()[0]
    assert units >= 8 and f"engine ray: {units} computed" in out and ", 0 failed" in out
    assert len(local) > 3 * len({r[0] for r in local})  # units with cues: one row per object and per tag
    assert len(remote) == len(local)
    for a, b in zip(local, remote, strict=True):
        assert a[:2] == b[:2] and a[3:14] == b[3:14] and a[16:] == b[16:]
        assert a[2] == pytest.approx(b[2], abs=1e-5) and a[14:16] == pytest.approx(b[14:16], abs=1e-5)
