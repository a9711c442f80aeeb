"""codebook.csv tells, on every text column, that a cell starting with = + - @, a tab or a carriage
return is written with a leading ' (and the columns that never get one do not say so)."""

from __future__ import annotations

import pandas as pd

from geoquiz.csvio import neutralise
from geoquiz.study.export_codebook import NEUTRALISED_NOTE, TABLES


def test_exported_codebook_marks_each_text_column(project, tmp_path):
    from geoquiz.study.export import export_all

    export_all(project, tmp_path / "out")
    book = pd.read_csv(tmp_path / "out" / "codebook.csv", keep_default_na=False)
    assert len(book) == sum(len(cols) for cols in TABLES.values())
    for row in book.itertuples():
        says_so = "leading '" in row.description
        assert says_so == (row.type == "str"), (row.table, row.column)
    rationale = book[(book["table"] == "trials") & (book["column"] == "rationale")]["description"].item()
    assert rationale.endswith(NEUTRALISED_NOTE)
    for prefix in ("=", "+", "-", "@", "tab", "carriage return"):
        assert prefix in NEUTRALISED_NOTE
    # the note states what csvio does
    assert neutralise("=1+1") == "'=1+1" and neutralise("\tx") == "'\tx" and neutralise("a=b") == "a=b"
