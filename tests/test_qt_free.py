"""The library must stay Qt-free: nothing under geoquiz/ may import PySide6, shiboken6 or pyqtgraph."""

import ast
from pathlib import Path

FORBIDDEN = {"PySide6", "pyqtgraph", "shiboken6"}
ROOT = Path(__file__).resolve().parents[1] / "geoquiz"


def test_geoquiz_never_imports_qt():
    offenders = []
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports {name}")
    assert offenders == []


def test_importing_geoquiz_library_pulls_in_no_qt():
    import subprocess
    import sys

    code = (
        "import sys, geoquiz, geoquiz.cli, geoquiz.project, geoquiz.types, geoquiz.study.db;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph','shiboken6')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
