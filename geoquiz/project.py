"""A GeoQuiz project: a folder holding the database, settings, models, caches and exports.

Layout::

    <root>/project.toml     settings (geoquiz.config)
    <root>/geoquiz.sqlite   the study database (geoquiz.db)
    <root>/datasets/        images GeoQuiz generated (GeoScenes); imported datasets stay in place
    <root>/models/          checkpoints
    <root>/cache/           attribution maps and segmentations (indexed in the database)
    <root>/exports/         CSV / COCO / figure exports

A project that cannot be written (its folder or database file without write permission, a
read-only mount, or ``read_only=True``) opens **read-only**: nothing is created or migrated, the
database is opened through a ``mode=ro`` URI, and every change raises
:class:`geoquiz.db.ReadOnlyProject`; listing, browsing, review and export (to a writable folder)
work. Opening also applies the project's ``[limits]`` (image pixel limit, database lock wait).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from geoquiz.config import Settings, load_settings, save_settings, set_max_image_pixels
from geoquiz.db import ReadOnlyProject, open_database
from geoquiz.errors import ProjectError

DB_NAME = "geoquiz.sqlite"
SETTINGS_NAME = "project.toml"


def unwritable_reason(root: Path) -> str | None:
    """Why the project at ``root`` cannot be written (None when it can): the folder or the database
    file lacks write permission, or sits on a read-only mount (``os.access``; note that root passes
    permission checks, though not a read-only mount)."""
    db = root / DB_NAME
    if root.exists() and not os.access(root, os.W_OK):
        return f"the project folder {root} is not writable"
    if db.exists() and not os.access(db, os.W_OK):
        return f"the database file {db} is not writable"
    return None


@dataclass
class Project:
    root: Path
    db: sqlite_utils.Database
    settings: Settings
    read_only: str | None = None  # why the project is open read-only (None: writable)

    @classmethod
    def open(cls, root: str | Path, *, create: bool = False, read_only: bool | None = None) -> Project:
        """Open the project at ``root``; with ``create=True`` make it if it does not exist.

        ``read_only``: True opens it read-only, False insists on writing (a read-only folder is an
        error), None (default) opens it read-only when it cannot be written (see the module doc).
        """
        root = Path(root).expanduser().resolve()
        if root.is_file():
            raise ProjectError(f"{root} is a file, not a project folder")
        exists = (root / DB_NAME).exists()
        if not exists and not create:
            raise ProjectError(
                f"{root} is not a GeoQuiz project (no {DB_NAME}); create it with `geoquiz init {root}`"
            )
        reason = "opened read-only" if read_only else unwritable_reason(root)
        if reason and (not exists or read_only is False):
            raise ProjectError(
                f"cannot {'create' if not exists else 'write'} the project at {root}: {reason}"
            )
        settings = load_settings(root / SETTINGS_NAME)
        if not reason:
            for sub in ("datasets", "models", "cache", "exports"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            if not (root / SETTINGS_NAME).exists():
                save_settings(settings, root / SETTINGS_NAME)
        set_max_image_pixels(settings.limits.max_image_pixels)
        db = open_database(root / DB_NAME, lock_wait_s=settings.limits.lock_wait_s, read_only=reason)
        return cls(root=root, db=db, settings=settings, read_only=reason)

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def save_settings(self, settings: Settings) -> None:
        if self.read_only:
            raise ReadOnlyProject(
                f"the project at {self.root} is open read-only ({self.read_only}); its settings cannot be saved"
            )
        save_settings(settings, self.root / SETTINGS_NAME)
        self.settings = settings

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
