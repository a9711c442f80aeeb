"""GeoScenes in stages: a first batch now, the rest in resumable chunks, same dataset as at once."""

from __future__ import annotations

import numpy as np
import pytest

from geoquiz.data.dataset import get_dataset, load_items, load_locations
from geoquiz.data.geoscenes.dataset import extend_geoscenes, import_geoscenes, plan_geoscenes
from geoquiz.data.imageio import read_image
from geoquiz.progress import Cancelled, CancelToken, Reporter


def snapshot(project, name):
    items = load_items(project.db, name)
    return {
        it.key: (it.label, it.split, it.location_key, it.view, tuple((c.tag, c.box) for c in it.cues))
        for it in items
    }, items


def test_first_batch_then_the_rest_equals_one_shot_import(project):
    import_geoscenes(project, "once", n_per_class=5, size=48, seed=3)
    import_geoscenes(project, "staged", n_per_class=5, size=48, seed=3, first=2)
    info = get_dataset(project.db, "staged")
    assert info.n_images == 6 and info.params["complete"] is False
    keys = {it.key for it in load_items(project.db, "staged")}
    assert keys == {f"{c}_{i:04d}" for c in ("france", "india", "japan") for i in range(2)}
    assert extend_geoscenes(project, "staged", chunk=4) == 9
    assert extend_geoscenes(project, "staged") == 0  # complete: nothing to do
    once, once_items = snapshot(project, "once")
    staged, staged_items = snapshot(project, "staged")
    assert staged == once  # same keys, labels, splits and planted cues
    assert get_dataset(project.db, "staged").params == get_dataset(project.db, "once").params
    for a, b in zip(once_items, staged_items):
        assert np.array_equal(read_image(a.path), read_image(b.path))
    manifest = (project.root / "datasets" / "staged" / "manifest.csv").read_text()
    assert manifest == (project.root / "datasets" / "once" / "manifest.csv").read_text()
    leftovers = [p.name for p in (project.root / "datasets").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_an_interrupted_extension_resumes_with_the_missing_units(project):
    import_geoscenes(project, "gs", n_per_class=4, size=40, seed=1, first=1)
    token = CancelToken()

    def cancel_in_second_chunk(done: int, total: int, message: str) -> None:
        if done >= 4:
            token.cancel()

    with pytest.raises(Cancelled):
        extend_geoscenes(project, "gs", chunk=3, reporter=Reporter(cancel_in_second_chunk, token))
    info = get_dataset(project.db, "gs")
    assert info.n_images == 6 and info.params["complete"] is False  # the first chunk (3) is kept
    on_disk = sorted(p.name for p in (project.root / "datasets" / "gs").rglob("*.png"))
    assert on_disk == sorted(f"{it.key}.png" for it in load_items(project.db, "gs"))  # no stray files
    assert extend_geoscenes(project, "gs", chunk=3) == 6
    assert (
        get_dataset(project.db, "gs").n_images == 12
        and "complete" not in get_dataset(project.db, "gs").params
    )


def test_four_view_in_stages_with_two_render_processes(project):
    import_geoscenes(project, "gs4", n_per_class=2, size=40, four_view=True, first=1)
    assert len(load_locations(project.db, "gs4")) == 3
    assert extend_geoscenes(project, "gs4", workers=2) == 12
    locs = load_locations(project.db, "gs4")
    plan = plan_geoscenes(2, four_view=True)
    assert sorted((loc.key, loc.split) for loc in locs) == sorted((u[2], u[3]) for u in plan)
    import_geoscenes(project, "gs4-once", n_per_class=2, size=40, four_view=True)
    assert snapshot(project, "gs4")[0] == snapshot(project, "gs4-once")[0]
