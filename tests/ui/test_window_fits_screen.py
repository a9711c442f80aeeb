"""The window opens within the screen: on a 1366 x 768 laptop it is no taller than the screen less a
title bar (it used to open 820 px tall, its status bar below the screen's edge), on a large screen at
its default size, centred."""

from __future__ import annotations

from PySide6.QtCore import QRect

from ui.app import TITLE_BAR, fit_to
from ui.context import AppContext
from ui.main_window import MainWindow


def test_the_window_fits_a_laptop_screen_and_keeps_its_size_on_a_large_one(qtbot):
    window = MainWindow(AppContext())
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == (1280, 820)  # the default
    fit_to(window, QRect(0, 0, 1366, 768))
    assert window.width() == 1280 and window.height() == 768 - TITLE_BAR
    assert window.x() >= 0 and window.y() == 0 and window.x() + window.width() <= 1366
    big = MainWindow(AppContext())
    qtbot.addWidget(big)
    fit_to(big, QRect(0, 0, 1920, 1080))
    assert (big.width(), big.height()) == (1280, 820) and (big.x(), big.y()) == (320, 114)
