"""Every query the export, the Review tab and the Dashboards run finds its rows through an index
where it filters or joins: ``EXPLAIN QUERY PLAN`` of each statement they really execute (captured
with a trace callback on their snapshot connections) on the bench's study, small.

A plan passes when

* every join's inner loop and every correlated subquery SEARCHes (an index or the rowid), never
  SCANs, and SQLite never builds an AUTOMATIC index (that is a missing one);
* a full SCAN is only the outer loop of a read that wants (nearly) the whole table: the export's
  tables and its one-pass column profiles, and the main trials of every study for the item list and
  the dashboards (``kind = 'main'`` keeps almost every row; an index would not help). Filtering by a
  study, an item or a model must SEARCH.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3

import pytest

from bench._study_data import build
from geoquiz.project import Project
from geoquiz.study import snapshot
from geoquiz.study.export import export_all
from geoquiz.study.export_tables import prepare
from geoquiz.study.review_data import ItemRef

_TABLE = re.compile(
    r"\b(?:FROM|JOIN)\s+\[?(\w+)\]?(?:\s+(?:AS\s+)?(?!ON\b|JOIN\b|WHERE\b|LEFT\b|ORDER\b|GROUP\b)(\w+))?",
    re.I,
)
EVERY_TABLE = None  # an allowance: any table may be read whole


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory):
    """The bench's study, small; the images of img0 and loc1 get real pixel files (the Review reads them)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("plans") / "proj"
    build(root, 6, 4, 8, 2)
    with Project.open(root) as project:
        rows = project.db.execute(
            "SELECT i.id, i.key, i.width, i.height FROM images i LEFT JOIN locations l ON l.id = i.location_id "
            "WHERE i.key = 'img0' OR l.key = 'loc1'"
        ).fetchall()
        for image_id, key, width, height in rows:
            path = root / "pixels" / f"{key}.png"
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (width, height), (90, 120, 60)).save(path)
            project.db.execute("UPDATE images SET path = ? WHERE id = ?", [str(path), image_id])
    return root


@pytest.fixture
def traced(monkeypatch):
    """The SELECT statements run on every snapshot connection opened while the fixture is active."""
    statements: list[str] = []
    one, several = snapshot.read_snapshot, snapshot.read_snapshots

    @contextlib.contextmanager
    def tracing(db_path, **kwargs):
        with one(db_path, **kwargs) as conn:
            conn.set_trace_callback(statements.append)
            yield conn

    @contextlib.contextmanager
    def tracing_several(db_path, n, **kwargs):
        with several(db_path, n, **kwargs) as conns:
            for conn in conns:
                conn.set_trace_callback(statements.append)
            yield conns

    monkeypatch.setattr(snapshot, "read_snapshot", tracing)
    monkeypatch.setattr(snapshot, "read_snapshots", tracing_several)
    return statements


def _aliases(sql: str) -> dict[str, str]:
    out = {}
    for table, alias in _TABLE.findall(sql):
        out[alias or table] = table
        out[table] = table
    return out


def _problems(conn: sqlite3.Connection, sql: str, whole: set[str] | None) -> list[str]:
    plan = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    nodes = {row[0]: (row[1], row[3]) for row in plan}
    aliases = _aliases(sql)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    problems = []
    for node, (parent, detail) in nodes.items():
        if "AUTOMATIC" in detail:
            problems.append(f"builds an automatic index: {detail}")
        if not detail.startswith("SCAN ") or detail.startswith(("SCAN (", "SCAN CONSTANT")):
            continue
        table = aliases.get(detail.split()[1], detail.split()[1])
        if table not in tables:  # a subquery's rows (co-routine or materialised), not a table
            continue
        loops = [n for n, (p, d) in sorted(nodes.items()) if p == parent and d.startswith(("SCAN", "SEARCH"))]
        enclosing = nodes.get(parent, (0, ""))[1]
        if loops[0] != node:
            problems.append(f"joins {table} without an index: {detail}")
        elif enclosing.startswith("CORRELATED"):
            problems.append(f"scans {table} once per row: {detail} in {enclosing}")
        elif whole is not EVERY_TABLE and table not in whole:
            problems.append(f"filters {table} without an index: {detail}")
    return problems


def _check(db_path, statements: list[str], whole: set[str] | None, *, at_least: int) -> None:
    selects = [s for s in dict.fromkeys(statements) if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    selects = [s for s in selects if "sqlite_master" not in s]
    assert len(selects) >= at_least, selects  # the path really ran its queries
    conn = sqlite3.connect(str(db_path))
    prepare(conn)  # the export's SQL functions, for its statements to compile
    try:
        problems = {s[:160]: p for s in selects if (p := _problems(conn, s, whole))}
    finally:
        conn.close()
    assert problems == {}


def test_export_plans(bench_root, traced, tmp_path):
    with Project.open(bench_root) as project:
        export_all(project, tmp_path / "out")
        db_path = project.db_path
    # the export reads every row of its tables and profiles whole columns: scans as outer loops only
    _check(db_path, traced, EVERY_TABLE, at_least=15)


@pytest.mark.parametrize(
    ("study", "whole"), [(None, {"trials", "studies"}), ("big4", set())], ids=["all-studies", "one-study"]
)
def test_review_and_dashboard_plans(bench_root, traced, study, whole):
    from ui.views.dashboard_view import load_job
    from ui.views.review_view import items_job, load_item_job

    with Project.open(bench_root) as project:
        db_path = str(project.db_path)
        image = project.db.execute("SELECT id FROM images WHERE key = 'img0'").fetchone()[0]
        location = project.db.execute("SELECT id FROM locations WHERE key = 'loc1'").fetchone()[0]
    items = items_job(db_path, study)
    assert items
    _check(db_path, traced, whole, at_least=1)
    traced.clear()
    for model in ("m", "m4", None):
        load_job(db_path, model, study)
    _check(db_path, traced, whole, at_least=8)
    traced.clear()
    # selecting an item reads that item's rows only: no scan of any table, whatever the study
    for ref, model in ((ItemRef("image", image), "m"), (ItemRef("location", location), "m4")):
        bundle = load_item_job(db_path, ref, model, study, "gradcam", "default")
        assert bundle.views and (bundle.prediction is not None or study is not None)
    _check(db_path, traced, set(), at_least=8)


def test_every_part_of_every_table_is_read_through_an_index(bench_root):
    """A large export is written in parts (``WHERE key >= :lo AND key < :hi``, one per worker
    request): each part SEARCHes its key range (the rowid or an index), and never scans a table."""
    from geoquiz.study.export_codebook import EXPORTS
    from geoquiz.study.export_tables import SPECS, table_sql

    conn = snapshot.begin_reader(Project.open(bench_root).db_path)
    prepare(conn)
    try:
        statements = []
        for name in (n for n in EXPORTS if n in SPECS):
            found = table_sql(conn, name, safe=True, ranged=True)
            assert found is not None and ":lo" in found[0]
            statements.append(found[0].replace(":lo", "2").replace(":hi", "9"))  # a part's bounds
    finally:
        conn.close()
    _check(Project.open(bench_root).db_path, statements, set(), at_least=9)
