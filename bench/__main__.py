"""Run every benchmark module in bench/ in turn (``python -m bench``)."""

import importlib
import pkgutil
import sys
from pathlib import Path

if __name__ == "__main__":
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")
    )
    wanted = sys.argv[1:] or names
    for name in wanted:
        print(f"\n=== bench.{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        module.main([])
