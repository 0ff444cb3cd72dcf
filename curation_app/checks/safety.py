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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from curation_app.checks.batch import BatchTexts
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
        self._single_keys = np.unique(np.array([_word_key(w) for w in self.english_words],
                                               dtype=np.uint64))
        self._pair_keys = np.unique(np.array([_pair_key(_word_key(a), _word_key(b))
                                             for a, b in self.english], dtype=np.uint64))
        self._single_filter = _filter(self._single_keys)
        self._pair_filter = _filter(self._pair_keys)
        # the first two characters (the second 0 for a one-letter word) of every word that
        # may begin a phrase, as a 2**16 table: most words of a text fail it, and only those
        # that pass have their keys looked up
        self._openings = np.zeros(1 << 16, dtype=bool)
        for word in self._english_first:
            self._openings[_opening(word)] = True

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
            # in the order the first characters occur in the text: a set's own order changes
            # with the process's string hashing, and with it which phrase was reported
            for char in sorted(self._chinese_first.intersection(folded), key=folded.find):
                for phrase, category in self.chinese[char]:
                    if category.name in found or role not in category.roles:
                        continue
                    at = folded.find(phrase)
                    while at != -1 and category.negated_zh(folded, at):
                        at = folded.find(phrase, at + 1)
                    if at != -1:
                        found[category.name] = Hit(category, phrase)
        return list(found.values())

    def screen_flagged(self, texts: Sequence[str], roles: Sequence[Role],
                       batch: BatchTexts | None = None) -> dict[int, list[Hit]]:
        """``{i: self.screen(t, r)}`` for the texts that have hits, a batch at a time: an
        ASCII text is screened only when it holds a one-word phrase or two consecutive words
        that begin a longer one (both looked up with numpy over the batch's words); those are
        the only ASCII texts :meth:`screen` can find anything in. ``batch``, when given, holds
        ``texts`` already flattened and encoded."""
        if batch is None:
            batch = BatchTexts.flat(texts)
        todo = list(batch.others)
        if batch.ascii_ids:
            plain = batch.ascii_ids
            todo += [plain[k] for k in self._candidates(batch)]
        return {i: hits for i in sorted(todo) if (hits := self.screen(texts[i], roles[i]))}

    def _candidates(self, batch: BatchTexts) -> list[int]:
        """Ranks among the batch's ASCII texts of those whose words may start a phrase (see
        above)."""
        low = _ASCII_WORD[batch.ascii_bytes]
        word = low != 0
        first = np.flatnonzero(word & ~np.concatenate([[False], word[:-1]]))
        end = np.flatnonzero(word & ~np.concatenate([word[1:], [False]])) + 1
        if not len(first):
            return []
        # a word's first two characters (0 after a one-letter word: never a word character)
        second = np.zeros(len(low) + 1, dtype=np.uint8)
        second[:-2] = low[1:]
        may = np.flatnonzero(self._openings[(low[first].astype(np.uint16) << 8)
                                            | second[first]])
        keys = _keys(low, first[may], end[may])
        hit = _member(keys, self._single_keys, self._single_filter)
        pair = may[may + 1 < len(first)]  # a word with one after it
        if len(pair):
            following = _keys(low, first[pair + 1], end[pair + 1])
            hit[:len(pair)] |= _member(_pair_key(keys[:len(pair)], following),
                                       self._pair_keys, self._pair_filter)
        found = first[may[hit]]
        return np.unique(batch.owner(found)).tolist()

    def check(self, dialogue: Dialogue, vocab: Vocabulary, config: CheckConfig,
              hits: Mapping[int, Sequence[Hit]] | None = None) -> list[Finding]:
        """Findings for ``dialogue``; ``hits`` by turn index when already screened in a batch
        (:meth:`screen_flagged`)."""
        if hits is None:
            hits = self.screen_flagged([t.text for t in dialogue.turns],
                                       [t.role for t in dialogue.turns])
        out = []
        for i, found in sorted(hits.items()):
            turn = dialogue.turns[i]
            for hit in found:
                rule = f"safety.{hit.category.name}"
                if config.enabled(rule):
                    who = vocab.role_display(turn.role, "en")
                    out.append(config.finding(
                        rule, dialogue.id, i, f"turns[{i}].text",
                        f"{who} turn {hit.category.message} ('{hit.phrase}'); review it",
                        category=hit.category.name))
        return out


# ASCII code -> the lower-cased character for [A-Za-z0-9] (what _WORD finds in lower-cased
# text), 0 for the rest.
_ASCII_WORD = np.zeros(256, dtype=np.uint8)
for _c in "abcdefghijklmnopqrstuvwxyz0123456789":
    _ASCII_WORD[ord(_c)] = _ASCII_WORD[ord(_c.upper())] = ord(_c)
_KEY_CHARS = 7
_PAIR_MULT = np.uint64(0x9E3779B97F4A7C15)


def _word_key(word: str) -> int:
    """A word's first seven characters and its length (capped) in 64 bits: equal words have
    equal keys (different words rarely do, and then only cost a needless screen)."""
    key = min(len(word), 255) << 56
    for k, char in enumerate(word[:_KEY_CHARS]):
        key |= ord(char) << (8 * k)
    return key


def _opening(word: str) -> int:
    """The index of ``word`` in ``SafetyScreen._openings``."""
    return (ord(word[0]) << 8) | (ord(word[1]) if len(word) > 1 else 0)


_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(_KEY_CHARS + 1)], dtype=np.uint64)


def _keys(low: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """:func:`_word_key` of every word (``first``/``end``: its bounds in ``low``): eight bytes
    read at each word's start, cut to its first seven characters."""
    padded = np.zeros(len(low) + 8, dtype=np.uint8)
    padded[:len(low)] = low
    # every position's next eight bytes as one little-endian integer (an overlapping view)
    eights = np.ndarray(shape=(len(low),), dtype="<u8", buffer=padded.data, offset=0,
                        strides=(1,))
    length = end - first
    keys = eights[first] & _MASKS[np.minimum(length, _KEY_CHARS)]
    keys |= np.minimum(length, 255).astype(np.uint64) << np.uint64(56)
    return keys


def _pair_key(a: Any, b: Any) -> Any:
    with np.errstate(over="ignore"):
        return np.uint64(a) * _PAIR_MULT ^ np.uint64(b) if isinstance(a, int) \
            else a * _PAIR_MULT ^ b


def _filter(sorted_keys: np.ndarray) -> np.ndarray:
    """A 2**16-bit table of the keys' mixed top bits: a cheap first test of membership."""
    table = np.zeros(1 << 16, dtype=bool)
    with np.errstate(over="ignore"):
        table[(sorted_keys * _PAIR_MULT) >> np.uint64(48)] = True
    return table


def _member(values: np.ndarray, sorted_keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Which ``values`` are among ``sorted_keys`` (``table``: their :func:`_filter`)."""
    with np.errstate(over="ignore"):
        out = table[(values * _PAIR_MULT) >> np.uint64(48)]
    maybe = np.flatnonzero(out)
    if len(maybe):
        at = np.minimum(np.searchsorted(sorted_keys, values[maybe]), len(sorted_keys) - 1)
        out[maybe] = sorted_keys[at] == values[maybe]
    return out


@cache
def default_screen() -> SafetyScreen:
    """The screen built from the bundled ``safety_terms.json``."""
    text = resources.files(__package__).joinpath("safety_terms.json").read_text("utf-8")
    return SafetyScreen(json.loads(text))
