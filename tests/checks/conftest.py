"""Made-up dialogues for the check tests, in both languages, built to pass every check; each
test breaks exactly what it tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from curation_app.checks import CheckConfig
from curation_app.domain import Dialogue, Role, Turn
from curation_app.presets import Vocabulary, load_preset

S, P = Role.SEEKER, Role.SUPPORTER

EN_TURNS = [
    (S, "My manager keeps piling work on me and I can't say no anymore.", []),
    (P, "It sounds like you're carrying far more than your share right now.",
     ["Reflective Statements"]),
    (S, "Exactly, and I'm exhausted every single evening when I get home.", []),
    (P, "Feeling drained after weeks like that is completely understandable.",
     ["Emotional Validation"]),
    (S, "Maybe I should talk to him, but I don't know how to start.", []),
    (P, "You could begin by listing your tasks and asking him which ones matter most.",
     ["Suggest Options"]),
]
ZH_TURNS = [
    (S, "妈妈，我今天考试没考好，心里特别难过。", []),
    (P, "考试没考好确实会让人难过，妈妈能理解你的心情。", ["validation"]),
    (S, "我明明复习了很久，可还是错了好多题。", []),
    (P, "付出了那么多努力却没有得到想要的结果，换成谁都会觉得委屈。", ["empathy"]),
    (S, "我怕同学们觉得我很笨。", []),
    (P, "我们一起看看错题，找到没弄懂的地方，下次就更有把握了。", ["support", "empathy"]),
]


def make(turns: list[tuple[Role, str, list[str]]], **fields: object) -> Dialogue:
    return Dialogue(turns=[Turn(role, text, list(strategies)) for role, text, strategies in turns],
                    **fields)  # type: ignore[arg-type]


def english(**fields: object) -> Dialogue:
    """A clean ExTES-style dialogue (6 turns, topic Work-related Stress and Burnout)."""
    base: dict[str, object] = {"id": 1, "topic": "Work-related Stress and Burnout",
                               "language": "en",
                               "description": "The user is overloaded at work."}
    return make(EN_TURNS, **{**base, **fields})


def esconv_english(**fields: object) -> Dialogue:
    """The English dialogue labelled with ESConv's strategies."""
    labels = {"Reflective Statements": "Restatement or Paraphrasing",
              "Emotional Validation": "Reflection of feelings",
              "Suggest Options": "Providing Suggestions"}
    dialogue = english(**fields)
    for turn in dialogue.turns:
        turn.strategies = [labels[s] for s in turn.strategies]
    return replace(dialogue, topic=fields.get("topic", "job crisis"))


def chinese(**fields: object) -> Dialogue:
    """A clean PECONV-style dialogue (6 turns, topic 考试没考好, emotion sad)."""
    base: dict[str, object] = {"id": 2, "topic": "考试没考好", "emotion": "sad", "language": "zh"}
    return make(ZH_TURNS, **{**base, **fields})


def with_turn(dialogue: Dialogue, index: int, text: str | None = None,
              strategies: list[str] | None = None, role: Role | None = None) -> Dialogue:
    """A copy of ``dialogue`` with one turn changed."""
    turns = list(dialogue.turns)
    old = turns[index]
    turns[index] = Turn(role or old.role, old.text if text is None else text,
                        list(old.strategies if strategies is None else strategies))
    return replace(dialogue, turns=turns)


@pytest.fixture(scope="session")
def extes() -> Vocabulary:
    return load_preset("extes")


@pytest.fixture(scope="session")
def peconv() -> Vocabulary:
    return load_preset("peconv")


@pytest.fixture(scope="session")
def esconv() -> Vocabulary:
    return load_preset("esconv")


def config_for(vocab: Vocabulary, checks: dict | None = None) -> CheckConfig:
    return CheckConfig.resolve(vocab.checks, {"checks": checks} if checks else {})


CONTEMPT = "你怎么这么笨，哭什么哭！"


def corpus() -> list[Dialogue]:
    """A small project for the check service and the Checks page: a clean dialogue, one with a
    parent turn without strategy, one with a contemptuous parent turn, and an exact copy of the
    first (the planted duplicate). Only seeker turns are shared otherwise."""
    no_strategy = with_turn(with_turn(with_turn(
        chinese(), 1, text="考试没考好真的很让人沮丧，妈妈小时候也有过这样的经历。"),
        3, text="你已经尽力了，结果不理想也没关系，重要的是从中学到东西。", strategies=[]),
        5, text="我们明天一起去图书馆找几本有意思的书看看吧。")
    contempt = with_turn(with_turn(with_turn(
        chinese(topic="运动会"), 1, text="跑步摔倒了一定很疼吧，妈妈看看伤得重不重。"),
        3, text=CONTEMPT),
        5, text="下次比赛之前我们先好好热身，慢慢来就好。")
    return [chinese(), no_strategy, contempt, chinese()]
