"""``geoquiz models`` (list / show / register / delete) and ``geoquiz evaluate-model``.

Examples::

    geoquiz models list
    geoquiz models register my-r50 ~/ckpt/r50.pt --dataset geoscenes   # classes are checked
    geoquiz models register convnext ~/weights/convnext.safetensors --arch timm:convnext_tiny \
        --dataset geoscenes                      # a timm classifier trained elsewhere for these classes
    geoquiz models register streetclip ~/weights/StreetCLIP --arch clip:StreetCLIP --dataset geoscenes \
        --prompt "a street view photo in {label}"     # zero-shot: the classes are the dataset's labels
    geoquiz models show demo-resnet10
    geoquiz evaluate-model --model demo-resnet10 --dataset geoscenes --split test
    geoquiz evaluate-model --model demo-resnet10 --dataset geoscenes --embedding tsne --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geoquiz.cli.cmd_train import parse_option
from geoquiz.cli.common import add_project_arg, open_project, progress_bar


def register(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list, show, register or delete the project's models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="every registered model")
    ls.set_defaults(func=run_list)
    show = actions.add_parser("show", help="a model's spec, training summary and evaluations")
    show.add_argument("name")
    show.set_defaults(func=run_show)
    reg = actions.add_parser(
        "register",
        help="add a GeoQuiz checkpoint, or (with --arch) a timm / torchvision / CLIP model's files, to the project",
        description="Without --arch, CHECKPOINT is a GeoQuiz checkpoint. With --arch it is weights "
        "made elsewhere (a timm or torchvision state dict, a transformers CLIP folder, an open_clip "
        "weights file): GeoQuiz converts them into <project>/models/NAME.pt (see docs/models.md).",
    )
    reg.add_argument("name")
    reg.add_argument(
        "checkpoint", type=Path, help="GeoQuiz checkpoint, or the model's weights (file or folder)"
    )
    reg.add_argument("--dataset", default=None, help="check the checkpoint's classes against this dataset")
    reg.add_argument("--replace", action="store_true", help="replace a model of the same name")
    byo = reg.add_argument_group("a model trained elsewhere (docs/models.md)")
    byo.add_argument("--arch", default=None, help="timm:NAME, torchvision:NAME, clip:LABEL or a resnet name")
    byo.add_argument(
        "--classes",
        default=None,
        help="class names in the order of the classifier's outputs, comma-separated, or @FILE (one per "
        "line); default: the --dataset's classes",
    )
    byo.add_argument("--integration", default="single", choices=("single", "early", "medium"))
    byo.add_argument("--pooling", default="mean", choices=("mean", "concat"))
    byo.add_argument(
        "--input-size", type=int, default=None, help="side of the input in pixels (default: the model's)"
    )
    byo.add_argument(
        "--mean",
        type=_floats,
        default=None,
        metavar="R,G,B",
        help="normalisation mean (default: the model's)",
    )
    byo.add_argument(
        "--std", type=_floats, default=None, metavar="R,G,B", help="normalisation std (default: the model's)"
    )
    byo.add_argument(
        "--prompt", default=None, help='CLIP: prompt template (default "a street view photo in {label}")'
    )
    byo.add_argument(
        "--backend", default=None, choices=("transformers", "open_clip"), help="CLIP: whose files these are"
    )
    byo.add_argument(
        "--model-option",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="family option, repeatable: a constructor keyword, target_layer=PATH, reshape=tokens|nhwc|none, "
        "model=ViT-B-32 (open_clip)",
    )
    reg.set_defaults(func=run_register)
    rm = actions.add_parser("delete", help="remove a model from the project (the file stays)")
    rm.add_argument("name")
    rm.set_defaults(func=run_delete)
    for action in (ls, show, reg, rm):
        add_project_arg(action)

    ev = sub.add_parser(
        "evaluate-model",
        help="top-1/top-5, per-class ROC/AUC, confusion, confidence and a PCA of a model on a split (stored)",
    )
    add_project_arg(ev)
    ev.add_argument("--model", required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--split", default="test", help="split to evaluate (default test; 'all' for every split)")
    ev.add_argument("--embedding", choices=("pca", "tsne"), default="pca", help="2-D map of the features")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ev.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the metrics as JSON")
    ev.set_defaults(func=run_evaluate)


def run_list(args: argparse.Namespace) -> int:
    from geoquiz.models.store import list_models

    with open_project(args) as project:
        models = list_models(project.db)
    if not models:
        print("no models yet: geoquiz train --dataset D --name NAME, or geoquiz models register")
        return 0
    print(f"{'name':<24} {'arch':<10} {'integration':<12} {'size':>5}  {'dataset':<18} classes")
    for m in models:
        classes = ", ".join(m.classes[:6]) + (f" … (+{len(m.classes) - 6})" if len(m.classes) > 6 else "")
        print(
            f"{m.name:<24} {m.arch:<10} {m.integration:<12} {m.input_size:>5}  {m.dataset or '-':<18} {classes}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from geoquiz.models.evaluation import list_evaluations
    from geoquiz.models.store import get_model

    with open_project(args) as project:
        info = get_model(project.db, args.name)
        evals = list_evaluations(project.db, args.name)
        path = info.resolve(project.root)
    spec = info.metadata.get("spec", {})
    training = info.metadata.get("training", {})
    print(
        f"model {info.name}: {info.arch}, {info.integration} integration, {info.input_size} px, {len(info.classes)} classes"
    )
    print(f"  checkpoint: {path}{'' if path.exists() else '  (MISSING)'}")
    print(f"  classes: {', '.join(info.classes)}")
    if spec.get("pooling") and info.integration == "medium":
        print(f"  pooling: {spec['pooling']}")
    if spec.get("mean"):
        print(f"  normalisation: mean {spec['mean']}, std {spec.get('std')}")
    options = spec.get("options") or {}
    if options.get("prompt"):
        print(f"  prompt: {options['prompt']}")
    source = info.metadata.get("source")
    if source:
        print(f"  imported from {source.get('file')} ({source.get('family')})")
    if training:
        hist = training.get("history", [])
        print(
            f"  trained on {training.get('dataset', '?')} ({training.get('n_train', '?')} train / {training.get('n_val', '?')} val, "
            f"{training.get('val_source', '')}), best epoch {training.get('best_epoch', '?')} of {len(hist)}, "
            f"stopped by {training.get('stop_reason', '?')}"
        )
        cfg = training.get("config", {})
        if cfg:
            keys = ("init", "lr", "weight_decay", "label_smoothing", "batch_size", "normalization", "seed")
            print("  recipe: " + ", ".join(f"{k}={cfg[k]}" for k in keys if k in cfg))
    for e in evals:
        top5 = f"{e['top5']:.3f}" if e["top5"] is not None else "-"
        print(
            f"  evaluation #{e['id']}: {e['dataset']}/{e['split']} n={e['n']} top-1 {e['top1']:.3f} top-5 {top5} ({e['created_at']})"
        )
    return 0


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated numbers, got {text!r}")
    return values


def _classes(text: str | None) -> list[str] | None:
    from geoquiz.errors import GeoQuizError

    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise GeoQuizError(f"cannot read the class list {path}: {exc}") from exc
    return [c.strip() for c in text.split(",") if c.strip()]


def run_register(args: argparse.Namespace) -> int:
    from geoquiz.models.store import register_model

    with open_project(args) as project:
        if args.arch is None:
            register_model(project, args.name, args.checkpoint, dataset=args.dataset, replace=args.replace)
            print(f"registered model {args.name} ({args.checkpoint})")
            return 0
        from geoquiz.models.importing import import_model
        from geoquiz.models.store import get_model

        options = dict(args.model_option)
        if args.prompt is not None:
            options["prompt"] = args.prompt
        if args.backend is not None:
            options["backend"] = args.backend
        print(f"converting {args.checkpoint} ({args.arch}) into a GeoQuiz checkpoint…", file=sys.stderr)
        import_model(
            project,
            args.name,
            args.checkpoint,
            arch=args.arch,
            dataset=args.dataset,
            classes=_classes(args.classes),
            replace=args.replace,
            integration=args.integration,
            pooling=args.pooling,
            input_size=args.input_size,
            mean=args.mean,
            std=args.std,
            options=options,
        )
        info = get_model(project.db, args.name)
    print(
        f"registered model {args.name}: {info.arch}, {info.input_size} px, {len(info.classes)} classes, "
        f"converted from {args.checkpoint} to {info.path}"
    )
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from geoquiz.models.store import delete_model

    with open_project(args) as project:
        delete_model(project, args.name)
    print(f"deleted model {args.name} (its checkpoint file is kept)")
    return 0


def format_metrics(m: dict) -> str:
    """A few readable lines of :func:`geoquiz.models.metrics.compute_metrics` output."""
    lines = [
        f"{m['model']} on {m['dataset']}/{m['split']}: n={m['n']}  top-1 {m['top1']:.3f}  top-5 {m['top5']:.3f}"
    ]
    classes = m["classes"]
    width = max(len(c) for c in classes)
    lines.append(f"{'class':<{width}}  accuracy    AUC")
    for c in classes:
        acc = m["per_class_accuracy"].get(c)
        auc = m["roc"][c]["auc"]
        lines.append(
            f"{c:<{width}}  {'-' if acc is None else f'{acc:8.3f}'}  {'-' if auc is None else f'{auc:.3f}'}"
        )
    if m.get("macro_auc") is not None:
        lines.append(f"macro AUC {m['macro_auc']:.3f}")
    conf = m["confidence"]
    right = "-" if conf["mean_right"] is None else f"{conf['mean_right']:.3f}"
    wrong = "-" if conf["mean_wrong"] is None else f"{conf['mean_wrong']:.3f}"
    lines.append(f"mean confidence: right {right} (n={conf['n_right']}), wrong {wrong} (n={conf['n_wrong']})")
    lines.append("confusion (rows true, columns predicted):")
    lines.append(" " * (width + 2) + " ".join(f"{c[:6]:>6}" for c in classes))
    for c, row in zip(classes, m["confusion"]):
        lines.append(f"{c:<{width}}  " + " ".join(f"{v:>6}" for v in row))
    emb = m.get("embedding")
    if emb and emb["method"] == "pca" and "explained_variance_ratio" in emb.get("info", {}):
        ev = emb["info"]["explained_variance_ratio"]
        lines.append(f"PCA of penultimate features: {ev[0]:.1%} + {ev[1]:.1%} of the variance")
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    from geoquiz.models.evaluation import evaluate_model

    with open_project(args) as project, progress_bar(f"evaluating {args.model}") as reporter:
        metrics = evaluate_model(
            project,
            args.model,
            args.dataset,
            args.split,
            reporter=reporter,
            embedding=args.embedding,
            batch_size=args.batch_size,
            device=args.device,
        )
    print(format_metrics(metrics))
    print(f"stored as evaluation #{metrics['evaluation_id']}")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        print(f"metrics written to {args.json}")
    return 0
