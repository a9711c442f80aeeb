"""An ordered top-k pick from a searchable list, usable from the keyboard alone.

Keys: type in the search box to filter the options (case-insensitive; names starting with the text
come first); Down moves into the list; Enter adds the highlighted option (or the first match) to the
guesses. In the guesses list: Ctrl+Up / Ctrl+Down (or Alt+Up / Alt+Down) move the selected guess,
Delete or Backspace removes it. Double-clicking an option adds it; the buttons do the same.

The guess just added is the selected one, so Ctrl+Up right after typing a guess moves it up.
:meth:`GuessPicker.install_shortcuts` makes Ctrl+Up / Ctrl+Down work anywhere inside a larger
widget (the quiz trial installs them on itself), not only in the guesses list.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ORDINALS = ("1st", "2nd", "3rd")


def ordinal(n: int) -> str:
    return ORDINALS[n - 1] if n <= 3 else f"{n}th"


class GuessPicker(QWidget):
    """Pick up to ``k`` options in order. ``changed()`` fires whenever the guesses change."""

    changed = Signal()

    def __init__(self, options: Sequence[str], k: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guessPicker")
        self.options = tuple(options)
        self.k = int(k)
        self._guesses: list[str] = []

        self.search = QLineEdit(self)
        self.search.setObjectName("guessSearch")
        self.search.setPlaceholderText("Type to search, Enter to add")
        self.search.setClearButtonEnabled(True)
        self.option_list = QListWidget(self)
        self.option_list.setObjectName("guessOptions")
        self.option_list.addItems(list(self.options))
        self.picks = QListWidget(self)
        self.picks.setObjectName("guessPicks")
        self.picks.setMaximumHeight(26 * max(self.k, 1) + 8)
        self.hint = QLabel(self)
        self.hint.setObjectName("guessHint")
        self.hint.setWordWrap(True)

        self.add_button = QPushButton("Add ↓", self)
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        self.remove_button = QPushButton("Remove", self)
        for b, name in (
            (self.add_button, "guessAdd"),
            (self.up_button, "guessUp"),
            (self.down_button, "guessDown"),
            (self.remove_button, "guessRemove"),
        ):
            b.setObjectName(name)
            b.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_current)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        self.remove_button.clicked.connect(self.remove_selected)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"<b>Your guesses</b> — up to {self.k}, most likely first", self)
        layout.addWidget(title)
        layout.addWidget(self.search)
        layout.addWidget(self.option_list, 1)
        layout.addWidget(self.add_button)
        layout.addWidget(self.picks)
        row = QHBoxLayout()
        for b in (self.up_button, self.down_button, self.remove_button):
            row.addWidget(b)
        layout.addLayout(row)
        layout.addWidget(self.hint)

        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self.add_current)
        self.option_list.itemDoubleClicked.connect(lambda _item: self.add_current())
        self.search.installEventFilter(self)
        self.option_list.installEventFilter(self)
        self.picks.installEventFilter(self)
        self._filter("")
        self._refresh()

    # -- public API ------------------------------------------------------------------------------
    def install_shortcuts(self, scope: QWidget) -> list[QShortcut]:
        """Ctrl+Up / Ctrl+Down move the selected guess whenever the focus is anywhere inside ``scope``
        (a window shortcut limited to ``scope`` and its children, so it also wins over the key
        handling of whichever widget has the focus)."""
        out = []
        for keys, delta in (("Ctrl+Up", -1), ("Ctrl+Down", 1)):
            shortcut = QShortcut(QKeySequence(keys), scope, context=Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda d=delta: self.move_selected(d))
            shortcut.setObjectName(f"guessShortcut{'Up' if delta < 0 else 'Down'}")
            out.append(shortcut)
        return out

    def guesses(self) -> tuple[str, ...]:
        return tuple(self._guesses)

    def set_guesses(self, guesses: Sequence[str]) -> None:
        self._guesses = [g for g in guesses if g in self.options][: self.k]
        self._refresh()

    def add(self, option: str) -> bool:
        """Append ``option`` to the guesses; False (with a hint) when full, unknown or already there."""
        if option not in self.options or option in self._guesses:
            return False
        if len(self._guesses) >= self.k:
            self.hint.setText(f"You already have {self.k} guesses. Remove one to add another.")
            return False
        self._guesses.append(option)
        self.search.clear()
        self._refresh(select=len(self._guesses) - 1)
        return True

    def add_current(self) -> bool:
        item = self.option_list.currentItem()
        if item is None or item.isHidden():
            item = self._first_visible()
        return self.add(item.text()) if item is not None else False

    def remove_selected(self) -> None:
        row = self.picks.currentRow()
        if 0 <= row < len(self._guesses):
            del self._guesses[row]
            self._refresh(select=min(row, len(self._guesses) - 1))

    def move_selected(self, delta: int) -> None:
        row = self.picks.currentRow()
        new = row + delta
        if 0 <= row < len(self._guesses) and 0 <= new < len(self._guesses):
            self._guesses[row], self._guesses[new] = self._guesses[new], self._guesses[row]
            self._refresh(select=new)

    # -- internals -------------------------------------------------------------------------------
    def _first_visible(self) -> QListWidgetItem | None:
        for i in range(self.option_list.count()):
            item = self.option_list.item(i)
            if not item.isHidden():
                return item
        return None

    def _filter(self, text: str) -> None:
        needle = text.strip().casefold()
        prefix, other = [], []
        for i in range(self.option_list.count()):
            item = self.option_list.item(i)
            name = item.text().casefold()
            visible = item.text() not in self._guesses and (not needle or needle in name)
            item.setHidden(not visible)
            if visible:
                (prefix if name.startswith(needle) else other).append(item)
        first = (prefix or other or [None])[0]
        self.option_list.setCurrentItem(first)
        if first is not None:
            self.option_list.scrollToItem(first)

    def _refresh(self, select: int | None = None) -> None:
        self.picks.clear()
        for n, g in enumerate(self._guesses, 1):
            self.picks.addItem(f"{n}. {g}")
        if select is not None and select >= 0:
            self.picks.setCurrentRow(select)
        self._filter(self.search.text())
        full = len(self._guesses) >= self.k
        left = self.k - len(self._guesses)
        self.hint.setText("Your list is full." if full else f"You can add {left} more.")
        self.add_button.setEnabled(not full)
        self.changed.emit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.KeyPress:
            return False
        key, mods = event.key(), event.modifiers()
        if obj is self.search and key == Qt.Key_Down:
            self.option_list.setFocus()
            if self.option_list.currentItem() is None:
                self.option_list.setCurrentItem(self._first_visible())
            return True
        if obj is self.option_list:
            if key in (Qt.Key_Return, Qt.Key_Enter):
                self.add_current()
                return True
            text = event.text() if isinstance(event, QKeyEvent) else ""
            if text and text.isprintable() and not mods & (Qt.ControlModifier | Qt.AltModifier):
                self.search.setFocus()
                self.search.insert(text)  # typing in the list keeps searching
                return True
        if obj is self.picks:
            if key in (Qt.Key_Delete, Qt.Key_Backspace):
                self.remove_selected()
                return True
            if key in (Qt.Key_Up, Qt.Key_Down) and mods & (Qt.ControlModifier | Qt.AltModifier):
                self.move_selected(-1 if key == Qt.Key_Up else 1)
                return True
        return False
