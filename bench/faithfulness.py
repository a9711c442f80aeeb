"""Faithfulness throughput: images/s and the ratio to raw batched forwards.

Two measurements on GeoScenes images (224 px) with a ResNet (random weights unless ``--project`` names
a project with a trained model):

1. **engine**: :func:`geoquiz.faithfulness.evaluate.evaluate_image` on each image with hand-made
   elements (``--n-elements`` boxes per method x segmenter), i.e. exactly the work of the faithfulness
   code: preparing the image once, the fill, matched random boxes, curves, batched scoring;
2. **grid**: the whole :func:`geoquiz.faithfulness.grid.run_grid` (Explainer cache warm, so maps and
   segments are served from the cache; database writes included), when ``geoquiz.explain`` exists.

For each, ``ratio = wall time / (forward passes x one raw batched forward)``: the raw forward is
``LoadedModel.predict_tensor`` on a ready ``(batch_size, ...)`` tensor (median of several), the
forward passes are the batches the evaluation actually ran. ``ratio_img`` uses images instead
(``variants x raw forward / batch_size``), which charges partial last batches fully. Goal: <= 1.2.

Run: ``python -m bench.faithfulness [--images 12] [--repeats 10] [--arch resnet18] [--fill blur]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def raw_forward_s(loaded, batch_size: int, n: int = 5) -> float:
    """Median seconds of one ``predict_tensor`` on a ready batch of ``batch_size`` inputs."""
    import torch

    x = torch.randn((batch_size, *loaded.spec.input_shape))
    loaded.predict_tensor(x)  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        loaded.predict_tensor(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _project(args):
    from geoquiz.project import Project

    if args.project:
        project = Project.open(args.project)
        return project, args.model or "geoscenes-demo", args.dataset or "geoscenes"
    import torch

    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.models.checkpoint import save_checkpoint
    from geoquiz.models.registry import build_model
    from geoquiz.models.spec import ModelSpec
    from geoquiz.models.store import register_model

    root = Path(tempfile.mkdtemp(prefix="bench_faith_")) / "proj"
    project = Project.open(root, create=True)
    n_per_class = max(4, (args.images * 5) // 3 + 1)  # the test split is about a fifth of the images
    import_geoscenes(project, "geoscenes", n_per_class=n_per_class, seed=0)
    torch.manual_seed(0)
    spec = ModelSpec(args.arch, "single", ("France", "India", "Japan"), input_size=224)
    save_checkpoint(root / "models" / "bench.pt", build_model(spec), spec)
    register_model(project, "bench", root / "models" / "bench.pt", dataset="geoscenes")
    return project, "bench", "geoscenes"


def bench_engine(loaded, units, args) -> dict:
    import numpy as np

    from geoquiz.boxes import Box
    from geoquiz.data.dataset import read_sample
    from geoquiz.faithfulness.engine import ImageFrame
    from geoquiz.faithfulness.evaluate import EvalOptions, Selection, evaluate_image
    from geoquiz.faithfulness.perturb import make_fill
    from geoquiz.types import Element

    fill = make_fill(args.fill)
    options = EvalOptions(repeats=args.repeats, curve_repeats=args.curve_repeats, batch_size=args.batch_size)
    rng = np.random.default_rng(0)
    s = loaded.spec.input_size
    images = [read_sample(u) for u in units]
    n_variants = n_batches = 0
    t0 = time.perf_counter()
    for unit, image in zip(units, images):
        selections = []
        for m in range(args.cells):
            els = []
            for r in range(args.n_elements):
                w, h = (int(v) for v in rng.integers(16, 64, size=2))
                x, y = int(rng.integers(0, s - w)), int(rng.integers(0, s - h))
                els.append(
                    Element(
                        r + 1,
                        Box(x, y, x + w, y + h),
                        1.0 - 0.05 * r,
                        1,
                        1,
                        1,
                        Box(x, y, x + w, y + h),
                        w * h,
                    )
                )
            selections.append(Selection(f"m{m}", "default", tuple(els)))
        frame = ImageFrame(loaded, image, fill)
        res = evaluate_image(frame, loaded.class_index(unit.label), selections, unit.id, options)
        n_variants += res.n_variants
        n_batches += res.n_batches
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "n_units": len(units), "n_variants": n_variants, "n_batches": n_batches}


def bench_grid(project, model: str, dataset: str, args) -> dict | None:
    try:
        from geoquiz.explain import Explainer
    except ImportError:
        return None
    from geoquiz.faithfulness.grid import run_grid

    explainer = Explainer(project, model)
    kwargs = dict(repeats=args.repeats, curve_repeats=args.curve_repeats, limit=args.images, fill=args.fill)
    kwargs |= dict(batch_size=args.batch_size, explainer=explainer, resume=False)
    t0 = time.perf_counter()
    run_grid(
        project,
        model,
        dataset,
        args.split,
        args.methods,
        args.segmenters,
        repeats=0,
        curves=False,
        limit=args.images,
        explainer=explainer,
        resume=False,
    )  # warm the map / segment cache
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_id = run_grid(project, model, dataset, args.split, args.methods, args.segmenters, **kwargs)
    wall = time.perf_counter() - t0
    from geoquiz.faithfulness.store import get_run

    s = get_run(project.db, run_id).summary
    return {
        "wall_s": wall,
        "warm_s": warm,
        "n_units": s["n_units"],
        "n_variants": s["n_variants"],
        "n_batches": s["n_batches"],
        "explain_s": s["explain_s"],
        "run_id": run_id,
    }


def report(name: str, r: dict, t_raw: float, batch_size: int) -> None:
    ratio = r["wall_s"] / (r["n_batches"] * t_raw)
    ratio_img = r["wall_s"] / (r["n_variants"] * t_raw / batch_size)
    print(
        f"{name:<7} {r['n_units']} images in {r['wall_s']:.2f} s = {r['n_units'] / r['wall_s']:.2f} images/s; "
        f"{r['n_variants']} variants in {r['n_batches']} forward passes ({r['n_variants'] / r['n_units']:.0f}/image)"
    )
    print(
        f"        ratio to forward passes x raw batched forward = {ratio:.3f}  (per-image basis: {ratio_img:.3f}; goal <= 1.2)"
    )
    if "explain_s" in r:
        print(
            f"        of which Explainer (cache hits) {r['explain_s']:.2f} s; cache warm-up run took {r['warm_s']:.1f} s"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.faithfulness", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--split", default="test")
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--fill", default="blur")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--curve-repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cells", type=int, default=1, help="method x segmenter cells (engine part)")
    parser.add_argument("--n-elements", type=int, default=5)
    parser.add_argument("--methods", default="gradcampp")
    parser.add_argument("--segmenters", default="default")
    args = parser.parse_args(argv)
    args.methods = args.methods.split(",")
    args.segmenters = args.segmenters.split(",")

    import torch

    from geoquiz.faithfulness.grid import load_units
    from geoquiz.models.store import load_project_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    project, model, dataset = _project(args)
    loaded = load_project_model(project, model, device="cpu")
    units = load_units(project.db, dataset, args.split, loaded.spec.n_views, args.images)
    t_raw = raw_forward_s(loaded, args.batch_size)
    print(
        f"{loaded.spec.arch} {loaded.spec.input_size}px, batch {args.batch_size}: raw batched forward "
        f"{t_raw * 1000:.0f} ms ({args.batch_size / t_raw:.1f} inputs/s); fill {args.fill}, "
        f"{args.repeats} random repeats, {args.curve_repeats} random curves"
    )
    report("engine", bench_engine(loaded, units, args), t_raw, args.batch_size)
    grid = bench_grid(project, model, dataset, args)
    if grid is None:
        print("grid    skipped: geoquiz.explain is not available")
    else:
        report("grid", grid, t_raw, args.batch_size)
    project.close()


if __name__ == "__main__":
    main()
