"""The export's worker processes (geoquiz.study.export_parts): errors named, a crash reported, a
cancelled export leaves no part file and no worker behind, files not yet complete untouched."""

from __future__ import annotations

import pytest

from bench._study_data import build
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Cancelled, Reporter
from geoquiz.project import Project
from geoquiz.study import export as ex
from geoquiz.study import export_parts
from geoquiz.study.export_parts import Part, WorkerError, WorkerPool


@pytest.fixture(scope="module")
def study_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers") / "proj"
    build(root, 8, 5, 16, 2)
    return root


@pytest.fixture
def forced(monkeypatch):
    """Every export on worker processes, in parts of 5 rows; the pools started, to look at after."""
    pools: list[list] = []

    class Pool(WorkerPool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(list(self.procs))

    monkeypatch.setattr(ex, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(export_parts, "PART_ROWS", 5)
    monkeypatch.setattr(ex, "WorkerPool", Pool)
    monkeypatch.setattr(ex.os, "cpu_count", lambda: 2)  # the 2 workers even on a 1-core runner
    return pools


def test_a_worker_names_a_file_it_cannot_write_and_keeps_serving(study_root, tmp_path):
    db = Project.open(study_root).db_path
    with WorkerPool(1) as pool:
        pool.call({"op": "open", "db": str(db)})
        pool.call({"op": "begin"})
        missing = tmp_path / "no-such-folder" / "part.tmp"
        part = Part("guesses", 0, None, None, 0).to_json()
        with pytest.raises(WorkerError, match="no-such-folder") as err:
            pool.call({"op": "part", **part, "path": str(missing)})
        assert err.value.oserror and err.value.strerror == "No such file or directory"
        with pytest.raises(WorkerError, match="unknown request 'nonsense'"):
            pool.call({"op": "nonsense"})
        # still answering: the whole guesses table as one part
        answers = pool.call({"op": "part", **part, "path": str(tmp_path / "g.tmp")})
        assert (
            answers[0]["rows"]
            == Project.open(study_root).db.execute("SELECT count(*) FROM guesses").fetchone()[0]
        )
        assert (tmp_path / "g.tmp").read_bytes().count(b"\r\n") == answers[0]["rows"]


def test_a_worker_that_dies_is_reported(study_root):
    with WorkerPool(2) as pool:
        pool.procs[1].kill()
        with pytest.raises(WorkerError, match="export worker 2 stopped unexpectedly"):
            pool.call({"op": "open", "db": str(Project.open(study_root).db_path)})


def test_a_failing_worker_fails_the_export_with_the_reason(study_root, tmp_path, forced, monkeypatch):
    monkeypatch.setattr(
        ex, "part_path", lambda out, part, run: out / "gone" / f"{part.table}.{part.index}.tmp"
    )
    out = tmp_path / "out"
    with Project.open(study_root) as project, pytest.raises(GeoQuizError) as err:
        ex.export_all(project, out, what=["trials", "guesses"])
    assert str(err.value) == f"cannot write the export to {out}: No such file or directory"
    assert not (out / "trials.csv").exists() and not (out / "guesses.csv").exists()
    assert all(proc.poll() is not None for proc in forced[0])  # the workers are gone


def test_cancelling_stops_the_workers_and_leaves_what_was_there(study_root, tmp_path, forced):
    out = tmp_path / "out"
    out.mkdir()
    old = {name: f"an earlier {name}\r\n".encode() for name in ("trials.csv", "guesses.csv", "cue_boxes.csv")}
    for name, data in old.items():
        (out / name).write_bytes(data)

    def on_step(done, total, message):
        if message.startswith("wrote"):  # the first file is complete: stop the rest
            reporter.token.cancel()

    reporter = Reporter(on_step)
    with Project.open(study_root) as project, pytest.raises(Cancelled):
        ex.export_all(project, out, what=["trials", "guesses", "cue_boxes", "coco"], reporter=reporter)
    assert all(proc.poll() is not None for proc in forced[0])
    assert not list(out.glob(".*"))  # no part, COCO folder or temporary file
    replaced = [name for name, data in old.items() if (out / name).read_bytes() != data]
    assert (
        len(replaced) + (out / ex.COCO_NAME).exists() <= 1
    )  # the file done before the cancel; the rest as they were
    for name in replaced:
        assert (out / name).read_bytes().startswith(b"box_id," if name == "cue_boxes.csv" else b"trial_id,")


def test_two_exports_into_one_folder_at_once_each_write_their_own_parts(study_root, tmp_path, forced):
    """Two exports started together into the same folder (two researchers, one shared folder): each
    has its own part files, and what both leave behind is complete and the same as a lone export."""
    import threading

    out, alone = tmp_path / "shared", tmp_path / "alone"
    what = ["trials", "guesses", "cue_boxes"]
    errors = []

    def export() -> None:
        try:
            with Project.open(study_root) as project:
                ex.export_all(project, out, what=what)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=export) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(forced) == 2
    with Project.open(study_root) as project:
        ex.export_all(project, alone, what=what)
    assert not list(out.glob(".*"))
    for name in ("trials.csv", "guesses.csv", "cue_boxes.csv"):
        assert (out / name).read_bytes() == (alone / name).read_bytes(), name


def test_no_worker_can_start_so_the_export_is_written_here(study_root, tmp_path, forced, monkeypatch):
    """When no worker can be started (the interpreter is gone; a frozen build): the same files,
    written in this process."""
    import subprocess

    def refuse(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "python")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    with Project.open(study_root) as project:
        files = ex.export_all(project, tmp_path / "out", what=["trials", "guesses"])
        ex.export_all(project, tmp_path / "here", what=["trials", "guesses"], workers=1)
    assert forced == [] and [p.name for p in files][:2] == ["trials.csv", "guesses.csv"]
    for name in ("trials.csv", "guesses.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()


def test_a_frozen_build_writes_here_at_once(study_root, tmp_path, forced, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "frozen", True, raising=False)  # PyInstaller: sys.executable is the app
    with Project.open(study_root) as project:
        ex.export_all(project, tmp_path / "out", what=["guesses"])
    assert forced == [] and (tmp_path / "out" / "guesses.csv").stat().st_size > 0


def test_one_core_writes_here(study_root, tmp_path, forced, monkeypatch):
    monkeypatch.setattr(ex.os, "cpu_count", lambda: 1)
    with Project.open(study_root) as project:
        ex.export_all(project, tmp_path / "out", what=["guesses"])
    assert forced == []


def test_a_worker_that_prints_something_else_is_an_error(monkeypatch):
    """Anything but an answer on a worker's stdout fails the request (it never hangs the export)."""
    boot = 'import json, sys; print(json.dumps({{"ready": True}}), flush=True); print("oops", flush=True); sys.stdin.read()'
    monkeypatch.setattr(export_parts, "_BOOT", boot)
    with WorkerPool(1) as pool, pytest.raises(WorkerError, match="said something unexpected: 'oops'"):
        pool.call({"op": "open", "db": "x"}, timeout=30)


def test_a_missing_database_is_named_on_both_paths(study_root, tmp_path, forced):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(study_root, copy)
    project = Project.open(copy)
    try:
        project.db_path.rename(tmp_path / "elsewhere.sqlite")
        for workers in (2, 1):
            with pytest.raises(GeoQuizError, match="cannot export: the project database .* does not exist"):
                ex.export_all(project, tmp_path / f"out{workers}", what=["guesses"], workers=workers)
        assert not (copy / "geoquiz.sqlite").exists()  # not created empty by a reader
    finally:
        project.close()
