"""Line numbers of keys in a TOML document (tomllib reports lines only for syntax errors).

:func:`key_lines` scans the source text once and maps every key path to the 1-based line where it
is written: table headers (``("items",)``), keys (``("responses", "top_k")``), array elements
(``("items", "keys", 2)``) and array-of-tables entries (``("attention", 0, "key")``). Strings,
multi-line strings, comments, arrays and inline tables are skipped correctly, so text inside a
consent form that looks like ``key = value`` is never mistaken for a key. The scanner assumes the
document already parsed with :mod:`tomllib` (it is lenient, not a validator).
"""

from __future__ import annotations

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

KeyPath = tuple[str | int, ...]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.array_counts: dict[KeyPath, int] = {}

    # -- low level -------------------------------------------------------------------------------
    def peek(self, k: int = 1) -> str:
        return self.text[self.i : self.i + k]

    def advance(self, k: int = 1) -> None:
        self.line += self.text.count("\n", self.i, self.i + k)
        self.i += k

    def skip_ws(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.advance((len(self.text) if end < 0 else end) - self.i)
            else:
                return

    def skip_line(self) -> None:
        end = self.text.find("\n", self.i)
        self.advance((len(self.text) if end < 0 else end) - self.i)

    def read_string(self) -> str:
        """Consume one string literal of any of the four kinds; return its raw content."""
        for quote in ('"""', "'''"):
            if self.peek(3) == quote:
                self.advance(3)
                start = self.i
                while self.i < len(self.text):
                    if quote == '"""' and self.text[self.i] == "\\":
                        self.advance(2)
                    elif self.peek(3) == quote:
                        while self.peek(4) == quote + quote[0]:  # up to two quotes may end the content
                            self.advance()
                        content = self.text[start : self.i]
                        self.advance(3)
                        return content
                    else:
                        self.advance()
                return self.text[start:]
        quote = self.text[self.i]
        self.advance()
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in (quote, "\n"):
            self.advance(2 if quote == '"' and self.text[self.i] == "\\" else 1)
        content = self.text[start : self.i]
        self.advance()
        return content

    def read_key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_ws(newlines=False)
            c = self.peek()
            if c in ('"', "'"):
                parts.append(self.read_string())
            else:
                start = self.i
                while self.i < len(self.text) and self.text[self.i] in _BARE:
                    self.advance()
                parts.append(self.text[start : self.i])
            self.skip_ws(newlines=False)
            if self.peek() == ".":
                self.advance()
                continue
            return tuple(parts)

    # -- values ----------------------------------------------------------------------------------
    def skip_value(self, path: KeyPath) -> None:
        c = self.peek()
        if c in ('"', "'"):
            self.read_string()
        elif c == "[":
            self.advance()
            index = 0
            while self.i < len(self.text):
                self.skip_ws(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.lines.setdefault(path + (index,), self.line)
                self.skip_value(path + (index,))
                self.skip_ws(newlines=True)
                if self.peek() == ",":
                    self.advance()
                index += 1
        elif c == "{":
            self.advance()
            while self.i < len(self.text):
                self.skip_ws(newlines=False)
                if self.peek() == "}":
                    self.advance()
                    return
                key = self.read_key()
                self.lines.setdefault(path + key, self.line)
                self.skip_ws(newlines=False)
                if self.peek() == "=":
                    self.advance()
                self.skip_ws(newlines=False)
                self.skip_value(path + key)
                self.skip_ws(newlines=False)
                if self.peek() == ",":
                    self.advance()
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.advance()

    # -- document --------------------------------------------------------------------------------
    def resolve(self, keys: tuple[str, ...], *, new_array_entry: bool) -> KeyPath:
        """Full path of a table header, inserting the current index of enclosing arrays of tables."""
        path: KeyPath = ()
        for n, key in enumerate(keys):
            path = path + (key,)
            last = n == len(keys) - 1
            if last and new_array_entry:
                index = self.array_counts.get(path, -1) + 1
                self.array_counts[path] = index
                path = path + (index,)
            elif path in self.array_counts:
                path = path + (self.array_counts[path],)
        return path

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self.skip_ws(newlines=True)
            if self.i >= len(self.text):
                return self.lines
            line = self.line
            if self.peek() == "[":
                is_array = self.peek(2) == "[["
                self.advance(2 if is_array else 1)
                table = self.resolve(self.read_key(), new_array_entry=is_array)
                self.lines.setdefault(table, line)
                self.skip_line()
                continue
            key = self.read_key()
            path = table + key
            self.lines.setdefault(path, line)
            self.skip_ws(newlines=False)
            if self.peek() == "=":
                self.advance()
            self.skip_ws(newlines=False)
            self.skip_value(path)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path in TOML ``text`` to the 1-based line it is written on."""
    return _Scanner(text).scan()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """Line of ``path``, else of its closest written ancestor (a table header), else 1."""
    for n in range(len(path), 0, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return 1


def field_name(path: KeyPath) -> str:
    """``("items", "keys", 2)`` -> ``"items.keys[2]"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
