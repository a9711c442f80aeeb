"""An empty class folder is never dropped silently: strict imports stop on it, ``skip_bad`` lists it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_png

from geoquiz.data.importer import import_folder
from geoquiz.errors import DatasetImportError


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    for label in ("France", "Japan"):
        for i in range(3):
            write_png(root / label / f"{i}.png", np.full((4, 5, 3), i * 40, np.uint8))
    (root / "India").mkdir()  # empty
    (root / "Chile").mkdir()
    (root / "Chile" / "readme.txt").write_text("no pictures yet")  # only a non-image file
    return root


def test_strict_import_stops_on_an_empty_class_folder(project, tree):
    with pytest.raises(DatasetImportError) as err:
        import_folder(project, "t", tree)
    msg = str(err.value)
    assert "nothing was imported" in msg
    assert f"{tree / 'India'}: class folder 'India' has no image files" in msg
    assert f"{tree / 'Chile'}: class folder 'Chile' has no image files (1 other file ignored)" in msg
    assert project.db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0


def test_skip_bad_lists_the_empty_class_folder_as_skipped(project, tree):
    res = import_folder(project, "t", tree, skip_bad=True, split="train")
    assert res.classes == ("France", "Japan") and res.n_images == 6
    assert any("'India' has no image files" in s for s in res.skipped)
    assert any("'Chile' has no image files" in s for s in res.skipped)
    assert "skipped 2 bad item(s)" in res.summary()


def test_empty_class_folder_inside_a_split_folder(project, tmp_path):
    root = tmp_path / "sf"
    for split in ("train", "test"):
        write_png(root / split / "a" / "x.png", np.zeros((4, 4, 3), np.uint8))
    (root / "test" / "b").mkdir(parents=True)
    write_png(root / "train" / "b" / "y.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetImportError, match=r"test/b: class folder 'b' has no image files"):
        import_folder(project, "sf", root)
    res = import_folder(project, "sf", root, skip_bad=True)
    assert res.splits == {"test": 1, "train": 2} and len(res.skipped) == 1
