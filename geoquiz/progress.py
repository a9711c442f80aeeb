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
