"""Small made-up corpora with planted duplicates of every kind, for the dedup tests.

English is built from invented words, so unrelated dialogues share little beyond chance;
Chinese from common characters. Every planted pair is recorded with its kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
FUNCTION = ("i", "you", "it", "we", "the", "a", "to", "and", "but", "of", "in", "on", "my",
            "your", "is", "was", "not", "so", "that", "this")
HANZI = ("的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之"
         "过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如"
         "前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其")
FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyz,.!?"}


@dataclass
class Corpus:
    dialogues: list[list[str]]
    supporter: list[list[bool]]
    planted: dict[tuple[int, int], str] = field(default_factory=dict)  # (i, j) -> kind
    recycled: list[set[tuple[int, int]]] = field(default_factory=list)


class Words:
    def __init__(self, rng: random.Random, lang: str):
        self.rng, self.lang = rng, lang
        self.vocab = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
                             for _ in range(4000)})

    def turn(self, n: int = 20) -> str:
        r = self.rng
        if self.lang == "zh":
            body = "".join(r.choice(HANZI) for _ in range(n + 10))
            cut = r.randint(8, len(body) - 8)
            return body[:cut] + "，" + body[cut:] + r.choice("。！？")
        words = [r.choice(FUNCTION) if r.random() < 0.3 else r.choice(self.vocab)
                 for _ in range(n)]
        return " ".join(words).capitalize() + r.choice(".!?")


def reformat(turns: list[str], lang: str) -> list[str]:
    if lang == "zh":
        return ["  " + t.replace("，", ",").replace("。", ".") + " " for t in turns]
    out = []
    for i, t in enumerate(turns):
        if i % 3 == 0:
            t = t.upper()
        elif i % 3 == 1:
            t = "".join(FULLWIDTH.get(c, c) for c in t)
        out.append(" " + t.replace(" ", "   ").rstrip(".!?") + " ... ")
    return out


def change_words(turns: list[str], rng: random.Random, words: Words, count: int = 3) -> list[str]:
    out = list(turns)
    for _ in range(count):
        k = rng.randrange(len(out))
        if words.lang == "zh":
            text = out[k]
            i = rng.randrange(len(text) - 1)
            out[k] = text[:i] + rng.choice(HANZI) + text[i + 1:]
        else:
            parts = out[k].split(" ")
            parts[rng.randrange(len(parts))] = rng.choice(words.vocab)
            out[k] = " ".join(parts)
    return out


def build(lang: str, n: int = 120, turns: int = 12, seed: int = 3, plant: bool = True) -> Corpus:
    """``n`` unrelated dialogues, then (with ``plant``) one planted copy of each kind of four
    originals, and (when ``n`` >= 24) two supporter sentences recycled into six dialogues each,
    half of them with a word changed."""
    rng = random.Random(f"{lang}-{seed}")
    words = Words(rng, lang)
    dialogues = [[words.turn() for _ in range(turns)] for _ in range(n)]
    corpus = Corpus(dialogues, [])
    recycled_into: set[int] = set()
    targets = rng.sample(range(n // 2, n), 12) if n >= 24 else []
    for group in range(len(targets) // 6):
        sentence = words.turn(24)
        spots = set()
        for j, d in enumerate(targets[group * 6:(group + 1) * 6]):
            t = rng.randrange(1, turns, 2)
            dialogues[d][t] = sentence if j % 2 == 0 else change_words([sentence], rng, words,
                                                                         1)[0]
            spots.add((d, t))
            recycled_into.add(d)
        corpus.recycled.append(spots)
    originals = [i for i in range(n // 2) if i not in recycled_into] if plant else []
    for kind, original in zip(("exact", "format", "turn_replaced", "words_changed"),
                              originals[:4], strict=False):
        copy = list(dialogues[original])
        if kind == "format":
            copy = reformat(copy, lang)
        elif kind == "turn_replaced":
            copy[5] = words.turn()
        elif kind == "words_changed":
            copy = change_words(copy, rng, words)
        dialogues.append(copy)
        corpus.planted[(original, len(dialogues) - 1)] = kind
    corpus.supporter = [[t % 2 == 1 for t in range(len(d))] for d in dialogues]
    return corpus
