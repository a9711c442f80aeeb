"""Concept vocabularies for concept-prompted segmenters (SAM3): short noun phrases, each mapped to
one cue tag of :data:`geoquiz.types.CUE_TAGS` (no torch).

A vocabulary is a TOML file with a ``[concepts]`` table whose keys are cue tags and whose values are
lists of concepts; ``name`` and ``description`` (text) may sit above it::

    name = "my concepts"
    [concepts]
    road_markings = ["yellow centre line", "white dashed centre line"]
    bollards = ["white bollard with a red band"]

GeoQuiz's own vocabulary is ``assets/concepts.toml``; a project can point
``[concepts] vocabulary`` in its ``project.toml`` at its own file (:class:`geoquiz.config.ConceptSettings`).

Rules (checked on load; every problem is reported with its file and line in one
:class:`VocabularyError`): the keys are cue tags; every value is a list of text; a concept is 1 to
:data:`MAX_WORDS` words and at most :data:`MAX_CHARS` characters on one line (SAM3's text encoder
reads 32 tokens); a concept appears once in the whole file (compared case- and space-insensitively);
the file holds at least one concept. Whitespace inside a concept is collapsed to single spaces.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import tomllib

from geoquiz.errors import ConfigError
from geoquiz.paths import assets_dir
from geoquiz.types import CUE_TAGS

MAX_WORDS = 8
MAX_CHARS = 60
TOP_LEVEL_KEYS = ("name", "description", "concepts")


class VocabularyError(ConfigError):
    """A concept vocabulary file is invalid; ``problems`` lists ``(line, message)`` tuples."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(problems)
        line, message = self.problems[0]
        text = f"{source}, line {line}: {message}"
        if len(self.problems) > 1:
            shown = "\n".join(f"  - line {ln}: {msg}" for ln, msg in self.problems[:20])
            more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
            text = f"{source}: {len(self.problems)} problems\n{shown}{more}"
        super().__init__(text)


@dataclass(frozen=True)
class Concept:
    """One concept: the text prompt and its cue tag."""

    text: str
    tag: str


@dataclass(frozen=True)
class Vocabulary:
    """The concepts of one file, in file order (tags in file order, concepts in list order)."""

    concepts: tuple[Concept, ...]
    source: str = ""
    name: str = ""

    def __len__(self) -> int:
        return len(self.concepts)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.concepts)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(c.tag for c in self.concepts)

    @property
    def digest(self) -> str:
        """SHA-1 of the (concept, tag) list: what caches key on (not the file's path or comments)."""
        data = json.dumps([[c.text, c.tag] for c in self.concepts], ensure_ascii=False)
        return hashlib.sha1(data.encode("utf-8")).hexdigest()

    def counts(self) -> dict[str, int]:
        """Concepts per cue tag, in :data:`CUE_TAGS` order (tags without concepts left out)."""
        out = {t: sum(1 for c in self.concepts if c.tag == t) for t in CUE_TAGS}
        return {t: n for t, n in out.items() if n}


def default_vocabulary_path() -> Path:
    """GeoQuiz's own vocabulary, ``assets/concepts.toml``."""
    return assets_dir() / "concepts.toml"


def resolve_vocabulary_path(setting: str, project_root: str | Path | None = None) -> Path:
    """The file a ``[concepts] vocabulary`` setting names ('' = the default; relative paths are
    relative to the project folder)."""
    if not setting or not str(setting).strip():
        return default_vocabulary_path()
    p = Path(str(setting).strip()).expanduser()
    if not p.is_absolute() and project_root is not None:
        p = Path(project_root) / p
    return p


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _Lines:
    """Where keys and strings of a vocabulary file are (tomllib gives values, not positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.table_line: dict[str, int] = {}
        self.key_line: dict[tuple[str, str], int] = {}
        table = ""
        key_re = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")
        for i, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            if line.startswith("[") and not line.startswith("[["):
                table = line.strip("[] ").strip()
                self.table_line.setdefault(table, i)
                continue
            m = key_re.match(raw)
            if m:
                key = next(g for g in m.groups() if g is not None)
                self.key_line.setdefault((table, key), i)

    def of_key(self, table: str, key: str) -> int:
        return self.key_line.get((table, key), self.table_line.get(table, 1))

    def of_string(self, value: str, start: int) -> int:
        """The first line at or after ``start`` holding ``value`` as a quoted string."""
        for i in range(max(start, 1), len(self.lines) + 1):
            line = self.lines[i - 1]
            if f'"{value}"' in line or f"'{value}'" in line:
                return i
        return start


def parse_vocabulary(text: str, source: str = "<vocabulary>") -> Vocabulary:
    """Parse and check a vocabulary's TOML text (see the module docstring for the rules)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else max(1, len(text.splitlines()))  # "at end of document"
        raise VocabularyError(source, [(line, f"TOML syntax error: {exc}")]) from exc
    pos = _Lines(text)
    problems: list[tuple[int, str]] = []
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            problems.append(
                (pos.of_key("", key), f"unknown key {key!r}; expected {', '.join(TOP_LEVEL_KEYS)}")
            )
        elif key != "concepts" and not isinstance(value, str):
            problems.append((pos.of_key("", key), f"{key} must be text"))
    table = data.get("concepts")
    if not isinstance(table, dict):
        line = pos.of_key("", "concepts") if "concepts" in data else max(len(pos.lines), 1)
        problems.append((line, "a [concepts] table of cue tag = [concepts ...] is needed"))
        raise VocabularyError(source, problems)
    concepts: list[Concept] = []
    seen: dict[str, int] = {}
    for tag, values in table.items():
        key_line = pos.of_key("concepts", tag)
        if tag not in CUE_TAGS:
            problems.append((key_line, f"unknown cue tag {tag!r}; expected one of {', '.join(CUE_TAGS)}"))
            continue
        if not isinstance(values, list):
            problems.append((key_line, f"concepts.{tag} must be a list of concepts (text)"))
            continue
        cursor = key_line
        for value in values:
            if not isinstance(value, str):
                problems.append((key_line, f"concepts.{tag}: {value!r} is not text"))
                continue
            line = pos.of_string(value, cursor)
            cursor = line
            text = _normalise(value)
            if not text:
                problems.append((line, f"concepts.{tag}: an empty concept"))
                continue
            if "\n" in value or len(text) > MAX_CHARS or len(text.split()) > MAX_WORDS:
                problems.append(
                    (
                        line,
                        f"concept {text[:40]!r} is too long (at most {MAX_WORDS} words and {MAX_CHARS} "
                        "characters on one line: SAM3 reads short noun phrases)",
                    )
                )
                continue
            folded = text.casefold()
            if folded in seen:
                problems.append((line, f"concept {text!r} is listed twice (first on line {seen[folded]})"))
                continue
            seen[folded] = line
            concepts.append(Concept(text, tag))
    if not concepts and not problems:
        problems.append((pos.table_line.get("concepts", 1), "the vocabulary holds no concepts"))
    if problems:
        raise VocabularyError(source, problems)
    return Vocabulary(tuple(concepts), source, str(data.get("name", "")))


_cache: dict[tuple[str, int, int], Vocabulary] = {}
_lock = threading.Lock()


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Read and check a vocabulary file (default: ``assets/concepts.toml``), memoised per file
    version. Raises :class:`VocabularyError` (file and line) or :class:`ConfigError` (unreadable)."""
    p = Path(path).expanduser() if path else default_vocabulary_path()
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"concept vocabulary {p} cannot be read: {exc.strerror or exc}") from exc
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"concept vocabulary {p} cannot be read as UTF-8 text: {exc}") from exc
    vocab = parse_vocabulary(text, str(p))
    with _lock:
        _cache[key] = vocab
    return vocab


__all__ = [
    "MAX_CHARS",
    "MAX_WORDS",
    "Concept",
    "Vocabulary",
    "VocabularyError",
    "default_vocabulary_path",
    "load_vocabulary",
    "parse_vocabulary",
    "resolve_vocabulary_path",
]
