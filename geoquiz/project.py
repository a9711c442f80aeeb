"""A GeoQuiz project: a folder holding the database, settings, models, caches and exports.

Layout::

    <root>/project.toml     settings (geoquiz.config)
    <root>/geoquiz.sqlite   the study database (geoquiz.db)
    <root>/datasets/        images GeoQuiz generated (GeoScenes); imported datasets stay in place
    <root>/models/          checkpoints
    <root>/cache/           attribution maps and segmentations (indexed in the database)
    <root>/exports/         CSV / COCO / figure exports
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from geoquiz.config import Settings, load_settings, save_settings
from geoquiz.db import open_database
from geoquiz.errors import ProjectError

DB_NAME = "geoquiz.sqlite"
SETTINGS_NAME = "project.toml"


@dataclass
class Project:
    root: Path
    db: sqlite_utils.Database
    settings: Settings

    @classmethod
    def open(cls, root: str | Path, *, create: bool = False) -> Project:
        """Open the project at ``root``; with ``create=True`` make it if it does not exist."""
        root = Path(root).expanduser().resolve()
        if root.is_file():
            raise ProjectError(f"{root} is a file, not a project folder")
        if not (root / DB_NAME).exists() and not create:
            raise ProjectError(
                f"{root} is not a GeoQuiz project (no {DB_NAME}); create it with `geoquiz init {root}`"
            )
        for sub in ("datasets", "models", "cache", "exports"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        settings = load_settings(root / SETTINGS_NAME)
        if not (root / SETTINGS_NAME).exists():
            save_settings(settings, root / SETTINGS_NAME)
        db = open_database(root / DB_NAME)
        return cls(root=root, db=db, settings=settings)

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def save_settings(self, settings: Settings) -> None:
        save_settings(settings, self.root / SETTINGS_NAME)
        self.settings = settings

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
