"""The researcher passphrase is stored as a salted scrypt hash and checked in constant time."""

from __future__ import annotations

import pytest

from geoquiz.db import get_setting
from geoquiz.errors import GeoQuizError
from geoquiz.study.passphrase import (
    SETTING_KEY,
    check_hash,
    has_passphrase,
    hash_passphrase,
    set_passphrase,
    verify_passphrase,
)


def test_set_and_verify(memdb):
    assert not has_passphrase(memdb) and not verify_passphrase(memdb, "anything")
    set_passphrase(memdb, "open sesame")
    assert has_passphrase(memdb)
    assert verify_passphrase(memdb, "open sesame")
    assert not verify_passphrase(memdb, "open sesame ") and not verify_passphrase(memdb, "")
    stored = get_setting(memdb, SETTING_KEY)
    assert "open sesame" not in stored and stored.startswith("scrypt$131072$8$1$")
    set_passphrase(memdb, "new phrase")
    assert verify_passphrase(memdb, "new phrase") and not verify_passphrase(memdb, "open sesame")


def test_hash_is_salted():
    a, b = hash_passphrase("same"), hash_passphrase("same")
    assert a != b and check_hash(a, "same") and check_hash(b, "same")
    assert hash_passphrase("same", salt=b"0" * 16) == hash_passphrase("same", salt=b"0" * 16)


@pytest.mark.parametrize(
    "stored", ["", "plain", "md5$1$2$3$aa$bb", "scrypt$x$8$1$aa$bb", "scrypt$16384$8$1$zz$bb"]
)
def test_malformed_records_never_match(stored):
    assert check_hash(stored, "plain") is False


def test_too_short_is_refused(memdb):
    with pytest.raises(GeoQuizError, match="at least 8"):
        set_passphrase(memdb, " ab ")
    assert not has_passphrase(memdb)
