"""Progress reporting and cooperative cancellation for long-running library functions.

Every slow function in :mod:`geoquiz` takes ``reporter: Reporter | None = None`` and calls
``reporter.step(done, total, message)`` as it goes. ``step`` raises :class:`Cancelled` once the
reporter's cancel token is set, so cancellation is cooperative and happens between steps. The CLI
wraps a reporter around a terminal progress bar; the Qt app wraps one around worker signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised inside a long-running function when its cancel token has been set."""


class CancelToken:
    """A thread-safe flag that a UI or a signal handler sets to stop a job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


ProgressCallback = Callable[[int, int, str], None]


@dataclass
class Reporter:
    """Progress callback plus cancel token. ``callback(done, total, message)``."""

    callback: ProgressCallback | None = None
    token: CancelToken = field(default_factory=CancelToken)

    def step(self, done: int, total: int, message: str = "") -> None:
        """Report progress, then raise :class:`Cancelled` if the job was cancelled."""
        if self.callback is not None:
            self.callback(done, total, message)
        self.token.raise_if_cancelled()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled (no progress report)."""
        self.token.raise_if_cancelled()


def step(reporter: Reporter | None, done: int, total: int, message: str = "") -> None:
    """``reporter.step(...)`` that tolerates ``reporter is None``."""
    if reporter is not None:
        reporter.step(done, total, message)


class Eta:
    """Time left for a job from its progress so far (``update(done, total)``; ``seconds_left``).

    The estimate is the elapsed time since the first update with progress, scaled by the work left:
    ``elapsed * (total - done) / (done - first_done)``; None until there is progress to go by, or
    when ``total`` is unknown (0). ``reset()`` starts over (a new stage of a job).
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.monotonic
        self.reset()

    def reset(self) -> None:
        self._start: float | None = None
        self._first = 0
        self.seconds_left: float | None = None

    def update(self, done: int, total: int) -> float | None:
        now = self._clock()
        if total <= 0:
            self.seconds_left = None
            return None
        if self._start is None or done < self._first:
            self._start, self._first = now, done
            self.seconds_left = None
            return None
        if done > self._first:
            rate = (now - self._start) / (done - self._first)
            self.seconds_left = max(0.0, rate * (total - done))
        return self.seconds_left


def format_eta(seconds: float | None) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``, ``"almost done"``; ``""`` when unknown."""
    if seconds is None:
        return ""
    if seconds < 3:
        return "almost done"
    if seconds < 60:
        return f"about {int(round(seconds / 5.0) * 5) or 5} s left"
    if seconds < 3600:
        return f"about {int(round(seconds / 60.0))} min left"
    return f"about {seconds / 3600.0:.1f} h left"
