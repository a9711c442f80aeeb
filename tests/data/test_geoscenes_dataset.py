"""GeoScenes datasets on disk and in a project: files, manifest, cues, splits, atomic import."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from geoquiz.data.dataset import get_dataset, load_items, load_locations
from geoquiz.data.geoscenes import COUNTRIES, generate_geoscenes, import_geoscenes
from geoquiz.data.imageio import read_image
from geoquiz.errors import DatasetImportError
from geoquiz.progress import Cancelled, CancelToken, Reporter
from geoquiz.types import VIEWS


def test_generate_writes_images_manifest_and_cues(tmp_path):
    steps = []
    items = generate_geoscenes(
        tmp_path / "out",
        n_per_class=4,
        size=64,
        seed=3,
        reporter=Reporter(lambda d, t, m: steps.append((d, t))),
    )
    assert [it.label for it in items] == [c for c in COUNTRIES for _ in range(4)]
    assert steps[-1] == (12, 12)
    first = read_image(items[0].path)
    assert first.shape == (64, 64, 3)
    with open(tmp_path / "out" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [it.key for it in items]
    assert rows[0] == {
        "id": "france_0000",
        "path": "France/france_0000.png",
        "country": "France",
        "split": items[0].split,
    }
    cues = json.loads((tmp_path / "out" / "cues.json").read_text())
    assert cues["france_0000"] == [
        {"tag": c.tag, "detail": c.detail, "view": None, "box": list(c.box.as_tuple())} for c in items[0].cues
    ]
    for country in COUNTRIES:  # stratified 70/15/15 of 4 -> at least one of each split per country
        assert {it.split for it in items if it.label == country} == {"train", "val", "test"}
    again = generate_geoscenes(tmp_path / "again", n_per_class=4, size=64, seed=3)
    assert [(a.key, a.split, a.cues) for a in again] == [(b.key, b.split, b.cues) for b in items]
    assert np.array_equal(read_image(again[5].path), read_image(items[5].path))


def test_generate_four_view_groups_locations(tmp_path):
    items = generate_geoscenes(tmp_path, n_per_class=1, four_view=True, size=48, countries=("Japan", "USA"))
    assert [it.view for it in items] == list(VIEWS) * 2
    assert {it.location_key for it in items} == {"japan_L0000", "usa_L0000"}
    assert all(c.view == it.view for it in items for c in it.cues)
    header = (tmp_path / "manifest.csv").read_text().splitlines()[0]
    assert header == "id,path,country,split,location,view"
    with pytest.raises(ValueError, match="unknown GeoScenes countries"):
        generate_geoscenes(tmp_path, n_per_class=1, countries=("Narnia",))


def test_import_stores_items_with_planted_cues(project):
    dataset_id = import_geoscenes(project, n_per_class=3, size=64)
    info = get_dataset(project.db, "geoscenes")
    assert (
        info.id == dataset_id and info.classes == COUNTRIES and info.n_images == 9 and info.kind == "single"
    )
    items = load_items(project.db, "geoscenes")
    assert all(it.path.startswith(str(project.root / "datasets" / "geoscenes")) for it in items)
    assert sum(len(it.cues) for it in items) > 9
    import_geoscenes(project, "geoscenes-4view", n_per_class=1, four_view=True, size=48)
    locs = load_locations(project.db, "geoscenes-4view")
    assert len(locs) == 3 and all(set(loc.views) == set(VIEWS) for loc in locs)


def test_import_is_all_or_nothing(project):
    import_geoscenes(project, "gs", n_per_class=1, size=48, seed=1)
    before = sorted(p.name for p in (project.root / "datasets" / "gs").rglob("*.png"))
    with pytest.raises(DatasetImportError, match="already exists"):
        import_geoscenes(project, "gs", n_per_class=2, size=48)
    token = CancelToken()

    def cancel_midway(done: int, total: int, message: str) -> None:
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        import_geoscenes(
            project, "gs", n_per_class=2, size=48, replace=True, reporter=Reporter(cancel_midway, token)
        )
    assert sorted(p.name for p in (project.root / "datasets" / "gs").rglob("*.png")) == before
    assert get_dataset(project.db, "gs").n_images == 3
    assert [p.name for p in (project.root / "datasets").iterdir()] == ["gs"]  # no temp folders left
    import_geoscenes(project, "gs", n_per_class=2, size=48, replace=True)
    assert get_dataset(project.db, "gs").n_images == 6
    assert len(list((project.root / "datasets" / "gs").rglob("*.png"))) == 6
