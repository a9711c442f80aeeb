"""Exporting a faithfulness run: every CSV, neutralised formulas, figures, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_png

from geoquiz.data.store import store_dataset
from geoquiz.errors import GeoQuizError
from geoquiz.faithfulness import store
from geoquiz.faithfulness.export import export_run
from geoquiz.types import ImageItem

LABELS = ("=1+1", "@SUM(A1)")  # class names a spreadsheet would run as formulas


def _row(test: str, selection: str, repeat: int, correct: int, prob: float) -> dict:
    return {
        "method": "gradcampp",
        "segmenter": "default",
        "test": test,
        "selection": selection,
        "fill": "blur",
        "repeat": repeat,
        "seed": None if selection == "guided" else 7 + repeat,
        "n_boxes": 1,
        "coverage": 0.1,
        "correct": correct,
        "true_prob": prob,
        "base_correct": 1,
        "base_true_prob": 0.9,
    }


@pytest.fixture
def run(project, tmp_path):
    items = [
        ImageItem(
            f"im{i}",
            str(write_png(tmp_path / f"im{i}.png", np.full((8, 8, 3), 20 * i, np.uint8))),
            LABELS[i % 2],
            "test",
        )
        for i in range(4)
    ]
    store_dataset(project, "toy", "single", items, source="test", classes=list(LABELS))
    config = {
        "methods": ["gradcampp"],
        "segmenters": ["default"],
        "fill": "blur",
        "repeats": 1,
        "params": {"top_p": 20.0},
        "model": "m",
        "dataset": "toy",
        "split": "test",
    }
    run_id = store.create_run(
        project.db, model_id=None, dataset_id=1, split="test", config=config, kind="grid"
    )
    for (image_id,) in project.db.execute("SELECT id FROM images ORDER BY key").fetchall():
        rows = [
            _row("deletion", "guided", 0, 0, 0.2),
            _row("deletion", "random", 0, 1, 0.7),
            _row("insertion", "guided", 0, 1, 0.8),
            _row("insertion", "random", 0, 0, 0.3),
        ]
        store.write_unit(project.db, run_id, image_id, None, rows, [])
    store.finish_run(project.db, run_id, "done", {})
    return project, run_id


def test_export_writes_neutralised_utf8_csvs_and_figures(run, tmp_path):
    project, run_id = run
    out = tmp_path / "out"
    paths = export_run(project.db, run_id, out, formats=("csv", "svg"))
    names = {p.name for p in paths}
    assert {
        f"faithfulness_run{run_id}_{n}.csv" for n in ("results", "summary", "comparison", "per_class")
    } <= names
    assert f"faithfulness_run{run_id}_figure2.svg" in names and all(p.exists() for p in paths)
    results = pd.read_csv(out / f"faithfulness_run{run_id}_results.csv", encoding="utf-8")
    assert len(results) == 16
    text = (out / f"faithfulness_run{run_id}_results.csv").read_text(encoding="utf-8")
    for label in LABELS:
        assert f"'{label}" in text and f",{label}" not in text
    per_class = pd.read_csv(out / f"faithfulness_run{run_id}_per_class.csv")
    assert not per_class.astype(str).apply(lambda col: col.str.match(r"^[=+@]")).any().any()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_export_refuses_unknown_formats_and_empty_runs(run, tmp_path):
    project, run_id = run
    with pytest.raises(GeoQuizError, match="unknown export format"):
        export_run(project.db, run_id, tmp_path, formats=("xlsx",))
    empty = store.create_run(project.db, model_id=None, dataset_id=1, split="test", config={}, kind="grid")
    with pytest.raises(GeoQuizError, match="no results"):
        export_run(project.db, empty, tmp_path)
