"""``--engine local``: run a job in this process, batch after batch (what the app uses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from geoquiz.engine.base import DEFAULT_BATCH_SIZE, ItemResult, Job
from geoquiz.progress import Reporter, step


class LocalEngine:
    """In-process engine: ``job.setup()`` once, then ``job(batch)`` for consecutive batches.

    ``batch_size`` items go to each call of the job. Progress is reported after every batch, which
    is also where a cancel takes effect.
    """

    name = "local"
    #: Jobs run in the driver's process, so they may use the driver's objects (its Explainer and
    #: database connection: the app's cache-aware path) instead of loading their own.
    in_process = True

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)

    def map_items(
        self, job: Job, items: Sequence[Any], *, reporter: Reporter | None = None
    ) -> Iterator[ItemResult]:
        items = list(items)
        total = len(items)
        step(reporter, 0, total, f"{job.name}: starting")
        job.ensure_setup()
        done = 0
        for start in range(0, total, self.batch_size):
            batch = items[start : start + self.batch_size]
            results = job(batch)
            yield from results
            done += len(batch)
            step(reporter, done, total, f"{job.name}: {done}/{total}")

    def close(self) -> None:
        """Nothing to release; present for the :class:`~geoquiz.engine.base.Engine` protocol."""

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
