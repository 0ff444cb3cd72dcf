"""``curation dedup FILE`` keeps the texts packed and sketches in batches: the clusters must be
exactly those of the search run over the file's records held whole."""

from __future__ import annotations

import json
import random

from curation_app import formats
from curation_app.checks.dedup import find_duplicates
from curation_app.presets import load_preset
from curation_app.services import file_dedup
from curation_app.services.file_dedup import _PackedTexts, dedup_file


def test_packed_texts_give_back_every_text_as_the_tokeniser_reads_it():
    held = _PackedTexts()
    cases = [(["hello", "", "world"], [False, True, False]),
             (["a\x00b", "c"], [True, False]),  # a NUL inside a text: held as a space
             (["\ud800 lone surrogate", "你好，孩子"], [False, True]),
             ([""], [True]),  # one empty turn is not no turn
             ([], [])]
    for texts, supporter in cases:
        held.append(texts, supporter)
    assert held.texts_of([0, 1, 2, 3, 4]) == [["hello", "", "world"], ["a b", "c"],
                                              ["\ud800 lone surrogate", "你好，孩子"], [""], []]
    assert [list(map(bool, s)) for s in held.supporter] == [s for _, s in cases]


def _corpus(rng: random.Random, n: int) -> list[dict]:
    words = ["sad", "tired", "exam", "friend", "mother", "work", "sleep", "worry", "talk",
             "listen", "help", "breathe"]
    records = []
    for i in range(n):
        content = []
        for t in range(rng.randint(2, 8)):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
            content.append({"User": text} if t % 2 == 0 else {"AI Strategy": "", "AI": text})
        records.append({"scene": None, "description": f"case {i}", "content": content})
    for i in range(0, n - 1, 7):  # planted copies, some with one word changed
        copy = json.loads(json.dumps(records[i]))
        if i % 2:
            copy["content"][0] = {"User": copy["content"][0]["User"] + " again"}
        records[i + 1] = copy
    records.append({"content": "not a list"})  # refused, and counted
    return records


def test_batched_packed_search_equals_the_search_over_the_whole_file(tmp_path, monkeypatch):
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(_corpus(random.Random(7), 700)), encoding="utf-8")
    monkeypatch.setattr(file_dedup, "_BATCH", 64)  # many batches, one left over
    result = dedup_file(path, "extes")
    whole = formats.read_turn_texts(path, "extes", load_preset("extes"))
    expected = find_duplicates([r.texts for r in whole.records],
                               [r.supporter for r in whole.records], threshold=0.85)
    assert result.clusters == expected.clusters
    assert len(result.clusters) > 50  # the planted copies were found
    assert (result.records, result.refused) == (700, 1)
