"""Named, transactional schema migrations.

Each migration is a module ``mNNNN_<name>.py`` in this package defining ``NAME`` (a unique string,
conventionally the module name without the ``m``) and ``apply(db: sqlite_utils.Database)``. They run
in file-name order, each inside one transaction together with its row in ``_migrations``; a failure
rolls the migration back whole. To change the schema, add a new module; never edit an applied one.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Migration:
    name: str
    module: ModuleType

    def apply(self, db) -> None:
        self.module.apply(db)


def all_migrations() -> list[Migration]:
    """Every migration module in this package, in order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("m"))
    out = []
    for modname in names:
        module = importlib.import_module(f"{__name__}.{modname}")
        out.append(Migration(getattr(module, "NAME", modname[1:]), module))
    return out
