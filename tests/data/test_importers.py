"""The user-facing importers: folder-per-label, CSV manifests, 4-view locations, splits, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import OSV5M_SAMPLE, write_png

from geoquiz.data import dataset as ds
from geoquiz.data.importer import CsvColumns, import_csv, import_folder, import_four_view
from geoquiz.errors import DatasetImportError
from geoquiz.types import VIEWS


def _img(seed: int, h: int = 6, w: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def _snapshot(db):
    tables = ["datasets", "classes", "locations", "images", "planted_cues"]
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables}  # noqa: S608


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "folder"
    for label, n in (("France", 5), ("Japan", 4)):
        for i in range(n):
            write_png(root / label / f"{i:03d}.png", _img(i, 6 + i, 8))
    (root / "Japan" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def osv_csv(tmp_path):
    """An OSV-5M-shaped manifest: id, latitude, longitude, country, split; images/<stem>/<id>.jpg."""
    base = tmp_path / "osv"
    rows = ["id,latitude,longitude,country,region,split"]
    for i in range(6):
        country = ["FR", "JP", "IN"][i % 3]
        split = "train" if i < 3 else ("Validation" if i == 3 else "test")
        write_png(base / "images" / "manifest" / f"{100 + i}.png", _img(i))
        rows.append(f"{100 + i},{40 + i},{2 + i},{country},R{i},{split}")
    (base / "manifest.csv").write_text("\n".join(rows) + "\n")
    return base / "manifest.csv"


def _corrupt(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def test_import_folder_stratified_split_is_recorded_and_reproducible(project, folder):
    res = import_folder(project, "f", folder, seed=3)
    info = ds.get_dataset(project.db, "f")
    assert (res.n_images, info.n_images, info.classes, info.kind) == (9, 9, ("France", "Japan"), "single")
    assert (info.split_method, info.split_seed) == ("stratified", 3)
    assert res.ignored and "notes.txt" in res.ignored[0]
    items = ds.load_items(project.db, "f")
    assert items[0].key == "France/000" and items[0].width == 8 and items[0].height == 6
    for label in ("France", "Japan"):  # every class appears in every split
        assert {it.split for it in items if it.label == label} == {"train", "val", "test"}
    again = import_folder(project, "g", folder, seed=3)
    assert [it.split for it in ds.load_items(project.db, "g")] == [it.split for it in items]
    assert again.splits == res.splits


def test_import_folder_split_first_layout(project, tmp_path):
    root = tmp_path / "sf"
    for split in ("train", "val"):
        for label in ("a", "b"):
            write_png(root / split / label / "x.png", _img(1))
    res = import_folder(project, "sf", root)
    assert res.split_method == "folder" and res.splits == {"train": 2, "val": 2}
    assert [(it.key, it.label, it.split) for it in ds.load_items(project.db, "sf")] == [
        ("train/a/x", "a", "train"),
        ("train/b/x", "b", "train"),
        ("val/a/x", "a", "val"),
        ("val/b/x", "b", "val"),
    ]


def test_import_csv_osv_style(project, osv_csv):
    res = import_csv(project, "osv", osv_csv, columns=CsvColumns(split="split"))
    info = ds.get_dataset(project.db, "osv")
    assert info.classes == ("FR", "IN", "JP") and info.splits == {"test": 2, "train": 3, "val": 1}
    assert info.split_method == "column" and res.split_seed is None
    first = ds.load_items(project.db, "osv")[0]
    assert (first.key, first.label, first.latitude, first.longitude) == ("100", "FR", 40.0, 2.0)
    assert first.path.endswith("images/manifest/100.png")


def test_import_csv_custom_columns_and_paths(project, tmp_path):
    for i in range(3):
        write_png(tmp_path / "pics" / f"p{i}.png", _img(i))
    (tmp_path / "m.csv").write_text("file;state\npics/p0.png;Ohio\npics/p1.png;Utah\npics/p2.png;Ohio\n")
    cols = CsvColumns(id=None, path="file", label="state", latitude=None, longitude=None)
    res = import_csv(project, "m", tmp_path / "m.csv", columns=cols, delimiter=";", split="test")
    assert res.split_method == "fixed" and res.splits == {"test": 3}
    assert [it.key for it in ds.load_items(project.db, "m")] == ["pics/p0", "pics/p1", "pics/p2"]


def test_import_four_view_from_suffixes(project, tmp_path):
    root = tmp_path / "fv"
    for label in ("A", "B"):
        for loc in range(3):
            for v in VIEWS:
                write_png(root / label / f"{loc}_{v}.png", _img(loc))
    res = import_four_view(project, "fv", root, seed=1)
    assert (res.kind, res.n_locations, res.n_images) == ("4view", 6, 24)
    locs = ds.load_locations(project.db, "fv")
    assert [loc.key for loc in locs][:2] == ["A/0", "A/1"]
    assert list(locs[0].views) == list(VIEWS) and locs[0].views["south"].key == "A/0_south"
    for loc in locs:  # a location's views share its split
        assert {it.split for it in loc.ordered()} == {loc.split}


def test_import_four_view_from_csv_view_columns_and_id_suffixes(project, tmp_path):
    img_dir = tmp_path / "views"
    lines_cols, lines_ids = ["loc,label,north,east,south,west"], ["id,country"]
    for loc in range(2):
        for v in VIEWS:
            write_png(img_dir / f"L{loc}_{v}.png", _img(loc))
        lines_cols.append(f"L{loc},X," + ",".join(f"L{loc}_{v}.png" for v in VIEWS))
        lines_ids.append(f"L{loc},Y")
    (tmp_path / "cols.csv").write_text("\n".join(lines_cols) + "\n")
    (tmp_path / "ids.csv").write_text("\n".join(lines_ids) + "\n")
    cols = CsvColumns(id="loc", label="label", latitude=None, longitude=None)
    a = import_four_view(project, "a", tmp_path / "cols.csv", columns=cols, image_dir=img_dir)
    b = import_four_view(
        project,
        "b",
        tmp_path / "ids.csv",
        columns=CsvColumns(latitude=None, longitude=None),
        image_dir=img_dir,
    )
    assert (a.n_locations, b.n_locations) == (2, 2)
    assert [it.path for it in ds.load_locations(project.db, "a")[1].ordered()] == [
        str(img_dir / f"L1_{v}.png") for v in VIEWS
    ]
    assert ds.load_locations(project.db, "b")[0].views["west"].key == "L0_west"


# ----------------------------------------------------------------------------------- bad input


def test_corrupt_image_strict_names_the_file_and_leaves_db_unchanged(project, folder):
    import_folder(project, "existing", folder)
    before = _snapshot(project.db)
    _corrupt(folder / "Japan" / "bad.png")
    with pytest.raises(DatasetImportError) as err:
        import_folder(project, "new", folder)
    assert "Japan/bad.png" in str(err.value) and "corrupt" in str(err.value)
    assert "nothing was imported" in str(err.value)
    with pytest.raises(DatasetImportError):  # replacing is atomic too: the old dataset survives
        import_folder(project, "existing", folder, replace=True)
    assert _snapshot(project.db) == before


def test_corrupt_image_skip_bad_lists_it(project, folder):
    _corrupt(folder / "Japan" / "bad.png")
    res = import_folder(project, "f", folder, skip_bad=True)
    assert res.n_images == 9 and len(res.skipped) == 1 and "bad.png" in res.skipped[0]
    assert "skipped 1 bad item" in res.summary()


def test_csv_missing_columns_are_named(project, osv_csv):
    with pytest.raises(
        DatasetImportError, match=r"missing column\(s\) 'state', 'fold'.*columns found: id, lat"
    ):
        import_csv(project, "x", osv_csv, columns=CsvColumns(label="state", split="fold"))
    with pytest.raises(DatasetImportError, match=r"missing column\(s\) 'lat_deg'"):
        import_csv(project, "x", osv_csv, columns=CsvColumns(latitude="lat_deg"))
    assert ds.list_datasets(project.db) == []
    (osv_csv.parent / "nolatlon.csv").write_text("id,country\n100,FR\n")  # default lat/lon are optional
    res = import_csv(
        project, "y", osv_csv.parent / "nolatlon.csv", image_dir=osv_csv.parent / "images" / "manifest"
    )
    assert res.n_images == 1 and ds.load_items(project.db, "y")[0].latitude is None


def test_csv_bad_rows_are_reported_by_line(project, osv_csv):
    text = osv_csv.read_text().splitlines()
    text[2] = text[2].replace("JP", "")  # line 3: empty label
    text.append("100,1,1,FR,R,train")  # line 8: duplicate id
    text.append("999,1,1,FR,R,train")  # line 9: no image file
    text.append("105,95,1,FR,R,train")  # line 10: latitude out of range
    text.append("104,1,1,FR,R,holdout")  # line 11: bad split
    osv_csv.write_text("\n".join(text) + "\n")
    with pytest.raises(DatasetImportError) as err:
        import_csv(project, "x", osv_csv, columns=CsvColumns(split="split"))
    msg = str(err.value)
    for expected in (
        "manifest.csv line 3: empty label",
        "manifest.csv line 8: duplicate id '100' (first seen at manifest.csv line 2)",
        "manifest.csv line 9: no image file for id '999'",
        "manifest.csv line 10: latitude 95 is outside",
        "manifest.csv line 11: split 'holdout'",
    ):
        assert expected in msg
    assert ds.list_datasets(project.db) == []
    res = import_csv(project, "x", osv_csv, columns=CsvColumns(split="split"), skip_bad=True)
    assert res.n_images == 5 and len(res.skipped) == 5


def test_unknown_labels_with_a_class_list(project, osv_csv):
    with pytest.raises(
        DatasetImportError, match=r"line 4: unknown label 'IN' \(not in the class list: FR, JP\)"
    ):
        import_csv(project, "x", osv_csv, classes=["FR", "JP"])
    res = import_csv(project, "x", osv_csv, classes=["JP", "FR", "DE"], skip_bad=True)
    assert res.classes == ("JP", "FR", "DE") and res.n_images == 4
    assert ds.get_dataset(project.db, "x").classes == ("JP", "FR", "DE")


def test_four_view_missing_view_is_reported_not_dropped(project, tmp_path):
    root = tmp_path / "fv"
    for loc in range(3):
        for v in VIEWS:
            if not (loc == 1 and v == "east"):
                write_png(root / "A" / f"{loc}_{v}.png", _img(loc))
    write_png(root / "A" / "stray.png", _img(9))
    with pytest.raises(DatasetImportError) as err:
        import_four_view(project, "fv", root)
    assert "location 'A/1' is missing view(s) east (has north, south, west)" in str(err.value)
    assert "stray.png: 4-view file name must end in _north" in str(err.value)
    assert ds.list_datasets(project.db) == []
    res = import_four_view(project, "fv", root, skip_bad=True)
    assert res.n_locations == 2 and len(res.skipped) == 2


def test_duplicate_name_and_bad_options(project, folder, tmp_path):
    import_folder(project, "f", folder)
    with pytest.raises(DatasetImportError, match="already exists"):
        import_folder(project, "f", folder)
    with pytest.raises(DatasetImportError, match="sum to 1"):
        import_folder(project, "g", folder, split_fractions=(0.5, 0.1, 0.1))
    with pytest.raises(DatasetImportError, match="not found"):
        import_folder(project, "g", tmp_path / "nowhere")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetImportError, match="empty"):
        import_csv(project, "g", tmp_path / "empty.csv", image_dir=tmp_path)


@pytest.mark.skipif(not OSV5M_SAMPLE.exists(), reason="needs ../shared/data/osv5m-sample")
def test_real_osv5m_sample(project):
    res = import_csv(project, "osv5m", OSV5M_SAMPLE / "test.csv", split="test")
    info = ds.get_dataset(project.db, "osv5m")
    assert res.n_images == info.n_images == 71 and info.splits == {"test": 71}
    assert len(info.classes) >= 40
    item = ds.load_items(project.db, "osv5m")[0]
    assert item.width > 0 and item.height > 0 and item.latitude is not None
