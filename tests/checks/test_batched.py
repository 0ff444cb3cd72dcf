"""A check run reads the project in batches (per-dialogue checks a batch at a time, the privacy
scan and the safety screen over a batch's texts at once, the near-duplicate search on sketches
with the candidates' texts read back): its findings are exactly those of checking every stored
dialogue in memory, one by one, on SQLite and PostgreSQL, across several batches."""

from __future__ import annotations

import random
from dataclasses import replace

from curation_app.checks import CheckConfig, DialogueChecker, dedup_findings
from curation_app.domain import Dialogue, Role, Turn
from curation_app.services import checks
from curation_app.services.projects import create_project
from curation_app.store.release_queries import ReleaseQueries
from tests.checks.conftest import english
from tests.conftest import LEAD
from tests.security.test_privacy import EVERYDAY, EXAMPLES

# What the checks look for, English and Chinese: personal data, safety phrases (and a negated
# one), prompt leftovers, and text that must not be flagged.
FAULTS = [text for _, text, _ in EXAMPLES] + EVERYDAY + [
    "I want to kill myself.", "I would never kill myself.", "You are so stupid, kid.",
    "My dad hits me every night.", "AI: As an AI language model I cannot help.",
    "我想自杀。", "你怎么这么笨，哭什么哭！", "Ｍｙ ｄａｕｇｈｔｅｒ Ｅｍｍａ cried.",
    "İ think my son Tom is sad.", "Tom, my son, is sad.", "Call Dr. Smith tomorrow.",
]

RECYCLED = "Have you thought about writing down what worries you before you go to sleep at night?"


def _dialogues(n: int, seed: int) -> list[Dialogue]:
    """``n`` English dialogues, each different: every fault planted once, in a turn, some
    exact and near copies of others, recycled supporter turns, a missing strategy, a run of
    seeker turns."""
    rng = random.Random(seed)
    words = ["feel", "work", "home", "tired", "sleep", "friend", "talk", "week", "help", "plan",
             "start", "worry", "boss", "night", "family", "school", "money", "time", "rest"]
    out: list[Dialogue] = []
    for i in range(n):
        base = english(id=None)
        turns = [Turn(t.role, f"{t.text} {' '.join(rng.choices(words, k=12))}.",
                      list(t.strategies)) for t in base.turns]
        if i < len(FAULTS):
            k = rng.randrange(len(turns))
            turns[k] = Turn(turns[k].role, f"{turns[k].text} {FAULTS[i]}",
                            list(turns[k].strategies))
        if i % 7 == 2:
            turns[5] = Turn(Role.SUPPORTER, RECYCLED, ["Suggest Options"])
        if i % 11 == 5:
            turns[3] = Turn(Role.SUPPORTER, turns[3].text, [])
        if i % 13 == 7:
            turns[1] = Turn(Role.SEEKER, turns[1].text, [])
        dialogue = replace(base, turns=turns, description=rng.choice(FAULTS) if i % 17 == 3
                           else base.description)
        if i % 9 == 4 and out:
            source = out[rng.randrange(len(out))]
            dialogue = replace(source, turns=[replace(t) for t in source.turns])
            if i % 2:  # a near copy: one turn changed
                dialogue.turns[0] = Turn(Role.SEEKER, "Something else happened today.", [])
        out.append(dialogue)
    return out


def _in_memory(ctx, project: str) -> list:
    """The findings of checking every stored dialogue one by one, the corpus held whole."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        stored = list(ReleaseQueries(uow.repo.session).stream_dialogues(
            record, checks.CHECKED_STATUSES, prompt=True))
    vocab = record.vocabulary
    config = CheckConfig.resolve(vocab.checks, record.settings)
    checker = DialogueChecker(vocab, config, ("format", "lint", "safety", "privacy"))
    found = [f for d in stored for f in checker.check(d)]
    found += dedup_findings(stored, config, vocab.language)[0]
    found.sort(key=lambda f: (f.dialogue_id or 0, -1 if f.turn is None else f.turn, f.rule))
    return found


def test_a_run_in_small_batches_finds_what_checking_in_memory_finds(ctx):
    create_project(ctx.uow(), LEAD, "batched", "extes")
    with ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project("batched"), _dialogues(90, 14),
                               author="lead")
        uow.commit()
    expected = _in_memory(ctx, "batched")
    rules = {f.rule.split(".")[0] for f in expected}
    assert rules >= {"lint", "dedup", "safety", "privacy"}  # the corpus exercises them all
    assert len({f.rule for f in expected if f.kind == "privacy"}) >= 5
    assert {"dedup.exact", "dedup.near", "dedup.turn", "safety.self_harm"} <= {
        f.rule for f in expected}

    batched = checks.run_checks(ctx, LEAD, "batched", batch=7)  # 13 batches
    assert batched.dialogues == 90
    assert batched.findings == expected
    assert checks.latest_findings(ctx, "batched") == expected  # as stored, in order
    whole = checks.run_checks(ctx, LEAD, "batched", batch=1000)
    assert whole.findings == expected


def test_batches_without_the_provenance_are_the_dialogues_with_an_empty_one(ctx):
    create_project(ctx.uow(), LEAD, "prov", "extes")
    stored = [replace(d, provenance={"prompt": [{"role": "user", "content": "x" * 50}],
                                     "model": "m"}) for d in _dialogues(12, 3)]
    with ctx.uow() as uow:
        uow.repo.add_dialogues(uow.repo.get_project("prov"), stored, author="lead")
        uow.commit()
    with ctx.uow() as uow:
        queries = ReleaseQueries(uow.repo.session)
        record = uow.repo.get_project("prov")
        whole = [d for b in queries.dialogue_batches(record, batch=5) for d in b]
        cut = [d for b in queries.dialogue_batches(record, provenance=False, batch=5) for d in b]
    assert all(d.provenance.get("model") == "m" for d in whole)
    assert cut == [replace(d, provenance={}) for d in whole]
