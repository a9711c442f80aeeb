"""``geoquiz explain``: attribution maps, segments and object-like elements for a dataset.

Examples::

    geoquiz explain --model geoscenes-demo --dataset geoscenes --split test
    geoquiz explain -p proj --model m --dataset osv --methods gradcampp,scorecam --segmenters default,mobilesam_vit_t \\
        --checkpoint mobilesam_vit_t=~/weights/mobile_sam.pt --top-p 15
    geoquiz explain --status          # which segmenters are ready
    geoquiz explain -p proj --model m --dataset osv --split all --engine ray --concurrency 8
    geoquiz explain ... --engine ray --ray-address auto     # on an existing Ray cluster

Everything is cached in the project (``cache/`` + database); samples already explained with these
settings are skipped, so a re-run only does what is missing (or failed). ``--engine ray`` runs the
samples on Ray Data workers (pip install "geoquiz[ray]"): each loads the model once, reads the images
from their paths and sends the maps, masks and elements back; this process alone writes the project.
A sample that fails (a corrupt image ...) is listed at the end and the run goes on (exit status 1
when some failed). Methods:
gradcam, gradcampp, scorecam, smoothgrad, ig. Segmenters: default (weight-free), sam_vit_b/l/h,
mobilesam_vit_t, sam2_hiera_t/s/b/l, each optionally with ``:guided`` (SAM prompted only inside the
salient region), and sam3 (prompted with the concept vocabulary; its elements carry a concept and a
cue tag; checkpoint = the facebook/sam3 folder). Checkpoints come from project.toml ([segmenters]) or
--checkpoint NAME=PATH; every requested segmenter is checked before any work starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from geoquiz.cli.common import add_project_arg, open_project, progress_bar
from geoquiz.engine import add_engine_arguments, describe_outcome, engine_from_args
from geoquiz.errors import GeoQuizError


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _checkpoint(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH (e.g. sam_vit_b=/weights/sam_vit_b_01ec64.pth), got {text!r}"
        )
    return name.strip(), path.strip()


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="compute attribution maps, segments and elements for a dataset (cached)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_project_arg(p)
    p.add_argument("--model", help="registered model name")
    p.add_argument("--dataset", help="dataset name")
    p.add_argument("--split", default="test", help="split to explain (default test; 'all' for every split)")
    p.add_argument(
        "--methods", type=_csv, default=["gradcampp"], help="comma-separated methods (default gradcampp)"
    )
    p.add_argument(
        "--segmenters", type=_csv, default=["default"], help="comma-separated segmenters (default: default)"
    )
    p.add_argument(
        "--checkpoint",
        type=_checkpoint,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="segmenter checkpoint for this run (overrides project.toml; repeatable)",
    )
    p.add_argument(
        "--save-checkpoints", action="store_true", help="also store the --checkpoint paths in project.toml"
    )
    for field, kind in (
        ("top_p", float),
        ("s_min", float),
        ("iou_threshold", float),
        ("padding", float),
        ("max_elements", int),
    ):
        p.add_argument(
            f"--{field.replace('_', '-')}",
            dest=field,
            type=kind,
            default=None,
            help=f"element setting {field}",
        )
    p.add_argument(
        "--scorecam-channels",
        default=None,
        help="Score-CAM channels: auto, all or a number (= --method-param)",
    )
    p.add_argument(
        "--method-param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="an attribution method's parameter, e.g. scorecam.channels=256 or smoothgrad.n_samples=50 "
        "(repeatable; part of the cache key)",
    )
    p.add_argument(
        "--points-per-side", type=int, default=None, help="SAM point grid (default 32; 16 is 4x faster)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--status", action="store_true", help="only print which segmenters are ready")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_engine_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geoquiz.explain import Explainer, explain_dataset
    from geoquiz.segmentation import SEGMENTERS, require_ready, segmenter_status

    with open_project(args) as project:
        seg_settings = project.settings.segmenters
        for name, path in args.checkpoint:
            if name not in SEGMENTERS or not SEGMENTERS[name].needs_checkpoint:
                known = ", ".join(n for n, info in SEGMENTERS.items() if info.needs_checkpoint)
                raise GeoQuizError(f"--checkpoint: unknown segmenter with weights {name!r}; known: {known}")
            seg_settings = seg_settings.replace(**{name: path})
        if args.save_checkpoints and args.checkpoint:
            project.save_settings(dataclasses.replace(project.settings, segmenters=seg_settings))
        if args.status:
            for name, status in segmenter_status(seg_settings).items():
                print(f"{name:18s} {status}")
            return 0
        if not args.model or not args.dataset:
            raise GeoQuizError("geoquiz explain needs --model and --dataset (or --status)")
        require_ready(args.segmenters, seg_settings)
        overrides = {
            k: getattr(args, k) for k in ("top_p", "s_min", "iou_threshold", "padding", "max_elements")
        }
        params = dataclasses.replace(
            project.settings.elements, **{k: v for k, v in overrides.items() if v is not None}
        )
        from geoquiz.attribution.params import parse_method_params

        texts = list(args.method_param)
        if args.scorecam_channels is not None:
            texts.insert(0, f"scorecam.channels={args.scorecam_channels}")
        method_params = parse_method_params(texts)
        seg_params = {}
        if args.points_per_side:  # the point-prompted SAMs' grid (not SAM3, prompted with concepts)
            seg_params = {
                n: {"points_per_side": args.points_per_side}
                for n, info in SEGMENTERS.items()
                if n != "default" and not info.concepts
            }
        explainer = Explainer(
            project,
            args.model,
            device=args.device,
            method_params=method_params,
            segmenter_params=seg_params,
            segmenter_settings=seg_settings,
        )
        split = None if args.split == "all" else args.split
        with engine_from_args(args) as engine, progress_bar(f"explain {args.dataset}") as reporter:
            summary = explain_dataset(
                project,
                args.model,
                args.dataset,
                split,
                args.methods,
                args.segmenters,
                params=params,
                reporter=reporter,
                explainer=explainer,
                engine=engine,
            )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        st = summary["stats"]
        print(
            f"explained {summary['samples']} sample(s) of {summary['dataset']} ({summary['split'] or 'all splits'}) "
            f"with {', '.join(summary['methods'])} x {', '.join(summary['segmenters'])}: {summary['elements']} elements "
            f"in {summary['seconds']:.1f} s"
        )
        from geoquiz.attribution.params import describe

        print(f"method parameters: {describe(summary['method_params'], summary['methods'])}")
        print(
            f"maps: {st['maps_computed']} computed, {st['maps_cached']} from cache; segmentations: "
            f"{st['segmentations_computed']} computed, {st['segmentations_cached']} from cache; element sets: "
            f"{st['elements_computed']} computed, {st['elements_cached']} from cache"
        )
        print(
            describe_outcome(
                summary["engine"],
                summary["explained"],
                summary["skipped"],
                summary["failures"],
                verb="explained",
            )
        )
    return 1 if summary["failed"] else 0
