"""Study definition files (``studies/*.toml``): load and validate them (pure: no database).

The schema is documented in ``docs/study_schema.md``. :func:`load_study` checks a file on its own
(types, ranges, known keys, answer lists); :func:`geoquiz.study.store.install_study` also checks it
against a project
(the dataset exists and has the right kind, fixed keys exist, the sample can be drawn, every true
label is an answer option) and then stores it in the ``studies`` table. Every problem is reported as
``<file>, line <n>, field <a.b>: <what is wrong>`` in one :class:`StudyDefinitionError` whose
``problems`` attribute lists ``(line, field, message)`` tuples. TOML syntax errors carry tomllib's
own line and column.

Participant texts (title, consent, instructions, thank-you) may use placeholders such as
``{n_pictures}`` or ``{time_limit}`` (:mod:`geoquiz.study.placeholders`); the definition holds them
filled in, and an unknown placeholder is a definition error like any other.

Choices where the papers are silent (all settings): the default split is ``test``; top-k defaults to
5 (paper 003, section 6.1); the confidence scale is a 1..5 Likert scale; feedback is off.

``[trials] ablation`` (:mod:`geoquiz.study.ablation_spec`) makes the study show each item with the
model's evidence removed, matched random boxes removed, or intact (:mod:`geoquiz.study.ablation`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from geoquiz.errors import StudyDefinitionError
from geoquiz.paths import assets_dir
from geoquiz.study.ablation_spec import AblationSpec, read_ablation
from geoquiz.study.placeholders import PlaceholderError, fill, placeholder_values
from geoquiz.study.tomlpos import KeyPath, field_name, key_lines, line_of
from geoquiz.types import VIEWS

SCHEMA_VERSION = 1
#: Named answer lists -> files in ``assets/``. ``dataset`` means the dataset's own classes.
ANSWER_LISTS: dict[str, str | None] = {
    "countries": "countries.txt",
    "us_states": "us_states.txt",
    "geoscenes": "geoscenes_countries.txt",
    "dataset": None,
}
SPLIT_CHOICES = ("train", "val", "test", "all")
SELECTION_METHODS = ("stratified", "fixed")
MAX_TOP_K = 20
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ItemSelection:
    """Which dataset items become trials.

    ``keys`` are image keys (single-view datasets) or location keys (4-view datasets). ``split``
    None means every split. ``practice_keys`` / ``attention_keys``, when given, fix those trials;
    otherwise practice items are drawn at random from ``practice_split`` and attention items are the
    most obvious remaining ones (the most planted cues), both with ``seed``.
    """

    dataset: str
    split: str | None = "test"
    method: str = "stratified"
    seed: int = 0
    keys: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    practice_keys: tuple[str, ...] = ()
    practice_split: str | None = "test"
    attention_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseSpec:
    """What a participant is asked on each trial."""

    top_k: int = 5
    min_guesses: int = 1
    rationale: bool = True
    rationale_required: bool = False
    cue_boxes: bool = True
    confidence: bool = True
    confidence_levels: int = 5
    confidence_required: bool = True


@dataclass(frozen=True)
class StudyDefinition:
    """A validated study. ``answer_options`` is empty when ``answer_list == "dataset"`` (the
    dataset's classes, resolved at install and session time). ``views`` is empty for single-view
    studies. ``time_limit_s`` 0 means no limit."""

    slug: str
    title: str
    consent_text: str
    instructions: str
    items: ItemSelection
    n_trials: int
    description: str = ""
    consent_accept_label: str = "I have read the information above and I agree to take part"
    consent_decline_label: str = "I do not agree"
    thank_you: str = "Thank you for taking part!"
    n_practice: int = 0
    n_attention: int = 0
    views: tuple[str, ...] = ()
    time_limit_s: int = 0
    randomise: bool = True
    feedback: bool = False
    answer_list: str = "dataset"
    answer_options: tuple[str, ...] = ()
    responses: ResponseSpec = field(default_factory=ResponseSpec)
    ablation: AblationSpec | None = None
    source: str = "<study>"
    source_text: str = field(default="", repr=False, compare=False)

    @property
    def n_total(self) -> int:
        """Every trial, practice included."""
        return self.n_trials + self.n_practice + self.n_attention

    @property
    def n_pictures(self) -> int:
        """The pictures numbered "Picture x of N" after the practice: main trials and attention
        checks (which look like any other picture). The one count participants are told."""
        return self.n_trials + self.n_attention

    def error(self, path: KeyPath, message: str) -> StudyDefinitionError:
        """A :class:`StudyDefinitionError` pointing at ``path`` in this study's source."""
        lines = key_lines(self.source_text) if self.source_text else {}
        return _make_error(self.source, [(line_of(lines, path), field_name(path), message)])


def _make_error(source: str, problems: list[tuple[int, str, str]]) -> StudyDefinitionError:
    problems = sorted(problems)
    if len(problems) == 1:
        line, fname, msg = problems[0]
        where = f"{source}, line {line}" + (f", field {fname}" if fname else "")
        text = f"{where}: {msg}"
    else:
        text = f"{source}: {len(problems)} problems\n" + "\n".join(
            f"  - line {line}" + (f", field {fname}" if fname else "") + f": {msg}"
            for line, fname, msg in problems
        )
    exc = StudyDefinitionError(text)
    exc.problems = problems  # type: ignore[attr-defined]
    exc.source = source  # type: ignore[attr-defined]
    return exc


def read_answer_list(name: str) -> tuple[str, ...]:
    """The options of a named list in ``assets/`` (comments and blank lines skipped)."""
    filename = ANSWER_LISTS[name]
    if filename is None:
        return ()
    path = assets_dir() / filename
    lines = (ln.strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return tuple(ln for ln in lines if ln and not ln.startswith("#"))


class _Reader:
    """Typed access to the parsed TOML that records every problem with its line."""

    def __init__(self, data: dict[str, Any], text: str) -> None:
        self.data = data
        self.lines = key_lines(text)
        self.problems: list[tuple[int, str, str]] = []
        self.bad: set[str] = set()

    def problem(self, path: KeyPath, message: str, *, line: int | None = None) -> None:
        self.problems.append((line or line_of(self.lines, path), field_name(path), message))
        self.bad.add(field_name(path))

    def ok(self, *paths: KeyPath) -> bool:
        """No problem was recorded for any of ``paths``."""
        return not any(field_name(p) in self.bad for p in paths)

    def table(self, name: str, known: set[str], *, required: bool = True) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem((name,), f"missing table [{name}]")
            return {}
        if not isinstance(value, dict):
            self.problem((name,), f"must be a table ([{name}]), got {type(value).__name__}")
            return {}
        self.unknown(value, known, (name,))
        return value

    def unknown(self, table: dict[str, Any], known: set[str], prefix: KeyPath) -> None:
        for key in table:
            if key not in known:
                self.problem(prefix + (key,), f"unknown field; expected one of {', '.join(sorted(known))}")

    def get(self, table: dict, path: KeyPath, kind: str, default: Any = ..., **check: Any) -> Any:
        key = path[-1]
        if key not in table:
            if default is ...:
                self.problem(path, "missing required field")
            return None if default is ... else default
        value = table[key]
        ok = {
            "str": isinstance(value, str),
            "text": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "strlist": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[kind]
        if not ok:
            expected = {"str": "a string", "text": "a string", "int": "an integer", "bool": "true or false"}
            self.problem(path, f"must be {expected.get(kind, 'a list of strings')}, got {value!r}")
            return None if default is ... else default
        if kind == "text" and not value.strip():
            self.problem(path, "must not be empty")
        if kind == "int" and not check.get("lo", -(2**63)) <= value <= check.get("hi", 2**63):
            self.problem(path, f"must be between {check.get('lo')} and {check.get('hi')}, got {value}")
            return None if default is ... else default
        if "choices" in check and value not in check["choices"]:
            self.problem(path, f"must be one of {', '.join(map(repr, check['choices']))}, got {value!r}")
            return None if default is ... else default
        if kind == "strlist":
            seen: set[str] = set()
            for n, v in enumerate(value):
                if not v.strip():
                    self.problem(path + (n,), "must not be empty")
                elif v in seen:
                    self.problem(path + (n,), f"{v!r} is listed twice")
                seen.add(v)
            return tuple(value)
        return value


TOP_KEYS = {"schema", "slug", "title", "description", "consent", "instructions", "thank_you", "items"}
TOP_KEYS |= {"trials", "answers", "responses"}


def loads_study(text: str, source: str = "<study>") -> StudyDefinition:
    """Parse and validate study TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else 1
        raise _make_error(source, [(line, "", f"TOML syntax error: {exc}")]) from exc
    r = _Reader(data, text)
    r.unknown(data, TOP_KEYS, ())
    schema = r.get(data, ("schema",), "int", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        r.problem(("schema",), f"this GeoQuiz reads schema {SCHEMA_VERSION}, the file says {schema}")
    slug = r.get(data, ("slug",), "str")
    if slug is not None and not _SLUG.match(slug):
        r.problem(
            ("slug",),
            f"must be 1-64 lower-case letters, digits, '-' or '_' (starting with a letter or digit), got {slug!r}",
        )
    title = r.get(data, ("title",), "text")
    description = r.get(data, ("description",), "str", "")

    consent = r.table("consent", {"text", "accept_label", "decline_label"})
    consent_text = r.get(consent, ("consent", "text"), "text") if consent or "consent" in data else None
    accept = r.get(consent, ("consent", "accept_label"), "text", StudyDefinition.consent_accept_label)
    decline = r.get(consent, ("consent", "decline_label"), "text", StudyDefinition.consent_decline_label)
    instr = r.table("instructions", {"text"})
    instructions = r.get(instr, ("instructions", "text"), "text") if instr or "instructions" in data else None
    thanks = r.table("thank_you", {"text"}, required=False)
    thank_you = r.get(thanks, ("thank_you", "text"), "text", StudyDefinition.thank_you)

    items, n_trials = _read_items(r, data)
    trials = r.table(
        "trials",
        {"count", "practice", "attention", "time_limit_s", "views", "randomise", "feedback", "ablation"},
    )
    count = r.get(
        trials,
        ("trials", "count"),
        "int",
        len(items.keys) if items and items.method == "fixed" else ...,
        lo=1,
        hi=10_000,
    )
    fixed_ok = items is not None and items.method == "fixed" and items.keys and r.ok(("items", "keys"))
    if fixed_ok and count is not None and count != len(items.keys):
        r.problem(
            ("trials", "count"),
            f"is {count} but items.keys lists {len(items.keys)} items (a fixed selection uses all of them)",
        )
    n_practice = r.get(trials, ("trials", "practice"), "int", 0, lo=0, hi=100)
    n_attention = r.get(trials, ("trials", "attention"), "int", 0, lo=0, hi=100)
    if items is not None and items.practice_keys and n_practice != len(items.practice_keys):
        r.problem(
            ("trials", "practice"),
            f"is {n_practice} but items.practice_keys lists {len(items.practice_keys)}",
        )
    if items is not None and items.attention_keys and n_attention != len(items.attention_keys):
        r.problem(
            ("trials", "attention"),
            f"is {n_attention} but items.attention_keys lists {len(items.attention_keys)}",
        )
    time_limit = r.get(trials, ("trials", "time_limit_s"), "int", 0, lo=0, hi=3600)
    views = r.get(trials, ("trials", "views"), "strlist", ())
    for n, view in enumerate(views or ()):
        if view not in VIEWS:
            r.problem(("trials", "views", n), f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if "views" in trials and not views:
        r.problem(("trials", "views"), "must list at least one view (or be left out for single-view studies)")
    randomise = r.get(trials, ("trials", "randomise"), "bool", True)
    feedback = r.get(trials, ("trials", "feedback"), "bool", False)
    ablation = read_ablation(r, trials)

    answer_list, options = _read_answers(r, data)
    responses = _read_responses(r, data, options)

    texts = {
        ("title",): title,
        ("consent", "text"): consent_text,
        ("consent", "accept_label"): accept,
        ("consent", "decline_label"): decline,
        ("instructions", "text"): instructions,
        ("thank_you", "text"): thank_you,
    }
    values = placeholder_values(
        n_trials=count if count is not None else n_trials,
        n_practice=n_practice,
        n_attention=n_attention,
        time_limit_s=time_limit,
        top_k=responses.top_k,
        min_guesses=responses.min_guesses,
        confidence_levels=responses.confidence_levels,
        views=tuple(v for v in VIEWS if v in (views or ())),
    )
    for path, raw in texts.items():
        if isinstance(raw, str) and r.ok(path):
            try:
                texts[path] = fill(raw, values)
            except PlaceholderError as exc:
                r.problem(path, str(exc), line=_token_line(text, line_of(r.lines, path), exc.token))

    if r.problems:
        raise _make_error(source, r.problems)
    return StudyDefinition(
        slug=slug,
        title=texts[("title",)],
        description=description,
        consent_text=texts[("consent", "text")],
        consent_accept_label=texts[("consent", "accept_label")],
        consent_decline_label=texts[("consent", "decline_label")],
        instructions=texts[("instructions", "text")],
        thank_you=texts[("thank_you", "text")],
        items=items,
        n_trials=count if count is not None else n_trials,
        n_practice=n_practice,
        n_attention=n_attention,
        views=tuple(v for v in VIEWS if v in (views or ())),
        time_limit_s=time_limit,
        randomise=randomise,
        feedback=feedback,
        answer_list=answer_list,
        answer_options=options,
        responses=responses,
        ablation=ablation,
        source=source,
        source_text=text,
    )


def _token_line(source: str, start: int, token: str) -> int:
    """The line (1-based) at or after ``start`` where ``token`` is written, else ``start``."""
    if token:
        lines = source.splitlines()
        for n in range(start - 1, len(lines)):
            if token in lines[n]:
                return n + 1
    return start


def _read_items(r: _Reader, data: dict) -> tuple[ItemSelection | None, int]:
    known = {"dataset", "split", "selection", "seed", "keys", "labels", "practice_keys", "practice_split"}
    t = r.table("items", known | {"attention_keys"})
    if not t and "items" not in data:
        return None, 0
    dataset = r.get(t, ("items", "dataset"), "text")
    split = r.get(t, ("items", "split"), "str", "test", choices=SPLIT_CHOICES)
    method = r.get(t, ("items", "selection"), "str", "stratified", choices=SELECTION_METHODS)
    keys = r.get(t, ("items", "keys"), "strlist", ())
    labels = r.get(t, ("items", "labels"), "strlist", ())
    if method == "fixed":
        if "keys" not in t:
            r.problem(("items", "keys"), "missing: a fixed selection lists the item keys to show")
        elif not keys and isinstance(t.get("keys"), list):
            r.problem(("items", "keys"), "must list at least one item key")
        if "labels" in t:
            r.problem(("items", "labels"), "only applies to selection = 'stratified'")
        seed = r.get(t, ("items", "seed"), "int", 0)
    else:
        if "keys" in t:
            r.problem(
                ("items", "keys"),
                "only applies to selection = 'fixed' (set selection = \"fixed\" or remove keys)",
            )
        seed = r.get(t, ("items", "seed"), "int")
    practice_keys = r.get(t, ("items", "practice_keys"), "strlist", ())
    practice_split = r.get(t, ("items", "practice_split"), "str", split, choices=SPLIT_CHOICES)
    attention_keys = r.get(t, ("items", "attention_keys"), "strlist", ())
    for name, group in (("practice_keys", practice_keys), ("attention_keys", attention_keys)):
        for n, key in enumerate(group or ()):
            if key in (keys or ()):
                r.problem(("items", name, n), f"item {key!r} is also a main trial (items.keys)")
    for n, key in enumerate(attention_keys or ()):
        if key in (practice_keys or ()):
            r.problem(("items", "attention_keys", n), f"item {key!r} is also a practice item")
    sel = ItemSelection(
        dataset=dataset or "",
        split=None if split == "all" else split,
        method=method or "stratified",
        seed=seed if seed is not None else 0,
        keys=keys or (),
        labels=labels or (),
        practice_keys=practice_keys or (),
        practice_split=None if practice_split == "all" else practice_split,
        attention_keys=attention_keys or (),
    )
    return sel, len(sel.keys)


def _read_answers(r: _Reader, data: dict) -> tuple[str, tuple[str, ...]]:
    t = r.table("answers", {"list", "options"}, required=False)
    if "list" in t and "options" in t:
        r.problem(("answers", "options"), "give either answers.list or answers.options, not both")
    if "options" in t:
        options = r.get(t, ("answers", "options"), "strlist")
        if options is not None and len(options) < 2:
            r.problem(("answers", "options"), "must list at least two answer options")
        return "inline", options or ()
    name = r.get(t, ("answers", "list"), "str", "dataset", choices=tuple(ANSWER_LISTS))
    return name, read_answer_list(name)


def _read_responses(r: _Reader, data: dict, options: tuple[str, ...]) -> ResponseSpec:
    d = ResponseSpec()
    t = r.table("responses", set(d.__dataclass_fields__), required=False)
    top_k = r.get(t, ("responses", "top_k"), "int", d.top_k, lo=1, hi=MAX_TOP_K)
    if options and top_k > len(options) and r.ok(("responses", "top_k")):
        r.problem(("responses", "top_k"), f"is {top_k} but there are only {len(options)} answer options")
    min_guesses = r.get(t, ("responses", "min_guesses"), "int", d.min_guesses, lo=0, hi=MAX_TOP_K)
    if min_guesses > top_k and r.ok(("responses", "top_k"), ("responses", "min_guesses")):
        r.problem(("responses", "min_guesses"), f"is {min_guesses}, more than top_k = {top_k}")
    levels = r.get(t, ("responses", "confidence_levels"), "int", d.confidence_levels, lo=2, hi=11)
    return ResponseSpec(
        top_k=top_k,
        min_guesses=min_guesses,
        rationale=r.get(t, ("responses", "rationale"), "bool", d.rationale),
        rationale_required=r.get(t, ("responses", "rationale_required"), "bool", d.rationale_required),
        cue_boxes=r.get(t, ("responses", "cue_boxes"), "bool", d.cue_boxes),
        confidence=r.get(t, ("responses", "confidence"), "bool", d.confidence),
        confidence_levels=levels,
        confidence_required=r.get(t, ("responses", "confidence_required"), "bool", d.confidence_required),
    )


def load_study(path: str | Path) -> StudyDefinition:
    """Read and validate a study file. Raises :class:`StudyDefinitionError` (file, line, field)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StudyDefinitionError(f"{path}: no such study file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyDefinitionError(f"{path}: cannot read the study file ({exc})") from exc
    return loads_study(text, source=str(path))
