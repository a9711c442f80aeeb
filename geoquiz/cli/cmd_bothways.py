"""``geoquiz bothways``: does the model need people's cues, and do people need the model's evidence?

Examples::

    geoquiz bothways --study geoscenes-countries                 # the two headline numbers
    geoquiz bothways --study geoscenes-countries --out both_ways.csv --run 7

"Model needs people's cues" comes from a faithfulness run with people's boxes
(``geoquiz evaluate --selections model,human --study SLUG``; the newest, or ``--run``); "people need
the model's evidence" from the study's ablated trials (``[trials] ablation``). ``--out`` writes the
tidy table, per item and overall (columns in docs/codebook.md, ``both_ways.csv``); docs/both_ways.md
explains how to read it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project


def register(sub) -> None:
    p = sub.add_parser(
        "bothways",
        help="both directions of reliance: the model without people's cues, people without the model's evidence",
        description="Put the model's need for people's cues (a faithfulness run with people's boxes) and people's "
        "need for the model's evidence (an ablation study) side by side, per item and overall.",
    )
    add_project_arg(p)
    p.add_argument("--study", required=True, help="study slug")
    p.add_argument(
        "--run", type=int, default=None, help="faithfulness run with people's boxes (default: the newest)"
    )
    p.add_argument("--model", default=None, help="only runs of this model (default: any)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the tidy table as CSV")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    p.set_defaults(func=run)


def _line(row: dict | None, what: str, unit: str) -> str:
    if row is None:
        return f"{what}: no data"
    ci = ""
    if row["ci_low"] == row["ci_low"] and row["ci_low"] is not None:
        ci = f" [95% CI {row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p_value']:.3g}"
    return (
        f"{what}: {unit} {row['removed_value']:.3f} with the evidence removed vs {row['random_value']:.3f} with "
        f"random boxes of the same coverage ({row['removed_coverage']:.1%} of the picture): "
        f"{row['removed_minus_random']:+.3f}{ci}, {int(row['n'])} items"
    )


def run(args: argparse.Namespace) -> int:
    from geoquiz.agreement.both_ways import both_ways_table, headline, write_both_ways

    with open_project(args) as project:
        table = both_ways_table(project.db, args.study, run_id=args.run, model=args.model, n_boot=args.n_boot)
    top = headline(table)
    print(_line(top["model_needs_people"], "model needs people's cues", "true-class probability"))
    print(_line(top["people_need_model"], "people need the model's evidence", "top-1 accuracy"))
    if args.out is not None:
        print(f"wrote {write_both_ways(table, args.out)}")
    return 0
