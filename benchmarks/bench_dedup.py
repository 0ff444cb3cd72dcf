"""Near-duplicate detection at scale: the project's dedup against datasketch's MinHashLSH.

Builds made-up corpora shaped like ExTES (English, 18 turns of about 26 words) and PECONV
(Chinese, about 16 turns of about 30 characters) with about 5% planted near-duplicates of four
kinds (exact copies; whitespace, punctuation, case and full-width changes; one turn replaced;
a few words changed) and a few supporter sentences recycled across many dialogues. Runs
``curation_app.checks.dedup.find_duplicates`` and prints its time, peak memory (tracemalloc) and
precision/recall against the planted pairs, then the same job done with datasketch's MinHash and
MinHashLSH (same shingles, same bands, same rapidfuzz confirmation), measured in the same run.
For large corpora the baseline runs on a sample and is scaled linearly; the output says so.

Run: ``.venv/bin/python benchmarks/bench_dedup.py [--size 10000 --size 100000] [--lang en zh]``
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import Indel

from curation_app.checks.dedup import DedupParams, find_duplicates
from curation_app.checks.text import char_table, tokens

_FUNCTION_TEXT = (
    "i you he she it we they me him her us them my your his its our their this that these "
    "those a an the and but or so because if when while as at by for from in into of on to "
    "with about after before over under again then there here what which who how why is am "
    "are was were be been being have has had do does did can could will would should may "
    "might must not no just very really too also only even still feel felt think know want "
    "need like get got make made go going say said tell told")
FUNCTION_WORDS = _FUNCTION_TEXT.split()
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai",
                                                              "ou", "ea")]
PUNCT_EN = (".", "!", "?", ".", ".")


@dataclass
class Corpus:
    dialogues: list[list[str]]
    supporter: list[list[bool]]
    pairs: set[tuple[int, int]]  # planted duplicate pairs (dialogue indices, i < j)
    kinds: dict[str, int] = field(default_factory=dict)
    recycled: list[set[tuple[int, int]]] = field(default_factory=list)  # (dialogue, turn) sets


class EnglishText:
    """Vocabulary-rich pseudo-English: real function words and 30k made-up content words with
    Zipf frequencies, so that unrelated dialogues share little beyond the function words."""

    def __init__(self, rng: np.random.Generator, content_words: int = 30000):
        made: set[str] = set()
        while len(made) < content_words:
            n = int(rng.integers(1, 4))
            made.add("".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), n)))
        self.words = FUNCTION_WORDS + sorted(made)
        ranks = np.arange(1, content_words + 1)
        content_p = 1.0 / ranks
        content_p /= content_p.sum()
        fp = np.full(len(FUNCTION_WORDS), 1.0 / len(FUNCTION_WORDS))
        self.p = np.concatenate([fp * 0.4, content_p * 0.6])
        self.rng = rng

    def turns(self, count: int, words: int = 26) -> list[str]:
        lengths = self.rng.integers(words - 6, words + 7, count)
        idx = self.rng.choice(len(self.words), size=int(lengths.sum()), p=self.p).tolist()
        punct = self.rng.integers(0, len(PUNCT_EN), count).tolist()
        out = []
        pos = 0
        w = self.words
        for n, p in zip(lengths.tolist(), punct, strict=True):
            text = " ".join([w[i] for i in idx[pos:pos + n]])
            pos += n
            out.append(text[0].upper() + text[1:] + PUNCT_EN[p])
        return out


class ChineseText:
    """Pseudo-Chinese: 3,500 characters with Zipf frequencies grouped into 20k words of one to
    three characters, sentences broken by ，and ended by 。！？."""

    def __init__(self, rng: np.random.Generator, words: int = 20000):
        chars = [chr(c) for c in rng.choice(np.arange(0x4E00, 0x9FA5), 3500, replace=False)]
        cp = 1.0 / np.arange(1, len(chars) + 1) ** 0.8
        cp /= cp.sum()
        made: set[str] = set()
        while len(made) < words:
            n = int(rng.choice([1, 2, 2, 2, 3]))
            made.add("".join(chars[int(i)] for i in rng.choice(len(chars), n, p=cp)))
        self.words = sorted(made)
        p = 1.0 / np.arange(1, words + 1) ** 0.9
        self.p = p / p.sum()
        self.rng = rng

    def turns(self, count: int, words: int = 16) -> list[str]:
        lengths = self.rng.integers(words - 5, words + 6, count)
        idx = self.rng.choice(len(self.words), size=int(lengths.sum()), p=self.p).tolist()
        ends = self.rng.choice(["。", "！", "？", "。"], count).tolist()
        out = []
        pos = 0
        w = self.words
        for n, end in zip(lengths.tolist(), ends, strict=True):
            parts = [w[i] for i in idx[pos:pos + n]]
            pos += n
            if n > 8:
                parts.insert(n // 2, "，")
            out.append("".join(parts) + end)
        return out


FULLWIDTH = {c: chr(ord(c) + 0xFEE0)
             for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.!?"}
ZH_PUNCT = {"，": ",", "。": ".", "！": "!", "？": "?"}


def reformat(turns: list[str], rng: random.Random, lang: str) -> list[str]:
    """Whitespace, punctuation, case and width changes only."""
    out = []
    for t in turns:
        choice = rng.random()
        if lang == "en":
            if choice < 0.3:
                t = "  " + t.replace(" ", "  ", 3) + " \n"
            elif choice < 0.5:
                t = t.rstrip(".!?") + "..."
            elif choice < 0.7:
                t = t.upper() if rng.random() < 0.3 else t.lower()
            elif choice < 0.85:
                words = t.split(" ")
                k = rng.randrange(len(words))
                words[k] = "".join(FULLWIDTH.get(c, c) for c in words[k])
                t = " ".join(words)
            else:
                t = t.replace(" ", ", ", 2)
        else:
            if choice < 0.4:
                t = "".join(ZH_PUNCT.get(c, c) for c in t)
            elif choice < 0.7:
                t = " " + t.replace("，", " ， ") + "  "
            else:
                t = t.rstrip("。！？") + "……"
        out.append(t)
    return out


def change_words(turns: list[str], rng: random.Random, lang: str, fresh: list[str],
                 actions: tuple[str, ...] = ("replace", "replace", "delete")) -> list[str]:
    """Replace two words and delete one (by default), in random turns."""
    out = list(turns)
    for action in actions:
        k = rng.randrange(len(out))
        if lang == "en":
            words = out[k].split(" ")
            i = rng.randrange(len(words))
            if action == "replace":
                words[i] = rng.choice(fresh[0].split(" "))
            elif len(words) > 3:
                del words[i]
            out[k] = " ".join(words)
        else:
            text = out[k]
            i = rng.randrange(max(1, len(text) - 2))
            if action == "replace":
                text = text[:i] + rng.choice(fresh[0]) + rng.choice(fresh[0]) + text[i + 2:]
            else:
                text = text[:i] + text[i + 1:]
            out[k] = text
    return out


def build(n: int, lang: str, seed: int = 7, dup_rate: float = 0.05,
          recycled_sentences: int | None = None) -> Corpus:
    """``n`` dialogues of which about ``dup_rate`` are planted near-duplicates of others."""
    nrng = np.random.default_rng(seed)
    rng = random.Random(seed)
    gen = EnglishText(nrng) if lang == "en" else ChineseText(nrng)
    turns_per = 18 if lang == "en" else 16
    n_dup = int(n * dup_rate)
    n_orig = n - n_dup
    flat = gen.turns(n_orig * turns_per)
    base = [flat[i * turns_per:(i + 1) * turns_per] for i in range(n_orig)]
    # recycled supporter sentences: each put into 20 dialogues (odd turns are the supporter's),
    # half verbatim, half with one word replaced; no dialogue gets two
    recycled: list[list[tuple[int, int]]] = []
    count = recycled_sentences if recycled_sentences is not None else max(5, n // 2000)
    targets = rng.sample(range(n_orig), 20 * count)
    for k, sentence in enumerate(gen.turns(count)):
        spots = []
        for j, d in enumerate(targets[20 * k:20 * (k + 1)]):
            t = rng.randrange(1, turns_per, 2)
            base[d][t] = (sentence if j % 2 == 0 else
                          change_words([sentence], rng, lang, gen.turns(1), ("replace",))[0])
            spots.append((d, t))
        recycled.append(spots)
    kinds = ["exact", "format", "turn_replaced", "words_changed"]
    originals = rng.sample(range(n_orig), n_dup)
    copies = []
    counts: dict[str, int] = {k: 0 for k in kinds}
    for i, o in enumerate(originals):
        kind = kinds[i % 4]
        counts[kind] += 1
        turns = list(base[o])
        if kind == "format":
            turns = reformat(turns, rng, lang)
        elif kind == "turn_replaced":
            turns[rng.randrange(1, turns_per)] = gen.turns(1)[0]
        elif kind == "words_changed":
            turns = change_words(turns, rng, lang, gen.turns(1))
        copies.append((o, turns))
    everything = base + [c[1] for c in copies]
    order = list(range(len(everything)))
    rng.shuffle(order)
    position = {old: new for new, old in enumerate(order)}
    dialogues = [everything[old] for old in order]
    pairs = set()
    for i, (o, _) in enumerate(copies):
        a, b = position[o], position[n_orig + i]
        pairs.add((min(a, b), max(a, b)))
    supporter = [[t % 2 == 1 for t in range(len(d))] for d in dialogues]
    # a planted copy of a dialogue holding a recycled turn holds it too, unless changed there
    copy_of: dict[int, list[int]] = {}
    for i, (o, _) in enumerate(copies):
        copy_of.setdefault(o, []).append(n_orig + i)
    spots = []
    for group in recycled:
        found = set()
        for d, t in group:
            found.add((position[d], t))
            for c in copy_of.get(d, ()):
                if Indel.normalized_similarity(tokens(everything[c][t]),
                                               tokens(base[d][t])) >= 0.85:
                    found.add((position[c], t))
        spots.append(found)
    return Corpus(dialogues, supporter, pairs, counts, spots)


def found_pairs(clusters) -> set[tuple[int, int]]:
    out = set()
    for c in clusters:
        if c.level != "dialogue":
            continue
        items = c.items
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                out.add((a, b))
    return out


def precision_recall(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(truth) if truth else 1.0
    return precision, recall


def run_ours(corpus: Corpus, threshold: float, lang: str) -> tuple[float, float, object]:
    """Time of the project's dedup, then its peak memory in a second, untimed run under
    tracemalloc (which sees numpy's buffers as well as Python objects; it would slow the timed
    run, and the process's own high-water mark says nothing once earlier runs have grown the
    heap)."""
    gc.collect()
    start = time.perf_counter()
    result = find_duplicates(corpus.dialogues, corpus.supporter, threshold=threshold,
                             language=lang)
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()
    find_duplicates(corpus.dialogues, corpus.supporter, threshold=threshold, language=lang)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, result


def shingle_set(dialogue: list[str], k: int) -> set[bytes]:
    """The same shingles as ours: k consecutive tokens within a turn."""
    out: set[bytes] = set()
    for turn in dialogue:
        toks = tokens(turn)
        if 0 < len(toks) < k:
            out.add(" ".join(toks).encode())
        for i in range(len(toks) - k + 1):
            out.add(" ".join(toks[i:i + k]).encode())
    return out


def run_datasketch(dialogues: list[list[str]], threshold: float, params: DedupParams,
                   lang: str) -> float:
    """The same job with datasketch: MinHash per dialogue over the same shingles, MinHashLSH
    with the same bands, each dialogue queried, candidates confirmed with rapidfuzz."""
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    bands = params.bins // params.rows
    lsh = MinHashLSH(num_perm=params.bins, params=(bands, params.rows))
    sigs = []
    for i, d in enumerate(dialogues):
        m = MinHash(num_perm=params.bins)
        m.update_batch(list(shingle_set(d, params.shingles(lang)[0])))
        lsh.insert(i, m)
        sigs.append(m)
    cache: dict[int, list[str]] = {}

    def toks(i: int) -> list[str]:
        if i not in cache:
            cache[i] = tokens("\n".join(dialogues[i]))
        return cache[i]

    # the same confirmation as ours, so the comparison is the candidate search
    confirmed = 0
    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            if j > i and Indel.normalized_similarity(toks(i), toks(j),
                                                      score_cutoff=threshold) >= threshold:
                confirmed += 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, action="append",
                        help="dialogues per corpus (repeatable; default 10000 and 100000)")
    parser.add_argument("--lang", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--threshold", type=float, default=0.85)
    parser.add_argument("--baseline-sample", type=int, default=10000,
                        help="largest corpus datasketch runs on in full; beyond, a sample")
    args = parser.parse_args()
    sizes = args.size or [10000, 100000]
    params = DedupParams()
    start = time.perf_counter()
    char_table()  # built once per process; not part of any measurement below
    print(f"character table built in {time.perf_counter() - start:.2f}s (once per process)")
    for lang in args.lang:
        for n in sizes:
            t0 = time.perf_counter()
            corpus = build(n, lang)
            built = time.perf_counter() - t0
            words = sum(len(t.split()) if lang == "en" else len(t) for d in corpus.dialogues
                        for t in d)
            turns = sum(len(d) for d in corpus.dialogues)
            unit = "words" if lang == "en" else "characters"
            print(f"\n== {lang}, {n} dialogues ({turns} turns, {words / turns:.1f} {unit} per "
                  f"turn), {len(corpus.pairs)} planted duplicates "
                  f"({', '.join(f'{k} {v}' for k, v in corpus.kinds.items())}); "
                  f"{len(corpus.recycled)} supporter sentences recycled 20 times each; "
                  f"built in {built:.1f}s")
            seconds, peak, result = run_ours(corpus, args.threshold, lang)
            precision, recall = precision_recall(found_pairs(result.clusters), corpus.pairs)
            turn_clusters = [c for c in result.clusters if c.level == "turn"]
            found_turns = {(m.item, m.turn) for c in turn_clusters for m in c.members}
            planted_turns = set().union(*corpus.recycled) if corpus.recycled else set()
            turn_p, turn_r = precision_recall(found_turns, planted_turns)
            timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
            print(f"ours: {seconds:.2f}s ({timing}), peak memory {peak / 2**20:.0f} MiB "
                  f"(tracemalloc, separate run), "
                  f"{result.candidates} candidate pairs, {result.confirmed} confirmed")
            print(f"  dialogues: precision {precision:.4f}, recall {recall:.4f} "
                  f"({len([c for c in result.clusters if c.level == 'dialogue'])} clusters)")
            print(f"  recycled supporter turns: precision {turn_p:.4f}, recall {turn_r:.4f} "
                  f"({len(turn_clusters)} turn clusters, {len(found_turns)} turns)")
            sample = min(n, args.baseline_sample)
            baseline_only = find_duplicates(corpus.dialogues[:sample],
                                            corpus.supporter[:sample],
                                            threshold=args.threshold, language=lang,
                                            turns=False)
            base = run_datasketch(corpus.dialogues[:sample], args.threshold, params, lang)
            scale = n / sample
            note = (f" (measured on {sample} dialogues, scaled x{scale:g})" if scale != 1
                    else "")
            ours_same = baseline_only.seconds
            print(f"datasketch MinHashLSH, dialogues only: {base * scale:.2f}s{note}; ours on the "
                  f"same {sample} dialogues, dialogues only: {ours_same:.2f}s -> "
                  f"{base / ours_same:.1f}x faster; ours with supporter turns too, all {n}: "
                  f"{seconds:.2f}s -> {base * scale / seconds:.1f}x faster")


if __name__ == "__main__":
    main()
