"""The main window fits a laptop: at 1366x768 and 1024x700 every tab is usable and nothing is cut.

For each tab: the window takes the size asked for (its minimum size is below it), and no visible
control (label, button, check box, combo box, spin box, line edit) is squeezed below its minimum
size hint, which is what cuts "Rationales" to "ales" or hides a value.
"""

from __future__ import annotations

import pytest
from fixtures.layout import squeezed as _squeezed
from PySide6.QtWidgets import QTabWidget


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)], ids=["1366x768", "1024x700"])
def test_every_tab_fits_without_squeezing(qtbot, seeded, size, tmp_path):
    from ui.context import AppContext
    from ui.main_window import MainWindow
    from ui.workers import wait_all

    project, _ = seeded
    window = MainWindow(AppContext(project))
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    hint = window.minimumSizeHint()
    assert hint.width() <= size[0] and hint.height() <= size[1], hint
    tabs = window.findChild(QTabWidget)
    problems = {}
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        qtbot.wait(30)
        assert (window.width(), window.height()) == size
        bad = _squeezed(tabs.widget(i))
        if bad:
            problems[tabs.tabText(i)] = bad
        window.grab().save(str(tmp_path / f"{tabs.tabText(i)}_{size[0]}.png"))
    wait_all(10000)
    assert problems == {}
