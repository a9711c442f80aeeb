"""The passphrase policy: 8 characters at least, scrypt at n = 2**17, old records still verify (and are
upgraded on the next unlock), a growing delay after 5 wrong tries that survives a restart, and the CLI
changes it only with the current one or an explicit ``--reset``."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from geoquiz.cli import main
from geoquiz.db import get_setting, set_setting
from geoquiz.errors import GeoQuizError
from geoquiz.study.passphrase import (
    FAILURES_KEY,
    SETTING_KEY,
    change_passphrase,
    check_hash,
    delay_after,
    failures,
    has_passphrase,
    set_passphrase,
    try_passphrase,
)

GOOD = "harbour-lights"


def test_minimum_length_is_8(memdb):
    with pytest.raises(GeoQuizError, match="at least 8 characters"):
        set_passphrase(memdb, "  abc1234  ")  # 7 characters once the ends are trimmed
    assert not has_passphrase(memdb)
    set_passphrase(memdb, "abcd1234")
    assert try_passphrase(memdb, "abcd1234").ok


def test_stored_with_scrypt_n_2_17(memdb):
    set_passphrase(memdb, GOOD)
    algo, n, r, p, salt, digest = get_setting(memdb, SETTING_KEY).split("$")
    assert (algo, int(n), int(r), int(p)) == ("scrypt", 2**17, 8, 1)
    expected = hashlib.scrypt(
        GOOD.encode(), salt=bytes.fromhex(salt), n=2**17, r=8, p=1, dklen=32, maxmem=256 * 2**20
    )
    assert expected.hex() == digest


def test_an_old_record_verifies_and_is_upgraded_on_the_next_unlock(memdb):
    salt = bytes(range(16))
    old_digest = hashlib.scrypt(b"old-but-fine", salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt$16384$8$1${salt.hex()}${old_digest.hex()}"
    set_setting(memdb, SETTING_KEY, old)
    assert check_hash(old, "old-but-fine")
    assert not try_passphrase(memdb, "wrong-guess").ok
    assert get_setting(memdb, SETTING_KEY) == old  # a wrong try changes nothing
    assert try_passphrase(memdb, "old-but-fine").ok
    upgraded = get_setting(memdb, SETTING_KEY)
    assert upgraded.startswith("scrypt$131072$8$1$") and check_hash(upgraded, "old-but-fine")


def test_the_delay_grows_after_five_wrong_tries_and_survives_a_restart(project):
    from geoquiz.project import Project

    set_passphrase(project.db, GOOD)
    t = 1_000_000.0
    for i in range(1, 5):
        attempt = try_passphrase(project.db, f"guess-{i}", now=t)
        assert not attempt and attempt.wait_s == 0 and "Wrong passphrase" in attempt.message
    fifth = try_passphrase(project.db, "guess-5", now=t)
    assert not fifth and fifth.wait_s == 5 and "wait 5 s" in fifth.message
    root = project.root
    project.close()
    with Project.open(root) as reopened:  # a restart does not reset the count
        db = reopened.db
        assert failures(db) == (5, t)
        early = try_passphrase(db, GOOD, now=t + 3)  # refused without being checked
        assert not early and "try again in 2 s" in early.message
        sixth = try_passphrase(db, "guess-6", now=t + 6)
        assert sixth.wait_s == 10
        assert try_passphrase(db, "guess-7", now=t + 17).wait_s == 20
        assert not try_passphrase(db, GOOD, now=t + 30)  # still inside the 20 s after t + 17
        assert try_passphrase(db, GOOD, now=t + 38).ok
        assert failures(db)[0] == 0  # a right passphrase clears the count
    assert [delay_after(n) for n in (0, 4, 5, 6, 7, 30)] == [0, 0, 5, 10, 20, 900]


def test_change_needs_the_current_passphrase(memdb):
    set_passphrase(memdb, GOOD)
    with pytest.raises(GeoQuizError, match="not accepted.*Nothing was changed"):
        change_passphrase(memdb, "not-the-one", "brand-new-phrase")
    assert try_passphrase(memdb, GOOD).ok
    change_passphrase(memdb, GOOD, "brand-new-phrase")
    assert try_passphrase(memdb, "brand-new-phrase").ok and not try_passphrase(memdb, GOOD).ok


def _answers(monkeypatch, *answers: str) -> list[str]:
    asked: list[str] = []
    queue = list(answers)

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return queue.pop(0)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return asked


def test_cli_changes_it_only_with_the_current_one(project, monkeypatch, capsys):
    set_passphrase(project.db, GOOD)
    before = get_setting(project.db, SETTING_KEY)
    args = ["study", "passphrase", "-p", str(project.root)]
    asked = _answers(monkeypatch, "wrong-one")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not accepted" in err and "Nothing was changed" in err and "--reset" in err
    assert asked == ["Current researcher passphrase: "] and get_setting(project.db, SETTING_KEY) == before

    _answers(monkeypatch, GOOD, "second-phrase", "second-phrase")
    assert main(args) == 0 and "changed" in capsys.readouterr().out
    assert try_passphrase(project.db, "second-phrase").ok

    _answers(monkeypatch, "short", "short")
    assert main([*args, "--reset"]) == 2
    assert "at least 8" in capsys.readouterr().err

    # locked by 5 wrong tries: --reset still works, and clears the count
    set_setting(project.db, FAILURES_KEY, json.dumps({"count": 5, "last": time.time()}))
    assert "try again" in try_passphrase(project.db, "second-phrase").message
    _answers(monkeypatch, "third-phrase", "third-phrase")
    assert main([*args, "--reset"]) == 0
    out = capsys.readouterr()
    assert "without asking for the current one" in out.err and "reset" in out.out
    assert get_setting(project.db, FAILURES_KEY) and failures(project.db)[0] == 0
    assert try_passphrase(project.db, "third-phrase").ok


def test_kiosk_prompt_shows_the_delay(qtbot, project):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialogButtonBox

    from geoquiz.db import database_file
    from ui.quiz.kiosk import PassphraseDialog

    set_passphrase(project.db, GOOD)
    set_setting(project.db, FAILURES_KEY, json.dumps({"count": 6, "last": time.time()}))
    dialog = PassphraseDialog(database_file(project.db))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.input, GOOD)
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)
    with qtbot.waitSignal(dialog.checked, timeout=30000) as verdict:  # checked in a worker
        qtbot.mouseClick(ok, Qt.LeftButton)
        assert dialog.checking and not ok.isEnabled()  # the window stays responsive meanwhile
    assert verdict.args == [False]
    assert dialog.isVisible() and "Too many wrong passphrases: try again in" in dialog.error.text()
