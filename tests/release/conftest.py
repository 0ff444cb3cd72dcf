"""A made-up ExTES-style project in a real database: approved dialogues spread over topics,
planted near-twins, seed families, overlap copies and discarded dialogues."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.presets import load_preset
from curation_app.services import projects as project_services
from curation_app.services.context import AppContext
from curation_app.store.models import DialogueRow
from tests.conftest import LEAD

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "pel", "dun", "sir", "ba", "qua", "ze",
             "nor", "fi", "gal", "hu", "jen", "wex", "yor", "tim"]


def words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
                    for _ in range(n))


def make_dialogue(rng: random.Random, topic: str, strategies: list[str], turns: int = 8,
                  **fields: object) -> Dialogue:
    out = []
    for i in range(turns):
        if i % 2 == 0:
            out.append(Turn(Role.SEEKER, f"I feel {words(rng, 14)}."))
        else:
            out.append(Turn(Role.SUPPORTER, f"You {words(rng, 14)}.", [rng.choice(strategies)]))
    fields.setdefault("status", Status.APPROVED)
    return Dialogue(turns=out, language="en", topic=topic, **fields)  # type: ignore[arg-type]


def near_twin(d: Dialogue) -> Dialogue:
    """The same dialogue with one word of one turn changed."""
    turns = [Turn(t.role, t.text, list(t.strategies)) for t in d.turns]
    first = turns[2].text.split()
    first[3] = "zzzz"
    turns[2] = Turn(turns[2].role, " ".join(first), list(turns[2].strategies))
    return Dialogue(turns=turns, language=d.language, topic=d.topic, status=d.status)


@dataclass
class Corpus:
    project: str
    approved: list[int] = field(default_factory=list)
    twins: list[tuple[int, int]] = field(default_factory=list)
    families: dict[int, list[int]] = field(default_factory=dict)  # seed -> drafts
    copies: list[int] = field(default_factory=list)
    adjudicated: dict[int, int] = field(default_factory=dict)  # original -> chosen copy
    discarded: list[int] = field(default_factory=list)
    drafts_unreviewed: list[int] = field(default_factory=list)


def build_corpus(ctx: AppContext, name: str = "extes-demo", per_topic: int = 12,
                 topics: int = 4, seed: int = 7) -> Corpus:
    rng = random.Random(seed)
    vocab = load_preset("extes")
    strategies = list(vocab.strategy_names)
    topic_names = list(vocab.topics[:topics])
    corpus = Corpus(project=name)
    project_services.create_project(ctx.uow(), LEAD, name, "extes")
    with ctx.uow() as uow:
        record = uow.repo.get_project(name)
        plain = [make_dialogue(rng, topic_names[i % topics], strategies)
                 for i in range(per_topic * topics)]
        ids = uow.repo.add_dialogues(record, plain, author="import")
        corpus.approved += ids
        # Near-twins: three dialogues get a copy with one word changed.
        twins = [near_twin(plain[i]) for i in (0, 5, 10)]
        twin_ids = uow.repo.add_dialogues(record, twins, author="import")
        corpus.twins = list(zip([ids[0], ids[5], ids[10]], twin_ids, strict=True))
        corpus.approved += twin_ids
        # Seed families: two seeds, each with three drafts prompted with it.
        seeds = [make_dialogue(rng, topic_names[0], strategies, is_seed=True, seed_round=0)
                 for _ in range(2)]
        seed_ids = uow.repo.add_dialogues(record, seeds, author="import")
        corpus.approved += seed_ids
        for s in seed_ids:
            drafts = [make_dialogue(rng, topic_names[(k + 1) % topics], strategies,
                                    source=Source.GENERATED, seed_round=1,
                                    provenance={"model": "gpt-test", "template":
                                                "extes_selfchat@1", "seed_ids": [s],
                                                "cost_usd": 0.01, "prompt": [
                                                    {"role": "system", "content": "x" * 500}],
                                                "usage": {"prompt_tokens": 100,
                                                          "completion_tokens": 50}})
                      for k in range(3)]
            corpus.families[s] = uow.repo.add_dialogues(record, drafts, author="generator")
            corpus.approved += corpus.families[s]
        # Discarded and unreviewed dialogues.
        corpus.discarded = uow.repo.add_dialogues(
            record, [make_dialogue(rng, topic_names[0], strategies, status=Status.DISCARDED)
                     for _ in range(3)], author="import")
        corpus.drafts_unreviewed = uow.repo.add_dialogues(
            record, [make_dialogue(rng, topic_names[1], strategies, status=Status.DRAFT)
                     for _ in range(3)], author="import")
        # Overlap copies: two originals each copied for a second annotator, both approved;
        # the second group's copy is the adjudicated one.
        for original in (ids[1], ids[2]):
            copy = uow.workflow.copy_for_overlap(original, "annotator2")
            uow.repo.set_status(copy, Status.APPROVED)
            corpus.copies.append(copy)
        uow.repo.session.execute(update(DialogueRow).where(DialogueRow.id == corpus.copies[1])
                                 .values(meta={"adjudicated": True}))
        corpus.adjudicated[ids[2]] = corpus.copies[1]
        # A human edit of one approved dialogue: one turn rewritten.
        edited = uow.repo.get_dialogue(ids[3])
        turns = list(edited.turns)
        turns[1] = Turn(Role.SUPPORTER, "You are carrying a lot and it makes sense to be tired.",
                        list(turns[1].strategies))
        uow.repo.save_content(ids[3], edited.version, turns, topic=edited.topic,
                              emotion=edited.emotion, description=edited.description,
                              author="annotator1")
        uow.commit()
    return corpus


@pytest.fixture
def corpus(ctx: AppContext) -> Corpus:
    return build_corpus(ctx)
