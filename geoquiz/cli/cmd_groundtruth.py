"""``geoquiz groundtruth``: causal ground truth on GeoScenes (which planted cue does the model use?).

Examples::

    geoquiz groundtruth scenes geoscenes-single --n-per-class 100 --cues single   # a single-cue dataset
    geoquiz groundtruth run --model geoscenes-demo --dataset geoscenes --split test [--limit 60]
    geoquiz groundtruth show --model geoscenes-demo --dataset geoscenes          # per cue tag
    geoquiz groundtruth score --model geoscenes-demo --dataset geoscenes \\
        --methods gradcam,gradcampp,scorecam,ig,smoothgrad --segmenters default [--json out.json]
    geoquiz groundtruth humans --model geoscenes-demo [--study geoscenes-countries]  # participants' boxes

``run`` re-renders each image (4-view location) without each planted cue object and each cue tag,
runs the model and stores the drop of the true-class probability per cue (one transaction per
image; running it again computes only what is missing; ``--engine ray`` runs the renders and
forward passes on Ray workers). ``score`` compares the explanations with it
(:mod:`geoquiz.ground_truth.versus`).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.engine import add_engine_arguments, describe_outcome, engine_from_args
from geoquiz.errors import GeoQuizError


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _target(p: argparse.ArgumentParser) -> None:
    add_project_arg(p)
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--dataset", required=True, help="a GeoScenes dataset of the project")
    p.add_argument("--split", default="test", help="split (default: test; 'all' for every image)")
    p.add_argument("--limit", type=_positive, default=None, help="at most N images (class-balanced)")


def register(sub) -> None:
    p = sub.add_parser(
        "groundtruth",
        help="causal ground truth on GeoScenes: cue importance by re-rendering without each cue",
        description="Counterfactual cue importance on GeoScenes and explanations scored against it.",
    )
    cmds = p.add_subparsers(dest="gt_command", metavar="SUBCOMMAND", required=True)

    s = cmds.add_parser(
        "scenes", help="generate a GeoScenes dataset into the project (realistic or single-cue)"
    )
    add_project_arg(s)
    s.add_argument("name", help="dataset name")
    s.add_argument(
        "--n-per-class", type=_positive, required=True, help="images (4-view: locations) per country"
    )
    s.add_argument(
        "--cues", choices=("realistic", "single"), default="single", help="cue mode (default single)"
    )
    s.add_argument("--four-view", action="store_true", help="4-view locations")
    s.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    s.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    s.add_argument("--replace", action="store_true", help="replace a dataset of that name")
    s.set_defaults(func=run_scenes)

    r = cmds.add_parser("run", help="compute and store the counterfactuals (resumable)")
    _target(r)
    r.add_argument("--batch-size", type=_positive, default=32, help="images per forward pass (default 32)")
    r.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_engine_arguments(r, batch_flag="--engine-batch-size")
    r.set_defaults(func=run_run)

    w = cmds.add_parser("show", help="per cue tag: mean drop of the true-class probability, flip rate")
    _target(w)
    w.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the rows as JSON")
    w.set_defaults(func=run_show)

    c = cmds.add_parser("score", help="explanations (method x segmenter) vs the stored causal truth")
    _target(c)
    c.add_argument("--methods", type=_csv, default=["gradcampp"], help="comma-separated (default gradcampp)")
    c.add_argument("--segmenters", type=_csv, default=["default"], help="comma-separated (default default)")
    c.add_argument("--top-k", type=_positive, default=3, help="elements for the top-k share (default 3)")
    c.add_argument("--repeats", type=_positive, default=50, help="random boxes per image (default 50)")
    c.add_argument("--seed", type=int, default=0, help="seed of the random boxes (default 0)")
    c.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the rows as JSON")
    c.set_defaults(func=run_score)

    h = cmds.add_parser(
        "humans", help="participants' cue boxes vs the stored causal truth (per participant, tag)"
    )
    add_project_arg(h)
    h.add_argument("--model", required=True, help="registered model name")
    h.add_argument("--study", default=None, help="study slug (default: every study)")
    h.add_argument("--repeats", type=_positive, default=50, help="random placements per trial (default 50)")
    h.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the rows as JSON")
    h.set_defaults(func=run_humans)


def _split(args) -> str | None:
    return None if args.split == "all" else args.split


def run_scenes(args: argparse.Namespace) -> int:
    from geoquiz.data.geoscenes import import_geoscenes

    with open_project(args, create=True) as project, progress_bar("Rendering GeoScenes") as reporter:
        try:
            import_geoscenes(
                project,
                args.name,
                n_per_class=args.n_per_class,
                four_view=args.four_view,
                seed=args.seed,
                size=args.size,
                cues=args.cues,
                replace=args.replace,
                reporter=reporter,
            )
        except ValueError as exc:
            raise GeoQuizError(f"groundtruth scenes: {exc}") from exc
    print(f"dataset {args.name!r}: GeoScenes, cues {args.cues}, {args.n_per_class} per class")
    return 0


def run_run(args: argparse.Namespace) -> int:
    from geoquiz.ground_truth.causal import run_causal

    engine = engine_from_args(args)
    with open_project(args) as project, progress_bar("Counterfactual renders") as reporter:
        try:
            summary = run_causal(
                project,
                args.model,
                args.dataset,
                _split(args),
                limit=args.limit,
                engine=engine,
                batch_size=args.batch_size,
                device=args.device,
                reporter=reporter,
            )
        finally:
            engine.close()
    print(
        describe_outcome(
            summary.engine, summary.done, summary.skipped, summary.as_dict()["failures"], verb="computed"
        )
    )
    return 0 if not summary.failed else 1


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _write_json(path: Path | None, rows: list[dict]) -> None:
    if path is None:
        return
    from geoquiz.csvio import atomic_write

    atomic_write(path, lambda fh: json.dump(rows, fh, indent=1, default=str))
    print(f"wrote {path}")


def run_show(args: argparse.Namespace) -> int:
    from geoquiz.ground_truth.causal import stored_units, tag_summary
    from geoquiz.ground_truth.pointing import balanced

    with open_project(args) as project:
        units = stored_units(project, args.model, args.dataset, _split(args))
    if args.limit:
        units = balanced(units, args.limit)
    if not units:
        raise GeoQuizError(
            f"no causal ground truth stored for {args.model!r} on {args.dataset!r} split {args.split!r}; "
            "run: geoquiz groundtruth run"
        )
    acc = sum(u.correct for u in units) / len(units)
    print(
        f"{len(units)} units, accuracy {acc:.3f}, mean true-class probability "
        f"{sum(u.true_prob for u in units) / len(units):.3f}"
    )
    rows = tag_summary(units)
    print(f"{'tag':<18} {'n':>4} {'drop':>7} {'95% CI':>17} {'flips':>6} {'best obj':>8}")
    for r in rows:
        ci = f"[{_fmt(r['lo'])}, {_fmt(r['hi'])}]"
        print(
            f"{r['tag']:<18} {r['n']:>4} {_fmt(r['drop']):>7} {ci:>17} {_fmt(r['flip_rate']):>6} {_fmt(r['object_drop']):>8}"
        )
    _write_json(args.json, rows)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from geoquiz.ground_truth.versus import VersusSettings, versus_on_dataset

    settings = VersusSettings(top_k=args.top_k, repeats=args.repeats, seed=args.seed)
    with open_project(args) as project, progress_bar("Scoring explanations") as reporter:
        result = versus_on_dataset(
            project,
            args.model,
            args.dataset,
            _split(args),
            args.methods,
            args.segmenters,
            settings=settings,
            limit=args.limit,
            reporter=reporter,
        )
    rows = result.summary()
    print(
        f"{len(result.records)} scored, {len(result.wrong)} misclassified (left out), {len(result.missing)} without causal truth"
    )
    print(
        f"{'method':<11} {'segmenter':<10} {'measure':<18} {'n':>4} {'value [95% CI]':>24} {'random':>7} {'p':>8}"
    )
    for r in rows:
        value = f"{_fmt(r['value'])} [{_fmt(r['lo'])}, {_fmt(r['hi'])}]"
        rand = _fmt(r["random"])
        print(
            f"{r['method']:<11} {r['segmenter']:<10} {r['measure']:<18} {r['n']:>4} {value:>24} {rand:>7} {r['p_value']:>8.2g}"
        )
    _write_json(args.json, rows)
    return 0


def run_humans(args: argparse.Namespace) -> int:
    from geoquiz.ground_truth.human import human_vs_causal

    with open_project(args) as project:
        result = human_vs_causal(project, args.model, args.study, repeats=args.repeats)
    if not result.trials:
        raise GeoQuizError(
            f"no study trial with causal ground truth for {args.model!r} ({result.n_without_truth} trials on "
            "images without it); run: geoquiz groundtruth run on the studies' dataset"
        )
    print(f"{len(result.trials)} trials scored, {result.n_without_truth} on images without causal truth")
    rows = result.summary() + result.summary(by_participant=True)
    print(f"{'participant':<16} {'n':>4} {'hit most causal':>22} {'random':>7} {'share':>22} {'random':>7}")
    for r in rows:
        hit = f"{_fmt(r['causal_hit'])} [{_fmt(r['causal_hit_lo'])}, {_fmt(r['causal_hit_hi'])}]"
        share = f"{_fmt(r['share'])} [{_fmt(r['share_lo'])}, {_fmt(r['share_hi'])}]"
        print(
            f"{r['participant']:<16} {r['n']:>4} {hit:>22} {_fmt(r['random_hit']):>7} {share:>22} {_fmt(r['random_share']):>7}"
        )
    print(f"\n{'box tag':<16} {'boxes':>6} {'drop when boxed':>16} {'drop when not':>14}")
    for r in result.tag_rows:
        print(f"{r['tag']:<16} {r['n_boxes']:>6} {_fmt(r['drop_boxed']):>16} {_fmt(r['drop_unboxed']):>14}")
    _write_json(args.json, rows + result.tag_rows)
    return 0
