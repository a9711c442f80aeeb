"""``--engine ray``: map a job over items with Ray Data on a local or existing Ray cluster.

How a run goes:

* The driver turns the item references into a Ray dataset (``ray.data.from_items``) of rows
  ``{"i": index, "ref": pickled ImageItem/Location}``: keys and file paths only, so image bytes
  never travel through the driver; workers read the images from the dataset's paths (a local or
  shared filesystem).
* ``map_batches`` runs a callable class (:class:`_RayWorker`) in a fixed pool of ``concurrency``
  actors; each actor unpickles the job once and calls ``job.setup()`` (model and segmenter loaded
  once per worker), then ``job(batch)`` for batches of ``batch_size`` items. One GPU per actor is
  requested when the cluster has GPUs (``num_gpus`` overrides).
* Results come back as rows ``{"i", "status", "payload"}`` (payload = the pickled value or the
  error text) and the driver yields them as :class:`ItemResult`; the caller stores them (one writer).
* Failures: the job catches each item's exception, so a bad image fails alone. A worker process
  that crashes (segfault, OOM kill) loses the batches it held: Ray restarts the actor and retries
  the task ``max_task_retries`` times; blocks that still fail are tolerated (Ray Data's
  ``max_errored_blocks = -1``), and the driver re-runs each item it got no answer for as its own Ray
  task (with its own job setup), so only the item that really crashes its worker is marked failed.

``address`` joins an existing cluster (``ray.init(address=...)``; geoquiz must be installed there
and the dataset paths and checkpoints readable by the workers); otherwise a local Ray instance
starts with ``num_cpus`` CPUs and is shut down by :meth:`RayEngine.close`. When Ray is already
initialised in this process (tests, notebooks) it is reused and left running.
"""

from __future__ import annotations

import logging
import math
import pickle
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from geoquiz.engine.base import DEFAULT_BATCH_SIZE, ItemResult, Job, describe_error
from geoquiz.errors import GeoQuizError
from geoquiz.progress import Reporter, step

INSTALL_HINT = 'pip install "geoquiz[ray]"'
#: Upper bound on the number of blocks of a Ray dataset (many tiny blocks cost scheduling time).
MAX_BLOCKS = 20_000
CRASH_MESSAGE = (
    "the Ray worker processing this item died (crash or out of memory) on every retry; "
    "see the Ray logs (/tmp/ray/session_latest/logs) for details"
)


def import_ray():
    """Import ``ray`` and ``ray.data`` or raise a :class:`GeoQuizError` saying how to install them."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise GeoQuizError(
            f"--engine ray needs Ray, which is not installed ({exc}). Install the optional extra with: {INSTALL_HINT}"
        ) from exc
    return ray


def ray_available() -> bool:
    """True when Ray Data can be imported."""
    try:
        import_ray()
    except GeoQuizError:
        return False
    return True


class _SetupFailed:
    """Marker payload: ``job.setup()`` raised on a worker (the run stops with this error)."""

    def __init__(self, exc: BaseException) -> None:
        self.message = describe_error(exc)
        try:
            self.exc_bytes: bytes | None = pickle.dumps(exc)
        except Exception:
            self.exc_bytes = None

    def to_exception(self) -> GeoQuizError:
        if self.exc_bytes is not None:
            try:
                exc = pickle.loads(self.exc_bytes)
                if isinstance(exc, GeoQuizError):
                    return exc
            except Exception:
                pass
        return GeoQuizError(f"a Ray worker could not set up the job: {self.message}")


class _RayWorker:
    """The callable class Ray Data runs once per actor: owns one job instance."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.setup_failed: _SetupFailed | None = None
        try:
            job.ensure_setup()
        except Exception as exc:  # reported to the driver, which stops the run with it
            self.setup_failed = _SetupFailed(exc)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        idx = [int(i) for i in batch["i"]]
        status: list[str] = []
        payload: list[bytes] = []
        if self.setup_failed is not None:
            blob = pickle.dumps(self.setup_failed)
            return _columns(idx, ["setup"] * len(idx), [blob] * len(idx))
        refs = [pickle.loads(bytes(b)) for b in batch["ref"]]
        for res in self.job(refs):
            if res.ok:
                try:
                    payload.append(pickle.dumps(res.value, protocol=pickle.HIGHEST_PROTOCOL))
                    status.append("ok")
                    continue
                except Exception as exc:
                    error = f"the result cannot be sent back to the driver: {describe_error(exc)}"
            else:
                error = res.error or "unknown error"
            status.append("failed")
            payload.append(error.encode("utf-8"))
        return _columns(idx, status, payload)


def _run_alone(job: Job, item: Any) -> tuple[str, Any]:
    """One item in its own Ray task: ``("ok", value)``, ``("failed", error)`` or ``("setup", _SetupFailed)``."""
    try:
        job.ensure_setup()
    except Exception as exc:
        return "setup", _SetupFailed(exc)
    res = job([item])[0]
    return ("ok", res.value) if res.ok else ("failed", res.error or "unknown error")


def _columns(idx: list[int], status: list[str], payload: list[bytes]) -> dict[str, np.ndarray]:
    blobs = np.empty(len(payload), dtype=object)
    blobs[:] = payload
    return {
        "i": np.asarray(idx, dtype=np.int64),
        "status": np.asarray(status, dtype=object),
        "payload": blobs,
    }


class RayEngine:
    """Ray Data engine. See the module docstring for how a run goes.

    ``batch_size``: items per job call. ``concurrency``: number of worker actors (default: as many
    as the cluster's CPUs / ``num_cpus_per_worker``, or its GPUs when GPUs are used).
    ``num_gpus``: GPUs per worker (default: 1 when the cluster has GPUs, else 0).
    ``max_task_retries``: how often a batch is retried after its worker died.
    """

    name = "ray"
    #: Jobs are pickled to worker processes: they load their own model and return plain results.
    in_process = False

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int | None = None,
        num_cpus_per_worker: float = 1.0,
        num_gpus: float | None = None,
        max_task_retries: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.ray = import_ray()
        self.address = address
        self.num_cpus = num_cpus
        self.batch_size = int(batch_size)
        self.concurrency = concurrency
        self.num_cpus_per_worker = float(num_cpus_per_worker)
        self.num_gpus = num_gpus
        self.max_task_retries = int(max_task_retries)
        self._owns_ray = False

    # -- cluster ---------------------------------------------------------------------------
    def _ensure_ray(self) -> None:
        ray = self.ray
        # Ray Data logs every pass at INFO on the driver's console; the caller draws its own progress
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        if ray.is_initialized():
            return
        try:
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self.num_cpus,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
        except Exception as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise GeoQuizError(f"cannot start or join {where}: {describe_error(exc)}") from exc
        self._owns_ray = True

    def _worker_resources(self) -> tuple[int, float]:
        """(number of actors, GPUs per actor) for this cluster."""
        resources = self.ray.cluster_resources()
        cluster_gpus = float(resources.get("GPU", 0.0))
        gpus = self.num_gpus if self.num_gpus is not None else (1.0 if cluster_gpus >= 1 else 0.0)
        if self.concurrency is not None:
            return self.concurrency, gpus
        if gpus > 0:
            return max(1, int(cluster_gpus // gpus)), gpus
        return max(1, int(float(resources.get("CPU", 1.0)) // self.num_cpus_per_worker)), gpus

    # -- one Ray Data pass -------------------------------------------------------------------
    def _dataset(self, job: Job, pending: dict[int, Any], batch_size: int):
        ray = self.ray
        rows = [
            {"i": i, "ref": pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)}
            for i, item in pending.items()
        ]
        n_blocks = math.ceil(len(rows) / batch_size)
        n_blocks = max(1, min(n_blocks, MAX_BLOCKS))
        try:
            ds = ray.data.from_items(rows, override_num_blocks=n_blocks)
        except TypeError:  # Ray < 2.10 calls it parallelism
            ds = ray.data.from_items(rows, parallelism=n_blocks)
        ctx = ds.context
        ctx.max_errored_blocks = -1  # crashed blocks are tolerated; the driver re-runs their items
        ctx.enable_progress_bars = False  # the caller draws its own progress
        if hasattr(ctx, "print_on_execution_start"):
            ctx.print_on_execution_start = False
        actors, gpus = self._worker_resources()
        actors = max(1, min(actors, n_blocks))
        kwargs: dict[str, Any] = {
            "fn_constructor_args": (job,),
            "batch_size": batch_size,
            "batch_format": "numpy",
            "compute": ray.data.ActorPoolStrategy(size=actors),
            "num_cpus": self.num_cpus_per_worker,
        }
        if gpus > 0:
            kwargs["num_gpus"] = gpus
        with warnings.catch_warnings():
            # Ray >= 2.60 deprecates passing actor options such as max_task_retries as kwargs but
            # offers no named parameter yet; without it a task whose worker dies retries forever.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
            return ds.map_batches(_RayWorker, max_task_retries=self.max_task_retries, **kwargs)

    def _pass(self, job: Job, pending: dict[int, Any], batch_size: int) -> Iterator[ItemResult]:
        """Run ``pending`` once; yield results and remove answered indices from ``pending``."""
        ds = self._dataset(job, pending, batch_size)
        try:
            for block in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for i, status, blob in zip(block["i"], block["status"], block["payload"]):
                    i = int(i)
                    item = pending.pop(i, None)
                    if item is None:  # a retried task answered twice
                        continue
                    blob = bytes(blob)
                    if status == "setup":
                        raise pickle.loads(blob).to_exception()
                    if status == "ok":
                        yield ItemResult(job.key(item), True, pickle.loads(blob))
                    else:
                        yield ItemResult(job.key(item), False, error=blob.decode("utf-8", "replace"))
        except GeoQuizError:
            raise
        except self.ray.exceptions.RayError as exc:
            raise GeoQuizError(f"the Ray run of {job.name} failed: {describe_error(exc)}") from exc

    def _isolate(self, job: Job, pending: dict[int, Any]) -> Iterator[ItemResult]:
        """Run each item of ``pending`` as its own Ray task (a fresh job setup per task).

        Used only for the items of blocks lost with a crashed actor, so the extra setups are rare.
        A task whose worker dies on every retry fails that item alone with :data:`CRASH_MESSAGE`.
        The tasks reserve no CPU: Ray Data may keep a restarted actor of the crashed pool (and its
        CPU) until Ray shuts down, and a task waiting for that CPU would wait forever.
        """
        ray = self.ray
        _, gpus = self._worker_resources()
        remote = ray.remote(_run_alone).options(num_cpus=0, num_gpus=gpus, max_retries=self.max_task_retries)
        refs = {remote.remote(job, item): i for i, item in pending.items()}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            i = refs.pop(ready[0])
            item = pending.pop(i)
            try:
                status, value = ray.get(ready[0])
            except (
                ray.exceptions.WorkerCrashedError,
                ray.exceptions.RayActorError,
                ray.exceptions.NodeDiedError,
            ):
                yield ItemResult(job.key(item), False, error=CRASH_MESSAGE)
                continue
            except ray.exceptions.RayError as exc:
                yield ItemResult(job.key(item), False, error=describe_error(exc))
                continue
            if status == "setup":
                for ref in refs:
                    ray.cancel(ref, force=True)
                raise value.to_exception()
            yield ItemResult(
                job.key(item),
                status == "ok",
                value if status == "ok" else None,
                None if status == "ok" else value,
            )

    def map_items(
        self, job: Job, items: Sequence[Any], *, reporter: Reporter | None = None
    ) -> Iterator[ItemResult]:
        items = list(items)
        total = len(items)
        step(reporter, 0, total, f"{job.name}: starting Ray")
        if not items:
            return
        self._ensure_ray()
        pending = dict(enumerate(items))
        done = 0
        for res in self._pass(job, pending, self.batch_size):
            done += 1
            yield res
            step(reporter, done, total, f"{job.name}: {done}/{total} (ray)")
        if pending:  # blocks lost with a crashed worker: run each of their items alone
            for res in self._isolate(job, pending):
                done += 1
                yield res
                step(reporter, done, total, f"{job.name}: {done}/{total} (ray, retrying lost items)")
        for item in list(pending.values()):
            done += 1
            yield ItemResult(job.key(item), False, error=CRASH_MESSAGE)
            step(reporter, done, total, f"{job.name}: {done}/{total} (ray)")

    def close(self) -> None:
        """Shut down the local Ray instance if this engine started it."""
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
