"""Format and lint checks at scale, against plain ``jsonschema`` validating the same records.

Builds ExTES-like English dialogues (18 turns of about 26 words, a strategy on every AI turn,
scenarios from the preset) and PECONV-like Chinese ones (16 turns), with a few faults planted
(unknown strategies, empty turns, prompt artefacts), and times
``curation_app.checks.DialogueChecker`` with format and lint on all of them. The baseline is
``jsonschema.Draft202012Validator.is_valid`` on the same export records (the records are made
outside the timing of both), measured in the same run on a sample and scaled linearly; the
output says so. The safety screen and the per-save latency of one dialogue are printed too.

Run: ``.venv/bin/python benchmarks/bench_checks.py [--size 10000 --size 100000] [--lang en zh]``
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

import numpy as np
from bench_dedup import ChineseText, EnglishText
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.checks import CheckConfig, DialogueChecker
from curation_app.domain import Dialogue, Role, Turn
from curation_app.presets import Vocabulary, load_preset


def build(n: int, lang: str, vocab: Vocabulary, seed: int = 5) -> list[Dialogue]:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    gen = EnglishText(nrng) if lang == "en" else ChineseText(nrng)
    turns_per = 18 if lang == "en" else 16
    texts = gen.turns(n * turns_per)
    strategies = vocab.strategy_names
    out = []
    for i in range(n):
        turns = []
        for t in range(turns_per):
            text = texts[i * turns_per + t]
            if t % 2:
                picks = rng.sample(strategies, 2 if vocab.multi_strategy and rng.random() < 0.3
                                   else 1)
                turns.append(Turn(Role.SUPPORTER, text, picks))
            else:
                turns.append(Turn(Role.SEEKER, text, []))
        fault = rng.random()
        if fault < 0.01:
            turns[3].strategies = ["Hypnosis"]
        elif fault < 0.02:
            turns[4].text = "  "
        elif fault < 0.03:
            turns[5].text = "AI: " + turns[5].text
        out.append(Dialogue(turns=turns, id=i + 1, language=vocab.language,
                            topic=rng.choice(vocab.topics),
                            emotion=rng.choice(vocab.emotions) if lang == "zh" else None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, action="append",
                        help="dialogues per corpus (repeatable; default 10000 and 100000)")
    parser.add_argument("--lang", nargs="+", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--baseline-sample", type=int, default=2000,
                        help="records jsonschema validates (the rest is scaled)")
    args = parser.parse_args()
    for lang in args.lang:
        vocab = load_preset("extes" if lang == "en" else "peconv")
        config = CheckConfig.resolve(vocab.checks, {})
        fmt = vocab.export_format
        for n in args.size or [10000, 100000]:
            t0 = time.perf_counter()
            dialogues = build(n, lang, vocab)
            turns = sum(len(d.turns) for d in dialogues)
            print(f"\n== {lang}, {n} dialogues ({turns} turns) as {fmt}, built in "
                  f"{time.perf_counter() - t0:.1f}s")

            checker = DialogueChecker(vocab, config, ("format", "lint"))
            start = time.perf_counter()
            found = [f for d in dialogues for f in checker.check(d)]
            ours = time.perf_counter() - start
            counts = Counter(f.rule for f in found)
            print(f"format + lint: {ours:.2f}s ({n / ours:,.0f} dialogues/s), "
                  f"{len(found)} findings: {', '.join(f'{k} {v}' for k, v in counts.items())}")

            sample = dialogues[:min(n, args.baseline_sample)]
            records = [formats.export_record(d, fmt, vocab) for d in sample]
            full = Draft202012Validator(formats.schema_for(fmt, vocab))
            start = time.perf_counter()
            valid = sum(full.is_valid(r) for r in records)
            base = (time.perf_counter() - start) * n / len(sample)
            print(f"jsonschema is_valid alone on the same records: {base:.2f}s (measured on "
                  f"{len(sample)} records, {valid} valid, scaled x{n / len(sample):g}) -> "
                  f"format + lint is {base / ours:.1f}x faster")

            safety = DialogueChecker(vocab, config, ("safety",))
            start = time.perf_counter()
            hits = sum(len(safety.check(d)) for d in dialogues)
            print(f"safety screen: {time.perf_counter() - start:.2f}s, {hits} findings")

            one = dialogues[0]
            start = time.perf_counter()
            for _ in range(200):
                DialogueChecker(vocab, config).check(one)
            print(f"one dialogue on save (checker built, format + lint + safety): "
                  f"{(time.perf_counter() - start) / 200 * 1000:.2f} ms")


if __name__ == "__main__":
    main()
