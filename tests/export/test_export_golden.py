"""The export writes exactly the bytes of the frame-based (pandas) export it replaced.

``tests/export/golden/bench_small/`` holds the files that ``geoquiz.study.export.export_all`` wrote at
commit a8c340b (pandas frames, before the streaming SQL export) for the bench's study built with
``bench._study_data.build(root, participants=8, trials=5, images=16, elements=2)``: the main part
plus the fixed extras that reach every column (4-view items, unknown image sizes, formula-like and
multi-line UTF-8 text, NULLs, negative numbers, faithfulness, agreement, planted cues). Later
columns were added to the golden files as they joined the schema, the rest unchanged byte for byte:
``concept``, ``tag``, ``concept_score`` (elements.csv) and ``n_segments``, ``segment_coverage``
(faithfulness.csv), empty for this study (migration m0120, SAM3 concepts); ``condition``,
``participant_index``, ``latin_row`` (trials.csv, empty) and ``selection_source`` (``model``),
``human_scope``, ``trial_id``, ``participant``, ``cue_tag`` (faithfulness.csv, empty) (migrations
m0130 / m0131, issue 13: people's boxes as an explanation, ablated trials). ``session_events.csv`` joined last (the
study's extras gained two events for it). The three
values that depend on the run are normalised on both sides: COCO ``info.date_created``, manifest
``exported_at`` and ``project``. ``codebook.csv`` is compared with the codebook written as before
(pandas, :func:`geoquiz.csvio.write_csv`): its wording belongs to ``export_codebook``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from bench._study_data import build
from geoquiz.csvio import write_csv
from geoquiz.project import Project
from geoquiz.study import export as ex
from geoquiz.study.export_codebook import codebook_rows

GOLDEN = Path(__file__).resolve().parent / "golden" / "bench_small"


def _normalised(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name == ex.COCO_NAME:
        data, n = re.subn(rb'"date_created": "[^"]*"', b'"date_created": "<date>"', data)
        assert n == 1
    elif path.name == "manifest.json":
        manifest = json.loads(data)
        manifest.update(exported_at="<date>", project="<project>")
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    return data


@pytest.fixture(scope="module")
def bench_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden") / "proj"
    build(root, 8, 5, 16, 2)
    return root


@pytest.fixture(params=["here", "workers"])
def way(request, monkeypatch):
    """``here``: the study is small, so the export runs in the calling process; ``workers``: forced
    onto 2 worker processes with parts of 7 rows (every table of more than 7 rows in several
    parts, joined by the coordinator): the same bytes either way."""
    if request.param == "workers":
        from geoquiz.study import export_parts

        started = []

        class Pool(export_parts.WorkerPool):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                started.append(len(self.procs))

        ran, run_parts = [], ex._run_parts

        def spy(*args, **kwargs):
            results = run_parts(*args, **kwargs)
            ran.append(results)
            return results

        monkeypatch.setattr(ex, "PARALLEL_MIN_ROWS", 0)
        monkeypatch.setattr(export_parts, "PART_ROWS", 7)
        monkeypatch.setattr(ex, "WorkerPool", Pool)
        monkeypatch.setattr(ex, "_run_parts", spy)
        monkeypatch.setattr(ex.os, "cpu_count", lambda: 2)
        yield request.param
        assert started == [2] and len(ran) == 1  # the files really came from the two worker processes
    else:
        yield request.param


def test_export_is_byte_identical_to_the_frame_export(bench_project, tmp_path, way):
    with Project.open(bench_project) as project:
        files = ex.export_all(project, tmp_path / "out")
    assert not list((tmp_path / "out").glob(".*"))  # no part or temporary file left behind
    names = sorted(p.name for p in files)
    assert names == sorted([p.name for p in GOLDEN.iterdir()] + ["codebook.csv"])
    for path in files:
        if path.name == "codebook.csv":
            continue
        expected = (GOLDEN / path.name).read_bytes()
        got = _normalised(path)
        if got != expected:  # name the first differing line, not a 50 kB blob
            lines = zip(got.split(b"\n"), expected.split(b"\n"))
            first = next(((i, a, b) for i, (a, b) in enumerate(lines) if a != b), None)
            pytest.fail(f"{path.name} differs from the golden file at line {first}")
    (tmp_path / "old").mkdir()
    old_codebook = write_csv(pd.DataFrame(codebook_rows(list(ex.FRAMES))), tmp_path / "old" / "codebook.csv")
    assert (tmp_path / "out" / "codebook.csv").read_bytes() == old_codebook.read_bytes()


def test_a_partial_export_writes_the_same_bytes(bench_project, tmp_path, way):
    what = ["elements", "guesses", "coco"]
    with Project.open(bench_project) as project:
        files = ex.export_all(project, tmp_path / "out", what=what)
    assert [p.name for p in files] == [
        "elements.csv",
        "guesses.csv",
        "codebook.csv",
        ex.COCO_NAME,
        "manifest.json",
    ]
    for name in ("guesses.csv", "elements.csv", ex.COCO_NAME):
        assert _normalised(tmp_path / "out" / name) == (GOLDEN / name).read_bytes(), name
