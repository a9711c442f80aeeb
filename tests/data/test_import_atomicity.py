"""All or nothing: a failed, cancelled or refused import leaves the whole database exactly as before."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_png

from geoquiz.data import dataset as ds
from geoquiz.data.importer import import_folder
from geoquiz.db import insert, now, transaction
from geoquiz.errors import DatasetImportError
from geoquiz.progress import Cancelled, Reporter


def _dump(db) -> list[str]:
    return list(db.conn.iterdump())


@pytest.fixture
def tree(tmp_path):
    for label in ("a", "b"):
        for i in range(4):
            write_png(tmp_path / "t" / label / f"{i}.png", np.full((4, 5, 3), 40 * i, np.uint8))
    return tmp_path / "t"


def test_cancel_during_the_checks_writes_nothing(project, tree):
    import_folder(project, "old", tree)
    before = _dump(project.db)
    reporter = Reporter()
    seen = []

    def callback(done, total, message):
        seen.append(message)
        if message.startswith("checking images (") and done >= 1:
            reporter.token.cancel()

    reporter.callback = callback
    with pytest.raises(Cancelled):
        import_folder(project, "new", tree, reporter=reporter)
    assert any(m.startswith("checking images") for m in seen)
    assert _dump(project.db) == before


def test_replace_refused_when_quiz_trials_use_the_images(project, tree):
    import_folder(project, "d", tree)
    image_id = ds.load_items(project.db, "d")[0].id
    db = project.db
    with transaction(db):
        study = insert(db, "studies", {"slug": "s", "title": "S", "definition_toml": "", "created_at": now()})
        who = insert(db, "participants", {"study_id": study, "code": "P1", "created_at": now()})
        session = insert(
            db,
            "sessions",
            {"study_id": study, "participant_id": who, "seed": 0, "order_json": "[]", "started_at": now()},
        )
        insert(
            db,
            "trials",
            {
                "session_id": session,
                "position": 0,
                "kind": "main",
                "image_id": image_id,
                "true_label": "a",
                "shown_at": now(),
                "submitted_at": now(),
                "response_time_ms": 100,
            },
        )
    before = _dump(db)
    with pytest.raises(DatasetImportError, match="1 recorded quiz trial"):
        import_folder(project, "d", tree, replace=True)
    assert _dump(db) == before


def test_strict_failure_after_earlier_imports_keeps_the_whole_file_identical(project, tree):
    import_folder(project, "first", tree, seed=1)
    (tree / "a" / "9.png").write_bytes(b"\x89PNG broken")
    before = _dump(project.db)
    for kwargs in ({}, {"replace": True}, {"classes": ["a"]}):
        with pytest.raises(DatasetImportError, match="9.png"):
            import_folder(project, "first" if kwargs.get("replace") else "second", tree, **kwargs)
        assert _dump(project.db) == before
