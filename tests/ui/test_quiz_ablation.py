"""An ablation study in the kiosk, driven by real mouse and key events (issue 13, proof b): the launcher
prepares the pictures in a worker, six participants answer every trial, the conditions are balanced
by the Latin square, no page names a condition, the kiosk shows the prepared pictures, every answer
is stored with its condition, and the analysis reproduces the accuracies computed by hand."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fixtures.both_ways import ablation_text
from fixtures.quiz_ui import PASS, activate, confidence, consent_and_start, press, type_guess, visible_texts
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from geoquiz.data.imageio import read_image
from geoquiz.study.passphrase import set_passphrase
from geoquiz.study.store import install_study
from ui.context import AppContext
from ui.quiz.launcher import open_session_launcher

#: Words that would tell a participant which condition a picture is in.
REVEALING = re.compile(
    r"intact|random|removed|removal|ablat|condition|blur|model|element|grad-?cam|saliency|attribution", re.I
)
OTHER = {"France": "India", "India": "Japan", "Japan": "France"}


def right(p: int, number: int) -> bool:
    """Participant ``p`` gets picture ``number`` right unless ``p + number`` is a multiple of 3."""
    return (p + number) % 3 != 0


def _no_condition_shown(kiosk) -> None:
    for widget, text in visible_texts(kiosk):
        assert not REVEALING.search(text), f"{widget.objectName() or type(widget).__name__} shows {text!r}"


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("GEOQUIZ_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _participant(qtbot, ctx, main, study_id: int, p: int, shown: dict, shots: Path | None = None) -> object:
    dlg = open_session_launcher(ctx, main, study_id)  # as from the study selected in the Studies tab
    dlg.full_screen = False
    assert dlg.prepare.isVisible() and dlg.prepare.ready and dlg.start_button.isEnabled()
    qtbot.keyClicks(dlg.passphrase, PASS)
    press(qtbot, dlg, dlg.start_button)
    kiosk = dlg.kiosk
    assert kiosk is not None
    kiosk.resize(1366, 768)
    _no_condition_shown(kiosk)  # consent
    consent_and_start(qtbot, kiosk)
    activate(qtbot, kiosk)
    session = kiosk.session
    while kiosk.page() == "trialWidget":
        trial = kiosk.trial
        spec = trial.spec
        _no_condition_shown(kiosk)
        shown[(p, spec.key)] = (spec.condition, trial.editors[None].image().copy())
        if shots is not None and spec.condition == "model":  # what a participant sees (1366x768, 1920x1080)
            for size in ((1366, 768), (1920, 1080)):
                kiosk.resize(*size)
                qtbot.wait(50)
                assert kiosk.grab().save(str(shots / f"kiosk_ablated_trial_{size[0]}.png"))
            shots = None
        ok = right(p, spec.number)
        type_guess(qtbot, trial, spec.label if ok else OTHER[spec.label])
        type_guess(qtbot, trial, OTHER[spec.label] if ok else spec.label)
        confidence(qtbot, trial, 1 + p % 5)
        qtbot.mouseClick(trial.submit_button, Qt.LeftButton)
    assert kiosk.page() == "thanks"
    _no_condition_shown(kiosk)
    dialog = kiosk.request_exit()
    qtbot.keyClicks(dialog.input, PASS)
    with qtbot.waitSignal(dialog.checked, timeout=30000):  # the check runs in a worker
        qtbot.keyClick(dialog.input, Qt.Key_Return)
    assert kiosk.unlocked and main.isVisible()
    return session


@pytest.mark.timeout(600)
def test_six_participants_in_the_kiosk(qtbot, both_ways_project, tmp_path):
    from geoquiz.study.ablation_analysis import analyse

    db, root = both_ways_project.db, both_ways_project.root
    path = root / "kiosk.toml"
    path.write_text(ablation_text(", seed = 5").replace('"abl"', '"abl-kiosk"'))
    study_id = install_study(both_ways_project, path)
    set_passphrase(db, PASS)
    ctx = AppContext(both_ways_project)
    main = QWidget()
    qtbot.addWidget(main)
    main.show()

    # the launcher prepares the pictures first, in a worker; Start waits for them
    dlg = open_session_launcher(ctx, main, study_id)
    assert dlg.prepare.isVisible() and not dlg.start_button.isEnabled()
    assert "not prepared yet" in dlg.prepare.controls.status.text()
    shots = _shots(tmp_path)
    assert dlg.grab().save(str(shots / "launcher_prepare.png"))
    with qtbot.waitSignal(dlg.prepare.controls.finished, timeout=120000):
        qtbot.mouseClick(dlg.prepare.controls.run_button, Qt.LeftButton)
    assert (
        dlg.prepare.ready
        and dlg.start_button.isEnabled()
        and "are prepared" in dlg.prepare.controls.status.text()
    )
    dlg.reject()

    shown: dict = {}
    sessions = [
        _participant(qtbot, ctx, main, study_id, p, shown, shots if p == 0 else None) for p in range(6)
    ]

    # balanced: every item twice in every condition, every participant 2 pictures per condition
    plans = [{spec.key: spec.condition for spec in s.order} for s in sessions]
    assert [s.ablation["participant_index"] for s in sessions] == list(range(6))
    assert set(Counter((k, c) for plan in plans for k, c in plan.items()).values()) == {2}
    assert all(Counter(plan.values()) == {"intact": 2, "model": 2, "random": 2} for plan in plans)
    # stored with their condition
    stored = db.execute(
        "SELECT t.session_id, t.position, t.condition FROM trials t JOIN sessions s ON s.id = t.session_id "
        "JOIN studies st ON st.id = s.study_id WHERE st.slug = 'abl-kiosk' ORDER BY t.session_id, t.position"
    ).fetchall()
    assert [c for *_, c in stored] == [spec.condition for s in sessions for spec in s.order]
    # the kiosk showed the prepared picture of the trial's condition
    for (p, key), (condition, image) in shown.items():
        spec = next(t for t in sessions[p].order if t.key == key)
        ((_view, file),) = sessions[p].item_paths(spec)
        assert np.array_equal(image, read_image(file)) and (condition == "intact") == ("ablation" not in file)

    # the analysis reproduces the accuracies counted by hand
    hand: dict[str, list[float]] = {}
    per_item: dict[tuple[str, str], list[float]] = {}
    for p, s in enumerate(sessions):
        for spec in s.order:
            hand.setdefault(spec.condition, []).append(float(right(p, spec.number)))
            per_item.setdefault((spec.key, spec.condition), []).append(float(right(p, spec.number)))
    out = analyse(db, "abl-kiosk", n_boot=300)
    table = out["conditions"].set_index("condition")
    for condition, values in hand.items():
        assert table.loc[condition, "n_trials"] == 12 and table.loc[condition, "n_participants"] == 6
        assert table.loc[condition, "top1"] == pytest.approx(np.mean(values))
        assert table.loc[condition, "topk"] == 1.0
    items = {k for k, _ in per_item}
    expected = np.mean([np.mean(per_item[(k, "model")]) - np.mean(per_item[(k, "random")]) for k in items])
    diffs = out["differences"].set_index(["contrast", "who", "measure"])
    assert diffs.loc[("model - random", "people", "top1"), "value"] == pytest.approx(expected)
    confidences = db.execute("SELECT DISTINCT confidence FROM trials WHERE condition IS NOT NULL").fetchall()
    assert {c for (c,) in confidences} == {1 + p % 5 for p in range(6)}
