"""The GUI-thread garbage rule of :mod:`ui.workers`: no worker ever destroys a Qt object."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, Qt

from ui.workers import MainThreadGC, start


def test_qt_garbage_is_collected_on_the_gui_thread_not_in_a_worker(qtbot):
    assert not gc.isenabled()  # the tests install the app's guard (tests/conftest.py)
    destroyed_in: list[str] = []
    obj = QObject()
    obj.cycle = obj  # a reference cycle: only the cyclic collector can free it
    obj.destroyed.connect(
        lambda *_: destroyed_in.append(threading.current_thread().name), Qt.DirectConnection
    )
    del obj

    def allocate(reporter=None):  # far past the collector's first threshold, and kept alive
        return [[i] for i in range(200_000)]

    worker = start(allocate)
    qtbot.waitUntil(lambda: worker.is_done, timeout=10000)
    assert len(worker.result) == 200_000
    qtbot.waitUntil(lambda: destroyed_in != [], timeout=5000)  # the guard's timer collected it
    assert destroyed_in == [threading.main_thread().name]


def test_the_guard_collects_the_generation_that_is_due_and_restores_the_collector(qtbot):
    gc.collect()
    guard = MainThreadGC(interval_ms=60_000)
    try:
        assert guard.check() is None  # nothing allocated since the collection
        junk = [[i] for i in range(guard.threshold[0] + 100)]
        assert guard.check() == 0 and len(junk)
    finally:
        guard.stop()
    assert not gc.isenabled()  # the test's own guard (conftest) is still on
