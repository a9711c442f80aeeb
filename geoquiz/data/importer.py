"""Dataset import: folder-per-label, OSV-5M-style CSV manifests and 4-view locations.

:func:`store_dataset` (from :mod:`geoquiz.data.store`) writes validated items in one transaction.
"""

from __future__ import annotations

from geoquiz.data.store import delete_dataset, store_dataset

__all__ = ["delete_dataset", "store_dataset"]
