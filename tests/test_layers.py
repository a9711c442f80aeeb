"""The layers of docs/architecture.md, kept mechanically.

* import-linter contracts (``[tool.importlinter]`` in pyproject.toml): the library never imports Qt
  or the app, the batch engine imports no domain, the library and app layers import only downwards;
* a fresh interpreter: importing the library pulls in no Qt (also through third-party imports), and
  importing every tab of the app loads no torch (the window appears before torch is imported).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed; it is part of the test extra")
    out = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def _modules_loaded_by(imports: str, prefixes: tuple[str, ...]) -> list[str]:
    code = (
        f"import sys; {imports};"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r})))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_the_library_pulls_in_no_qt():
    imports = "import geoquiz, geoquiz.cli, geoquiz.project, geoquiz.types, geoquiz.db, geoquiz.study.export"
    assert _modules_loaded_by(imports, ("PySide6", "pyqtgraph", "shiboken6")) == []


def test_importing_every_tab_loads_no_torch():
    views = sorted(p.stem for p in (REPO / "ui" / "views").glob("*.py") if p.stem != "__init__")
    imports = "; ".join(f"import ui.views.{name}" for name in views)
    assert _modules_loaded_by(imports, ("torch", "torchvision", "pytorch_grad_cam", "captum")) == []
