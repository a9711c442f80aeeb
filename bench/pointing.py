"""Ground truth (issue #4 item 7): pointing-game hit rate of the top element on GeoScenes' planted cues.

For the images of a split that the demo model classifies correctly, the top-ranked element of each
attribution method x segmenter is checked against the planted cue boxes
(:func:`geoquiz.ground_truth.pointing_on_dataset`; hit = the element box's centre on a cue box by
default, ``--criterion overlap`` for "at least half the box on cues"), and compared with boxes of the
same size placed at random (``--repeats`` per image, seeded). Printed per method: the hit rate and
the random baseline with bootstrap 95 % CIs, the paired difference with its CI, the Wilcoxon p-value,
their ratio, which cue tags the hits land on, and the time per image (explanations come from the
project's cache when there).

Uses ``--project`` (written to: explanation cache), else the GeoScenes benchmarks' shared project
(:func:`bench.faithfulness_geoscenes.default_project_dir`: the demo dataset and the demo model, built
on first use in a few minutes; see :mod:`bench.faithfulness_geoscenes`).

The any-cue game is cheap with ~25 cue boxes per image; :mod:`bench.causal` scores the same
explanations against causal ground truth (which cue the model actually uses), on realistic and on
single-cue scenes (``--dataset geoscenes-single`` runs this game on the latter, once bench.causal or
``geoquiz groundtruth scenes`` made it).

Run: ``python -m bench.pointing [--project DIR] [--methods gradcam,gradcampp,scorecam,smoothgrad,ig]
[--segmenters default] [--split test] [--limit N] [--criterion centre|overlap] [--tolerance PX]``.
"""

from __future__ import annotations

import argparse
import time

from bench.faithfulness_geoscenes import add_project_arguments, ensure_project


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.pointing", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--methods", default="gradcam,gradcampp,scorecam,smoothgrad,ig")
    parser.add_argument("--segmenters", default="default")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--criterion", default="centre", choices=("centre", "overlap"))
    parser.add_argument("--tolerance", type=float, default=0.0, help="pixels (centre criterion)")
    parser.add_argument("--min-overlap", type=float, default=0.5, help="overlap criterion")
    parser.add_argument("--top-k", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from geoquiz.cli.common import progress_bar
    from geoquiz.explain import Explainer
    from geoquiz.ground_truth import PointingSettings, pointing_on_dataset

    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    settings = PointingSettings(
        criterion=args.criterion,
        tolerance_px=args.tolerance,
        min_overlap=args.min_overlap,
        top_k=args.top_k,
        repeats=args.repeats,
        seed=args.seed,
    )
    explainer = Explainer(project, model)
    methods, segmenters = args.methods.split(","), args.segmenters.split(",")
    t0 = time.perf_counter()
    with progress_bar("pointing game") as reporter:
        result = pointing_on_dataset(
            project,
            model,
            args.dataset,
            args.split,
            methods,
            segmenters,
            limit=args.limit,
            explainer=explainer,
            settings=settings,
            reporter=reporter,
        )
    wall = time.perf_counter() - t0
    n_scored = result.n_samples - len(result.wrong) - len(result.no_cues)
    crit = (
        f"box centre within {args.tolerance:g} px of a cue box"
        if args.criterion == "centre"
        else f">= {args.min_overlap:.0%} of the box on cue boxes"
    )
    print(
        f"\n{model} on {args.dataset}/{args.split}: {result.n_samples} images, {len(result.wrong)} misclassified "
        f"and {len(result.no_cues)} without cues left out -> {n_scored} scored"
    )
    print(
        f"hit = top-{args.top_k} element {crit}; random = same-size boxes placed uniformly, "
        f"{args.repeats} per image (seed {args.seed})"
    )
    print(
        f"{wall:.0f} s for {len(methods) * len(segmenters)} method x segmenter cells "
        f"({wall / max(1, n_scored * len(methods) * len(segmenters)):.2f} s per image x cell; "
        f"explainer {dict(explainer.stats)})\n"
    )
    print("mean over images [bootstrap 95% CI]")
    for r in result.summary():
        tags = ", ".join(f"{k} {v}" for k, v in list(r["hit_tags"].items())[:4])
        print(
            f"  {r['method']:<10} {r['segmenter']:<9} n={r['n']:<4} hit {r['hit_rate']:.3f} "
            f"[{r['hit_lo']:.3f}, {r['hit_hi']:.3f}]  random {r['random_rate']:.3f} "
            f"[{r['random_lo']:.3f}, {r['random_hi']:.3f}]  diff {r['diff']:+.3f} "
            f"[{r['diff_lo']:+.3f}, {r['diff_hi']:+.3f}] p={r['p_value']:.2g}  ratio {r['ratio']:.2f}"
        )
        if r["n_empty"]:
            print(f"  {'':<10} {r['n_empty']} images without any element (left out)")
        print(f"  {'':<10} hits on: {tags}")
    project.close()


if __name__ == "__main__":
    main()
