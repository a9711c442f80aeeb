"""The export's CSVs written in parts by worker processes that share one snapshot.

A large export spends its time in two places that hold Python's GIL: building each row's tuple from
SQLite's cursor and formatting it for the CSV. Threads therefore take turns rather than share the
cores (two threads were slower than one: 6.3 s vs 4.5 s for the 5 large tables of ``bench.export``).
Processes do share them:

* :func:`plan_parts` cuts each table into parts by ranges of its ordering key
  (:attr:`geoquiz.study.export_sql.TableSQL.key`: ``trials`` by trial id, ``guesses`` by the
  trial id they belong to, ...), about :data:`PART_ROWS` rows each, so that two workers finish
  together; a part is the table's query with ``WHERE key >= lo AND key < hi``, in the table's order;
* :func:`write_part` writes one part's rows as a CSV body (no header) to a temporary file, with the
  very same SQL and formatting as a whole table (:func:`geoquiz.study.export_tables.table_chunks`,
  :func:`geoquiz.csvio.write_body`); the parts of a table joined in order, after its header
  (:func:`geoquiz.csvio.write_joined`), are byte for byte the file written in one go;
* :class:`WorkerPool` runs ``python -m geoquiz.study.export_worker`` processes, each with a reader
  connection whose snapshot starts while the coordinator holds the write lock
  (:func:`geoquiz.study.snapshot.gate`), so every part reads the same state of the project;
  the profile questions (:class:`geoquiz.study.export_sql.Profile`, one pass per source table)
  are answered by the workers too, one table each, and shared before any part is written.

Qt-free and torch-free; a worker imports neither pandas nor numpy (it starts in about 0.1 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geoquiz.csvio import write_body
from geoquiz.errors import GeoQuizError
from geoquiz.study.export_sql import Profile
from geoquiz.study.export_tables import SPECS, table_chunks

#: About this many rows per part (a part is the unit a worker takes).
PART_ROWS = 40_000
#: At most this many parts per table.
MAX_PARTS = 16
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1  # SQLite's integer range


@dataclass(frozen=True)
class Part:
    """Rows ``lo <= key < hi`` of ``table`` (``lo``/``hi`` None: the whole table), ``index``-th of its
    table's parts; ``rows``: the rows the table holds in that range, estimated (scheduling only)."""

    table: str
    index: int
    lo: int | None
    hi: int | None
    rows: int

    @property
    def range(self) -> tuple[int, int] | None:
        return None if self.lo is None or self.hi is None else (self.lo, self.hi)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "index": self.index, "lo": self.lo, "hi": self.hi, "rows": self.rows}


def plan_parts(conn, tables: Iterable[str], *, part_rows: int | None = None) -> dict[str, list[Part]]:
    """The parts of each of ``tables`` (CSV names) on the snapshot ``conn``: key ranges of equal
    width holding about ``part_rows`` rows each (keys are row ids, nearly dense); the first and last
    ranges are open-ended, so the parts hold every row whatever the plan was made on. A table the
    project lacks has no parts (its file is the header alone)."""
    part_rows = PART_ROWS if part_rows is None else part_rows
    plan: dict[str, list[Part]] = {}
    for table in tables:
        spec = SPECS[table](conn)
        if spec is None:
            plan[table] = []
            continue
        source, column = spec.key_source()
        lo, hi, n = conn.execute(
            f'SELECT min("{column}"), max("{column}"), count(*) FROM [{source}]'  # noqa: S608 - names from code
        ).fetchone()
        k = max(1, min(MAX_PARTS, n // max(part_rows, 1)))
        if lo is None or k == 1 or not isinstance(lo, int) or not isinstance(hi, int):
            plan[table] = [Part(table, 0, None, None, n)]
            continue
        bounds = [lo + (hi + 1 - lo) * i // k for i in range(k + 1)]
        bounds[0], bounds[-1] = _LOWEST, _HIGHEST  # the ends are open: every row is in one part
        plan[table] = [Part(table, i, bounds[i], bounds[i + 1], n // k) for i in range(k)]
    return plan


def write_part(
    conn, part: Part, path: str | Path, *, profile: Profile, check: Callable[[], None] | None = None
) -> int:
    """Write ``part``'s rows (neutralised, typed) as a CSV body to ``path``; the number of rows."""
    chunks = table_chunks(conn, part.table, profile=profile, check=check, part=part.range)
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
        return write_body(fh, chunks)


def part_path(out: Path, part: Part, run: str) -> Path:
    """Where ``part`` is written while export ``run`` (a token of its own, so that two exports into
    one folder never share a part) runs; removed once its table is joined."""
    return out / f".{part.table}.{run}.part{part.index:03d}.tmp"


# ------------------------------------------------------------------------------- the processes


class WorkerError(GeoQuizError):
    """A worker failed; ``oserror`` when it was a file-system error (``strerror`` says which)."""

    def __init__(self, message: str, *, oserror: bool = False, strerror: str | None = None) -> None:
        super().__init__(message)
        self.oserror, self.strerror = oserror, strerror


class WorkerStartError(GeoQuizError):
    """The worker processes could not be started (the caller writes in its own process instead)."""


#: How a worker starts: its module, with the folder holding ``geoquiz`` in place of the current
#: folder at the head of ``sys.path`` (a ``json.py`` or ``geoquiz/`` where the app was started
#: cannot shadow the real ones).
_BOOT = "import sys; sys.path[0] = {root!r}; from geoquiz.study.export_worker import main; sys.exit(main())"


def _package_root() -> str:
    import geoquiz

    return str(Path(geoquiz.__file__).resolve().parent.parent)


def _child_env() -> dict[str, str]:
    """The environment of a worker: this one, answers in UTF-8."""
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class WorkerPool:
    """``n`` export worker processes (``python -m geoquiz.study.export_worker``), spoken to in JSON
    lines. :meth:`call` sends one request to each given worker and waits for every answer;
    :meth:`run` hands out tasks to whichever worker is free (largest first) and calls ``done`` with
    each answer. ``check`` runs every :data:`POLL_S` while waiting (a cancelled export raises there
    and :meth:`close` kills the workers). A worker's error is raised as :class:`WorkerError`."""

    POLL_S = 0.05
    #: Seconds a worker may take to start before the export writes in its own process instead.
    START_S = 60.0

    def __init__(self, n: int, check: Callable[[], None] | None = None) -> None:
        self.check = check
        self.answers: queue.SimpleQueue[tuple[int, dict]] = queue.SimpleQueue()
        self.procs: list[subprocess.Popen] = []
        try:
            if getattr(sys, "frozen", False) or not sys.executable:  # no Python interpreter to start
                raise WorkerStartError("this build of GeoQuiz cannot start export workers")
            for i in range(n):
                try:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", _BOOT.format(root=_package_root())],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        env=_child_env(),
                        text=True,
                        encoding="utf-8",
                        bufsize=1,
                    )
                except OSError as exc:  # the interpreter is gone, too many processes
                    raise WorkerStartError(f"cannot start an export worker: {exc}") from exc
                self.procs.append(proc)
                threading.Thread(
                    target=self._listen, args=(i, proc), daemon=True, name="geoquiz-export"
                ).start()
            self._wait({i: "ready" for i in range(n)}, timeout=self.START_S, starting=True)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(kill=exc_type is not None)

    def _listen(self, i: int, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                try:
                    answer = json.loads(line)
                except ValueError:
                    answer = {
                        "error": f"export worker {i + 1} said something unexpected: {line.strip()[:200]!r}"
                    }
                self.answers.put((i, answer))
        except (OSError, ValueError):  # the pipe was closed by close(): nobody waits for answers
            return
        self.answers.put((i, {"gone": proc.wait()}))

    def _send(self, i: int, message: dict) -> None:
        stdin = self.procs[i].stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message) + "\n")
            stdin.flush()
        except OSError as exc:
            raise WorkerError(f"export worker {i + 1} stopped unexpectedly ({exc})") from exc

    def _next(self, timeout: float | None = None, starting: bool = False) -> tuple[int, dict]:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.check is not None:
                self.check()
            try:
                i, answer = self.answers.get(timeout=self.POLL_S)
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    raise WorkerStartError("the export workers did not answer in time") from None
                continue
            if "gone" in answer:
                kind = WorkerStartError if starting else WorkerError
                raise kind(f"export worker {i + 1} stopped unexpectedly (exit code {answer['gone']})")
            if "error" in answer:
                raise WorkerError(
                    answer["error"], oserror=bool(answer.get("oserror")), strerror=answer.get("strerror")
                )
            return i, answer

    def _wait(
        self, expected: dict[int, str], *, timeout: float | None = None, starting: bool = False
    ) -> dict:
        answers: dict[int, dict] = {}
        while len(answers) < len(expected):
            i, answer = self._next(timeout, starting)
            answers[i] = answer
        return answers

    def call(
        self, message: dict, workers: Iterable[int] | None = None, *, timeout: float | None = None
    ) -> dict[int, dict]:
        """Send ``message`` to each of ``workers`` (default all) and return their answers by index;
        :class:`WorkerStartError` when they have not all answered within ``timeout`` seconds."""
        chosen = list(range(len(self.procs)) if workers is None else workers)
        for i in chosen:
            self._send(i, message)
        return self._wait({i: message["op"] for i in chosen}, timeout=timeout)

    def run(self, tasks: list[dict], done: Callable[[dict, dict], None]) -> None:
        """Run every task (a request) on the first free worker, in the given order; ``done(task,
        answer)`` on the coordinator's thread as each finishes."""
        pending = list(reversed(tasks))
        busy: dict[int, dict] = {}
        for i in range(len(self.procs)):
            if pending:
                busy[i] = pending.pop()
                self._send(i, busy[i])
        while busy:
            i, answer = self._next()
            task = busy.pop(i)
            done(task, answer)
            if pending:
                busy[i] = pending.pop()
                self._send(i, busy[i])

    def close(self, *, kill: bool = False) -> None:
        """Ask the workers to stop; kill those that do not within a second (``kill``: at once, e.g.
        when the export was cancelled or failed: a worker may be in the middle of a part)."""
        for proc in self.procs:
            if kill and proc.poll() is None:
                proc.kill()
            elif proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                    proc.stdin.close()
                except (OSError, ValueError):
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError, ValueError):
                        pipe.close()
        self.procs = []


__all__ = [
    "MAX_PARTS",
    "PART_ROWS",
    "Part",
    "WorkerError",
    "WorkerPool",
    "WorkerStartError",
    "part_path",
    "plan_parts",
    "write_part",
]
