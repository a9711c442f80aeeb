"""The project database: pragmas, named migrations, transactions, foreign and corrupt files."""

import sqlite3
from pathlib import Path

import pytest

from geoquiz import db as dbm
from geoquiz.db.migrations import all_migrations
from geoquiz.errors import ProjectError


def test_new_database_has_every_table_and_records_migrations(tmp_path):
    db = dbm.open_database(tmp_path / "p.sqlite")
    tables = set(db.table_names())
    expected = {
        "datasets",
        "classes",
        "images",
        "locations",
        "planted_cues",
        "models",
        "predictions",
        "attribution_maps",
        "segmentations",
        "elements",
        "evaluation_runs",
        "evaluation_results",
        "studies",
        "participants",
        "sessions",
        "trials",
        "guesses",
        "cue_boxes",
        "_migrations",
    }
    assert expected <= tables
    assert dbm.applied_migrations(db) == [m.name for m in all_migrations()]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_older_schema_is_migrated_on_open(tmp_path):
    path = tmp_path / "old.sqlite"
    first = all_migrations()[0].name
    old = dbm.open_database(path, upto=first)
    assert dbm.applied_migrations(old) == [first]
    assert "views_shown" not in old["trials"].columns_dict
    # data written by the old schema: a dataset with classes and an answered trial
    t = "2026-01-01T00:00:00"
    old.execute(
        "INSERT INTO datasets (name, kind, source, created_at) VALUES ('osv', 'single', 'csv', ?)", [t]
    )
    old.execute("INSERT INTO classes (dataset_id, name, idx) VALUES (1, 'France', 0), (1, 'Japan', 1)")
    old.execute(
        "INSERT INTO studies (slug, title, definition_toml, created_at) VALUES ('s', 'S', '', ?)", [t]
    )
    old.execute("INSERT INTO participants (study_id, code, created_at) VALUES (1, 'P-1', ?)", [t])
    old.execute(
        "INSERT INTO sessions (study_id, participant_id, seed, order_json, started_at) VALUES (1, 1, 5, '[]', ?)",
        [t],
    )
    old.execute(
        "INSERT INTO trials (session_id, position, kind, true_label, shown_at, submitted_at, response_time_ms, rationale) "
        "VALUES (1, 0, 'main', 'France', ?, ?, 4200, 'yellow lines')",
        [t, t],
    )
    old.conn.commit()
    old.conn.close()
    db = dbm.open_database(path)
    assert dbm.applied_migrations(db) == [m.name for m in all_migrations()]
    assert "views_shown" in db["trials"].columns_dict
    assert db.execute("SELECT name FROM classes ORDER BY idx").fetchall() == [("France",), ("Japan",)]
    assert db.execute(
        "SELECT true_label, response_time_ms, rationale, views_shown FROM trials"
    ).fetchall() == [("France", 4200, "yellow lines", "")]


def test_transaction_rolls_back_whole(memdb):
    with pytest.raises(RuntimeError):
        with dbm.transaction(memdb):
            dbm.insert(
                memdb, "datasets", {"name": "a", "kind": "single", "source": "x", "created_at": dbm.now()}
            )
            raise RuntimeError("boom")
    assert memdb.execute("SELECT count(*) FROM datasets").fetchone()[0] == 0


def test_nested_transaction_is_a_savepoint(memdb):
    with dbm.transaction(memdb):
        dbm.insert(memdb, "datasets", {"name": "a", "kind": "single", "source": "x", "created_at": dbm.now()})
        with pytest.raises(ValueError):
            with dbm.transaction(memdb):
                dbm.insert(
                    memdb, "datasets", {"name": "b", "kind": "single", "source": "x", "created_at": dbm.now()}
                )
                raise ValueError
    assert [r[0] for r in memdb.execute("SELECT name FROM datasets")] == ["a"]


def test_insert_rejects_unknown_columns(memdb):
    with pytest.raises(KeyError, match="no column"):
        dbm.insert(memdb, "datasets", {"name; DROP TABLE x": 1})


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="not a GeoQuiz project"):
        dbm.open_database(path)


def test_non_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database at all" * 10)
    with pytest.raises(ProjectError, match="not a SQLite database"):
        dbm.open_database(path)


def test_database_from_newer_geoquiz_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    db = dbm.open_database(path)
    db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('9999_future', 'x')")
    db.conn.close()
    with pytest.raises(ProjectError, match="newer GeoQuiz"):
        dbm.open_database(path)


def test_a_database_written_before_the_db_package_move_opens_unchanged(tmp_path):
    """``premove_geoquiz.sqlite`` was written by GeoQuiz at 943f074, when the database code lived in
    ``geoquiz/study/db.py``: its migration record, rows and settings read back as they were, and the
    migrations added since apply on top."""
    import shutil

    from geoquiz.project import Project

    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(
        Path(__file__).parent / "data" / "fixtures_db" / "premove_geoquiz.sqlite", root / "geoquiz.sqlite"
    )
    with Project.open(root) as project:
        applied = dbm.applied_migrations(project.db)
        assert applied[:5] == [
            "0001_initial",
            "0002_trial_views",
            "0040_explain",
            "0050_faithfulness",
            "0070_agreement",
        ]
        assert applied == [m.name for m in all_migrations()]
        rows = project.db.execute("SELECT key, label, split FROM images ORDER BY key").fetchall()
        assert rows == [
            ("france_0", "France", "test"),
            ("india_1", "India", "test"),
            ("japan_2", "Japan", "test"),
        ]
        assert dbm.get_setting(project.db, "kiosk_note") == "written before the move"
        assert project.db.execute("SELECT name FROM datasets").fetchall() == [("premove",)]
