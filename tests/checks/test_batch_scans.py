"""The batch paths of the privacy scan and the safety screen give what the one-text paths give,
field for field, including dialogues with no turns, hits in the topic or description only, and
batches where nothing or everything is found."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import replace

from curation_app.checks import DialogueChecker
from curation_app.checks.privacy import scan, scan_dialogue, scan_dialogues, scan_flagged
from curation_app.checks.safety import default_screen
from curation_app.domain import Role, Turn
from tests.checks.conftest import config_for, english
from tests.checks.test_batched import FAULTS

PLAIN = ["I feel tired.", "", "We talked for a while and it helped.", "我今天很开心。"]


def _dialogues(seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(60):
        base = english(id=i)
        turns = [Turn(t.role, rng.choice(FAULTS) if rng.random() < 0.06
                      else rng.choice(PLAIN) if rng.random() < 0.2 else t.text,
                      list(t.strategies)) for t in base.turns]
        if i % 10 == 3:
            turns = []
        out.append(replace(base, turns=turns,
                           topic=rng.choice(FAULTS) if i % 9 == 2 else rng.choice([None, ""]),
                           description=rng.choice(FAULTS) if i % 6 == 1
                           else rng.choice([None, "", "A talk about work."])))
    return out


def test_scan_dialogues_is_scan_dialogue_of_each() -> None:
    for seed in range(3):
        dialogues = _dialogues(seed)
        batch = scan_dialogues(dialogues)
        assert batch == [scan_dialogue(d) for d in dialogues]
        assert any(batch) and not all(batch)
        assert any(h.path in ("topic", "description") for found in batch for h in found)
    assert scan_dialogues([]) == []
    assert scan_dialogues([english(id=1)]) == [[]]


def test_scan_flagged_is_scan_of_each() -> None:
    texts = PLAIN + FAULTS + [t.upper() for t in FAULTS] + ["", " "] + FAULTS  # twice
    found = scan_flagged(texts)
    assert found == {i: hits for i, t in enumerate(texts) if (hits := scan(t))}
    # a text seen twice is scanned once, but each gets a list of its own
    assert found[len(PLAIN)] and found[len(PLAIN)] is not found[len(texts) - len(FAULTS)]
    assert scan_flagged([]) == {}


def test_safety_screen_flagged_is_screen_of_each() -> None:
    screen = default_screen()
    texts = PLAIN + FAULTS + [t.upper() for t in FAULTS]
    for role in Role:
        roles = [role] * len(texts)
        assert screen.screen_flagged(texts, roles) == {
            i: hits for i, t in enumerate(texts) if (hits := screen.screen(t, role))}
    assert screen.screen_flagged([], []) == {}


def test_a_batch_check_is_the_check_of_each_dialogue(extes) -> None:
    checker = DialogueChecker(extes, config_for(extes), ("lint", "safety", "privacy"))
    kinds = set()
    for seed in range(3):
        dialogues = _dialogues(seed)
        expected = [f for d in dialogues for f in checker.check(d)]
        assert checker.check_many(dialogues) == expected
        kinds |= {f.kind for f in expected}
    assert kinds == {"lint", "safety", "privacy"}


def test_the_chinese_phrase_reported_does_not_depend_on_string_hashing() -> None:
    # Two contempt phrases in one turn: the one that comes first in the text is reported, in
    # every process (a set's order, which it once followed, changes with PYTHONHASHSEED).
    code = ("from curation_app.checks.safety import default_screen\n"
            "from curation_app.domain import Role\n"
            "s = default_screen()\n"
            "print([h.phrase for t in ('你怎么这么笨，哭什么哭！', '哭什么哭！你怎么这么笨')"
            " for h in s.screen(t, Role.SUPPORTER)])\n")
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in range(6)}
    assert seen == {"['你怎么这么笨', '哭什么哭']\n"}


def test_a_check_run_pauses_the_collector_and_restores_it() -> None:
    import gc

    from curation_app.services.checks import _collector_paused

    assert gc.isenabled()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with _collector_paused():
            raise RuntimeError("a failing run")
    except RuntimeError:
        pass
    assert gc.isenabled()
    gc.disable()  # a caller that switched it off keeps it off
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
