"""Agreement figures against published worked examples and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curation_app.errors import InvalidInputError
from curation_app.quality import agreement
from curation_app.quality.compare import bootstrap_difference
from curation_app.quality.protocols import Protocol, builtin_protocols

# Fleiss (1971), "Measuring nominal scale agreement among many raters": 30 patients, each
# diagnosed by 6 psychiatrists into 5 categories. Published kappa 0.430 (R irr::kappam.fleiss
# gives 0.4302445 on the same data).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]

# The worked example of Wikipedia's "Fleiss' kappa" article (also in statsmodels' tests):
# 10 subjects, 14 raters each, counts per category 1..5; kappa = 0.210.
WIKIPEDIA_COUNTS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# Krippendorff's reliability-data example (3 coders, 15 units, * = missing), as used by the
# krippendorff package's documentation: nominal alpha 0.691, interval alpha 0.811.
KRIPPENDORFF = {
    "A": "* * * * * 3 4 1 2 1 1 3 3 * 3",
    "B": "1 * 2 1 3 3 4 3 * * * * * * *",
    "C": "* * 2 1 3 4 4 * 2 1 1 3 3 * 4",
}


def test_fleiss_kappa_equals_fleiss_1971():
    result = agreement.fleiss_kappa(FLEISS_1971, [1, 2, 3, 4, 5])
    assert result.kappa == pytest.approx(0.4302445, abs=1e-7)
    assert (result.units, result.raters_per_unit, result.skipped) == (30, 6, 0)


def test_fleiss_kappa_equals_the_wikipedia_worked_example():
    units = [[c for c, n in zip(range(1, 6), row, strict=True) for _ in range(n)]
             for row in WIKIPEDIA_COUNTS]
    assert round(agreement.fleiss_kappa(units, [1, 2, 3, 4, 5]).kappa, 3) == 0.210


def test_fleiss_leaves_out_units_with_another_number_of_raters():
    units = [*FLEISS_1971, [1, 2], [3]]
    result = agreement.fleiss_kappa(units, [1, 2, 3, 4, 5])
    assert result.kappa == pytest.approx(0.4302445, abs=1e-7)
    assert result.skipped == 2


def test_fleiss_is_undefined_when_everyone_always_gives_the_same_score():
    assert agreement.fleiss_kappa([[2, 2], [2, 2], [2, 2]], [0, 1, 2, 3]).kappa is None


def test_krippendorff_alpha_equals_the_published_example():
    ratings = {coder: {u: int(v) for u, v in enumerate(row.split()) if v != "*"}
               for coder, row in KRIPPENDORFF.items()}
    assert agreement.krippendorff_alpha(ratings, "nominal") == pytest.approx(0.691, abs=5e-4)
    assert agreement.krippendorff_alpha(ratings, "interval") == pytest.approx(0.811, abs=5e-4)


def test_cohens_kappa_of_two_annotators_strategy_tags_equals_hand_computation():
    # One overlap group, four parent turns, PECONV's three strategies as yes/no decisions:
    #   turn   ann         ben
    #   1      V           V           agree on V, E, S
    #   2      E S         E           disagree on S
    #   3      S           S           agree
    #   4      V E         E           disagree on V
    # 12 decisions, 10 agree: p_o = 10/12. ann says yes 6 times of 12, ben 4 times:
    # p_e = 6/12 * 4/12 + 6/12 * 8/12 = 1/2, so kappa = (10/12 - 1/2) / (1 - 1/2) = 2/3.
    group = {"ann": [["validation"], ["empathy", "support"], ["support"],
                     ["validation", "empathy"]],
             "ben": [["validation"], ["empathy"], ["support"], ["empathy"]]}
    unaligned = {"ann": [["support"]], "ben": [["support"], ["empathy"]]}
    result = agreement.tag_agreement([group, unaligned], ["validation", "empathy", "support"],
                                     multi_label=True)
    (pair,) = result.pairs
    assert (pair.a, pair.b, pair.units) == ("ann", "ben", 12)
    assert pair.kappa == pytest.approx(2 / 3)
    assert (result.groups, result.unaligned, result.units) == (1, 1, 12)
    assert result.fleiss is not None and result.fleiss.units == 12
    # Fleiss' kappa for two raters differs from Cohen's only in pooling the marginals:
    # p_e = (10/24)^2 + (14/24)^2, kappa = (10/12 - p_e) / (1 - p_e).
    p_e = (10 / 24) ** 2 + (14 / 24) ** 2
    assert result.fleiss.kappa == pytest.approx((10 / 12 - p_e) / (1 - p_e))
    assert set(result.per_strategy) == {"validation", "empathy", "support"}


def test_single_label_tags_are_compared_as_one_choice_per_turn():
    group = {"a": [["Clarification"], ["Reflective Statements"], []],
             "b": [["Clarification"], ["Clarification"], []]}
    result = agreement.tag_agreement([group], ["Clarification", "Reflective Statements"],
                                     multi_label=False)
    (pair,) = result.pairs
    # 3 units, 2 agree; a: C, R, none; b: C, C, none -> p_e = (1*2 + 1*0 + 1*1) / 9 = 1/3.
    assert pair.kappa == pytest.approx((2 / 3 - 1 / 3) / (1 - 1 / 3))


def test_each_rater_against_the_rest_finds_the_odd_one_out():
    truth = [0, 1, 2, 3, 1, 2, 0, 3, 2, 1]
    ratings = {"a": dict(enumerate(truth)), "b": dict(enumerate(truth)),
               "c": {i: 3 - v for i, v in enumerate(truth)}}
    by_rater = {r.rater: r for r in agreement.rater_agreement(ratings, [0, 1, 2, 3])}
    assert by_rater["c"].kappa < 0 < by_rater["a"].kappa
    assert by_rater["c"].spearman == pytest.approx(-1.0)
    assert by_rater["a"].units == 10


def test_spearman_is_undefined_for_too_few_or_constant_values():
    assert agreement.spearman([1, 2], [2, 1]) is None
    assert agreement.spearman([1, 1, 1], [1, 2, 3]) is None
    assert agreement.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


@pytest.mark.parametrize("paired", [False, True])
def test_bootstrap_interval_contains_the_true_difference(paired):
    # Synthetic ratings with a known effect of +0.6; over many data sets a 95% interval must
    # contain it about 95% of the time (and exclude zero: the effect is large enough).
    rng = np.random.default_rng(7)
    true_diff, trials, hits, excludes_zero = 0.6, 200, 0, 0
    for trial in range(trials):
        a = rng.normal(2.0, 0.7, size=120)
        b = (a + true_diff + rng.normal(0, 0.4, size=120)) if paired \
            else rng.normal(2.0 + true_diff, 0.7, size=120)
        result = bootstrap_difference(a.tolist(), b.tolist(), paired=paired, seed=trial,
                                      resamples=1000)
        hits += result.low < true_diff < result.high
        excludes_zero += result.low > 0
    assert 0.90 <= hits / trials <= 0.99
    assert excludes_zero == trials


def test_bootstrap_interval_covers_zero_when_there_is_no_effect():
    rng = np.random.default_rng(3)
    a, b = rng.normal(5, 1, 200), rng.normal(5, 1, 200)
    result = bootstrap_difference(a.tolist(), b.tolist(), seed=2)
    assert result.low < 0 < result.high
    assert math.isclose(result.diff, b.mean() - a.mean())


def test_the_papers_protocols_are_loaded_with_their_scales():
    protocols = builtin_protocols()
    assert protocols["extes"].scale == [0, 1, 2, 3]
    assert protocols["extes"].aspect_names == ("informativeness", "understanding",
                                               "helpfulness", "consistency", "coherence")
    assert protocols["panda"].scale == list(range(1, 11))
    assert protocols["panda"].aspect_names == ("fluency", "coherence", "validation",
                                               "empathy", "support")
    assert all(a.explained("zh") and a.explained("en") for p in protocols.values()
               for a in p.aspects)


def test_a_faulty_custom_protocol_names_the_field():
    with pytest.raises(InvalidInputError, match=r"aspects\[1\]\.name"):
        Protocol.from_dict("mine", {"min": 1, "max": 5, "aspects": ["ok", "Bad Name"]})
    with pytest.raises(InvalidInputError, match="min/max"):
        Protocol.from_dict("mine", {"min": 5, "max": 1, "aspects": ["ok"]})
