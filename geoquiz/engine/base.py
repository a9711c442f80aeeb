"""The engine seam: how a batch job's per-item work is mapped over many items.

A batch command (``geoquiz explain``, ``geoquiz evaluate``, prediction over a dataset) splits its
work into three parts:

1. the **driver** lists the items (references: :class:`geoquiz.types.ImageItem` /
   :class:`geoquiz.types.Location`, i.e. keys and file paths, never pixels), asks the project
   database which are already done and drops those;
2. a **job** (:class:`Job`) computes each remaining item: it is a small picklable object holding
   only plain settings (checkpoint path, method names, seeds ...). ``setup()`` runs once per worker
   and loads the heavy state (model, segmenter); ``__call__(batch)`` reads each item's image from
   its path and returns one :class:`ItemResult` per item, catching each item's error so a bad
   image fails alone;
3. the driver stores every successful result through the same function the local path uses. Only
   the driver writes to the database (one writer).

An :class:`Engine` does step 2: :class:`geoquiz.engine.local.LocalEngine` in-process (what the app
uses), :class:`geoquiz.engine.ray_engine.RayEngine` on a Ray cluster (Ray Data ``map_batches``
with one job instance per worker). :func:`run_items` ties the three steps together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step

#: Default number of items per call of a job.
DEFAULT_BATCH_SIZE = 4


@dataclass(frozen=True)
class ItemResult:
    """What a job returns for one item: ``value`` when ``ok``, else ``error`` (a message for people)."""

    key: str
    ok: bool
    value: Any = None
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    """A one-line message for an item's failure: GeoQuiz errors as they are, others with their type."""
    if isinstance(exc, GeoQuizError):
        return str(exc)
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"


def item_key(item: Any) -> str:
    """The key identifying an item reference in results: ``item.key`` (ImageItem, Location) or ``str``."""
    key = getattr(item, "key", None)
    return str(key) if key is not None else str(item)


class Job:
    """A stateful per-worker computation over item references.

    Subclasses keep only plain, picklable settings in ``__init__`` (paths, names, seeds), load heavy
    state in :meth:`setup` (called once per worker, before the first batch) and implement
    :meth:`process` (one item -> a picklable value) or, for batched work, override
    :meth:`process_batch`. :meth:`__call__` catches each item's exception and returns it as a failed
    :class:`ItemResult`, so one corrupt image never fails its neighbours.

    A job must give the same value for an item whatever batch it lands in and whichever worker runs
    it (seed per item, not per run), so every engine gives the same answers.
    """

    #: Shown in progress messages and errors.
    name: str = "job"
    #: Attributes that :meth:`setup` fills with heavy per-worker state (models ...); they are left
    #: out when the job is pickled, so a copy shipped to another worker sets itself up again.
    worker_attrs: tuple[str, ...] = ()

    def setup(self) -> None:
        """Load models, segmenters ... once per worker. Errors here abort the whole run."""

    def key(self, item: Any) -> str:
        return item_key(item)

    def process(self, item: Any) -> Any:
        """Compute one item; return a picklable value. Raise to mark the item failed."""
        raise NotImplementedError(f"{type(self).__name__} must implement process() or process_batch()")

    def process_batch(self, items: Sequence[Any]) -> list[ItemResult]:
        """Compute a batch; the default calls :meth:`process` per item, catching each item's error."""
        out = []
        for item in items:
            key = self.key(item)
            try:
                out.append(ItemResult(key, True, self.process(item)))
            except Exception as exc:  # one bad item must not stop the batch
                out.append(ItemResult(key, False, error=describe_error(exc)))
        return out

    def ensure_setup(self) -> None:
        """Run :meth:`setup` once for this instance (engines call this; jobs need not)."""
        if not self.__dict__.get("_engine_setup_done", False):
            self.setup()
            self.__dict__["_engine_setup_done"] = True

    def __call__(self, batch: Sequence[Any]) -> list[ItemResult]:
        """One worker call: set up on first use, then compute ``batch``; never raises for an item."""
        self.ensure_setup()
        try:
            results = self.process_batch(batch)
        except Exception as exc:  # a bug at batch level: every item of the batch fails with it
            msg = describe_error(exc)
            return [ItemResult(self.key(item), False, error=msg) for item in batch]
        if len(results) != len(batch):
            raise RuntimeError(
                f"{type(self).__name__}.process_batch returned {len(results)} results for {len(batch)} items"
            )
        return results

    def __getstate__(self) -> dict:
        # Heavy state made by setup() stays on the worker that made it; a copy sets itself up again.
        state = dict(self.__dict__)
        state.pop("_engine_setup_done", None)
        for name in self.worker_attrs:
            state.pop(name, None)
        return state


@runtime_checkable
class Engine(Protocol):
    """Maps a job over item references. ``map_items`` yields one :class:`ItemResult` per item (in any
    order), reports progress through ``reporter`` (and stops when it is cancelled). ``in_process``:
    the job runs in the caller's process (it may then be bound to the caller's objects)."""

    name: str
    in_process: bool

    def map_items(
        self, job: Job, items: Sequence[Any], *, reporter: Reporter | None = None
    ) -> Iterator[ItemResult]: ...

    def close(self) -> None: ...


@dataclass
class RunSummary:
    """What :func:`run_items` did: counts and the failed items with their errors."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    engine: str = "local"

    @property
    def failed(self) -> int:
        return len(self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "total": self.total,
            "skipped": self.skipped,
            "done": self.done,
            "failed": self.failed,
            "failures": [{"key": k, "error": e} for k, e in self.failures],
        }

    def describe(self, limit: int = 20) -> str:
        """A few lines for the CLI: counts, then the failed items with their errors."""
        lines = [
            f"{self.done} done, {self.skipped} already done (skipped), {self.failed} failed of {self.total}"
        ]
        for key, err in self.failures[:limit]:
            lines.append(f"  failed {key}: {err}")
        if self.failed > limit:
            lines.append(f"  ... and {self.failed - limit} more failures")
        return "\n".join(lines)


class GroupedStore:
    """A ``store(item, value)`` for :func:`run_items` that buffers results and stores them ``max_items``
    at a time (or once ``max_seconds`` have passed since the last flush) in one database transaction.

    A commit costs more than the rows of one item (the WAL sync), so a driver fed by many workers
    stores several times more items per second this way. Nothing holds the database while waiting
    for results (the buffer is in memory); use it as a context manager so the rest is flushed at the
    end, also when the run stops with an error (what was computed is valid). At most one group is
    lost if the process dies.
    """

    def __init__(
        self, db: Any, store: Callable[[Any, Any], None], *, max_items: int = 32, max_seconds: float = 2.0
    ) -> None:
        import time

        self.db = db
        self.store = store
        self.max_items = max(1, int(max_items))
        self.max_seconds = float(max_seconds)
        self._clock = time.monotonic
        self._last = self._clock()
        self.pending: list[tuple[Any, Any]] = []

    def __call__(self, item: Any, value: Any) -> None:
        self.pending.append((item, value))
        if len(self.pending) >= self.max_items or self._clock() - self._last >= self.max_seconds:
            self.flush()

    def flush(self) -> None:
        """Store the buffered results in one transaction."""
        from geoquiz.db import transaction

        if self.pending:
            with transaction(self.db):
                for item, value in self.pending:
                    self.store(item, value)
            self.pending.clear()
        self._last = self._clock()

    def __enter__(self) -> GroupedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def shifted(reporter: Reporter | None, offset: int) -> Reporter | None:
    """A reporter (same cancel token) that adds ``offset`` to ``done`` and ``total``: progress of
    the remaining items of a run whose first ``offset`` items were done before (skipped)."""
    if reporter is None or offset == 0:
        return reporter

    def callback(done: int, total: int, message: str) -> None:
        if reporter.callback is not None:
            reporter.callback(done + offset, total + offset, message)

    return Reporter(callback, reporter.token)


def run_items(
    engine: Engine,
    job: Job,
    items: Iterable[Any],
    *,
    store: Callable[[Any, Any], None],
    done_keys: Iterable[str] = (),
    reporter: Reporter | None = None,
) -> RunSummary:
    """Drive ``job`` over ``items`` with ``engine`` and store each result in the driver.

    ``done_keys``: keys (``job.key(item)``) already stored, queried from the database by the
    caller; those items are skipped. ``store(item, value)`` is called in this process, once per
    successful item as results arrive (so an interrupted run keeps what it finished); it should
    write in its own transaction. Failed items are listed in the summary and never stored.
    """
    items = list(items)
    done = set(done_keys)
    todo = [it for it in items if job.key(it) not in done]
    by_key = {job.key(it): it for it in todo}
    if len(by_key) != len(todo):
        raise GeoQuizError(f"{job.name}: item keys are not unique; cannot track which items are done")
    summary = RunSummary(total=len(items), skipped=len(items) - len(todo), engine=engine.name)
    if not todo:
        step(reporter, 0, 0, "nothing to do")
        return summary
    for res in engine.map_items(job, todo, reporter=reporter):
        if res.ok:
            store(by_key[res.key], res.value)
            summary.done += 1
        else:
            summary.failures.append((res.key, res.error or "unknown error"))
    return summary
