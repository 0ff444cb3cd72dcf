"""Safety screen: every turn against English and Chinese phrase lists, always, locally.

The lists live in ``safety_terms.json`` beside this module (self-harm, violence, sexual content
involving minors, abuse, contempt towards the child or seeker, medical or legal advice given as
certain), written as phrases with ``(a|b|)`` alternatives so that they stay readable and
reviewable as data. English phrases match whole words regardless of case and punctuation
("you're stupid" matches "You’re STUPID!"); Chinese phrases match as substrings. Each category
says whose turns it applies to: a seeker may call themselves stupid, a supporter may not.

A match marks a turn for review with its category; it is not a verdict. An OpenAI-compatible
moderation endpoint, when configured, adds its own categories
(:mod:`curation_app.checks.moderation`).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from curation_app.checks.findings import CheckConfig, Finding
from curation_app.checks.text import normalise
from curation_app.domain import Dialogue, Role
from curation_app.presets import Vocabulary

_GROUP = re.compile(r"(\([^()]*\))")
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def expand(pattern: str) -> list[str]:
    """``"(kill|hurt) myself"`` -> ``["kill myself", "hurt myself"]``; ``(a|)`` makes a word
    optional. Groups do not nest."""
    parts = [p[1:-1].split("|") if _GROUP.fullmatch(p) else [p]
             for p in _GROUP.split(pattern) if p]
    return [" ".join("".join(choice).split()) for choice in itertools.product(*parts)]


@dataclass(frozen=True)
class Category:
    name: str
    message: str
    roles: frozenset[Role]
    # words (English) and strings (Chinese) that negate or report a match just before it
    unless_en: frozenset[str] = frozenset()
    unless_zh: tuple[str, ...] = ()

    def negated_en(self, words: list[str], start: int) -> bool:
        return not self.unless_en.isdisjoint(words[max(0, start - 3):start])

    def negated_zh(self, text: str, start: int) -> bool:
        before = text[max(0, start - 4):start]
        return any(cue in before for cue in self.unless_zh)


@dataclass(frozen=True)
class Hit:
    category: Category
    phrase: str


class SafetyScreen:
    """The compiled phrase lists: a first-word (first-character) index, so that a turn with
    none of the phrases' first words costs one set intersection."""

    def __init__(self, terms: dict[str, Any]):
        self.categories: dict[str, Category] = {}
        # one-word phrases by word; longer ones by their first two words
        self.english_words: dict[str, list[Category]] = {}
        self.english: dict[tuple[str, str], list[tuple[list[str], Category]]] = {}
        self.chinese: dict[str, list[tuple[str, Category]]] = {}
        for name, spec in terms.items():
            if name.startswith("_"):
                continue
            unless = spec.get("unless_after") or {}
            category = Category(name, spec["message"],
                                frozenset(Role(r) for r in spec.get("roles", list(Role))),
                                frozenset(unless.get("en", ())), tuple(unless.get("zh", ())))
            self.categories[name] = category
            for pattern in spec.get("en", ()):
                for phrase in expand(pattern):
                    words = _WORD.findall(normalise(phrase))
                    if len(words) == 1:
                        self.english_words.setdefault(words[0], []).append(category)
                    elif words:
                        self.english.setdefault((words[0], words[1]), []).append(
                            (words, category))
            for pattern in spec.get("zh", ()):
                for phrase in expand(pattern):
                    phrase = phrase.replace(" ", "")
                    if phrase:
                        self.chinese.setdefault(phrase[0], []).append((phrase, category))
        self._english_first = frozenset({*self.english_words, *(k[0] for k in self.english)})
        self._chinese_first = frozenset(self.chinese)

    def screen(self, text: str, role: Role) -> list[Hit]:
        """The categories ``text`` (said by ``role``) touches, each once, first match kept."""
        found: dict[str, Hit] = {}
        folded = text.lower() if text.isascii() else normalise(text)
        words = _WORD.findall(folded)
        firsts = self._english_first
        if not firsts.isdisjoint(words):
            singles, longer = self.english_words, self.english
            for i in [i for i, w in enumerate(words) if w in firsts]:
                word = words[i]
                for category in singles.get(word, ()):
                    if (category.name not in found and role in category.roles
                            and not category.negated_en(words, i)):
                        found[category.name] = Hit(category, word)
                for phrase, category in longer.get((word, words[i + 1]) if i + 1 < len(words)
                                                   else ("", ""), ()):
                    if (category.name not in found and role in category.roles
                            and words[i:i + len(phrase)] == phrase
                            and not category.negated_en(words, i)):
                        found[category.name] = Hit(category, " ".join(phrase))
        if not text.isascii() and not self._chinese_first.isdisjoint(folded):
            for char in self._chinese_first.intersection(folded):
                for phrase, category in self.chinese[char]:
                    if category.name in found or role not in category.roles:
                        continue
                    at = folded.find(phrase)
                    while at != -1 and category.negated_zh(folded, at):
                        at = folded.find(phrase, at + 1)
                    if at != -1:
                        found[category.name] = Hit(category, phrase)
        return list(found.values())

    def check(self, dialogue: Dialogue, vocab: Vocabulary, config: CheckConfig) -> list[Finding]:
        out = []
        for i, turn in enumerate(dialogue.turns):
            for hit in self.screen(turn.text, turn.role):
                rule = f"safety.{hit.category.name}"
                if config.enabled(rule):
                    who = vocab.role_display(turn.role, "en")
                    out.append(config.finding(
                        rule, dialogue.id, i, f"turns[{i}].text",
                        f"{who} turn {hit.category.message} ('{hit.phrase}'); review it",
                        category=hit.category.name))
        return out


@cache
def default_screen() -> SafetyScreen:
    """The screen built from the bundled ``safety_terms.json``."""
    text = resources.files(__package__).joinpath("safety_terms.json").read_text("utf-8")
    return SafetyScreen(json.loads(text))
