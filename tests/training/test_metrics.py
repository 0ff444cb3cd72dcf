"""The metrics on worked examples whose values are derived by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curation_app.training import metrics as M

HYP = ["the cat sat on the mat"]
REF = ["the cat is on the mat"]


def test_english_is_tokenised_like_nltk_and_offline():
    # as nltk.word_tokenize does it: sentences first (Punkt, here with its untrained default
    # parameters, since punkt data cannot be downloaded), then the Treebank-style word rules
    assert M.tokenize("I can't sleep. She said so, twice!", "en") == [
        "i", "ca", "n't", "sleep", ".", "she", "said", "so", ",", "twice", "!"]


def test_chinese_is_tokenised_by_characters():
    assert M.tokenize("我很 难过。", "zh") == ["我", "很", "难", "过", "。"]


def test_bleu_2_and_4():
    # unigram precision 5/6 (all but "sat"), bigram 3/5 (the cat, on the, the mat), same
    # length so no brevity penalty: BLEU-2 = sqrt(5/6 * 3/5) = sqrt(1/2)
    assert M.bleu(HYP, REF, "en", 2) == pytest.approx(100 * math.sqrt(0.5))
    # trigrams 1/4 (on the mat), no 4-gram: sacrebleu's exp smoothing counts it as
    # 1/(2*3); BLEU-4 = (5/6 * 3/5 * 1/4 * 1/6) ** (1/4) = (1/48) ** (1/4)
    assert M.bleu(HYP, REF, "en", 4) == pytest.approx(100 * (1 / 48) ** 0.25)
    assert M.bleu(REF, REF, "en", 4) == pytest.approx(100.0)


def test_rouge_l_in_english_and_chinese():
    # LCS "the cat on the mat" = 5 of 6 tokens on both sides: F = 5/6
    assert M.rouge_l(HYP, REF, "en") == pytest.approx(100 * 5 / 6)
    # LCS 我难过 = 3; precision 3/4, recall 3/5: F = 2*3/4*3/5 / (3/4+3/5) = 2/3
    assert M.rouge_l(["我很难过"], ["我有点难过"], "zh") == pytest.approx(100 * 2 / 3)


def test_meteor_exact_and_stem_stage():
    # 5 matches of 6 and 6 tokens: P = R = 5/6, Fmean = 5/6; two chunks (the cat | on the
    # mat): penalty 0.5 * (2/5)**3 = 0.032; score 5/6 * 0.968
    value, _ = M.meteor(HYP, REF, "en", synonyms=False)
    assert value == pytest.approx(100 * 5 / 6 * (1 - 0.5 * 0.4 ** 3))


def test_meteor_synonyms_come_from_wordnet():
    if M.find_wordnet() is None:
        pytest.skip("no WordNet: install Debian's wordnet-base (apt-get install wordnet-base) "
                    "or nltk's wordnet data to check METEOR's synonym stage")
    # "ill" and "sick" share a synset: 3 of 3 match in one chunk, penalty 0.5 * (1/3)**3
    value, source = M.meteor(["i am ill"], ["i am sick"], "en")
    assert value == pytest.approx(100 * (1 - 0.5 / 27))
    assert source
    # without the synonym stage only "i am" matches: Fmean 2/3, penalty 0.5 * (1/2)**3
    plain, none = M.meteor(["i am ill"], ["i am sick"], "en", synonyms=False)
    assert plain == pytest.approx(100 * 2 / 3 * (1 - 0.0625)) and none is None


def test_distinct_n_over_all_responses():
    # unigrams a b a b a c: 3 distinct of 6; bigrams ab ba ab ac: 3 of 4; trigrams aba bab: 2/2
    hyps = ["a b a b", "a c"]
    assert M.distinct(hyps, "en", 1) == pytest.approx(50.0)
    assert M.distinct(hyps, "en", 2) == pytest.approx(75.0)
    assert M.distinct(hyps, "en", 3) == pytest.approx(100.0)
    assert M.distinct(["好好好"], "zh", 1) == pytest.approx(100 / 3)


def test_vector_extrema_takes_the_largest_magnitude_per_dimension():
    embed = np.array([[1.0, 0.0], [0.0, 1.0], [-2.0, 0.5], [0.5, -3.0]])
    # hyp tokens 0, 2 -> extrema (-2, 0.5); ref tokens 1, 3 -> (0.5, -3)
    # cosine = (-1 - 1.5) / (sqrt(4.25) * sqrt(9.25))
    ids = {"hyp": [0, 2], "ref": [1, 3]}
    value = M.vector_extrema(["hyp"], ["ref"], embed, ids.__getitem__)
    assert value == pytest.approx(100 * -2.5 / math.sqrt(4.25 * 9.25))
    assert M.vector_extrema(["hyp"], ["hyp"], embed, ids.__getitem__) == pytest.approx(100.0)


def test_strategy_accuracy_and_perplexity():
    assert M.strategy_accuracy([["A"], ["B", "C"], []], [["A"], ["C", "B"], ["A"]]) == \
        pytest.approx(200 / 3)
    assert M.perplexity(2 * math.log(4), 2) == pytest.approx(4.0)


def test_the_table_has_extes_table_6_columns():
    rows = [("base (zero-shot)", "no-strategies", {"ppl": 12.5, "meteor": 1.0}),
            ("LoRA", "strategies", {"ppl": 9.0, "meteor": 2.0, "strategy_accuracy": 50.0})]
    text = M.table(rows)
    head = text.splitlines()[0].split()
    assert head[:5] == ["Model", "Variant", "PPL", "METEOR", "Strategy"]
    assert "12.50" in text and "-" in text.splitlines()[2]
