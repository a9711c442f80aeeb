"""Engines that map a batch job over many items: ``local`` (in-process) and ``ray`` (Ray Data).

Use :func:`make_engine` (or, in a CLI command, :func:`add_engine_arguments` +
:func:`engine_from_args`) to get one, :class:`Job` to write the per-item work, and
:func:`run_items` to drive a job and store its results in the driver. Importing this package does
not import Ray; only ``make_engine("ray")`` does.
"""

from __future__ import annotations

import argparse

from geoquiz.engine.base import (
    DEFAULT_BATCH_SIZE,
    Engine,
    ItemResult,
    Job,
    RunSummary,
    describe_error,
    run_items,
)
from geoquiz.engine.local import LocalEngine
from geoquiz.errors import GeoQuizError

ENGINES: tuple[str, ...] = ("local", "ray")

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ENGINES",
    "Engine",
    "ItemResult",
    "Job",
    "LocalEngine",
    "RunSummary",
    "add_engine_arguments",
    "describe_error",
    "describe_outcome",
    "engine_from_args",
    "make_engine",
    "run_items",
]


def describe_outcome(
    engine: str, done: int, skipped: int, failures: list[dict], *, verb: str = "done", limit: int = 20
) -> str:
    """Lines for a CLI summary: ``engine ray: 10 explained, 2 already done (skipped), 1 failed``, then
    each failed item (``failures``: ``[{"key", "error"}]``), at most ``limit`` of them."""
    lines = [f"engine {engine}: {done} {verb}, {skipped} already done (skipped), {len(failures)} failed"]
    for f in failures[:limit]:
        lines.append(f"  failed {f['key']}: {f['error']}")
    if len(failures) > limit:
        lines.append(f"  ... and {len(failures) - limit} more failures")
    return "\n".join(lines)


def make_engine(
    name: str = "local",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int | None = None,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: float | None = None,
) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``).

    ``batch_size``: items per job call (both engines). Ray only: ``concurrency`` worker actors,
    ``ray_address`` of an existing cluster (else a local instance with ``num_cpus`` CPUs starts),
    ``num_gpus`` per worker (default: 1 when the cluster has GPUs). Raises :class:`GeoQuizError`
    for an unknown name, or for ``ray`` when Ray is not installed (with the pip command).
    """
    if name == "local":
        return LocalEngine(batch_size=batch_size)
    if name == "ray":
        from geoquiz.engine.ray_engine import RayEngine

        return RayEngine(
            address=ray_address,
            num_cpus=num_cpus,
            batch_size=batch_size,
            concurrency=concurrency,
            num_gpus=num_gpus,
        )
    raise GeoQuizError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def add_engine_arguments(parser: argparse.ArgumentParser, *, batch_flag: str = "--batch-size") -> None:
    """Add ``--engine``, ``--ray-address``, ``--concurrency`` and the engine batch size to a sub-command.

    ``batch_flag``: the option name of the engine batch size (items per worker call), for commands
    where ``--batch-size`` already means something else (``geoquiz evaluate``: variants per forward
    pass); its value is always ``args.engine_batch_size``.
    """
    group = parser.add_argument_group("engine (where the per-item work runs)")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help='local: in this process (default); ray: Ray Data workers (needs pip install "geoquiz[ray]")',
    )
    group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="join an existing Ray cluster (e.g. ray://head:10001 or auto); default: start a local one",
    )
    group.add_argument(
        batch_flag,
        dest="engine_batch_size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"items per worker call (default {DEFAULT_BATCH_SIZE})",
    )
    group.add_argument(
        "--concurrency",
        type=_positive_int,
        default=None,
        help="Ray worker count (default: one per CPU of the cluster, or per GPU when it has GPUs)",
    )


def engine_from_args(args: argparse.Namespace) -> Engine:
    """The engine chosen by :func:`add_engine_arguments`' options."""
    if args.engine != "ray" and (args.ray_address or args.concurrency):
        raise GeoQuizError("--ray-address and --concurrency only apply to --engine ray")
    return make_engine(
        args.engine,
        batch_size=args.engine_batch_size,
        concurrency=args.concurrency,
        ray_address=args.ray_address,
    )
