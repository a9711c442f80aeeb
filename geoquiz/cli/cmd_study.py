"""``geoquiz study ...``: check and install study files, list quiz sessions, set the passphrase.

* ``geoquiz study validate FILE [-p PROJECT]`` - check the file; with ``-p`` also check it against
  the project's dataset (items, labels, answer options). Exit 0 when valid, 2 with the problems.
* ``geoquiz study install FILE [-p PROJECT] [--replace]`` - validate and store it in the project.
* ``geoquiz study sessions [-p PROJECT] [--study SLUG]`` - sessions with participant code, state
  and progress.
* ``geoquiz study prepare SLUG [-p PROJECT]`` - prepare the pictures of an ablation study (the
  model's elements or matched random boxes removed; :mod:`geoquiz.study.ablation`) before its
  sessions; running it again resumes or reuses the prepared set.
* ``geoquiz study ablation SLUG [-p PROJECT] [--out DIR]`` - people's accuracy and confidence per
  condition, the paired differences (model - random first) and the model's own answers on the same
  pictures; with ``--out`` also ``ablation_conditions.csv`` and ``ablation_differences.csv``.
* ``geoquiz study passphrase [-p PROJECT] [--reset]`` - set the researcher passphrase (asked twice,
  hidden); an existing one is changed only after the current one is given (a counted try, see
  docs/limits.md), or with ``--reset``, which replaces it without (and says so).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from geoquiz.cli.common import add_project_arg, open_project
from geoquiz.errors import GeoQuizError


def register(sub) -> None:
    p = sub.add_parser("study", help="check and install study files, list quiz sessions")
    ssub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)

    v = ssub.add_parser("validate", help="check a study file (and, with -p, against a project)")
    v.add_argument("file", type=Path)
    v.add_argument("-p", "--project", type=Path, default=None, help="also check against this project's data")
    v.set_defaults(study_func=run_validate)

    i = ssub.add_parser("install", help="validate a study file and install it in the project")
    i.add_argument("file", type=Path)
    i.add_argument("--replace", action="store_true", help="replace a changed study even if it has sessions")
    add_project_arg(i)
    i.set_defaults(study_func=run_install)

    s = ssub.add_parser("sessions", help="list quiz sessions with their progress")
    s.add_argument("--study", default=None, help="only this study (slug)")
    add_project_arg(s)
    s.set_defaults(study_func=run_sessions)

    pr = ssub.add_parser("prepare", help="prepare the pictures of an ablation study before its sessions")
    pr.add_argument("study", help="study slug")
    pr.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_project_arg(pr)
    pr.set_defaults(study_func=run_prepare)

    ab = ssub.add_parser(
        "ablation", help="analyse an ablation study: accuracy per condition, paired differences"
    )
    ab.add_argument("study", help="study slug")
    ab.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="also write the tables as CSV to DIR"
    )
    ab.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    add_project_arg(ab)
    ab.set_defaults(study_func=run_ablation)

    pp = ssub.add_parser(
        "passphrase",
        help="set or change the researcher passphrase that guards the kiosk (the current one is asked first)",
    )
    pp.add_argument(
        "--reset",
        action="store_true",
        help="replace the passphrase without the current one (clears the wrong-try count; nothing else changes)",
    )
    add_project_arg(pp)
    pp.set_defaults(study_func=run_passphrase)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return args.study_func(args)


def _describe(study) -> str:
    parts = [
        f"{study.n_trials} trials",
        f"{study.n_practice} practice",
        f"{study.n_attention} attention check(s)",
    ]
    views = f", views {'/'.join(study.views)}" if study.views else ""
    limit = f", {study.time_limit_s} s per trial" if study.time_limit_s else ""
    a = study.ablation
    if a is not None:
        limit += (
            f"; ablation {'/'.join(a.conditions)} (top {a.top_k} elements of {a.model}, {a.method} x "
            f"{a.segmenter}, {a.fill} fill)"
        )
    return (
        f"study {study.slug!r} ({study.title}): {', '.join(parts)} on dataset {study.items.dataset!r}"
        f"{views}{limit}; top-{study.responses.top_k} from {study.answer_list}; "
        f"feedback {'on' if study.feedback else 'off'}"
    )


def run_validate(args: argparse.Namespace) -> int:
    from geoquiz.study.definition import load_study

    study = load_study(args.file)
    if args.project is not None:
        from geoquiz.project import Project
        from geoquiz.study.ablation import check_ablation
        from geoquiz.study.selection import check_study

        with Project.open(args.project) as project:
            items, options = check_study(project.db, study)
            check_ablation(project.db, study)
        print(f"{args.file}: valid for {args.project} ({len(items)} items, {len(options)} answer options)")
    else:
        print(f"{args.file}: valid")
    print(_describe(study))
    return 0


def run_install(args: argparse.Namespace) -> int:
    from geoquiz.study.definition import load_study
    from geoquiz.study.store import install_study

    with open_project(args) as project:
        study_id = install_study(project, args.file, replace=args.replace)
        print(f"installed {_describe(load_study(args.file))} as study #{study_id} in {project.root}")
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    from geoquiz.study.session import list_sessions

    with open_project(args) as project:
        rows = list_sessions(project.db, args.study)
    if not rows:
        print("no sessions yet")
        return 0
    print(f"{'id':>4}  {'study':<22} {'participant':<11} {'state':<10} {'progress':>8}  started")
    for s in rows:
        print(
            f"{s.id:>4}  {s.study_slug:<22} {s.code:<11} {s.state:<10} {f'{s.answered}/{s.total}':>8}  {s.started_at}"
        )
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from geoquiz.cli.common import progress_bar
    from geoquiz.study.ablation import prepare_ablation

    with open_project(args) as project:
        with progress_bar(f"prepare {args.study}") as reporter:
            prepared = prepare_ablation(project, args.study, reporter=reporter, device=args.device)
    print(
        f"study {args.study!r}: {prepared.n_items} items ready in {prepared.folder} (set #{prepared.id}; "
        f"{prepared.n_prepared} prepared now, {prepared.n_files} pictures, {prepared.seconds:.1f} s)"
    )
    return 0


def run_ablation(args: argparse.Namespace) -> int:
    from geoquiz.study.ablation_analysis import analyse

    with open_project(args) as project:
        out = analyse(project.db, args.study, n_boot=args.n_boot)
    cond, diffs = out["conditions"], out["differences"]
    if not len(out["trials"]):
        print(f"study {args.study!r} has no answered ablated trials yet")
    else:
        print(
            f"{'condition':<10}{'trials':>7}{'top-1 [95% CI]':>22}{'top-k [95% CI]':>22}{'confidence':>11}{'model top-1':>12}"
        )
        for r in cond.itertuples():
            print(
                f"{r.condition:<10}{r.n_trials:>7}{_rate(r.top1, r.top1_lo, r.top1_hi):>22}"
                f"{_rate(r.topk, r.topk_lo, r.topk_hi):>22}{r.confidence:>11.2f}{getattr(r, 'model_top1', float('nan')):>12.3f}"
            )
        print(f"\n{'contrast':<17}{'who':<8}{'measure':<11}{'items':>6}{'difference [95% CI]':>27}{'p':>8}")
        for r in diffs.itertuples():
            print(
                f"{r.contrast:<17}{r.who:<8}{r.measure:<11}{r.n_items:>6}"
                f"{_rate(r.value, r.ci_low, r.ci_high, signed=True):>27}{r.p_value:>8.3g}"
            )
    if args.out is not None:
        from geoquiz.csvio import write_csv

        _make_folder(args.out)
        for name, table in (("ablation_conditions", cond), ("ablation_differences", diffs)):
            print(f"wrote {write_csv(table, args.out / f'{name}.csv')}")
    return 0


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GeoQuizError(f"cannot create the folder {path}: {exc.strerror or exc}") from exc


def _rate(value, low, high, *, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    if low is None or high is None or low != low:
        return fmt.format(value)
    return f"{fmt.format(value)} [{fmt.format(low)},{fmt.format(high)}]"


def run_passphrase(args: argparse.Namespace) -> int:
    from geoquiz.study.passphrase import (
        MIN_LENGTH,
        RESET_NOTICE,
        has_passphrase,
        reset_passphrase,
        set_passphrase,
        try_passphrase,
    )

    with open_project(args) as project:
        db = project.db
        existing = has_passphrase(db)
        if existing and args.reset:
            print(RESET_NOTICE, file=sys.stderr)
        elif existing:
            attempt = try_passphrase(db, getpass.getpass("Current researcher passphrase: "))
            if not attempt:
                raise GeoQuizError(
                    f"the current passphrase was not accepted: {attempt.message} Nothing was changed "
                    "(if it is lost, `geoquiz study passphrase --reset` replaces it)."
                )
        first = getpass.getpass(f"New researcher passphrase (at least {MIN_LENGTH} characters): ")
        if getpass.getpass("Repeat it: ") != first:
            raise GeoQuizError("the two passphrases differ; nothing was changed")
        if existing and args.reset:
            reset_passphrase(db, first)
        else:  # new, or the current one was just accepted
            set_passphrase(db, first)
    print(
        "researcher passphrase " + ("reset" if args.reset and existing else "changed" if existing else "set")
    )
    return 0
