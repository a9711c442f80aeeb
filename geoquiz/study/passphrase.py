"""The researcher's passphrase, which guards leaving the participant kiosk, and its policy.

Policy (docs/limits.md):

* at least :data:`MIN_LENGTH` (8) characters, not counting spaces at the ends;
* stored in ``project_settings`` under :data:`SETTING_KEY` as a salted scrypt hash, never in clear:
  ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` with n = 2**17, r = 8, p = 1 (128 MiB of memory and
  a fraction of a second to a second or two per check), a 16-byte random salt and a 32-byte hash;
  comparison is constant-time. Records made with other parameters (earlier GeoQuiz versions used n = 2**14)
  still verify, and are re-hashed with the current ones on the next successful unlock;
* wrong tries are counted in ``project_settings`` (:data:`FAILURES_KEY`: count and time of the last
  one), so restarting the app does not reset them. The first :data:`FREE_TRIES` - 1 wrong tries cost
  nothing; from the :data:`FREE_TRIES`-th on, the next try is refused (without checking it) until
  :func:`delay_after` seconds have passed: 5 s, then 10, 20, 40 ... up to 15 minutes. A right
  passphrase clears the count;
* changing it needs the current one (:func:`change_passphrase`); :func:`reset_passphrase` replaces
  it without (the CLI's ``geoquiz study passphrase --reset``, for a researcher who lost it: anyone who
  can write the project folder can do that anyway).

The kiosk and the launcher call :func:`try_passphrase` and show its :attr:`Attempt.message`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from geoquiz.db import get_setting, set_setting, transaction
from geoquiz.errors import GeoQuizError

SETTING_KEY = "researcher_passphrase"
FAILURES_KEY = "researcher_passphrase_failures"
MIN_LENGTH = 8
FREE_TRIES = 5
BASE_DELAY_S = 5.0
MAX_DELAY_S = 15 * 60.0
_N, _R, _P, _DKLEN = 2**17, 8, 1, 32
_MAXMEM = (
    256 * 1024 * 1024
)  # scrypt needs 128 * n * r bytes = 128 MiB at n = 2**17; OpenSSL's default cap is 32 MiB


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try: ``ok``; ``message`` for the person at the keyboard ("" when ok);
    ``wait_s``: seconds before the next try is accepted. True in a boolean context when ``ok``."""

    ok: bool
    message: str = ""
    wait_s: float = 0.0

    def __bool__(self) -> bool:
        return self.ok


def hash_passphrase(passphrase: str, *, salt: bytes | None = None) -> str:
    """Salted scrypt hash of ``passphrase`` in the stored format (current parameters)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM
    )
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_hash(stored: str, passphrase: str) -> bool:
    """True when ``passphrase`` matches the stored hash, whatever its scrypt parameters (False for a
    malformed record or parameters beyond the memory cap)."""
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
            maxmem=_MAXMEM,
        )
    except (ValueError, TypeError, OverflowError):
        return False
    return hmac.compare_digest(digest, expected)


def needs_rehash(stored: str) -> bool:
    """True when a stored record was made with other parameters than the current ones."""
    return stored.split("$")[:4] != ["scrypt", str(_N), str(_R), str(_P)]


def delay_after(failures: int) -> float:
    """Seconds the next try must wait after ``failures`` wrong tries in a row: none before
    :data:`FREE_TRIES`, then :data:`BASE_DELAY_S` doubling with each further one, at most :data:`MAX_DELAY_S`."""
    if failures < FREE_TRIES:
        return 0.0
    return min(BASE_DELAY_S * 2.0 ** (failures - FREE_TRIES), MAX_DELAY_S)


def failures(db: Any) -> tuple[int, float]:
    """``(wrong tries in a row, time of the last one as Unix seconds)`` (persisted in the project)."""
    try:
        data = json.loads(get_setting(db, FAILURES_KEY) or "{}")
        return int(data.get("count", 0)), float(data.get("last", 0.0))
    except (ValueError, TypeError, AttributeError):
        return 0, 0.0


def _wait_text(seconds: float) -> str:
    s = math.ceil(seconds)
    return f"{s} s" if s < 120 else f"{math.ceil(s / 60)} min"


def has_passphrase(db: Any) -> bool:
    """Whether the project has a researcher passphrase."""
    return bool(get_setting(db, SETTING_KEY))


def check_new_passphrase(passphrase: str) -> None:
    """Raise :class:`GeoQuizError` when ``passphrase`` breaks the policy (too short)."""
    if len(passphrase.strip()) < MIN_LENGTH:
        raise GeoQuizError(f"the researcher passphrase must have at least {MIN_LENGTH} characters")


def set_passphrase(db: Any, passphrase: str) -> None:
    """Set (or replace) the researcher passphrase and clear the wrong-try count. Raises GeoQuizError if
    it is too short. Use :func:`change_passphrase` when replacing one (it asks for the current one)."""
    check_new_passphrase(passphrase)
    record = hash_passphrase(passphrase)
    with transaction(db):
        set_setting(db, SETTING_KEY, record)
        set_setting(db, FAILURES_KEY, json.dumps({"count": 0, "last": 0.0}))


def try_passphrase(db: Any, passphrase: str, *, now: float | None = None) -> Attempt:
    """One try at the researcher passphrase, under the policy (module doc). ``now``: Unix seconds
    (default the clock). A right passphrase clears the wrong-try count and upgrades an old record."""
    stored = get_setting(db, SETTING_KEY)
    if not stored:
        return Attempt(False, "No researcher passphrase is set.")
    now = time.time() if now is None else now
    count, last = failures(db)
    wait = last + delay_after(count) - now
    if wait > 0:
        return Attempt(False, f"Too many wrong passphrases: try again in {_wait_text(wait)}.", wait)
    if check_hash(stored, passphrase):
        with transaction(db):
            if count:
                set_setting(db, FAILURES_KEY, json.dumps({"count": 0, "last": 0.0}))
            if needs_rehash(stored):
                set_setting(db, SETTING_KEY, hash_passphrase(passphrase))
        return Attempt(True)
    count += 1
    with transaction(db):
        set_setting(db, FAILURES_KEY, json.dumps({"count": count, "last": now}))
    delay = delay_after(count)
    if delay:
        return Attempt(False, f"Wrong passphrase. Too many wrong tries: wait {_wait_text(delay)}.", delay)
    left = FREE_TRIES - count
    return Attempt(False, f"Wrong passphrase ({left} more tr{'y' if left == 1 else 'ies'} before a delay).")


def try_passphrase_in(db_file: str, passphrase: str) -> Attempt:
    """:func:`try_passphrase` on a connection of its own to ``db_file`` (for a worker thread: the
    key derivation takes a noticeable fraction of a second by design)."""
    return authorise_in(db_file, passphrase)[0]


def authorise_in(db_file: str, current: str, new: str | None = None) -> tuple[Attempt, bool]:
    """What the session launcher asks before it starts or resumes a session, on a connection of
    its own to ``db_file`` (for a worker thread: each key derivation takes a noticeable fraction of
    a second). With ``new``: the current passphrase is tried first when one is set (a counted try)
    and ``new`` saved; without: ``current`` is tried. Returns the
    attempt (its message says why not) and whether ``new`` was saved; a new passphrase that breaks
    the policy is refused with the policy's words."""
    from geoquiz.db import connect

    db = connect(db_file)
    try:
        if new is not None:
            try:
                check_new_passphrase(new)
            except GeoQuizError as exc:
                return Attempt(False, str(exc)), False
            if has_passphrase(db):
                attempt = try_passphrase(db, current)
                if not attempt:
                    return Attempt(
                        False, f"Enter the current passphrase first. {attempt.message}", attempt.wait_s
                    ), False
            set_passphrase(db, new)
            return Attempt(True), True
        return try_passphrase(db, current), False
    finally:
        db.conn.close()


def verify_passphrase(db: Any, passphrase: str) -> bool:
    """True when ``passphrase`` is the project's researcher passphrase; a try under the policy
    (:func:`try_passphrase`: counted, delayed after repeated wrong tries). False if none is set."""
    return try_passphrase(db, passphrase).ok


def change_passphrase(db: Any, current: str, new: str) -> None:
    """Replace the researcher passphrase, given the current one (a counted try). Raises
    :class:`GeoQuizError` saying why nothing was changed."""
    check_new_passphrase(new)
    if has_passphrase(db):
        attempt = try_passphrase(db, current)
        if not attempt:
            raise GeoQuizError(
                f"the current passphrase was not accepted: {attempt.message} Nothing was changed."
            )
    set_passphrase(db, new)


RESET_NOTICE = (
    "--reset replaces the researcher passphrase without asking for the current one and clears the "
    "count of wrong tries. Quiz sessions, answers and everything else in the project stay as they are. "
    "(Anyone who can write to the project folder can do this; keep the folder itself protected.)"
)


def reset_passphrase(db: Any, new: str) -> None:
    """Replace the researcher passphrase without the current one (see :data:`RESET_NOTICE`)."""
    set_passphrase(db, new)
