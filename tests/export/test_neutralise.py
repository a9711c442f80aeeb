"""Formula neutralisation: text a spreadsheet would run gets a leading quote; numbers stay numbers."""

import csv
import sqlite3

import numpy as np
import pandas as pd
import pytest
from fixtures.review_seed import FixedEvidence

from geoquiz import csvio
from geoquiz.agreement import AgreementConfig, compute_agreement
from geoquiz.study import export as ex


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+44 123", "'+44 123"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
        ("'=already", "'=already"),
        ("日本", "日本"),
        (-3, -3),
        (-0.25, -0.25),
        (None, None),
    ],
)
def test_neutralise_values(value, expected):
    assert csvio.neutralise(value) == expected


def test_neutralise_frame_leaves_numbers_alone():
    df = pd.DataFrame(
        {
            "n": pd.array([-1, None, 3], dtype="Int64"),
            "f": [-0.5, np.nan, 2.0],
            "s": ["-x", "=y", None],
            "mixed": pd.Series([-7, "=z", "ok"], dtype=object),
        }
    )
    out = csvio.neutralise_frame(df)
    assert out["n"].dtype == df["n"].dtype and out["f"].dtype == df["f"].dtype
    assert list(out["s"][:2]) == ["'-x", "'=y"] and pd.isna(out["s"][2])
    assert list(out["mixed"]) == [-7, "'=z", "ok"]
    assert list(df["s"][:2]) == ["-x", "=y"]  # the input is not modified


def test_no_exported_cell_can_run_as_a_formula(seeded, tmp_path):
    project, _ = seeded
    compute_agreement(
        project, "m1", study="pilot", evidence=FixedEvidence(project.db), config=AgreementConfig(n_boot=20)
    )
    ex.export_all(project, tmp_path / "out")
    negative_numbers = 0
    quoted = set()
    for path in (tmp_path / "out").glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell.startswith(csvio.FORMULA_PREFIXES):
                        float(cell)  # only a plain number may start with - or +
                        negative_numbers += 1
                    if cell.startswith("'"):
                        quoted.add(cell[:2])
    assert negative_numbers > 0  # e.g. the negative Fleiss' kappa and the faithfulness seed -3
    assert {"'=", "'+", "'-", "'@", "'\t", "'\r"} <= quoted
    raw = (tmp_path / "out" / "faithfulness.csv").read_text(encoding="utf-8")
    assert ",-3," in raw  # written as a bare number, not quoted


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+44 123",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "a=b",
        " =x",
        "",
        "'=already",
        "日本",
        "-",
        "[x",
        -3,
        -0.25,
        7,
        None,
    ],
)
def test_sql_neutralisation_matches_python(value):
    """csvio.neutralise_sql (what the streaming export runs in SQLite) does what neutralise does."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (?)", [value])
    sql = f"SELECT {csvio.neutralise_sql('x')}, {csvio.risky_sql('x')} FROM t"  # noqa: S608 - SQL from csvio
    got, risky = conn.execute(sql).fetchone()
    assert got == csvio.neutralise(value) and type(got) is type(value)
    assert bool(risky) == (csvio.neutralise(value) != value)
