"""``geoquiz predict``: a model's predictions for every sample of a dataset, stored in the project.

Examples::

    geoquiz predict -p proj --model geoscenes-demo --dataset geoscenes --split test
    geoquiz predict -p proj --model m --dataset osv --split all --engine ray --concurrency 8
    geoquiz predict -p proj --model m --dataset osv --redo      # predict again what is stored

One ``predictions`` row per image (single-view models) or location (4-view models), replacing the
model's earlier one; samples the model already has a prediction for are skipped unless ``--redo``,
so a re-run only predicts what is missing (or failed). Each sample goes through the network alone,
so ``--engine local`` and ``--engine ray`` store the same numbers. With ``--engine ray`` (pip install
"geoquiz[ray]") Ray Data workers load the model once each and read the images from their paths;
this process alone writes the project. A sample that fails (a corrupt image ...) is listed at the
end and the run goes on (exit status 1 when some failed).
"""

from __future__ import annotations

import argparse
import json

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.engine import add_engine_arguments, describe_outcome, engine_from_args


def register(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="store a model's predictions for a dataset (resumable; local or Ray engine)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project_arg(p)
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--dataset", required=True, help="dataset name")
    p.add_argument("--split", default="all", help="split to predict (default: all splits)")
    p.add_argument("--redo", action="store_true", help="predict again samples that have a stored prediction")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (on each worker)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_engine_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geoquiz.models.evaluation import predict_dataset

    with open_project(args) as project:
        with engine_from_args(args) as engine, progress_bar(f"predict {args.dataset}") as reporter:
            summary = predict_dataset(
                project,
                args.model,
                args.dataset,
                args.split,
                engine=engine,
                reporter=reporter,
                redo=args.redo,
                device=args.device,
            )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        top1 = "n/a" if summary["top1"] is None else f"{summary['top1']:.3f}"
        print(
            f"{summary['model']} on {summary['dataset']} ({summary['split']}): {summary['samples']} sample(s), "
            f"top-1 accuracy of the stored predictions {top1} (n = {summary['n_labelled']}), {summary['seconds']:.1f} s"
        )
        print(
            describe_outcome(
                summary["engine"],
                summary["predicted"],
                summary["skipped"],
                summary["failures"],
                verb="predicted",
            )
        )
    return 1 if summary["failed"] else 0
