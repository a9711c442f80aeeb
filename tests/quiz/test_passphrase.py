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


def test_authorise_in_sets_checks_and_counts_on_its_own_connection(tmp_path):
    """The launcher's worker job: a new passphrase is saved (after the current one, when set), a
    wrong current one saves nothing and counts as a try, a too-short one is refused in words."""
    from geoquiz.project import Project
    from geoquiz.study.passphrase import Attempt, authorise_in, failures, has_passphrase, verify_passphrase

    with Project.open(tmp_path / "p", create=True) as project:
        db_file = str(project.db_path)
        attempt, saved = authorise_in(db_file, "", "short")
        assert not attempt and not saved and "at least 8 characters" in attempt.message
        assert authorise_in(db_file, "", None)[0].message == "No researcher passphrase is set."
        assert authorise_in(db_file, "", "first-key-1") == (Attempt(True), True)
        attempt, saved = authorise_in(db_file, "wrong-key-0", "second-key-2")
        assert not saved and attempt.message.startswith(
            "Enter the current passphrase first. Wrong passphrase"
        )
        assert failures(project.db)[0] == 1
        assert authorise_in(db_file, "first-key-1", None)[0].ok
        assert authorise_in(db_file, "first-key-1", "second-key-2") == (Attempt(True), True)
        assert has_passphrase(project.db) and verify_passphrase(project.db, "second-key-2")
