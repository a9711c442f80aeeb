"""Content hashes of files (checkpoints, images): the identity that caches and workers key on."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_hash(path: str | os.PathLike) -> str:
    """SHA-1 of a file's content, memoised per (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    h = hashlib.sha1()
    with open(p, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    with _hash_lock:
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


__all__ = ["file_hash"]
