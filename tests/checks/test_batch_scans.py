"""The batch paths of the privacy scan and the safety screen give what the one-text paths give,
field for field, including dialogues with no turns, hits in the topic or description only, and
batches where nothing or everything is found."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import replace

import pytest

from curation_app.checks import DialogueChecker
from curation_app.checks.batch import BatchTexts
from curation_app.checks.lint import Linter, artefact_suspects
from curation_app.checks.privacy import scan, scan_dialogue, scan_dialogues, scan_flagged
from curation_app.checks.safety import default_screen
from curation_app.domain import Role, Turn
from tests.checks import planted
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


# ---- the shared batch path (BatchTexts) against the one-dialogue path ------------------------
ALL_KINDS = ("format", "lint", "safety", "privacy")


def _per_dialogue(checker: DialogueChecker, dialogues: list) -> list:
    return [f for d in dialogues for f in checker.check(d)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_shared_batch_path_finds_what_each_dialogue_alone_finds(lang, extes, peconv) -> None:
    vocab = extes if lang == "en" else peconv
    dialogues = [replace(d, id=i + 1) for i, d in enumerate(planted.corpus(400, lang))]
    checker = DialogueChecker(vocab, config_for(vocab), ALL_KINDS)
    expected = _per_dialogue(checker, dialogues)
    # every family and most lint rules are exercised
    assert {f.kind for f in expected} == set(ALL_KINDS)
    assert len({f.rule for f in expected if f.kind == "lint"}) >= 9
    for size in (1, 7, 400):
        got = [f for start in range(0, len(dialogues), size)
               for f in checker.check_many(dialogues[start:start + size])]
        assert got == expected


@pytest.mark.parametrize("off", [(), ("lint.prompt_artefact",), ("lint.language",),
                                 ("lint.roles_alternate", "lint.empty_turn"),
                                 ("lint.turn_length", "lint.strategy_missing")])
def test_the_batch_lint_with_rules_switched_off_is_the_lint_of_each(off, extes) -> None:
    config = config_for(extes, {"rules": {r: {"enabled": False} for r in off},
                                "max_turn_chars": 60})
    dialogues = [replace(d, id=i + 1) for i, d in enumerate(planted.corpus(300, "en", 2))]
    linter = Linter(extes, config)
    batch = BatchTexts.of(dialogues)
    suspects = artefact_suspects(batch.texts, batch) if "lint.prompt_artefact" not in off \
        else None
    assert linter.check_many(dialogues, batch, suspects) == [linter.check(d) for d in dialogues]
    # no suspects given: every text is looked at
    assert linter.check_many(dialogues, batch) == [linter.check(d) for d in dialogues]


def test_shared_encodings_give_the_one_text_answers() -> None:
    texts = PLAIN + FAULTS + planted.ODD + [t.upper() for t in FAULTS] + ["", "\x00", " "]
    roles = [Role.SEEKER, Role.SUPPORTER] * (len(texts) // 2) + [Role.SEEKER] * (len(texts) % 2)
    batch = BatchTexts.flat(texts, roles)
    assert batch.ascii_ids and batch.others
    assert scan_flagged(texts, batch) == {i: h for i, t in enumerate(texts) if (h := scan(t))}
    screen = default_screen()
    assert screen.screen_flagged(texts, roles, batch) == {
        i: h for i, t in enumerate(texts) if (h := screen.screen(t, roles[i]))}
    assert artefact_suspects(texts, batch) == artefact_suspects(texts)
    # no ASCII text, no other text, nothing at all
    for part in ([t for t in texts if t.isascii()], [t for t in texts if not t.isascii()], []):
        one = BatchTexts.flat(part, [Role.SEEKER] * len(part))
        assert scan_flagged(part, one) == {i: h for i, t in enumerate(part) if (h := scan(t))}
        assert screen.screen_flagged(part, one.roles, one) == {
            i: h for i, t in enumerate(part) if (h := screen.screen(t, Role.SEEKER))}
