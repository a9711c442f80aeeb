"""Method parameters are part of a run's configuration: parsed and checked, resolved to numbers
(Score-CAM's channels), recorded, shown, exported, keyed on, settable from ``geoquiz evaluate`` and
the Faithfulness tab; a run is never continued with other parameters than it recorded."""

from __future__ import annotations

import json
import shutil

import pytest

from geoquiz.attribution.params import describe, differences, parse_method_params
from geoquiz.errors import GeoQuizError


def test_parse_method_params():
    assert parse_method_params(["scorecam.channels=256", "ig.n_steps=64", "ig.baseline=mean"]) == {
        "scorecam": {"channels": 256},
        "ig": {"n_steps": 64, "baseline": "mean"},
    }
    assert parse_method_params(["scorecam.channels=ALL", "smoothgrad.noise=0.2"]) == {
        "scorecam": {"channels": "all"},
        "smoothgrad": {"noise": 0.2},
    }
    bad = {
        "scorecam.chanels=8": "scorecam has no parameter 'chanels'; its parameters: channels, batch_size",
        "lime.samples=8": "unknown attribution method 'lime'",
        "scorecam.channels=0": "scorecam.channels must be auto, all or a positive whole number",
        "smoothgrad.noise=2": "smoothgrad.noise must be at most 1",
        "smoothgrad.n_samples=2.5": "smoothgrad.n_samples must be a whole number",
        "ig.baseline=grey": "ig.baseline must be one of black, mean",
        "channels=8": "expects METHOD.NAME=VALUE",
        "gradcam.x=1": "gradcam has no parameter 'x'; its parameters: (none)",
    }
    for text, message in bad.items():
        with pytest.raises(GeoQuizError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_method_params([text])
    assert describe({"scorecam": {"channels": 8, "batch_size": 32}}, ["gradcam", "scorecam"]) == (
        "scorecam.batch_size=32, scorecam.channels=8"
    )
    assert differences({"scorecam": {"channels": 512}}, {"scorecam": {"channels": 256}}) == [
        "scorecam.channels: 512 -> 256"
    ]


def test_scorecam_channels_resolve_to_a_number():
    from geoquiz.attribution.cam import resolve_channels

    assert resolve_channels("auto", 512, "cpu") == 256
    assert resolve_channels("auto", 512, "cuda") == 512
    assert resolve_channels("auto", 128, "cpu") == 128
    assert resolve_channels("all", 2048, "cpu") == 2048
    assert resolve_channels(4096, 512, "cpu") == 512  # more than exist = all of them
    assert resolve_channels("64", 512, "cuda") == 64
    with pytest.raises(ValueError):
        resolve_channels(0, 512, "cpu")


@pytest.fixture
def proj(explain_project_root, tmp_path):
    from geoquiz.project import Project

    root = tmp_path / "proj"
    shutil.copytree(explain_project_root, root)
    with Project.open(root) as project:
        yield project


GRID = dict(repeats=1, curves=False, limit=3, device="cpu")


def test_run_records_shows_exports_and_keys_on_the_parameters(proj, tmp_path):
    from geoquiz.faithfulness.export import export_run
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.store import get_run

    run_id = run_grid(
        proj,
        "single",
        "tiny",
        "test",
        ["gradcam", "scorecam"],
        ["default"],
        method_params={"scorecam": {"channels": 8}},
        **GRID,
    )
    run = get_run(proj.db, run_id)
    assert run.config["method_params"] == {"gradcam": {}, "scorecam": {"channels": 8, "batch_size": 32}}
    assert "scorecam.channels=8" in run.title() and "scorecam.channels=8" in run.method_params_text()
    paths = export_run(proj.db, run_id, tmp_path / "out", formats=["csv"])
    config = json.loads(next(p for p in paths if p.name.endswith("_config.json")).read_text())
    assert config["config"]["method_params"]["scorecam"]["channels"] == 8
    keyed = {
        json.loads(p)["channels"]
        for (p,) in proj.db.execute("SELECT params_json FROM attribution_maps WHERE method = 'scorecam'")
    }
    assert keyed == {8}
    # other channels: other maps (another cache key), a new run
    other = run_grid(
        proj,
        "single",
        "tiny",
        "test",
        ["scorecam"],
        ["default"],
        method_params={"scorecam": {"channels": 16}},
        **GRID,
    )
    assert other != run_id
    keyed = {
        json.loads(p)["channels"]
        for (p,) in proj.db.execute("SELECT params_json FROM attribution_maps WHERE method = 'scorecam'")
    }
    assert keyed == {8, 16}


def test_an_interrupted_run_is_never_continued_with_other_parameters(proj, monkeypatch):
    """``channels="auto"`` is resolved per device; here a different resolution (as on a GPU) is made by
    changing the CPU default. The run recorded 256: resuming it keeps 256, and a new command that
    resolves to another number is refused rather than mixed into the run."""
    import geoquiz.attribution.cam as cam
    from geoquiz.faithfulness import store
    from geoquiz.faithfulness.grid import resume_run, run_grid

    run_id = run_grid(proj, "single", "tiny", "test", ["scorecam"], ["default"], **GRID)
    assert store.get_run(proj.db, run_id).config["method_params"]["scorecam"]["channels"] == 256
    store.set_status(proj.db, run_id, "cancelled")  # as if interrupted

    monkeypatch.setattr(cam, "CPU_SCORECAM_CHANNELS", 128)  # "auto" now resolves to another number
    with pytest.raises(GeoQuizError) as err:
        run_grid(proj, "single", "tiny", "test", ["scorecam"], ["default"], **GRID)
    msg = str(err.value)
    assert f"run #{run_id}" in msg and "scorecam.channels: 256 -> 128" in msg
    assert "--method-param scorecam.channels=256" in msg and "--new" in msg
    with pytest.raises(GeoQuizError, match="scorecam.channels: 256 -> 64"):
        resume_run(proj, run_id, device="cpu", method_params={"scorecam": {"channels": 64}})
    assert resume_run(proj, run_id, device="cpu") == run_id  # its own, recorded parameters
    assert run_grid(proj, "single", "tiny", "test", ["scorecam"], ["default"], resume=False, **GRID) != run_id
    maps = {json.loads(p)["channels"] for (p,) in proj.db.execute("SELECT params_json FROM attribution_maps")}
    assert maps == {256, 128}
    assert store.get_run(proj.db, run_id).config["method_params"]["scorecam"]["channels"] == 256


def test_cli_evaluate_takes_method_params(proj, capsys):
    from geoquiz.cli import main

    args = [
        "evaluate",
        "-p",
        str(proj.root),
        "--model",
        "single",
        "--dataset",
        "tiny",
        "--methods",
        "scorecam",
    ]
    args += ["--repeats", "1", "--limit", "3", "--no-curves", "--device", "cpu"]
    assert main([*args, "--method-param", "scorecam.channels=12"]) == 0
    out = capsys.readouterr().out
    assert "method parameters: scorecam.batch_size=32, scorecam.channels=12" in out
    assert main(["evaluate", "-p", str(proj.root), "--list"]) == 0
    assert "scorecam.channels=12" in capsys.readouterr().out
    assert main([*args, "--method-param", "scorecam.channels=many"]) == 2
    assert "error: method parameter scorecam.channels must be auto, all" in capsys.readouterr().err


def test_faithfulness_tab_sets_the_parameters(qtbot, proj):
    from PySide6.QtCore import Qt

    from ui.context import AppContext
    from ui.views.faithfulness_view import FaithfulnessView
    from ui.workers import wait_all

    view = FaithfulnessView(AppContext(proj))
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    editor = view.method_params
    assert editor.button.text() == "Method parameters…" and not editor.dialog.isVisible()
    qtbot.mouseClick(editor.button, Qt.LeftButton)
    assert editor.dialog.isVisible()
    channels = editor.controls[("scorecam", "channels")]
    channels.lineEdit().selectAll()
    qtbot.keyClicks(channels.lineEdit(), "24")
    steps = editor.controls[("ig", "n_steps")]
    steps.lineEdit().selectAll()
    qtbot.keyClicks(steps, "40")
    assert view.run_options().method_params == {"scorecam": {"channels": 24}, "ig": {"n_steps": 40}}
    assert editor.button.text() == "Method parameters (2 set)…"
    assert editor.summary == "scorecam.channels=24, ig.n_steps=40" in editor.button.toolTip()
    editor.dialog.close()

    form = view.form
    form.model_box.setCurrentIndex(form.model_box.findData("single"))
    form.dataset_box.setCurrentIndex(form.dataset_box.findData("tiny"))
    form.methods_list.item(0).setCheckState(Qt.Unchecked)  # gradcam
    form.methods_list.item(1).setCheckState(Qt.Unchecked)  # gradcampp
    form.methods_list.item(2).setCheckState(Qt.Checked)  # scorecam
    form.repeats_spin.setValue(1)
    form.limit_spin.setValue(3)
    form.curves_check.setChecked(False)
    qtbot.mouseClick(view.controls.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.worker is None, timeout=120000)
    assert "finished" in view.status_label.text()
    from geoquiz.faithfulness.store import list_runs

    run = list_runs(proj.db)[0]
    assert run.config["method_params"]["scorecam"]["channels"] == 24
    qtbot.waitUntil(lambda: view.results is not None, timeout=30000)
    assert "scorecam.channels=24" in view.summary_label.text()
    view.grab().save(str(proj.root / "faithfulness_method_params.png"))

    channels.lineEdit().selectAll()
    qtbot.keyClicks(channels.lineEdit(), "lots")
    with pytest.raises(ValueError, match="scorecam.channels"):
        view.run_options()
    wait_all(10000)
