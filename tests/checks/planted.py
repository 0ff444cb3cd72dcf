"""A corpus with findings of every check planted at random: for comparing batch paths with
the one-dialogue paths, and one version of a check run with another (any size; English on the
ExTES preset, Chinese on PECONV's)."""

from __future__ import annotations

import random
from dataclasses import replace

from curation_app.domain import Dialogue, Role, Turn
from tests.checks.conftest import chinese, english
from tests.checks.test_batched import FAULTS

ODD = [
    "", "   ", "\t\n", " leading space.", "trailing space. ", "x" * 1001, " " + "y" * 1000,
    "\x1cseparator first", "AI: hello there", "User: I feel sad", "```code```",
    "{topic} placeholder", "As an AI language model, I can't.", "我是AI助手，不能帮你。",
    "This is English in a Chinese project, quite a few words here.",
    "我觉得今天特别难过，因为考试没考好。", "孩子：我不想去上学", "<|im_start|> leftover",
    "[INST] prompt [/INST]", "Sorry: nothing to see", "Tom, my son, is sad.",
]


def dialogue(rng: random.Random, lang: str, i: int) -> Dialogue:
    """One dialogue, clean or with a few faults planted (texts, strategies, roles, labels)."""
    base = english(id=None) if lang == "en" else chinese(id=None)
    turns = [Turn(t.role, t.text, list(t.strategies)) for t in base.turns]
    turns *= rng.choice((1, 1, 2, 3))
    turns = [Turn(t.role, t.text + rng.choice(("", "", f" {i}")), list(t.strategies))
             for t in turns]
    for _ in range(rng.choice((0, 0, 0, 1, 2, 4))):
        k = rng.randrange(len(turns))
        pick = rng.random()
        t = turns[k]
        if pick < 0.4:
            t = Turn(t.role, rng.choice((f"{t.text} ", "")) + rng.choice(FAULTS + ODD),
                     t.strategies)
        elif pick < 0.5:
            t = Turn(t.role, t.text, ["Hypnosis"] if rng.random() < 0.5 else [])
        elif pick < 0.6:
            t = Turn(Role.SEEKER if t.role == Role.SUPPORTER else Role.SUPPORTER, t.text,
                     t.strategies)
        elif pick < 0.7:
            t = Turn(t.role, t.text, [*t.strategies, "Reflective Statements", "empathy"])
        else:
            t = Turn(t.role, rng.choice(ODD), t.strategies)
        turns[k] = t
    if rng.random() < 0.05:
        turns = turns[:rng.randrange(4)]
    fields: dict[str, object] = {}
    if rng.random() < 0.1:
        fields["topic"] = rng.choice((None, "", "Unknown topic", *FAULTS[:5]))
    if rng.random() < 0.1:
        fields["description"] = rng.choice((None, "", *FAULTS))
    if rng.random() < 0.05:
        fields["emotion"] = "furious"
    return replace(base, turns=turns, **fields)


def corpus(n: int, lang: str = "en", seed: int = 1) -> list[Dialogue]:
    rng = random.Random(f"planted-{lang}-{seed}")
    return [dialogue(rng, lang, i) for i in range(n)]
