"""Item 7: on GeoScenes with the demo model, guided vs random deletion / insertion with 95% CIs.

Builds (or reuses) a project with the ``geoscenes`` dataset and the demo model
(:func:`geoquiz.models.demo.ensure_demo_model`), runs the faithfulness grid for Grad-CAM++ x the
default segmenter on the test split (10 random repeats, blur fill by default), and prints, per test,
the guided and random accuracy and true-class probability with bootstrap 95% CIs, the paired
difference with its CI, the Wilcoxon p-value, and whether the direction is the faithful one
(deletion: guided lower than random; insertion: guided higher).

Without ``--project`` it uses the GeoScenes benchmarks' shared project (:func:`default_project_dir`),
built on first use (the demo dataset, 300 images per country, and the demo model: a few minutes) and
reused by ``bench.pointing`` and ``bench.sam_guided`` too.

Run: ``python -m bench.faithfulness_geoscenes [--project DIR] [--methods gradcampp,gradcam] [--limit N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def default_project_dir() -> Path:
    """The project the GeoScenes benchmarks share when no ``--project`` is given:
    ``$GEOQUIZ_BENCH_PROJECT``, else ``<temp dir>/geoquiz-bench-geoscenes``."""
    env = os.environ.get("GEOQUIZ_BENCH_PROJECT")
    return Path(env) if env else Path(tempfile.gettempdir()) / "geoquiz-bench-geoscenes"


def ensure_project(root: Path | None, n_per_class: int):
    """A project with dataset ``geoscenes`` and the demo model; returns ``(project, model_name)``.

    ``root``: the project folder (created when missing); ``None`` = :func:`default_project_dir`.
    The dataset is generated with ``n_per_class`` images per country only when the project lacks it.
    """
    from geoquiz.data.dataset import list_datasets
    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.project import Project

    root = root or default_project_dir()
    project = Project.open(root, create=True)
    if "geoscenes" not in {d.name for d in list_datasets(project.db)}:
        import_geoscenes(project, "geoscenes", n_per_class=n_per_class, seed=0)
    from geoquiz.cli.common import progress_bar

    with progress_bar("demo model") as reporter:
        # the demo model: trained once on "geoscenes", later calls load it at once
        from geoquiz.models.demo import ensure_demo_model

        name = ensure_demo_model(project, reporter=reporter)
    return project, name


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    """``--project``, ``--n-per-class``, ``--model``, ``--dataset`` and ``--split``, shared by the
    GeoScenes benchmarks (see :func:`ensure_project`)."""
    parser.add_argument(
        "--project", type=Path, default=None, help="project folder (default: the benchmarks' shared one)"
    )
    parser.add_argument(
        "--n-per-class",
        type=int,
        default=300,
        help="GeoScenes images per country when generating (300 = the demo dataset)",
    )
    parser.add_argument("--model", default=None, help="default: the demo model")
    parser.add_argument("--dataset", default="geoscenes")
    parser.add_argument("--split", default="test")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.faithfulness_geoscenes", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--methods", default="gradcampp")
    parser.add_argument("--segmenters", default="default")
    parser.add_argument("--fill", default="blur")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)

    from geoquiz.cli.common import progress_bar
    from geoquiz.faithfulness.grid import run_grid
    from geoquiz.faithfulness.stats import compare, summarise
    from geoquiz.faithfulness.store import get_run, load_run

    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    t0 = time.perf_counter()
    with progress_bar("faithfulness") as reporter:
        run_id = run_grid(
            project,
            model,
            args.dataset,
            args.split,
            args.methods.split(","),
            args.segmenters.split(","),
            fill=args.fill,
            repeats=args.repeats,
            limit=args.limit,
            reporter=reporter,
        )
    wall = time.perf_counter() - t0
    run = get_run(project.db, run_id)
    df = load_run(project.db, run_id)
    print(
        f"\nrun #{run_id}: {model} on geoscenes/{args.split}, {run.n_units} images, fill {args.fill}, "
        f"{args.repeats} random repeats, top-p {run.config['params']['top_p']:g}%, {wall:.0f} s"
    )
    s = summarise(df)
    print("\nmean over images [bootstrap 95% CI]")
    for r in s.itertuples():
        print(
            f"  {r.method:<10} {r.segmenter:<9} {r.test:<9} {r.selection:<6} accuracy {r.accuracy:.3f} "
            f"[{r.accuracy_lo:.3f}, {r.accuracy_hi:.3f}]  true prob {r.true_prob:.3f} "
            f"[{r.true_prob_lo:.3f}, {r.true_prob_hi:.3f}]  coverage {r.coverage:.3f}  (unperturbed acc {r.base_accuracy:.3f})"
        )
    print("\nguided - random, paired per image [bootstrap 95% CI], Wilcoxon p")
    for r in compare(df).itertuples():
        print(
            f"  {r.method:<10} {r.segmenter:<9} {r.test:<9} accuracy {r.diff_accuracy:+.3f} "
            f"[{r.diff_accuracy_lo:+.3f}, {r.diff_accuracy_hi:+.3f}] p={r.p_accuracy:.2g}   true prob "
            f"{r.diff_true_prob:+.3f} [{r.diff_true_prob_lo:+.3f}, {r.diff_true_prob_hi:+.3f}] p={r.p_true_prob:.2g}   "
            f"{'faithful direction' if r.expected else 'NOT the faithful direction'}"
        )
    project.close()


if __name__ == "__main__":
    main()
