"""``geoquiz train``: train a classifier on a project dataset and register it.

Examples::

    geoquiz train --dataset geoscenes --name r50 --arch resnet50            # the papers' recipe
    geoquiz train --dataset geoscenes-4view --name r18-medium --arch resnet18 \\
        --integration medium --input-size 256 --normalization dataset
    geoquiz train --dataset geoscenes --name r50 --resume                   # continue after Ctrl-C
    geoquiz train --dataset geoscenes --name convnext --arch timm:convnext_tiny \
        --weights ~/weights/convnext_tiny.safetensors --normalization model     # fine-tune a timm model

Every :class:`geoquiz.models.training.TrainConfig` setting is an option (``--label-smoothing``,
``--weight-decay``, ``--no-hflip``, ``--color-jitter 0.2,0.2,0.2,0`` ...), with the papers' values
as defaults. Ctrl-C stops after the current batch; the best checkpoint and the resume state stay, and
``--resume`` continues the run exactly where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.models.training import TrainConfig

_HELP = {
    "arch": "resnet10/18/34/50/101/152, timm:NAME or torchvision:NAME (docs/models.md)",
    "integration": "single | early (4 views side by side) | medium (shared backbone, pooled features)",
    "pooling": "medium integration: mean | concat",
    "init": "imagenet | scratch | path to a GeoQuiz checkpoint or torchvision ResNet state_dict",
    "input_size": "side of one view in pixels (224; 256 in the 50-states paper)",
    "epochs": "maximum number of epochs",
    "patience": "early stopping: epochs without a better validation loss",
    "min_delta": "early stopping: smallest improvement of the validation loss that counts",
    "lr": "AdamW learning rate",
    "weight_decay": "AdamW weight decay",
    "betas": "AdamW betas, two comma-separated values",
    "label_smoothing": "cross-entropy label smoothing",
    "hflip": "random horizontal flip (mirrors the driving side and script: a setting, on by default as in the papers)",
    "color_jitter": "brightness,contrast,saturation,hue jitter",
    "random_crop": "random resized crop: smallest kept area fraction (0 = off)",
    "normalization": "imagenet | dataset (per-channel statistics of the training images) | model (the architecture's own)",
    "scheduler": "none | cosine",
    "seed": "random seed (weights, order, augmentation)",
    "train_split": "split to train on",
    "val_split": "validation split (when empty, --val-fraction of the training split is held out)",
    "val_fraction": "share of each class held out when the dataset has no validation split",
    "cache_images": "keep resized images in memory",
    "num_workers": "DataLoader worker processes",
    "max_seconds": "stop after the epoch that exceeds this many seconds (0 = no limit)",
    "device": "auto | cpu | cuda",
    "target_layer": "the ResNet stage CAM methods read (layer1-layer4)",
    "precision": "fp32 | bf16 (mixed precision) | auto (bf16 where the GPU or CPU runs it natively)",
}


def _tuple_parser(n: int, kind: type):
    def parse(text: str) -> tuple:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if len(parts) != n:
            raise argparse.ArgumentTypeError(f"expected {n} comma-separated values, got {text!r}")
        try:
            return tuple(kind(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {n} numbers, got {text!r}") from None

    return parse


def add_config_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig = TrainConfig()) -> None:
    """One option per :class:`TrainConfig` field, named ``--field-name``, default = the field's default."""
    group = parser.add_argument_group("training settings (defaults: the papers' recipe)")
    for f in dataclasses.fields(TrainConfig):
        default = getattr(defaults, f.name)
        if isinstance(default, dict):  # model_options: --model-option KEY=VALUE, see register()
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{_HELP.get(f.name, f.name)} (default {default})"
        if isinstance(default, bool):
            group.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        elif isinstance(default, tuple):
            kind = type(default[0])
            group.add_argument(
                flag,
                dest=f.name,
                type=_tuple_parser(len(default), kind),
                default=default,
                metavar="A,B",
                help=help_text,
            )
        else:
            group.add_argument(flag, dest=f.name, type=type(default), default=default, help=help_text)


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> ``(key, value)``; the value is read as JSON when it is JSON (numbers, true,
    lists), else kept as text."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. drop_path_rate=0.1), got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` given by :func:`add_config_arguments`' options (validated);
    ``--weights`` sets ``init``, ``--model-option`` the model options."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "model_options" and hasattr(args, f.name)
    }
    if getattr(args, "weights", None):
        values["init"] = str(args.weights)
    return TrainConfig(**values, model_options=dict(getattr(args, "model_option", None) or []))


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a ResNet, timm or torchvision classifier on a project dataset (resumable, Ctrl-C to stop)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project_arg(p)
    p.add_argument("--dataset", required=True, help="dataset name in the project")
    p.add_argument("--name", required=True, help="name of the new model")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run of this model")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model of this name")
    p.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="initial weights from a local file (same as --init FILE): a timm / torchvision state dict "
        "(.safetensors or .pth) or a GeoQuiz checkpoint",
    )
    p.add_argument(
        "--model-option",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="a timm / torchvision constructor keyword (e.g. drop_path_rate=0.1) or target_layer=PATH; repeatable",
    )
    add_config_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from geoquiz.models.jobs import train_model

    config = config_from_args(args)
    with open_project(args) as project:

        def on_epoch(e: dict) -> None:
            tqdm.write(
                f"epoch {e['epoch']:>3}: train loss {e['train_loss']:.4f} acc {e['train_acc']:.3f} | "
                f"val loss {e['val_loss']:.4f} acc {e['val_acc']:.3f} | {e['images_per_s']:.0f} img/s"
                f"{'  * best' if e['best'] else ''}",
                file=sys.stderr,
            )

        try:
            with progress_bar(f"training {args.name}") as reporter:
                result = train_model(
                    project,
                    args.name,
                    args.dataset,
                    config,
                    reporter=reporter,
                    on_epoch=on_epoch,
                    resume=args.resume,
                    overwrite=args.overwrite or args.resume,
                )
        except KeyboardInterrupt:
            print(
                f"interrupted: the finished epochs are kept; continue with "
                f"geoquiz train --dataset {args.dataset} --name {args.name} --resume (same settings)",
                file=sys.stderr,
            )
            raise
    print(
        f"model {args.name}: best epoch {result.best_epoch} (val loss {result.best_val_loss:.4f}, "
        f"val acc {result.best_val_acc:.3f}), stopped by {result.stop_reason} after {result.seconds:.0f} s, "
        f"{result.train_images_per_s:.1f} training images/s"
    )
    print(f"checkpoint: {result.checkpoint}")
    return 0
