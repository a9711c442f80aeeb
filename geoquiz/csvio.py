"""Tabular files written safely: CSV cells a spreadsheet would run as a formula are neutralised,
and every file is written atomically (a temp file beside the target, flushed, fsynced, then
``os.replace``-d). UTF-8 without BOM; CRLF row ends (RFC 4180), so a text cell holding a CR or LF is
always quoted and reads back as one cell.

Used by every export (study data, faithfulness runs, agreement); pandas only, no database.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

#: Leading characters that make a spreadsheet evaluate a text cell.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix a text value that a spreadsheet would evaluate (``=1+1``, ``+1``, ``-1``, ``@x``,
    tab, CR) with a single quote; anything else (numbers, None, plain text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`neutralise` applied to every text cell (numeric columns untouched)."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(neutralise).astype(object)
    return out


def atomic_write(path: str | Path, write: Callable[[Any], None]) -> Path:
    """Write a text file atomically: ``write(fh)`` into a unique temp file beside ``path`` (UTF-8,
    no newline translation), flushed and fsynced, then ``os.replace``-d over ``path``. On any error
    the temp file is removed and ``path`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as a neutralised UTF-8 CSV, atomically."""
    safe = neutralise_frame(df)
    return atomic_write(Path(path), lambda fh: safe.to_csv(fh, index=False, lineterminator="\r\n"))


def write_json(data: Any, path: str | Path) -> Path:
    return atomic_write(Path(path), lambda fh: json.dump(data, fh, ensure_ascii=False, indent=1))


__all__ = ["FORMULA_PREFIXES", "atomic_write", "neutralise", "neutralise_frame", "write_csv", "write_json"]
