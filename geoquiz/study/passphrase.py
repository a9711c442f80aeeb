"""The researcher's passphrase, which guards leaving the participant kiosk.

Stored in ``project_settings`` under :data:`SETTING_KEY` as a salted scrypt hash, never in clear:
``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (n = 2**14, r = 8, p = 1, 16-byte random salt, 32-byte
hash; about 16 MiB and a few tens of milliseconds per check). Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from geoquiz.db import get_setting, set_setting, transaction
from geoquiz.errors import GeoQuizError

SETTING_KEY = "researcher_passphrase"
MIN_LENGTH = 4
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def hash_passphrase(passphrase: str, *, salt: bytes | None = None) -> str:
    """Salted scrypt hash of ``passphrase`` in the stored format."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_hash(stored: str, passphrase: str) -> bool:
    """True when ``passphrase`` matches the stored hash (False for a malformed record)."""
    try:
        algo, n, r, p, salt_hex, hash_hex = stored.split("$")
        if algo != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            passphrase.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def has_passphrase(db: Any) -> bool:
    """Whether the project has a researcher passphrase."""
    return bool(get_setting(db, SETTING_KEY))


def set_passphrase(db: Any, passphrase: str) -> None:
    """Set (or replace) the researcher passphrase. Raises GeoQuizError if it is too short."""
    if len(passphrase.strip()) < MIN_LENGTH:
        raise GeoQuizError(f"the researcher passphrase must have at least {MIN_LENGTH} characters")
    record = hash_passphrase(passphrase)
    with transaction(db):
        set_setting(db, SETTING_KEY, record)


def verify_passphrase(db: Any, passphrase: str) -> bool:
    """True when ``passphrase`` is the project's researcher passphrase (False if none is set)."""
    stored = get_setting(db, SETTING_KEY)
    return bool(stored) and check_hash(stored, passphrase)
