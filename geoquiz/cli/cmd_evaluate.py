"""``geoquiz evaluate``: faithfulness of the elements (deletion / insertion vs matched random boxes).

Examples::

    geoquiz evaluate --model geoscenes-demo --dataset geoscenes --split test \\
        --methods gradcam,gradcampp --segmenters default --fill blur --repeats 10 --export out/
    geoquiz evaluate --choose-p ...        # first choose top-p on the val split, then run the grid
    geoquiz evaluate --list                # past runs
    geoquiz evaluate --run 3 --export out/ --formats csv,svg
    geoquiz evaluate --resume 3            # continue an interrupted run (with its recorded parameters)
    geoquiz evaluate ... --methods scorecam --method-param scorecam.channels=512
    geoquiz evaluate ... --engine ray --concurrency 8 --engine-batch-size 2   # on Ray Data workers
    geoquiz evaluate ... --selections model,human --study geoscenes-countries  # people's cue boxes too

``--selections model,human --study SLUG`` tests, beside the model's elements, the cue boxes the
study's participants drew (per trial, as the union per item, and per cue tag; ``--human-scopes``)
against random boxes of matched count, sizes and coverage, on the items that have such boxes; the
export then adds ``_sources`` (model vs people vs random, CSV and figure) and the per item /
participant / tag tables. ``--selections human`` tests people's boxes alone (no explanation).

With ``--engine ray`` (pip install "geoquiz[ray]") each image's explanation and tests run on a Ray
worker that reads the image from its path; this process stores each image's rows (and the
explanation, in the project cache) in one transaction, exactly as the local engine would (same
seeds, same numbers). An image that fails is listed at the end, the run goes on and ends
``incomplete``; running the same command again (or ``--resume``) tries only the missing images.
``--choose-p`` always sweeps on the local engine (a small validation split).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.engine import add_engine_arguments, describe_outcome, engine_from_args
from geoquiz.errors import GeoQuizError


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="faithfulness grid: deletion/insertion of elements vs matched random boxes",
        description="Run the faithfulness grid (attribution methods x segmenters over a split), list past "
        "runs, or export one to CSV / PNG / SVG.",
    )
    add_project_arg(p)
    p.add_argument("--model", help="registered model name (default: the only model, or the demo model)")
    p.add_argument("--dataset", help="dataset name (default: the model's training dataset)")
    p.add_argument(
        "--split", default="test", help="split to evaluate: train, val, test or all (default: test)"
    )
    p.add_argument("--methods", type=_csv, default=["gradcampp"], help="comma-separated (default: gradcampp)")
    p.add_argument("--segmenters", type=_csv, default=["default"], help="comma-separated (default: default)")
    p.add_argument(
        "--fill", default="blur", choices=["blur", "mean", "black", "road"], help="fill (default: blur)"
    )
    p.add_argument("--repeats", type=int, default=10, help="random selections per image (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="run seed for the random boxes (default: 0)")
    p.add_argument(
        "--top-p", type=float, default=None, help="element top-p in percent (default: project setting)"
    )
    p.add_argument("--choose-p", action="store_true", help="choose top-p by a sweep on the val split first")
    p.add_argument(
        "--sweep-values", type=lambda s: [float(v) for v in _csv(s)], default=None, help="p values to sweep"
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N images (class-balanced)")
    p.add_argument("--no-curves", action="store_true", help="skip the progressive deletion/insertion curves")
    p.add_argument("--curve-repeats", type=int, default=3, help="random curves per image (default: 3)")
    p.add_argument("--batch-size", type=int, default=32, help="variants per forward pass (default: 32)")
    p.add_argument("--new", action="store_true", help="always start a new run (do not resume a matching one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--export", type=Path, default=None, metavar="DIR", help="export the run to DIR")
    p.add_argument("--formats", type=_csv, default=["csv", "png", "svg"], help="export formats (csv,png,svg)")
    p.add_argument("--list", action="store_true", help="list past runs and exit")
    p.add_argument("--run", type=int, default=None, help="an existing run (with --export: export it)")
    p.add_argument("--resume", type=int, default=None, metavar="RUN", help="continue an unfinished run")
    p.add_argument(
        "--method-param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="an attribution method's parameter, e.g. scorecam.channels=256, smoothgrad.n_samples=50, "
        "ig.n_steps=64 (repeatable; recorded with the run; docs/limits.md lists them)",
    )
    p.add_argument(
        "--selections",
        type=_csv,
        default=["model"],
        help="whose boxes to test: model (the elements), human (participants' cue boxes; needs --study) "
        "or model,human (default: model)",
    )
    p.add_argument("--study", default=None, help="study (slug) whose participants' cue boxes to test")
    p.add_argument(
        "--human-scopes",
        type=_csv,
        default=["trial", "item", "tag"],
        help="people's boxes per trial, as the union per item, per cue tag (default: trial,item,tag)",
    )
    add_engine_arguments(p, batch_flag="--engine-batch-size")
    p.set_defaults(func=run)


def _default_model(db) -> str:
    from geoquiz.models.store import list_models

    names = [m.name for m in list_models(db)]
    if not names:
        raise GeoQuizError(
            "the project has no model; train or import one first (geoquiz train / geoquiz demo)"
        )
    if len(names) == 1:
        return names[0]
    if "geoscenes-demo" in names:
        return "geoscenes-demo"
    raise GeoQuizError(f"choose a model with --model: {', '.join(names)}")


def _default_dataset(db, model: str) -> str:
    row = db.execute(
        "SELECT d.name FROM models m JOIN datasets d ON d.id = m.dataset_id WHERE m.name = ?", [model]
    ).fetchone()
    if row is None:
        raise GeoQuizError(f"model {model!r} has no training dataset recorded; choose one with --dataset")
    return row[0]


def _print_runs(db) -> None:
    from geoquiz.faithfulness.store import list_runs

    runs = list_runs(db)
    if not runs:
        print("no faithfulness runs yet")
    for r in runs:
        if r.kind == "p_sweep":
            c = r.config
            print(
                f"#{r.id} p-sweep {r.model} on {r.dataset}/{r.split} [{c.get('method')} x {c.get('segmenter')}] "
                f"{r.status}: chosen top_p = {r.summary.get('chosen_top_p')}"
            )
        else:
            print(f"{r.title()} {r.status}, {r.n_units} images, {r.created_at[:19]}")


def _print_results(db, run_id: int) -> None:
    from geoquiz.faithfulness.stats import compare, segmenter_summary
    from geoquiz.faithfulness.store import get_run, load_run

    run = get_run(db, run_id)
    df = load_run(db, run_id)
    print(
        f"\nrun #{run_id}: {run.n_units} images, fill={run.config.get('fill')}, top_p={run.config['params']['top_p']}"
    )
    if run.method_params_text():
        print(f"method parameters: {run.method_params_text()}")
    if not len(df):
        return
    c = compare(df)
    print(
        f"{'method':<11}{'segmenter':<12}{'test':<10}{'guided acc':>11}{'random acc':>11}{'diff [95% CI]':>24}{'p':>9}"
    )
    for r in c.itertuples():
        ci = f"{r.diff_accuracy:+.3f} [{r.diff_accuracy_lo:+.3f},{r.diff_accuracy_hi:+.3f}]"
        print(
            f"{r.method:<11}{r.segmenter:<12}{r.test:<10}{r.guided_accuracy:>11.3f}{r.random_accuracy:>11.3f}"
            f"{ci:>24}{r.p_accuracy:>9.3g}"
        )
    _print_people(df)
    seg = segmenter_summary(df, n_boot=500)
    if not len(seg):
        return
    print(
        f"\n{'method':<11}{'segmenter':<16}{'segments/image':>15}{'seg. coverage':>14}{'elements/image':>15}{'el. coverage':>13}"
    )
    for r in seg.itertuples():
        print(
            f"{r.method:<11}{r.segmenter:<16}{r.segments:>15.1f}{r.segment_coverage:>14.3f}"
            f"{r.elements:>15.1f}{r.element_coverage:>13.3f}"
        )


def _print_people(df) -> None:
    """Model elements vs people's boxes vs random at equal coverage, when the run has people's boxes."""
    from geoquiz.faithfulness.human_stats import sources

    if not (df["selection_source"] == "human").any():
        return
    table = sources(df, n_boot=500)
    if not len(table):
        return
    print(
        f"\nmodel vs people vs random, on the {int(table['n'].max())} items with both (true-class probability)"
    )
    print(f"{'boxes':<22}{'test':<10}{'coverage':>9}{'boxes':>8}{'random':>8}{'diff [95% CI]':>24}{'p':>9}")
    for r in table.itertuples():
        ci = f"{r.diff_true_prob:+.3f} [{r.diff_true_prob_lo:+.3f},{r.diff_true_prob_hi:+.3f}]"
        print(
            f"{r.name:<22}{r.test:<10}{r.guided_coverage:>9.3f}{r.guided_true_prob:>8.3f}{r.random_true_prob:>8.3f}"
            f"{ci:>24}{r.p_true_prob:>9.3g}"
        )


def _export(db, run_id: int, out: Path, formats: list[str]) -> None:
    from geoquiz.faithfulness.export import export_run

    with progress_bar("export") as reporter:
        paths = export_run(db, run_id, out, formats=formats, reporter=reporter)
    for path in paths:
        print(f"wrote {path}")


def run(args: argparse.Namespace) -> int:
    with open_project(args) as project:
        db = project.db
        if args.list:
            _print_runs(db)
            return 0
        if args.run is not None:
            if args.export is None:
                _print_results(db, args.run)
            else:
                _export(db, args.run, args.export, args.formats)
            return 0
        from geoquiz.attribution.params import parse_method_params

        args.method_params = parse_method_params(args.method_param) if args.method_param else None
        with engine_from_args(args) as engine:
            if args.resume is not None:
                from geoquiz.faithfulness.grid import resume_run

                with progress_bar(f"run #{args.resume}") as reporter:
                    run_id = resume_run(
                        project,
                        args.resume,
                        reporter=reporter,
                        device=args.device,
                        engine=engine,
                        method_params=args.method_params,
                    )
            else:
                run_id = _run_grid(project, args, engine)
        _print_results(db, run_id)
        failed = _print_outcome(db, run_id)
        if args.export is not None:
            _export(db, run_id, args.export, args.formats)
    return 1 if failed else 0


def _print_outcome(db, run_id: int) -> int:
    """Print the engine, counts and failed images of a run; returns the number of failed images."""
    from geoquiz.faithfulness.store import get_run

    run = get_run(db, run_id)
    s = run.summary
    failures = list(s.get("failed") or [])
    resumed = int(s.get("resumed_from") or 0)
    done = max(0, run.n_units - resumed)
    print(describe_outcome(s.get("engine", "local"), done, resumed, failures, verb="evaluated"))
    if s.get("skipped"):
        print(f"  not evaluated (label not among the model's classes): {', '.join(s['skipped'][:20])}")
    if failures:
        print(
            f"run #{run_id} is {run.status}: run the same command again (or --resume {run_id}) to retry them"
        )
    return len(failures)


def _run_grid(project, args: argparse.Namespace, engine) -> int:
    from geoquiz.faithfulness.request import GridRequest, run_request
    from geoquiz.faithfulness.sweep import DEFAULT_VALUES

    model = args.model or _default_model(project.db)
    request = GridRequest(
        model_name=model,
        dataset=args.dataset or _default_dataset(project.db, model),
        split=args.split,
        methods=tuple(args.methods),
        segmenters=tuple(args.segmenters),
        fill=args.fill,
        repeats=args.repeats,
        seed=args.seed,
        top_p=args.top_p,
        choose_p=args.choose_p,
        sweep_values=tuple(args.sweep_values or DEFAULT_VALUES),
        limit=args.limit,
        curves=not args.no_curves,
        curve_repeats=args.curve_repeats,
        batch_size=args.batch_size,
        resume=not args.new,
        device=args.device,
        method_params=args.method_params or {},
        selections=tuple(args.selections),
        study=args.study,
        human_scopes=tuple(args.human_scopes),
    )

    def show_sweep(res) -> None:
        print(res.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"chosen top_p = {res.chosen_top_p:g} (sweep run #{res.run_id})")

    with progress_bar("faithfulness") as reporter:
        return run_request(project, request, reporter=reporter, engine=engine, on_sweep=show_sweep).run_id
