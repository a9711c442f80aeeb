"""Placeholders in the texts participants read (consent, instructions, thank-you): ``{n_pictures}``,
``{time_limit}`` ... are filled from the study definition, so a text can never disagree with what
the kiosk does.

One source of truth for counting: a participant's pictures are numbered "Picture x of N" (4-view:
"Place x of N") where N = ``{n_pictures}`` = main trials + attention checks (attention checks look
like any other picture, so they are numbered with them). Practice pictures come first and are
numbered on their own ("Practice picture x of P", P = ``{n_practice}``). ``{n_trials}`` is the
``trials.count`` field itself (main trials only).

Syntax is Python's ``str.format`` without format specs: ``{name}`` is replaced, ``{{`` and ``}}`` are
literal braces. An unknown name, a format spec (``{n_trials:3}``) or an unmatched brace is a study
definition error naming the line and field.
"""

from __future__ import annotations

import string

#: Every placeholder and what it stands for (shown in error messages and docs/study_schema.md).
PLACEHOLDERS: dict[str, str] = {
    "n_pictures": "pictures after the practice, as numbered on screen (trials.count + trials.attention)",
    "n_trials": "main trials (trials.count)",
    "n_attention": "attention checks (trials.attention)",
    "n_practice": "practice pictures (trials.practice)",
    "n_total": "every picture, practice included",
    "time_limit": "the time per picture in words, e.g. '90 seconds' (only with a time limit)",
    "time_limit_s": "the time per picture in seconds (only with a time limit)",
    "top_k": "the most guesses a participant may give (responses.top_k)",
    "min_guesses": "the fewest guesses needed to submit (responses.min_guesses)",
    "confidence_levels": "the top of the confidence scale (responses.confidence_levels)",
    "n_views": "views shown per place (4-view studies)",
    "views": "the views shown, e.g. 'north, east, south and west' (4-view studies)",
}


def duration_words(seconds: int) -> str:
    """``90`` -> ``"90 seconds"``, ``120`` -> ``"2 minutes"``, ``150`` -> ``"2 minutes 30 seconds"``."""
    if seconds < 120 and seconds % 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    m, s = divmod(seconds, 60)
    words = f"{m} minute{'s' if m != 1 else ''}"
    return words + (f" {s} second{'s' if s != 1 else ''}" if s else "")


def _and(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def placeholder_values(
    *,
    n_trials: int,
    n_practice: int,
    n_attention: int,
    time_limit_s: int,
    top_k: int,
    min_guesses: int,
    confidence_levels: int,
    views: tuple[str, ...],
) -> dict[str, str | None]:
    """The text of every placeholder for one study; None where it does not apply (no time limit,
    a single-view study), which makes using it an error."""
    return {
        "n_pictures": str(n_trials + n_attention),
        "n_trials": str(n_trials),
        "n_attention": str(n_attention),
        "n_practice": str(n_practice),
        "n_total": str(n_trials + n_attention + n_practice),
        "time_limit": duration_words(time_limit_s) if time_limit_s else None,
        "time_limit_s": str(time_limit_s) if time_limit_s else None,
        "top_k": str(top_k),
        "min_guesses": str(min_guesses),
        "confidence_levels": str(confidence_levels),
        "n_views": str(len(views)) if views else None,
        "views": _and(views) if views else None,
    }


_NOT_APPLICABLE = {
    "time_limit": "the study has no time limit (trials.time_limit_s = 0)",
    "time_limit_s": "the study has no time limit (trials.time_limit_s = 0)",
    "n_views": "the study shows single pictures (no trials.views)",
    "views": "the study shows single pictures (no trials.views)",
}


class PlaceholderError(ValueError):
    """A bad placeholder; ``token`` is the offending text as written (``{n_trails}``), or "" for an
    unmatched brace."""

    def __init__(self, message: str, token: str = "") -> None:
        super().__init__(message)
        self.token = token


def _brace_line(text: str) -> str:
    """The (stripped) line of ``text`` holding its first unmatched brace ("" if none is found)."""
    i, depth_start = 0, -1
    while i < len(text):
        c = text[i]
        if depth_start < 0 and text.startswith(("{{", "}}"), i):
            i += 2
            continue
        if c == "{":
            if depth_start >= 0:
                break
            depth_start = i
        elif c == "}":
            if depth_start < 0:
                depth_start = i
                break
            depth_start = -1
        i += 1
    if depth_start < 0:
        return ""
    start = text.rfind("\n", 0, depth_start) + 1
    end = text.find("\n", depth_start)
    return text[start : end if end >= 0 else len(text)].strip()


def fill(text: str, values: dict[str, str | None]) -> str:
    """``text`` with every ``{name}`` replaced. Raises :class:`PlaceholderError` naming the offending
    placeholder (unknown, not applicable to this study, formatted, or an unmatched brace)."""
    out = []
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise PlaceholderError(f"{exc} (write {{{{ and }}}} for literal braces)", _brace_line(text)) from None
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in values:
            known = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
            raise PlaceholderError(
                f"unknown placeholder {shown}; expected one of {known} (write {{{{ and }}}} for literal braces)",
                shown,
            )
        if spec or conversion:
            raise PlaceholderError(f"placeholder {shown} takes no format; write {{{name}}}", shown)
        value = values[name]
        if value is None:
            raise PlaceholderError(f"placeholder {shown} cannot be used: {_NOT_APPLICABLE[name]}", shown)
        out.append(value)
    return "".join(out)
