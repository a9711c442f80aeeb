"""``geoquiz agreement``: measure how the model's evidence and answers agree with the participants'.

``geoquiz agreement compute --model NAME [--method gradcam] [--segmenter default] [--study SLUG]``
computes and stores the measures (per item, per class and overall; see docs/codebook.md) and prints
the overall ones. ``geoquiz agreement show [--run ID]`` prints a stored run (default: the newest);
``geoquiz agreement runs`` lists them.
"""

from __future__ import annotations

import argparse

from geoquiz.cli.common import add_project_arg, open_project, progress_bar


def register(sub) -> None:
    p = sub.add_parser("agreement", help="human vs model agreement: compute, show, list runs")
    asub = p.add_subparsers(dest="agreement_command", metavar="ACTION", required=True)
    c = asub.add_parser("compute", help="compute and store agreement for a model and a study")
    c.add_argument("--model", required=True, help="model name (geoquiz models)")
    c.add_argument("--method", default="gradcam", help="attribution method (default: gradcam)")
    c.add_argument("--segmenter", default="default", help="segmenter (default: the weight-free one)")
    c.add_argument("--study", default=None, help="only this study's answers (slug; default: every study)")
    c.add_argument("--tolerance", type=float, default=0.0, help="pointing-game slack in pixels (default 0)")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (default 1000)")
    c.add_argument("--exclude-timed-out", action="store_true", help="leave timed-out trials out of accuracy")
    c.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_project_arg(c)
    c.set_defaults(agreement_func=run_compute)
    s = asub.add_parser("show", help="print the overall measures of a stored run")
    s.add_argument("--run", type=int, default=None, help="run id (default: the newest)")
    s.add_argument("--scope", choices=("overall", "class", "item"), default="overall")
    add_project_arg(s)
    s.set_defaults(agreement_func=run_show)
    r = asub.add_parser("runs", help="list stored agreement runs")
    add_project_arg(r)
    r.set_defaults(agreement_func=run_runs)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return args.agreement_func(args)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_rows(rows: list[dict]) -> None:
    """One line per measure: scope target, metric[reference](tag), value [ci], n."""
    for r in rows:
        where = r.get("label") or (f"image {r['image_id']}" if r.get("image_id") else "")
        where = where or (f"location {r['location_id']}" if r.get("location_id") else "")
        name = (
            r["metric"]
            + (f"[{r['reference']}]" if r["reference"] else "")
            + (f"({r['tag']})" if r["tag"] else "")
        )
        ci = f" [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]" if r["ci_low"] is not None else ""
        n = f"  n={r['n']}" if r["n"] is not None else ""
        print(f"{where:>14}  {name:<34} {_fmt(r['value'])}{ci}{n}")


def run_compute(args: argparse.Namespace) -> int:
    from geoquiz.agreement import (
        AgreementConfig,
        ExplainerEvidence,
        compute_agreement,
        load_agreement,
    )

    config = AgreementConfig(
        tolerance=args.tolerance, include_timed_out=not args.exclude_timed_out, n_boot=args.bootstrap
    )
    from geoquiz.segmentation import require_ready

    with open_project(args) as project, progress_bar("agreement") as reporter:
        require_ready([args.segmenter], project.settings.segmenters)  # before any item is explained
        run_id = compute_agreement(
            project,
            args.model,
            method=args.method,
            segmenter=args.segmenter,
            study=args.study,
            config=config,
            evidence=ExplainerEvidence(project, args.model, device=args.device),
            reporter=reporter,
        )
        print(f"agreement run {run_id} stored")
        print_rows(load_agreement(project.db, run_id, scope="overall"))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from geoquiz.agreement import list_runs, load_agreement
    from geoquiz.errors import GeoQuizError

    with open_project(args) as project:
        runs = list_runs(project.db)
        if not runs:
            raise GeoQuizError(
                f"no agreement run in {project.root}; compute one with `geoquiz agreement compute`"
            )
        run_id = args.run if args.run is not None else runs[0]["id"]
        if run_id not in {r["id"] for r in runs}:
            raise GeoQuizError(f"no agreement run {run_id} (runs: {', '.join(str(r['id']) for r in runs)})")
        print_rows(load_agreement(project.db, run_id, scope=args.scope))
    return 0


def run_runs(args: argparse.Namespace) -> int:
    from geoquiz.agreement import list_runs

    with open_project(args) as project:
        for r in list_runs(project.db):
            print(
                f"{r['id']:>4}  {r['created_at']}  model {r['model']}  {r['method']}/{r['segmenter']}  "
                f"study {r['study'] or '(all)'}  kappa {_fmt(r['summary'].get('fleiss_kappa'))}  "
                f"pointing {_fmt(r['summary'].get('pointing_hit[human]'))}"
            )
    return 0
