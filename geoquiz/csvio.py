"""Tabular files written safely: CSV cells a spreadsheet would run as a formula are neutralised,
and every file is written atomically (a temp file beside the target, flushed, fsynced, then
``os.replace``-d). UTF-8 without BOM; CRLF row ends (RFC 4180), so a text cell holding a CR or LF is
always quoted and reads back as one cell.

The one place for both rules, used by every export (study data, faithfulness runs, agreement):

* frames: :func:`write_csv` (:func:`neutralise_frame`, vectorised per column);
* streamed rows (large tables, never held whole): :func:`write_rows` writes chunks of row tuples as
  they come from a database cursor. Their text cells are neutralised by the query itself with
  :func:`neutralise_sql` (SQLite applies the rule in C as it reads; :func:`risky_sql` finds the
  columns that need it), or one by one with :func:`neutralise` for cells computed in Python. Both
  writers format a cell alike (``DataFrame.to_csv``'s formatting: None / NaN empty, ``repr`` of a
  float, ``str`` of the rest), so a table streamed from SQL and the same table written as a frame
  are the same bytes.

No database here: the SQL is only an expression string.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a frame is written (export workers never need it)
    import pandas as pd

#: Leading characters that make a spreadsheet evaluate a text cell.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix a text value that a spreadsheet would evaluate (``=1+1``, ``+1``, ``-1``, ``@x``,
    tab, CR) with a single quote; anything else (numbers, None, plain text) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def risky_sql(expr: str) -> str:
    """An SQLite condition: is the value of ``expr`` TEXT that :func:`neutralise` would change?
    (A GLOB character class of :data:`FORMULA_PREFIXES`, ``-`` last so it is literal; about twice as
    fast as ``unicode()``.)"""
    chars = sorted(FORMULA_PREFIXES, key=lambda c: c == "-")
    if any(c in "[]^*?'" or len(c) != 1 for c in chars):  # pragma: no cover - a constant above
        raise ValueError("FORMULA_PREFIXES cannot be written as a GLOB class")
    return f"({expr} GLOB '[{''.join(chars)}]*' AND typeof({expr}) = 'text')"


def neutralise_sql(expr: str) -> str:
    """An SQLite expression for the value of ``expr`` neutralised as :func:`neutralise` does: a TEXT
    value starting with one of :data:`FORMULA_PREFIXES` gets a leading ``'``; numbers, NULL and other
    text are unchanged. ``expr`` is evaluated up to three times: pass a column, not a subquery. A
    query may leave it out for a column where :func:`risky_sql` holds for no value of its source."""
    return f"(CASE WHEN {risky_sql(expr)} THEN '''' || {expr} ELSE {expr} END)"


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`neutralise` applied to every text cell (numeric columns untouched),
    vectorised: one ``str.startswith`` per column, the quote added to the matching cells only."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        cells = series.astype(object)
        try:
            risky = series.str.startswith(FORMULA_PREFIXES, na=False).astype(bool)
        except AttributeError:  # no text in the column (all None, or numbers in an object column)
            risky = None
        if risky is not None and risky.any():
            cells = cells.where(~risky, "'" + cells[risky].astype(str))
        out[col] = cells
    return out


def atomic_write(path: str | Path, write: Callable[[Any], None]) -> Path:
    """Write a text file atomically: ``write(fh)`` into a unique temp file beside ``path`` (UTF-8,
    no newline translation, 1 MiB buffer), flushed and fsynced, then ``os.replace``-d over ``path``.
    On any error the temp file is removed and ``path`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
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


def write_rows(
    path: str | Path, header: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
) -> tuple[Path, int]:
    """Write a CSV atomically from ``chunks`` (an iterable of lists of row tuples, e.g. successive
    ``cursor.fetchmany`` results), holding one chunk at a time. Cells are written as given: None
    empty, str as is, int ``str``, float ``repr`` (what :func:`write_csv` writes for the same
    values); text cells must come neutralised (:func:`neutralise_sql`, :func:`neutralise`).
    Returns the path and the number of rows written."""
    count = 0

    def write(fh: Any) -> None:
        nonlocal count
        csv.writer(fh, lineterminator="\r\n").writerow(header)
        count = write_body(fh, chunks)

    return atomic_write(Path(path), write), count


def write_body(fh: Any, chunks: Iterable[Sequence[Sequence[Any]]]) -> int:
    """Write ``chunks`` of rows to the text file ``fh`` (opened with ``newline=""``) as
    :func:`write_rows` does, without a header; returns the number of rows. For a table written in
    parts (:mod:`geoquiz.study.export_parts`), each part is a body and :func:`write_joined` joins them."""
    writer, count = csv.writer(fh, lineterminator="\r\n"), 0
    for chunk in chunks:
        writer.writerows(chunk)
        count += len(chunk)
    return count


def write_joined(path: str | Path, header: Sequence[str], parts: Iterable[str | Path]) -> Path:
    """Write a CSV atomically: ``header``, then the bytes of the files ``parts`` in order (bodies
    written by :func:`write_body`); the same file :func:`write_rows` writes for all their rows."""

    def write(fh: Any) -> None:
        csv.writer(fh, lineterminator="\r\n").writerow(header)
        fh.flush()
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, fh.buffer, 1 << 20)
        fh.buffer.flush()

    return atomic_write(Path(path), write)


def write_json(data: Any, path: str | Path) -> Path:
    return atomic_write(Path(path), lambda fh: json.dump(data, fh, ensure_ascii=False, indent=1))


__all__ = [
    "FORMULA_PREFIXES",
    "atomic_write",
    "neutralise",
    "neutralise_frame",
    "neutralise_sql",
    "risky_sql",
    "write_csv",
    "write_body",
    "write_joined",
    "write_json",
    "write_rows",
]
