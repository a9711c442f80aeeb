"""Scale-out seam: explain throughput of the local engine vs Ray with 1 and 2 workers, same machine.

A GeoScenes project (``--images`` images at 224 px) and a random-weight ResNet (``--arch``) are made
once; each engine then explains every image (``--methods`` x ``--segmenters``, predicted class) in a
fresh copy of the project, so nothing comes from the cache. For each run:

* ``wall``: seconds from the call to the last stored result (for Ray: the Ray Data plan, actor
  start-up with its imports and model load, the work, the results sent back, the driver's writes);
* ``first``: seconds to the first stored result (the fixed start-up cost of a pass);
* ``items/s`` = images / wall, and ``steady/s`` = (images - 1) / (last - first result), the rate once
  the workers run; ``vs local``: items/s relative to the local engine.

Then a no-op job (:class:`NoopJob`: reads nothing, returns the key) over ``--noop-items`` items on
Ray with 2 workers measures the seam's own overhead: the fixed cost of a pass and the cost per item.
``store ms`` is the driver's time per image to write a worker's explanation (cache files and index
rows): with one writer, ``1 / (store + seam per item)`` bounds the images/s of a whole cluster.

The local engine runs in this process with torch's default threads (all cores), and once more with
one thread (``local 1t``: the CPU one Ray worker gets, as Ray sets ``OMP_NUM_THREADS=1``), which is
the fair baseline for the seam's overhead. On a 2-core machine Ray cannot do much better than the
local engine: the point here is that the seam works and what it costs; the per-image figure (seconds
per image for one worker on one core, steady state) is what docs/scale.md scales up to OSV-5M.

Run: ``python -m bench.scale [--images 24] [--arch resnet18] [--methods gradcampp] [--segmenters default]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from geoquiz.engine.base import Job

OSV5M_IMAGES = 5_100_000


class NoopJob(Job):
    """Returns each item's key: the engine's own cost, with no image read and no model."""

    name = "noop"

    def process(self, item):
        return item.key


def make_project(args) -> Path:
    """A GeoScenes project with a random-weight model ``bench``; returns its root."""
    import torch

    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model
    from geoquiz.project import Project

    root = Path(tempfile.mkdtemp(prefix="bench_scale_")) / "base"
    n_per_class = max(1, -(-args.images // 3))
    with Project.open(root, create=True) as project:
        import_geoscenes(project, "geoscenes", n_per_class=n_per_class, seed=0)
        torch.manual_seed(0)
        spec = ModelSpec(args.arch, "single", ("France", "India", "Japan"), input_size=args.input_size)
        save_checkpoint(root / "models" / "bench.pt", build_model(spec), spec)
        register_model(project, "bench", root / "models" / "bench.pt", dataset="geoscenes")
    return root


def timed_explain(base: Path, engine, args, tag: str) -> dict:
    """Explain the project in a fresh copy (the images stay where they are: the copy reads the base's)."""
    from geoquiz.explain import Explainer, explain_dataset
    from geoquiz.progress import Reporter
    from geoquiz.project import Project

    root = base.parent / tag
    shutil.copytree(base, root)
    stamps: list[float] = []
    last = [0]

    def callback(done: int, total: int, message: str) -> None:
        if done > last[0]:
            stamps.extend([time.perf_counter()] * (done - last[0]))
            last[0] = done

    store_s = [0.0]
    with Project.open(root) as project:
        explainer = Explainer(project, "bench")
        store = explainer.store_explanation

        def timed_store(sample, explanation) -> None:
            t = time.perf_counter()
            store(sample, explanation)
            store_s[0] += time.perf_counter() - t

        explainer.store_explanation = timed_store
        t0 = time.perf_counter()
        summary = explain_dataset(
            project,
            "bench",
            "geoscenes",
            None,
            args.methods,
            args.segmenters,
            engine=engine,
            reporter=Reporter(callback),
            explainer=explainer,
        )
        wall = time.perf_counter() - t0
    cache_bytes = sum(p.stat().st_size for p in (root / "cache").rglob("*.npz"))
    shutil.rmtree(root, ignore_errors=True)
    n = summary["explained"]
    if summary["failed"]:
        raise RuntimeError(f"{tag}: {summary['failures']}")
    first = stamps[0] - t0 if stamps else float("nan")
    steady = (
        (len(stamps) - 1) / (stamps[-1] - stamps[0])
        if len(stamps) > 1 and stamps[-1] > stamps[0]
        else float("nan")
    )
    return {
        "tag": tag,
        "n": n,
        "wall": wall,
        "first": first,
        "rate": n / wall,
        "steady": steady,
        "elements": summary["elements"],
        "cache_bytes": cache_bytes,
        "store_ms": 1000 * store_s[0] / max(n, 1),
    }


def noop_overhead(ray, n_items: int) -> dict:
    """Fixed and per-item cost of a Ray pass with 2 workers for a job that does nothing."""
    from geoquiz.engine import make_engine, run_items
    from geoquiz.types import ImageItem

    items = [ImageItem(key=f"i{i:06d}", path=f"/nowhere/{i}.png", label="x", id=i) for i in range(n_items)]
    out = {}
    for n in (2, n_items):
        engine = make_engine("ray", concurrency=2, batch_size=max(1, n // 8))
        t0 = time.perf_counter()
        summary = run_items(engine, NoopJob(), items[:n], store=lambda item, value: None)
        out[n] = time.perf_counter() - t0
        assert summary.done == n
    per_item = (out[n_items] - out[2]) / (n_items - 2)
    return {"fixed_s": out[2], "per_item_ms": 1000 * per_item, "n": n_items, "total_s": out[n_items]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=24, help="GeoScenes images (default 24)")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--methods", default="gradcampp")
    parser.add_argument("--segmenters", default="default")
    parser.add_argument("--batch-size", type=int, default=2, help="engine batch size (items per worker call)")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to try (default 1,2)")
    parser.add_argument("--noop-items", type=int, default=400)
    args = parser.parse_args(argv)
    args.methods = [m for m in args.methods.split(",") if m]
    args.segmenters = [s for s in args.segmenters.split(",") if s]

    import torch

    from geoquiz.engine import LocalEngine, make_engine
    from geoquiz.engine.ray_engine import ray_available

    base = make_project(args)
    cores = os.cpu_count()
    print(
        f"explain {args.images} GeoScenes images: {args.arch} @ {args.input_size} px (random weights), "
        f"{'+'.join(args.methods)} x {'+'.join(args.segmenters)}; {cores} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f}; local engine with {torch.get_num_threads()} torch threads"
    )
    runs = [timed_explain(base, LocalEngine(batch_size=args.batch_size), args, "local")]
    threads = torch.get_num_threads()
    if threads > 1:  # the same CPU as one Ray worker: the fair baseline for the seam's overhead
        torch.set_num_threads(1)
        try:
            runs.append(timed_explain(base, LocalEngine(batch_size=args.batch_size), args, "local 1t"))
        finally:
            torch.set_num_threads(threads)
    noop = None
    ray_init = None
    if ray_available():
        import logging

        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        ray_init = time.perf_counter() - t0
        try:
            for w in (int(v) for v in args.workers.split(",")):
                engine = make_engine("ray", concurrency=w, batch_size=args.batch_size)
                runs.append(timed_explain(base, engine, args, f"ray x{w}"))
            noop = noop_overhead(ray, args.noop_items)
        finally:
            ray.shutdown()
    else:
        print('ray is not installed (pip install "geoquiz[ray]"): local engine only')
    local = runs[0]
    print(
        f"\n{'engine':<10}{'images':>7}{'wall s':>9}{'first s':>9}{'items/s':>9}{'steady/s':>10}{'vs local':>10}"
        f"{'store ms':>10}"
    )
    for r in runs:
        store = f"{r['store_ms']:>10.1f}" if r["tag"].startswith("ray") else f"{'-':>10}"
        print(
            f"{r['tag']:<10}{r['n']:>7}{r['wall']:>9.1f}{r['first']:>9.1f}{r['rate']:>9.2f}{r['steady']:>10.2f}"
            f"{r['rate'] / local['rate']:>9.2f}x{store}"
        )
    print("(store ms: the driver's writes per image - cache files and index rows - for results from workers)")
    assert all(r["elements"] == local["elements"] for r in runs), "engines disagree on the number of elements"
    print(f"(every engine found the same {local['elements']} elements)")
    if ray_init is not None:
        print(f"ray.init (local instance, once per process): {ray_init:.1f} s")
    if noop is not None:
        print(
            f"seam overhead, no-op job on Ray x2: {noop['fixed_s']:.1f} s fixed per pass, "
            f"{noop['per_item_ms']:.2f} ms per item ({noop['n']} items in {noop['total_s']:.1f} s)"
        )
    one = next((r for r in runs if r["tag"] == "ray x1"), None) or next(
        (r for r in runs if r["tag"] == "local 1t"), local
    )
    cost = 1.0 / one["steady"] if one["steady"] == one["steady"] else one["wall"] / one["n"]
    per_image_kb = local["cache_bytes"] / local["n"] / 1024
    print(
        f"\nper-image cost, one worker on one core, steady state ({one['tag']}): {cost:.2f} s; "
        f"cache written per image: {per_image_kb:.0f} KB; load average now {os.getloadavg()[0]:.1f}"
    )
    ray_runs = [r for r in runs if r["tag"].startswith("ray")]
    store_s = max(r["store_ms"] for r in ray_runs) / 1000 if ray_runs else 0.0
    seam_s = noop["per_item_ms"] / 1000 if noop else 0.0
    driver_s = store_s + seam_s
    if driver_s:
        print(
            f"one driver stores at most 1 / ({store_s * 1000:.1f} + {seam_s * 1000:.1f} ms) = {1 / driver_s:.0f} images/s "
            f"-> no gain beyond ~{cost / driver_s:.0f} workers"
        )
    for workers in (16, 64, 256):
        hours = OSV5M_IMAGES * max(cost / workers, driver_s) / 3600
        print(
            f"OSV-5M estimate: {OSV5M_IMAGES / 1e6:.1f} M images x max({cost:.2f} s / {workers} workers, "
            f"{driver_s:.3f} s driver) = {hours:,.1f} h (cache {OSV5M_IMAGES * per_image_kb / 1024**2:,.0f} GB)"
        )
    shutil.rmtree(base.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
