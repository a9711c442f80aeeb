"""The engine seam on a simple image job: local vs Ray, failures, re-runs, the install hint."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_png
from fixtures.engine import RAY_INSTALLED, ship_module_by_value

from geoquiz.engine import LocalEngine, make_engine, run_items
from geoquiz.engine.base import Job
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Cancelled, Reporter
from geoquiz.types import ImageItem


class MeanColourJob(Job):
    """Reads each image from its path and returns its mean colour and the worker's pid.

    ``crash_key``: the worker process exits hard on that item (a segfault stand-in).
    ``fail_setup``: setup raises (a missing checkpoint stand-in).
    """

    name = "mean-colour"
    worker_attrs = ("scale",)

    def __init__(self, crash_key: str | None = None, fail_setup: bool = False) -> None:
        self.crash_key = crash_key
        self.fail_setup = fail_setup
        self.setups = 0

    def setup(self) -> None:
        if self.fail_setup:
            raise GeoQuizError("checkpoint /nowhere/model.pt is missing")
        self.setups += 1
        self.scale = np.float64(1.0)  # "heavy" state

    def process(self, item: ImageItem):
        from PIL import Image

        if item.key == self.crash_key:
            os._exit(3)
        with Image.open(item.path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float64)
        return {"mean": tuple(float(v) for v in arr.mean(axis=(0, 1)) * self.scale), "pid": os.getpid()}


@pytest.fixture(scope="module")
def image_items(tmp_path_factory) -> list[ImageItem]:
    """12 tiny PNGs with known colours plus one corrupt file (``bad``)."""
    root = tmp_path_factory.mktemp("engine_images")
    items = []
    for i in range(12):
        arr = np.full((8, 10, 3), (i * 10, 255 - i * 10, 7), dtype=np.uint8)
        items.append(
            ImageItem(key=f"img{i:02d}", path=str(write_png(root / f"img{i:02d}.png", arr)), label="x", id=i)
        )
    bad = root / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    items.insert(5, ImageItem(key="bad", path=str(bad), label="x", id=99))
    return items


def expected_mean(i: int) -> tuple[float, float, float]:
    return (float(i * 10), float(255 - i * 10), 7.0)


def collect(engine, job, items, done_keys=()):
    stored: dict[str, tuple] = {}
    summary = run_items(
        engine,
        job,
        items,
        store=lambda item, value: stored.__setitem__(item.key, value["mean"]),
        done_keys=done_keys,
    )
    return stored, summary


def test_local_engine_computes_each_item_and_isolates_the_corrupt_one(image_items):
    job = MeanColourJob()
    stored, summary = collect(LocalEngine(batch_size=5), job, image_items)
    assert stored == {f"img{i:02d}": expected_mean(i) for i in range(12)}
    assert (summary.total, summary.done, summary.skipped) == (13, 12, 0)
    assert [k for k, _ in summary.failures] == ["bad"]
    assert "bad.png" in summary.failures[0][1] or "cannot identify" in summary.failures[0][1]
    assert job.setups == 1  # set up once, not once per batch


def test_run_items_skips_done_keys_and_reports_progress(image_items):
    seen = []
    reporter = Reporter(lambda done, total, msg: seen.append((done, total)))
    stored = {}
    done = {f"img{i:02d}" for i in range(10)} | {"bad"}
    summary = run_items(
        LocalEngine(batch_size=1),
        MeanColourJob(),
        image_items,
        store=lambda item, value: stored.__setitem__(item.key, value["mean"]),
        done_keys=done,
        reporter=reporter,
    )
    assert sorted(stored) == ["img10", "img11"]
    assert (summary.skipped, summary.done, summary.failed) == (11, 2, 0)
    assert seen == [(0, 2), (1, 2), (2, 2)]


def test_local_engine_stops_when_cancelled(image_items):
    reporter = Reporter()
    stored = {}

    def store(item, value):
        stored[item.key] = value
        reporter.token.cancel()

    with pytest.raises(Cancelled):
        run_items(LocalEngine(batch_size=2), MeanColourJob(), image_items, store=store, reporter=reporter)
    assert sorted(stored) == ["img00", "img01"]


def test_setup_error_aborts_the_local_run(image_items):
    with pytest.raises(GeoQuizError, match="model.pt is missing"):
        collect(LocalEngine(), MeanColourJob(fail_setup=True), image_items)


def test_batch_level_bug_fails_the_batch_not_the_run(image_items):
    class Broken(MeanColourJob):
        def process_batch(self, items):
            if any(it.key == "img00" for it in items):
                raise ValueError("boom")
            return super().process_batch(items)

    stored, summary = collect(LocalEngine(batch_size=3), Broken(), image_items)
    assert sorted(k for k, _ in summary.failures) == ["bad", "img00", "img01", "img02"]
    assert all(e == "ValueError: boom" for k, e in summary.failures if k != "bad")
    assert len(stored) == 9


def test_pickled_job_leaves_worker_state_behind():
    job = MeanColourJob()
    job.ensure_setup()
    copy = pickle.loads(pickle.dumps(job))
    assert not hasattr(copy, "scale")
    copy.ensure_setup()
    assert copy.scale == 1.0


def test_duplicate_keys_are_refused(image_items):
    with pytest.raises(GeoQuizError, match="not unique"):
        collect(LocalEngine(), MeanColourJob(), image_items + image_items[:1])


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(GeoQuizError, match="unknown engine 'spark'"):
        make_engine("spark")


def test_engine_ray_without_ray_installed_gives_the_install_hint():
    """A clean interpreter where ``import ray`` fails, as on an install without the extra."""
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from geoquiz.engine import make_engine\n"
        "from geoquiz.errors import GeoQuizError\n"
        "try:\n"
        "    make_engine('ray')\n"
        "except GeoQuizError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert 'pip install "geoquiz[ray]"' in out.stdout


@pytest.fixture(scope="module")
def shipped():
    if RAY_INSTALLED:
        ship_module_by_value(__name__)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.usefixtures("shipped")
@pytest.mark.ray
@pytest.mark.skipif(not RAY_INSTALLED, reason='ray not installed: pip install "geoquiz[ray]"')
def test_ray_engine_matches_local_and_isolates_the_corrupt_image(ray_local, image_items, batch_size):
    local, local_summary = collect(LocalEngine(batch_size=3), MeanColourJob(), image_items)
    engine = make_engine("ray", batch_size=batch_size, concurrency=2)
    remote, summary = collect(engine, MeanColourJob(), image_items)
    engine.close()
    assert ray_local.is_initialized()  # an engine leaves a Ray it did not start running
    assert remote == local
    assert summary.failures == local_summary.failures
    assert (summary.done, summary.engine) == (12, "ray")


@pytest.mark.usefixtures("shipped")
@pytest.mark.ray
@pytest.mark.skipif(not RAY_INSTALLED, reason='ray not installed: pip install "geoquiz[ray]"')
def test_ray_worker_crash_fails_only_that_item_and_the_rerun_skips_the_rest(ray_local, image_items):
    engine = make_engine("ray", batch_size=3, concurrency=2)
    job = MeanColourJob(crash_key="img03")
    stored, summary = collect(engine, job, image_items)
    assert sorted(k for k, _ in summary.failures) == ["bad", "img03"]
    assert "worker processing this item died" in dict(summary.failures)["img03"]
    assert stored == {f"img{i:02d}": expected_mean(i) for i in range(12) if i != 3}
    # re-run: only the two failed items are tried again (and fail again)
    again, summary2 = collect(engine, job, image_items, done_keys=stored.keys())
    assert again == {}
    assert (summary2.skipped, summary2.done, summary2.failed) == (11, 0, 2)


@pytest.mark.usefixtures("shipped")
@pytest.mark.ray
@pytest.mark.skipif(not RAY_INSTALLED, reason='ray not installed: pip install "geoquiz[ray]"')
def test_ray_setup_error_stops_the_run_with_the_worker_message(ray_local, image_items):
    engine = make_engine("ray", batch_size=4, concurrency=1)
    with pytest.raises(GeoQuizError, match="model.pt is missing"):
        collect(engine, MeanColourJob(fail_setup=True), image_items)
