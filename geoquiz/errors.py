"""Exceptions with messages meant for people: each names what is wrong and where."""

from __future__ import annotations

import re


class GeoQuizError(Exception):
    """Base class; the CLI prints ``str(exc)`` and exits 2, the app shows it in a message box."""


class DatasetImportError(GeoQuizError):
    """Raised by :mod:`geoquiz.data` importers. ``problems`` lists every bad row or file found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            shown = "\n".join(f"  - {p}" for p in self.problems[:20])
            more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
            message = f"{message}\n{shown}{more}"
        super().__init__(message)


class ProjectError(GeoQuizError):
    """A project folder or database is missing, unreadable, foreign or too new."""


class CheckpointError(GeoQuizError):
    """A model or segmenter checkpoint is missing, corrupt, foreign or for other classes."""


class StudyDefinitionError(GeoQuizError):
    """A study TOML file is invalid; the message names the file, line and field."""


class ConfigError(GeoQuizError):
    """A settings file is invalid."""


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def torch_load_refusal(exc: BaseException) -> str:
    """A short reason for a ``torch.load(..., weights_only=True)`` refusal, without torch's advice to
    retry with ``weights_only=False`` (which would run the file's code): the class or function the file
    asks to unpickle when torch names it, else the error's last meaningful line."""
    text = str(exc)
    found = _UNSUPPORTED_GLOBAL.search(text)
    if found:
        return f"it asks to unpickle {found.group(1)}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if "weights_only" not in ln and "trust" not in ln and "two options" not in ln]
    line = keep[-1] if keep else type(exc).__name__
    return line.split(". ")[0].rstrip(".")[:200]
