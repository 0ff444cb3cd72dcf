"""Statistics: published ESConv figures, and hand-computed phases, transitions and changes."""

from __future__ import annotations

from curation_app import formats
from curation_app.domain import Dialogue, Role, Turn
from curation_app.presets import load_preset
from curation_app.stats import change_stats, corpus_stats, merged_sequence, phase_of
from tests.conftest import shared_file

S, P = Role.SEEKER, Role.SUPPORTER


def test_esconv_statistics_equal_the_published_figures():
    vocab = load_preset("esconv")
    result = formats.read_file(shared_file("esconv", "ESConv.json"), "esconv", vocab)
    stats = corpus_stats([p.dialogue for p in result.records], language="en",
                         strategies=vocab.strategy_names)
    assert stats.figures["dialogues"] == 1300
    assert stats.figures["utterances"] == 38365
    assert stats.figures["seeker_utterances"] == 19989
    assert stats.figures["supporter_utterances"] == 18376
    counts = dict(zip(stats.strategies["strategy"], stats.strategies["count"], strict=True))
    assert counts == {
        "Question": 3801, "Others": 3341, "Providing Suggestions": 2954,
        "Affirmation and Reassurance": 2827, "Self-disclosure": 1713,
        "Reflection of feelings": 1436, "Information": 1215,
        "Restatement or Paraphrasing": 1089,
    }
    assert round(stats.strategies["share"].sum()) == 100


def dialogue(*turns: tuple[Role, str, list[str]], topic: str = "t") -> Dialogue:
    return Dialogue(turns=[Turn(r, text, s) for r, text, s in turns], topic=topic)


def test_phase_boundaries_follow_k_over_n():
    # N = 8: k/N = 0.125 .. 1.0; (0, .25] -> 0, (.25, .5] -> 1, ...
    assert [phase_of(k, 8) for k in range(1, 9)] == [0, 0, 1, 1, 2, 2, 3, 3]
    # N = 5: 0.2, 0.4, 0.6, 0.8, 1.0
    assert [phase_of(k, 5) for k in range(1, 6)] == [0, 1, 2, 3, 3]


def test_transitions_and_phases_on_a_hand_made_corpus():
    # Dialogue 1 supporter strategies: A A B C C A -> merged A B C A
    d1 = dialogue((S, "x", []), (P, "x", ["A"]), (P, "x", ["A"]), (S, "x", []),
                  (P, "x", ["B"]), (P, "x", ["C"]), (S, "x", []), (P, "x", ["C"]),
                  (P, "x", ["A"]))
    # Dialogue 2: B, (none), B, C, A -> merged B C A
    d2 = dialogue((S, "x", []), (P, "x", ["B"]), (S, "x", []), (P, "x", []),
                  (P, "x", ["B"]), (P, "x", ["C"]), (S, "x", []), (P, "x", ["A"]))
    assert merged_sequence(d1.turns) == ["A", "B", "C", "A"]
    assert merged_sequence(d2.turns) == ["B", "C", "A"]
    stats = corpus_stats([d1, d2], language="en", strategies=["A", "B", "C"])
    table = stats.transitions
    three = table[table["hops"] == 3]
    # 3-hop windows: d1: ABC, BCA; d2: BCA -> BCA 2 of 3, ABC 1 of 3.
    assert list(three["transition"]) == ["B -> C -> A", "A -> B -> C"]
    assert list(three["count"]) == [2, 1]
    assert list(three["per_mille"]) == [666.67, 333.33]
    four = table[table["hops"] == 4]
    assert list(four["transition"]) == ["A -> B -> C -> A"]
    assert list(four["per_mille"]) == [1000.0]
    assert table[table["hops"] == 5].empty
    # Phases. d1 has N = 9 turns; its tagged turns sit at k = 2,3,5,6,8,9:
    #   2/9 = .22 -> phase 0 (A); 3/9 = .33 -> 1 (A); 5/9, 6/9 -> 2 (B, C);
    #   8/9, 9/9 -> 3 (C, A)
    # d2 has N = 8: 2/8 = .25 -> 0 (B); 5/8 -> 2 (B); 6/8 = .75 -> 2 (C); 8/8 -> 3 (A)
    # phase 0: A B -> 50/50; phase 1: A -> 100; phase 2: B C B C -> 50/50;
    # phase 3: C A A -> A 66.67, C 33.33
    phases = stats.phases
    assert phases["0-25%"].to_dict() == {"A": 50.0, "B": 50.0, "C": 0.0}
    assert phases["25-50%"].to_dict() == {"A": 100.0, "B": 0.0, "C": 0.0}
    assert phases["50-75%"].to_dict() == {"A": 0.0, "B": 50.0, "C": 50.0}
    assert phases["75-100%"].to_dict() == {"A": 66.67, "B": 0.0, "C": 33.33}
    assert stats.figures["utterances"] == 17 and stats.figures["seeker_utterances"] == 6


def test_lengths_count_words_in_english_and_characters_in_chinese():
    en = corpus_stats([dialogue((S, "one two  three", []), (P, "four five", ["A"]))],
                      language="en")
    assert list(en.lengths["mean_length"]) == [3.0, 2.0]
    zh = corpus_stats([dialogue((S, "我 很难过", []), (P, "我理解你", ["support"]))],
                      language="zh")
    assert list(zh.lengths["mean_length"]) == [4.0, 4.0]


def test_change_figures_on_hand_made_edits():
    draft = [Turn(S, "hello there", []), Turn(P, "hi how are you", ["A"]),
             Turn(S, "bad day", []), Turn(P, "sorry to hear", ["B"])]
    # Edited: turn 2 text changed (distance: "you" -> "you doing" adds 6 chars), turn 4's
    # strategy changed, one turn appended.
    final = [Turn(S, "hello there", []), Turn(P, "hi how are you doing", ["A"]),
             Turn(S, "bad day", []), Turn(P, "sorry to hear", ["C"]),
             Turn(S, "thanks", [])]
    untouched = [Turn(S, "a b", []), Turn(P, "c d", ["A"])]
    result = change_stats([(draft, final), (untouched, list(untouched))])
    assert result.dialogues == 2 and result.edited == 1 and result.edited_share == 50.0
    assert result.turns_before == 6
    assert result.turns_changed == 1 and result.edit_distances == [6]
    assert result.turns_added == 1 and result.turns_removed == 0
    assert result.strategy_changes == 1
