"""store_dataset + the read side (geoquiz.data.dataset): round trips, 4-view grouping, cues, atomicity."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.boxes import Box
from geoquiz.data import dataset as ds
from geoquiz.data.imageio import image_size, read_image, write_image
from geoquiz.data.importer import delete_dataset, store_dataset
from geoquiz.errors import DatasetImportError, GeoQuizError
from geoquiz.types import VIEWS, CueBox, ImageItem


def _items(tmp_path, n=4, four_view=False):
    items = []
    for i in range(n):
        label = "France" if i % 2 == 0 else "Japan"
        if four_view:
            for v in VIEWS:
                p = tmp_path / f"loc{i}_{v}.png"
                cues = (
                    (CueBox(Box(1, 2, 5, 6), "bollards", view=v, detail="red band"),) if v == "east" else ()
                )
                items.append(
                    ImageItem(
                        f"loc{i}_{v}", str(p), label, "train", location_key=f"loc{i}", view=v, cues=cues
                    )
                )
        else:
            cues = (CueBox(Box(0, 0, 3, 3), "signs"), CueBox(Box(2, 2, 4, 8), "poles"))
            items.append(
                ImageItem(
                    f"img{i}", str(tmp_path / f"img{i}.png"), label, "test", width=8, height=8, cues=cues
                )
            )
    return items


def _snapshot(db):
    tables = ["datasets", "classes", "locations", "images", "planted_cues"]
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables}  # noqa: S608


def test_store_single_round_trip(memdb, tmp_path):
    items = _items(tmp_path)
    dataset_id = store_dataset(
        memdb, "d", "single", items, source="test", root=str(tmp_path), split_method="fixed"
    )
    info = ds.get_dataset(memdb, "d")
    assert (info.id, info.kind, info.classes, info.n_images, info.n_locations) == (
        dataset_id,
        "single",
        ("France", "Japan"),
        4,
        0,
    )
    assert info.splits == {"test": 4} and info.source == "test" and info.root == str(tmp_path)
    loaded = ds.load_items(memdb, "d")
    assert [it.key for it in loaded] == ["img0", "img1", "img2", "img3"]
    assert [(it.key, it.label, it.path, it.cues, it.width) for it in loaded] == [
        (it.key, it.label, it.path, it.cues, it.width) for it in items
    ]
    assert [it.key for it in ds.load_items(memdb, "d", label="Japan")] == ["img1", "img3"]
    assert ds.load_items(memdb, "d", split="train") == []
    one = ds.get_item(memdb, loaded[2].id)
    assert one == loaded[2]
    assert [i.name for i in ds.list_datasets(memdb)] == ["d"]


def test_store_four_view_groups_locations(memdb, tmp_path):
    store_dataset(
        memdb, "fv", "4view", _items(tmp_path, 3, four_view=True), source="t", classes=["Japan", "France"]
    )
    info = ds.get_dataset(memdb, "fv")
    assert info.classes == ("Japan", "France") and info.n_locations == 3 and info.n_images == 12
    locs = ds.load_locations(memdb, "fv")
    assert [loc.key for loc in locs] == ["loc0", "loc1", "loc2"]
    assert list(locs[0].views) == list(VIEWS)
    assert [it.key for it in locs[1].ordered()] == [f"loc1_{v}" for v in VIEWS]
    east = locs[0].views["east"]
    assert east.cues == (CueBox(Box(1, 2, 5, 6), "bollards", view="east", detail="red band"),)
    assert [loc.key for loc in ds.load_locations(memdb, "fv", label="Japan")] == ["loc1"]
    assert ds.get_location(memdb, locs[2].id) == locs[2]


def test_store_rejects_bad_items_and_writes_nothing(memdb, tmp_path):
    store_dataset(memdb, "keep", "single", _items(tmp_path, 2), source="t")
    before = _snapshot(memdb)
    bad = _items(tmp_path, 3)
    bad.append(ImageItem("img0", "/x/dup.png", "France", "train"))
    bad.append(ImageItem("img9", "/x/u.png", "Peru", "train"))
    bad.append(ImageItem("img8", "/x/s.png", "France", "holdout"))
    with pytest.raises(DatasetImportError) as err:
        store_dataset(memdb, "new", "single", bad, source="t", classes=["France", "Japan"])
    text = str(err.value)
    assert "duplicate id 'img0'" in text and "unknown label 'Peru'" in text and "split 'holdout'" in text
    assert _snapshot(memdb) == before


def test_store_four_view_missing_view_is_reported(memdb, tmp_path):
    items = [it for it in _items(tmp_path, 2, four_view=True) if it.key != "loc1_west"]
    with pytest.raises(DatasetImportError, match=r"location 'loc1' is missing view\(s\) west"):
        store_dataset(memdb, "fv", "4view", items, source="t")
    assert ds.list_datasets(memdb) == []


def test_store_existing_name_and_replace(memdb, tmp_path):
    store_dataset(memdb, "d", "single", _items(tmp_path, 2), source="t")
    with pytest.raises(DatasetImportError, match="already exists"):
        store_dataset(memdb, "d", "single", _items(tmp_path, 4), source="t")
    assert ds.get_dataset(memdb, "d").n_images == 2
    store_dataset(memdb, "d", "single", _items(tmp_path, 4), source="t", replace=True)
    assert ds.get_dataset(memdb, "d").n_images == 4
    assert memdb.execute("SELECT count(*) FROM planted_cues").fetchone()[0] == 8
    delete_dataset(memdb, "d")
    assert ds.list_datasets(memdb) == []
    with pytest.raises(GeoQuizError, match="no dataset named 'd'"):
        ds.get_dataset(memdb, "d")


def test_imageio_round_trip_and_errors(tmp_path, rng):
    arr = rng.integers(0, 255, size=(5, 7, 3), dtype=np.uint8)
    p = write_image(tmp_path / "a.png", arr)
    assert image_size(p) == (7, 5)
    back = read_image(p)
    assert back.dtype == np.uint8 and back.shape == (5, 7, 3) and np.array_equal(back, arr)
    grey = write_image(tmp_path / "g.jpg", np.full((4, 6), 128, np.uint8))
    assert read_image(grey).shape == (4, 6, 3)
    with pytest.raises(DatasetImportError, match="not found"):
        read_image(tmp_path / "missing.png")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    with pytest.raises(DatasetImportError, match="junk.jpg"):
        read_image(junk)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(p.read_bytes()[:40])
    with pytest.raises(DatasetImportError, match="cut.png"):
        read_image(truncated)
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", arr.astype(np.float32))
