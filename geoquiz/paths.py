"""Where GeoQuiz keeps its files outside a project."""

from __future__ import annotations

import os
from pathlib import Path


def geoquiz_home() -> Path:
    """``$GEOQUIZ_HOME`` or ``~/.geoquiz``: holds the demo project and the last-opened project."""
    return Path(os.environ.get("GEOQUIZ_HOME") or Path.home() / ".geoquiz")


def demo_project_dir() -> Path:
    return geoquiz_home() / "demo"


def repo_root() -> Path:
    """The source checkout (``assets/`` and ``studies/`` live there)."""
    return Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    return repo_root() / "assets"


def studies_dir() -> Path:
    return repo_root() / "studies"
