"""Causal ground truth (issue #14): realistic vs single-cue GeoScenes, the demo model, five methods.

For each benchmark dataset -- ``geoscenes`` (realistic: every cue the country plants, the demo model's
training distribution) and ``geoscenes-single`` (one decisive diagnostic cue object per scene,
generated into the project on first use with ``--single-per-class`` images per country) -- this:

1. computes (or resumes) the counterfactual cue importance of every test image for the demo model
   (:func:`geoquiz.ground_truth.causal.run_causal`) and prints accuracy, per-tag mean drop of the
   true-class probability with 95 % CIs and flip rates, and how much the single most important cue
   object matters (low under redundancy);
2. scores the attribution methods x segmenters against it
   (:func:`geoquiz.ground_truth.versus.versus_on_dataset`): Spearman of attribution mass and element
   coverage with the causal drops, the causal hit of the top element vs same-size random boxes, the
   top-k share of causal importance vs random, and the old any-cue pointing game, with bootstrap CIs
   and Wilcoxon p-values;
3. times the counterfactuals of a few images against one plain forward pass of the same images
   (the raw library call), as a ratio (the machine may be shared).

Uses ``--project`` (written to: the single-cue dataset, causal tables, explanation cache), else the
GeoScenes benchmarks' shared project (:mod:`bench.faithfulness_geoscenes`).

Run: ``python -m bench.causal [--project DIR] [--methods gradcam,gradcampp,scorecam,smoothgrad,ig]
[--segmenters default] [--limit N] [--single-limit N] [--only realistic|single]``.
"""

from __future__ import annotations

import argparse
import math
import time

from bench.faithfulness_geoscenes import add_project_arguments, ensure_project


def _f(v: float) -> str:
    return "  nan" if isinstance(v, float) and math.isnan(v) else f"{v:+.3f}" if v < 0 else f"{v:.3f}"


def _causal(project, model: str, dataset: str, split: str, limit: int | None) -> list:
    from geoquiz.cli.common import progress_bar
    from geoquiz.ground_truth.causal import run_causal, stored_units, tag_summary
    from geoquiz.ground_truth.pointing import balanced

    t0 = time.perf_counter()
    with progress_bar(f"counterfactuals {dataset}") as reporter:
        summary = run_causal(project, model, dataset, split, limit=limit, reporter=reporter)
    wall = time.perf_counter() - t0
    units = balanced(stored_units(project, model, dataset, split), limit)
    n_cf = sum(len(u.effects) for u in units)
    print(
        f"\n== {dataset}/{split}: {len(units)} images ({summary.done} computed now in {wall:.0f} s, "
        f"{summary.skipped} stored before, {summary.failed} failed); {n_cf} counterfactuals"
    )
    acc = sum(u.correct for u in units) / max(1, len(units))
    print(
        f"accuracy {acc:.3f}; mean true-class probability {sum(u.true_prob for u in units) / max(1, len(units)):.3f}"
    )
    print("per cue tag: mean drop of the true-class prob. when the tag is removed [95% CI], top-1 flip rate,")
    print("             mean drop of its most important single object")
    for r in tag_summary(units):
        print(
            f"  {r['tag']:<17} n={r['n']:<4} drop {_f(r['drop'])} [{_f(r['lo'])}, {_f(r['hi'])}]  "
            f"flips {r['flip_rate']:.3f}  best object {_f(r['object_drop'])}"
        )
    return units


def _versus(project, model, dataset, split, methods, segmenters, limit, settings) -> None:
    from geoquiz.cli.common import progress_bar
    from geoquiz.ground_truth.versus import versus_on_dataset

    t0 = time.perf_counter()
    with progress_bar(f"scoring {dataset}") as reporter:
        result = versus_on_dataset(
            project,
            model,
            dataset,
            split,
            methods,
            segmenters,
            settings=settings,
            limit=limit,
            reporter=reporter,
        )
    print(
        f"explanations vs causal truth ({len(result.records) // max(1, len(methods) * len(segmenters))} correctly "
        f"classified images, {len(result.wrong)} misclassified left out; {time.perf_counter() - t0:.0f} s)"
    )
    print("  mean [bootstrap 95% CI]; random: same-size boxes (spearman_mass: a uniform map); p: sign-flip")
    print("  permutation test of the paired difference (Wilcoxon signed-rank p in brackets)")
    for r in result.summary():
        line = f"  {r['method']:<10} {r['segmenter']:<8} {r['measure']:<17} n={r['n']:<4} {_f(r['value'])} [{_f(r['lo'])}, {_f(r['hi'])}]"
        if "random" in r:
            line += (
                f"  random {_f(r['random'])}  diff {_f(r['diff'])} [{_f(r['diff_lo'])}, {_f(r['diff_hi'])}]"
            )
        print(line + f"  p={r['p_value']:.2g} ({r['p_wilcoxon']:.2g})")


def _timing(project, model: str, dataset: str, split: str, n: int = 4) -> None:
    from geoquiz.data.dataset import get_dataset, load_items, read_sample
    from geoquiz.ground_truth.causal import counterfactuals, unit_specs
    from geoquiz.models.store import load_project_model

    loaded = load_project_model(project, model)
    params = get_dataset(project.db, dataset).params
    items = load_items(project.db, dataset, split)[:n]
    t0 = time.perf_counter()
    units = [counterfactuals(loaded, unit_specs(params, it), it.label) for it in items]
    t_cf = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded.predict_arrays([read_sample(it) for it in items])
    t_raw = time.perf_counter() - t0
    renders = sum(u.n_renders for u in units)
    render_s = sum(u.render_s for u in units)
    print(
        f"timing ({dataset}, {n} images, shared machine): counterfactuals {t_cf / n:.2f} s per image "
        f"({renders / n:.0f} renders, {render_s / max(t_cf, 1e-9):.0%} of the time rendering) = "
        f"{t_cf / max(t_raw, 1e-9):.0f}x one plain forward pass of the image ({t_raw / n * 1000:.0f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.causal", description=__doc__.splitlines()[0])
    add_project_arguments(parser)
    parser.add_argument("--methods", default="gradcam,gradcampp,scorecam,smoothgrad,ig")
    parser.add_argument("--segmenters", default="default")
    parser.add_argument("--limit", type=int, default=None, help="realistic images (class-balanced)")
    parser.add_argument("--single-dataset", default="geoscenes-single")
    parser.add_argument("--single-per-class", type=int, default=100, help="when generating it")
    parser.add_argument("--single-limit", type=int, default=None)
    parser.add_argument("--only", choices=("realistic", "single"), default=None)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from geoquiz.data.dataset import list_datasets
    from geoquiz.data.geoscenes import import_geoscenes
    from geoquiz.ground_truth.versus import VersusSettings

    project, model = ensure_project(args.project, args.n_per_class)
    model = args.model or model
    if args.single_dataset not in {d.name for d in list_datasets(project.db)} and args.only != "realistic":
        import_geoscenes(
            project, args.single_dataset, n_per_class=args.single_per_class, seed=0, cues="single"
        )
    settings = VersusSettings(top_k=args.top_k, repeats=args.repeats, seed=args.seed)
    methods, segmenters = args.methods.split(","), args.segmenters.split(",")
    benches = [("realistic", args.dataset, args.limit), ("single", args.single_dataset, args.single_limit)]
    for kind, dataset, limit in benches:
        if args.only and kind != args.only:
            continue
        _causal(project, model, dataset, args.split, limit)
        _versus(project, model, dataset, args.split, methods, segmenters, limit, settings)
        _timing(project, model, dataset, args.split)
    project.close()


if __name__ == "__main__":
    main()
