"""The demo project: staged, idempotent, resumable build; the CLI; the app's first-launch flow."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geoquiz import demo
from geoquiz.data.dataset import get_dataset, list_datasets, load_items
from geoquiz.progress import Cancelled, CancelToken, Reporter
from geoquiz.project import Project


@pytest.fixture
def small_demo(monkeypatch):
    """A demo recipe small enough for tests (the full one renders ~1400 images and trains a model).

    The model stage is switched off here: the demo model is trained and tested by geoquiz.models.demo's
    own tests, and training inside this file would dominate the suite's runtime.
    """
    monkeypatch.setattr(demo, "DATASETS", (("geoscenes", False, 4), ("geoscenes-4view", True, 1)))
    monkeypatch.setattr(demo, "IMAGE_SIZE", 64)
    monkeypatch.setattr(demo, "FIRST_BATCH", 2)
    monkeypatch.setattr(demo, "CHUNK", 3)
    monkeypatch.setattr(demo, "RENDER_WORKERS", 1)
    monkeypatch.setattr(demo, "_model_available", lambda: False)


def test_build_is_staged_idempotent_and_reports_progress(tmp_path, small_demo):
    root = tmp_path / "demo"
    assert not demo.demo_is_ready(root)
    seen = []
    assert (
        demo.ensure_demo_project(root, reporter=Reporter(lambda d, t, m: seen.append((d, t, m))))
        == root.resolve()
    )
    assert demo.demo_is_ready(root)
    assert all(t == demo.PROGRESS_TOTAL for _, t, _ in seen) and seen[-1][0] == demo.PROGRESS_TOTAL
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones), "overall progress must never go backwards"
    assert any(m.startswith(demo.STAGE_LABELS["4view"]) for _, _, m in seen)
    marker = json.loads((root / demo.MARKER).read_text())
    assert marker["version"] == demo.DEMO_VERSION and "datasets" in marker["stages"]
    with Project.open(root) as project:
        infos = {d.name: d for d in list_datasets(project.db)}
        assert infos["geoscenes"].n_images == 12 and infos["geoscenes-4view"].n_locations == 3
        ids = {name: d.id for name, d in infos.items()}
        if demo._studies_available():
            n_studies = project.db.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
            assert set(marker["studies"]) == {p.name for p in demo.studies_dir().glob("*.toml")}
            assert n_studies == sum(v == "installed" for v in marker["studies"].values())
    mtime = (root / demo.MARKER).stat().st_mtime_ns
    again = []
    demo.ensure_demo_project(root, reporter=Reporter(lambda d, t, m: again.append(d)))
    assert again == [demo.PROGRESS_TOTAL] and (root / demo.MARKER).stat().st_mtime_ns == mtime
    with Project.open(root) as project:
        assert {d.name: d.id for d in list_datasets(project.db)} == ids


def test_browsable_first_then_the_rest(tmp_path, small_demo):
    """The app's first launch: a first batch of images opens the project, the rest follows."""
    root = tmp_path / "demo"
    assert not demo.demo_is_browsable(root)
    messages = []
    demo.ensure_demo_project(root, until="browsable", reporter=Reporter(lambda d, t, m: messages.append(m)))
    assert demo.demo_is_browsable(root) and not demo.demo_is_ready(root)
    assert all(m.startswith(demo.STAGE_LABELS["preview"]) for m in messages)
    with Project.open(root) as project:
        info = get_dataset(project.db, "geoscenes")
        assert info.n_images == 6 and info.params["complete"] is False and info.params["size"] == 64
        assert [d.name for d in list_datasets(project.db)] == ["geoscenes"]
    demo.ensure_demo_project(root, until="browsable")  # idempotent
    demo.ensure_demo_project(root)
    assert demo.demo_is_ready(root)
    with Project.open(root) as project:
        info = get_dataset(project.db, "geoscenes")
        assert info.n_images == 12 and "complete" not in info.params
        assert get_dataset(project.db, "geoscenes-4view").n_locations == 3
        assert {it.width for it in load_items(project.db, "geoscenes")} == {64}


def test_interrupted_build_resumes_and_keeps_finished_stages(tmp_path, small_demo):
    root = tmp_path / "demo"
    token = CancelToken()

    def cancel_in_second_dataset(done: int, total: int, message: str) -> None:
        if message.startswith(demo.STAGE_LABELS["4view"]):
            token.cancel()

    with pytest.raises(Cancelled):
        demo.ensure_demo_project(root, reporter=Reporter(cancel_in_second_dataset, token))
    assert not demo.demo_is_ready(root) and not (root / demo.MARKER).exists()
    with Project.open(root) as project:
        assert [d.name for d in list_datasets(project.db)] == ["geoscenes"]
        first_id = get_dataset(project.db, "geoscenes").id
    assert sorted(p.name for p in (root / "datasets").iterdir()) == ["geoscenes"]  # no half-written folder
    demo.ensure_demo_project(root)
    assert demo.demo_is_ready(root)
    with Project.open(root) as project:
        assert get_dataset(project.db, "geoscenes").id == first_id
        assert get_dataset(project.db, "geoscenes-4view").n_locations == 3


def test_changed_recipe_or_missing_files_rebuild_a_dataset(tmp_path, small_demo, monkeypatch):
    root = tmp_path / "demo"
    demo.ensure_demo_project(root)
    victim = next((root / "datasets" / "geoscenes" / "India").glob("*.png"))
    victim.unlink()
    monkeypatch.setattr(demo, "DEMO_VERSION", demo.DEMO_VERSION + 1)
    assert not demo.demo_is_ready(root)
    demo.ensure_demo_project(root)
    assert victim.exists() and demo.demo_is_ready(root)


def test_cli_demo_builds_and_reports(tmp_path, small_demo, capsys):
    from geoquiz.cli import main

    root = tmp_path / "cli-demo"
    assert main(["demo", "--project", str(root)]) == 0
    out = capsys.readouterr().out
    assert "dataset geoscenes: 4 images per class (France, India, Japan)" in out
    assert "dataset geoscenes-4view: 1 locations per class" in out
    assert main(["demo", "--project", str(root)]) == 0
    assert capsys.readouterr().out.strip() == f"the demo project is ready at {root.resolve()}"


def test_cli_geoscenes_writes_a_folder(tmp_path, capsys):
    from geoquiz.cli import main

    sheet = tmp_path / "sheet.png"
    args = [
        "geoscenes",
        str(tmp_path / "gs"),
        "--n-per-class",
        "1",
        "--size",
        "64",
        "--seed",
        "5",
        "--sheet",
        str(sheet),
    ]
    assert main(args) == 0
    assert "wrote 3 images" in capsys.readouterr().out
    assert (tmp_path / "gs" / "manifest.csv").read_text().startswith("id,path,country,split\n")
    from geoquiz.data.imageio import read_image

    grid = read_image(sheet)  # 3 rows of one 64 px tile, a label column and the legend
    assert grid.shape[0] == 3 * 66 + 22
    tile = grid[:64, 70:134]
    assert np.abs(tile.astype(int) - read_image(tmp_path / "gs" / "France" / "france_0000.png")).mean() < 40
    assert main(["geoscenes", str(tmp_path / "bad"), "--n-per-class", "1", "--countries", "Mordor"]) == 2
    assert "unknown GeoScenes countries ['Mordor']" in capsys.readouterr().err


def test_app_first_launch_opens_on_a_first_batch_and_builds_the_rest_in_the_background(qtbot, small_demo):
    from PySide6.QtCore import Qt

    from ui import workers
    from ui.app import create_window

    window = create_window(None)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.ctx.project is not None, timeout=60000)
    launcher = window.demo_launcher
    assert window.ctx.project.root == demo.demo_project_dir().resolve()
    # the window opened on the first batch; the welcome panel names the four workflows
    assert launcher.times["browsable"] > 0
    welcome = launcher.welcome
    assert welcome is not None and welcome.isVisible()
    assert [b.text().replace("&&", "&") for b in welcome.buttons.values()] == [
        "Browse & predict",
        "Explain",
        "Run a quiz",
        "Review & export",
    ]
    qtbot.mouseClick(welcome.buttons["welcomeExplain"], Qt.LeftButton)
    assert window.tabs.currentWidget() is window.views["Explain"] and not welcome.isVisible()
    qtbot.waitUntil(lambda: "ready" in launcher.times, timeout=120000)
    assert demo.demo_is_ready(demo.demo_project_dir())
    assert window.ctx.training is None and not window.busy.isVisible()
    infos = {d.name: d for d in list_datasets(window.ctx.project.db)}
    assert infos["geoscenes"].n_images == 12 and infos["geoscenes-4view"].n_locations == 3
    window.close()
    workers.wait_all()
    # second launch: ready at once, no build job, no welcome panel
    second = create_window(None)
    qtbot.addWidget(second)
    assert second.ctx.project is not None and second.demo_launcher.welcome is None
    second.close()


def test_an_interrupted_first_launch_reopens_what_is_there_and_continues(qtbot, small_demo):
    from ui import workers
    from ui.app import create_window

    demo.ensure_demo_project(demo.demo_project_dir(), until="browsable")  # a launch closed early
    window = create_window(None)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.ctx.project is not None, timeout=60000)
    assert window.ctx.training is not None or "ready" in window.demo_launcher.times
    qtbot.waitUntil(lambda: "ready" in window.demo_launcher.times, timeout=120000)
    assert demo.demo_is_ready(demo.demo_project_dir())
    window.close()
    workers.wait_all()


def test_window_lists_the_demo_images_fast_without_importing_torch(geoscenes_project_root, tmp_path):
    """A fresh interpreter opens the main window on a GeoScenes project: the Dataset tab lists its
    images, and torch is not imported to show the window (it loads lazily, in workers)."""
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "t0 = time.perf_counter()\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from ui.app import create_window\n"
        "from pathlib import Path\n"
        "w = create_window(Path(sys.argv[1]))\n"
        "app.processEvents()\n"
        "shown = time.perf_counter() - t0\n"
        "view = w.views['Dataset']\n"
        "print('torch' in sys.modules, view.model.rowCount(), view.count_label.text(), f'{shown:.2f}')\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "GEOQUIZ_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(geoscenes_project_root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    torch_loaded, rows, *rest = out.stdout.split()
    assert torch_loaded == "False"
    assert int(rows) == 24  # 8 GeoScenes images per country
    assert "24 of 24 images" in " ".join(rest)


def test_an_older_dataset_that_quiz_sessions_used_is_kept(tmp_path, small_demo, monkeypatch):
    """A recipe change rebuilds a demo dataset, unless recorded trials show its images."""
    from geoquiz.db import transaction

    root = tmp_path / "demo"
    demo.ensure_demo_project(root)
    with Project.open(root) as project:
        image_id = project.db.execute("SELECT id FROM images LIMIT 1").fetchone()[0]
        old_id = get_dataset(project.db, "geoscenes").id
        with transaction(project.db):
            db = project.db
            db.execute(
                "INSERT INTO studies (slug, title, definition_toml, created_at) VALUES ('s', 's', '', 'now')"
            )
            db.execute("INSERT INTO participants (study_id, code, created_at) VALUES (1, 'P1', 'now')")
            db.execute(
                "INSERT INTO sessions (study_id, participant_id, seed, order_json, started_at) "
                "VALUES (1, 1, 0, '[]', 'now')"
            )
            db.execute(
                "INSERT INTO trials (session_id, position, kind, image_id, true_label, shown_at, submitted_at, "
                "response_time_ms) VALUES (1, 0, 'main', ?, 'France', 'now', 'now', 1000)",
                [image_id],
            )
    monkeypatch.setattr(demo, "IMAGE_SIZE", 72)  # a new recipe
    monkeypatch.setattr(demo, "DEMO_VERSION", demo.DEMO_VERSION + 1)
    demo.ensure_demo_project(root)
    assert demo.demo_is_ready(root)
    with Project.open(root) as project:
        assert get_dataset(project.db, "geoscenes").id == old_id  # kept: a trial refers to it
        assert get_dataset(project.db, "geoscenes-4view").params["size"] == 72  # rebuilt
