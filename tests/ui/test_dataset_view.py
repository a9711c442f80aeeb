"""The Dataset tab on a small real project: lists images, filters by label and split, shows the 4 views
of a location, and the detail pane with planted cues."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import write_png

from geoquiz.boxes import Box
from geoquiz.data.importer import import_four_view, store_dataset
from geoquiz.types import SPLITS, VIEWS, CueBox, ImageItem

COLOURS = {"France": (40, 90, 200), "Japan": (200, 40, 60), "India": (230, 150, 30)}


def scene(label: str, seed: int, w: int = 96, h: int = 72) -> np.ndarray:
    """A tiny road-scene-like picture: sky gradient, grey road, a coloured 'sign' block."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2] = np.linspace(120, 220, h // 2, dtype=np.uint8)[:, None, None] * np.array([0.6, 0.8, 1.0])
    img[h // 2 :] = (90, 90, 95)
    img[h // 2 :, w // 2 - 2 : w // 2 + 2] = (240, 240, 240)
    x = int(rng.integers(4, w - 24))
    img[10:30, x : x + 18] = COLOURS[label]
    return img


@pytest.fixture
def browse_project(project, tmp_path):
    """A project with a single-view dataset (with planted cues) and a 4-view dataset."""
    items = []
    for i in range(9):
        label = ("France", "Japan", "India")[i % 3]
        path = write_png(tmp_path / "single" / f"img{i}.png", scene(label, i))
        cues = (
            CueBox(Box(4, 10, 40, 30), "signs", detail="sign"),
            CueBox(Box(44, 36, 52, 72), "road_markings"),
        )
        items.append(ImageItem(f"img{i}", str(path), label, SPLITS[i % 3], width=96, height=72, cues=cues))
    store_dataset(project, "scenes", "single", items, source="test")
    root = tmp_path / "fv"
    for label in ("France", "Japan"):
        for loc in range(2):
            for k, v in enumerate(VIEWS):
                write_png(root / label / f"{loc}_{v}.png", scene(label, 10 * loc + k))
    import_four_view(project, "views", root, split="val")
    return project


def _wait_thumbnails(qtbot, view):
    model = view.model
    for r in range(model.rowCount()):
        model.data(model.index(r), 1)  # DecorationRole: queue the load
    qtbot.waitUntil(lambda: all(model.is_loaded(r) for r in range(model.rowCount())), timeout=10000)


def test_dataset_view_lists_filters_and_shows_four_views(qtbot, browse_project, tmp_path):
    from ui.context import AppContext
    from ui.views.dataset_view import DatasetView

    ctx = AppContext(browse_project)
    view = DatasetView(ctx)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()

    names = [view.dataset_box.itemData(i) for i in range(view.dataset_box.count())]
    assert names == ["scenes", "views"]
    view.select_dataset("scenes")
    assert [view.model.row_object(r).key for r in range(view.model.rowCount())] == [
        f"img{i}" for i in range(9)
    ]
    assert view.model.data(view.model.index(0)) == "France · train"
    labels = [view.label_box.itemText(i) for i in range(view.label_box.count())]
    assert labels == ["All labels", "France", "India", "Japan"]

    view.set_label_filter("Japan")
    assert [view.model.row_object(r).key for r in range(view.model.rowCount())] == ["img1", "img4", "img7"]
    view.set_split_filter("val")
    assert [view.model.row_object(r).key for r in range(view.model.rowCount())] == ["img1", "img4", "img7"]
    view.set_label_filter(None)
    assert [view.model.row_object(r).key for r in range(view.model.rowCount())] == ["img1", "img4", "img7"]
    view.set_split_filter("test")
    assert [view.model.row_object(r).label for r in range(view.model.rowCount())] == ["India"] * 3
    assert view.count_label.text() == "3 of 9 images"
    view.set_split_filter(None)

    # detail pane: the selected image with its key, label, split, path and planted cues
    view.select_row(4)
    qtbot.waitUntil(lambda: view.detail.single.image is not None, timeout=10000)
    assert view.detail.current.key == "img4"
    text = view.detail.info.text()
    assert "img4" in text and "Japan" in text and "val" in text and "img4.png" in text and "Signs" in text
    assert [c.tag for c in view.detail.single.cues] == ["signs", "road_markings"]
    tag_box = view.detail.tag_box
    assert [tag_box.itemData(i) for i in range(tag_box.count())] == [None, "road_markings", "signs"]
    tag_box.setCurrentIndex(tag_box.findData("signs"))
    assert [c.tag for c in view.detail.single.visible_cues()] == ["signs"]
    tag_box.setCurrentIndex(0)
    _wait_thumbnails(qtbot, view)
    if os.environ.get("GEOQUIZ_SCREENSHOTS"):
        view.grab().save(str(tmp_path / "dataset_single.png"))

    # 4-view dataset: one row per location, its 4 views side by side
    view.select_dataset("views")
    assert view.model.rowCount() == 4 and view.count_label.text() == "4 of 4 locations"
    assert [view.split_box.itemText(i) for i in range(view.split_box.count())] == ["All splits", "val"]
    view.select_row(1)
    loc = view.detail.current
    assert loc.key == "France/1" and list(loc.views) == list(VIEWS)
    assert view.detail.strip.isVisible() and not view.detail.single.isVisible()
    panels = view.detail.panels()
    assert [p.caption for p, _ in panels] == list(VIEWS)
    assert [it.key for _, it in panels] == [f"France/1_{v}" for v in VIEWS]
    qtbot.waitUntil(lambda: all(p.image is not None for p, _ in panels), timeout=10000)
    view.set_label_filter("Japan")
    assert [view.model.row_object(r).key for r in range(view.model.rowCount())] == ["Japan/0", "Japan/1"]
    _wait_thumbnails(qtbot, view)
    qtbot.waitUntil(lambda: all(p.image is not None for p, _ in view.detail.panels()), timeout=10000)
    if os.environ.get("GEOQUIZ_SCREENSHOTS"):
        view.grab().save(str(tmp_path / "dataset_4view.png"))
        print("screenshots in", tmp_path)


def test_dataset_view_follows_data_changed_and_empty_project(qtbot, project, tmp_path):
    from ui.context import AppContext
    from ui.views.dataset_view import DatasetView

    ctx = AppContext(project)
    view = DatasetView(ctx)
    qtbot.addWidget(view)
    assert view.dataset_box.count() == 0 and "no datasets" in view.empty.text()
    path = write_png(tmp_path / "a.png", scene("France", 0))
    store_dataset(project, "late", "single", [ImageItem("a", str(path), "France", "train")], source="t")
    ctx.data_changed.emit("datasets")
    assert view.dataset_box.count() == 1 and view.model.rowCount() == 1 and view.empty.isHidden()
    assert view.detail.current.key == "a"


def test_thumbnail_model_loads_off_thread_caches_and_marks_unreadable_files(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from ui.qtmodels.thumbnails import ThumbnailListModel, ThumbnailLoader

    loader = ThumbnailLoader(capacity=2)
    model = ThumbnailListModel(thumb_size=32, loader=loader)
    good = [write_png(tmp_path / f"g{i}.png", scene("India", i)) for i in range(3)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    rows = [ImageItem(f"g{i}", str(p), "India", "train") for i, p in enumerate(good)]
    rows.append(ImageItem("bad", str(broken), "India", "train"))
    model.set_rows(rows)
    for r in range(4):
        model.data(model.index(r), Qt.DecorationRole)
    qtbot.waitUntil(lambda: loader.pending() == 0, timeout=10000)
    assert len(loader.cache) == 2  # LRU capacity respected
    assert model.is_loaded(3) and "broken.png" in model.data(model.index(3), Qt.ToolTipRole)
    cached = [r for r in range(3) if loader.key([rows[r].path], 32) in loader.cache]
    pix = model.data(model.index(cached[0]), Qt.DecorationRole)
    assert (pix.width(), pix.height()) == (32, 24)  # 96x72 scaled to a longer side of 32


def test_planted_cue_names_do_not_cover_each_other(qtbot):
    """Five cue kinds crowded at a GeoScenes vanishing point (boxes a few pixels apart): each kind
    is named once and no name covers another, all inside the picture."""
    from PySide6.QtGui import QColor, QImage

    from ui.views.dataset_detail import CueImage

    widget = CueImage()
    qtbot.addWidget(widget)
    widget.resize(560, 420)
    widget.show()
    image = QImage(448, 448, QImage.Format_RGB888)
    image.fill(QColor(90, 120, 90))
    tags = ("road_markings", "signs", "bollards", "vegetation", "vehicles")
    cues = tuple(
        CueBox(Box(200 + 4 * i, 200 + 3 * i, 230 + 4 * i, 226 + 3 * i), tag) for i, tag in enumerate(tags)
    )
    widget.set_content(image, (448, 448), cues)
    widget.grab()  # paints
    rects = widget.label_rects
    assert len(rects) == len(tags)
    assert not any(
        rects[i].intersects(rects[j]) for i in range(len(rects)) for j in range(i + 1, len(rects))
    ), rects
    picture = widget.image_rect()
    assert all(picture.contains(r) for r in rects)
