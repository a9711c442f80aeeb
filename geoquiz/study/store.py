"""The installed studies of a project (the ``studies`` table): install a definition file after
checking it against the project (:func:`geoquiz.study.selection.check_study`, and for an ablation
study :func:`geoquiz.study.ablation.check_ablation`), read one back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geoquiz.db import now, transaction
from geoquiz.errors import GeoQuizError
from geoquiz.study.ablation import check_ablation
from geoquiz.study.definition import StudyDefinition, load_study, loads_study
from geoquiz.study.selection import check_study


def install_study(project: Any, path: str | Path, *, replace: bool = False) -> int:
    """Validate ``path`` against ``project`` (a :class:`geoquiz.project.Project` or its database) and
    store it in ``studies``; returns the studies row id.

    Installing the same file again returns the existing id. A changed definition with the same slug
    replaces the stored one only while the study has no sessions, or with ``replace=True``.
    """
    db = getattr(project, "db", project)
    study = load_study(path)
    check_study(db, study)
    check_ablation(db, study)
    text = study.source_text
    with transaction(db):
        row = db.execute("SELECT id, definition_toml FROM studies WHERE slug = ?", [study.slug]).fetchone()
        if row is None:
            cur = db.execute(
                "INSERT INTO studies (slug, title, definition_toml, source_path, created_at) VALUES (?, ?, ?, ?, ?)",
                [study.slug, study.title, text, str(Path(path).resolve()), now()],
            )
            return int(cur.lastrowid)
        study_id, old_text = int(row[0]), row[1]
        if old_text == text:
            return study_id
        n_sessions = db.execute("SELECT COUNT(*) FROM sessions WHERE study_id = ?", [study_id]).fetchone()[0]
        if n_sessions and not replace:
            raise study.error(
                ("slug",),
                f"a different study {study.slug!r} is already installed and has {n_sessions} session(s); "
                "give the changed study a new slug so existing sessions keep their definition",
            )
        db.execute(
            "UPDATE studies SET title = ?, definition_toml = ?, source_path = ? WHERE id = ?",
            [study.title, text, str(Path(path).resolve()), study_id],
        )
        return study_id


def get_study(db: Any, study: int | str) -> tuple[int, StudyDefinition]:
    """The installed study with this id or slug, parsed from the stored TOML."""
    col = "id" if isinstance(study, int) else "slug"
    row = db.execute(f"SELECT id, slug, definition_toml FROM studies WHERE {col} = ?", [study]).fetchone()  # noqa: S608
    if row is None:
        raise GeoQuizError(f"no study {study!r} is installed in this project")
    return int(row[0]), loads_study(row[2], source=f"study {row[1]!r} (installed)")


__all__ = ["get_study", "install_study"]
