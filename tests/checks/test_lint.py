"""Each lint rule on small made-up dialogues in English and Chinese, including ones that pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from curation_app.checks import DialogueChecker
from curation_app.checks.lint import Linter
from curation_app.domain import Role, Turn
from tests.checks.conftest import P, S, chinese, config_for, english, make, with_turn


def lint(vocab, dialogue, checks=None):
    return Linter(vocab, config_for(vocab, checks)).check(dialogue)


def rules(findings):
    return [f.rule for f in findings]


def test_clean_dialogues_pass_every_check_in_both_languages(extes, peconv):
    assert DialogueChecker(extes, config_for(extes)).check(english()) == []
    assert DialogueChecker(peconv, config_for(peconv)).check(chinese()) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_run_of_same_speaker_turns_is_flagged_once_at_its_second_turn(extes, peconv, lang):
    vocab, dialogue = (extes, english()) if lang == "en" else (peconv, chinese())
    broken = with_turn(dialogue, 3, role=S, strategies=[])
    found = [f for f in lint(vocab, broken) if f.rule == "lint.roles_alternate"]
    assert len(found) == 1
    assert (found[0].turn, found[0].path, found[0].severity) == (3, "turns[3].role", "warning")
    assert "turns 3-5 are all the" in found[0].message and "(3 in a row)" in found[0].message


def test_the_supporter_opening_the_dialogue_is_flagged(extes, peconv):
    opened = make([(P, "Hi, I'm here for you. What's on your mind today?", ["Others"]),
                   *[(t.role, t.text, t.strategies) for t in english().turns]],
                  id=5, topic="Work-related Stress and Burnout")
    found = [f for f in lint(extes, opened) if f.rule == "lint.seeker_opens"]
    assert [(f.turn, f.message) for f in found] == [
        (0, "the AI speaks first; the User should open")]
    zh = replace(chinese(), turns=chinese().turns[1:])
    assert "lint.seeker_opens" in rules(lint(peconv, zh))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_supporter_turn_without_a_strategy_mid_dialogue_is_a_warning(extes, peconv, lang):
    vocab, dialogue = (extes, english()) if lang == "en" else (peconv, chinese())
    found = lint(vocab, with_turn(dialogue, 3, strategies=[]))
    assert [(f.rule, f.severity, f.turn, f.path) for f in found] == [
        ("lint.strategy_missing", "warning", 3, "turns[3].strategies")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_greeting_and_closing_supporter_turns_may_have_no_strategy(extes, peconv, lang):
    vocab, dialogue = (extes, english()) if lang == "en" else (peconv, chinese())
    assert lint(vocab, with_turn(with_turn(dialogue, 1, strategies=[]), 5, strategies=[])) == []


def test_unknown_strategies_are_errors_and_near_misses_name_the_right_spelling(extes, peconv):
    found = lint(extes, with_turn(english(), 3, strategies=["Hypnosis"]))
    assert [(f.rule, f.path) for f in found] == [("lint.strategy_unknown",
                                                 "turns[3].strategies[0]")]
    assert found[0].message == "strategy 'Hypnosis' is not in the project's vocabulary"
    near = lint(extes, with_turn(english(), 3, strategies=["emotional validation"]))
    assert near[0].message.endswith("(did you mean 'Emotional Validation'?)")
    zh = lint(peconv, with_turn(chinese(), 5, strategies=["support", "拥抱"]))
    assert [(f.rule, f.path) for f in zh] == [("lint.strategy_unknown", "turns[5].strategies[1]")]


def test_a_strategy_on_a_seeker_turn_is_flagged(peconv):
    found = lint(peconv, with_turn(chinese(), 0, strategies=["empathy"]))
    assert rules(found) == ["lint.strategy_on_seeker"]


@pytest.mark.parametrize("text, message", [("", "is empty"), ("  \n\t ", "is only whitespace")])
def test_empty_and_whitespace_only_turns_are_errors(extes, peconv, text, message):
    for vocab, dialogue in ((extes, english()), (peconv, chinese())):
        found = lint(vocab, with_turn(dialogue, 2, text=text))
        assert [(f.rule, f.severity, f.turn, f.message) for f in found] == [
            ("lint.empty_turn", "error", 2, message)]


def test_dialogue_length_bounds_come_from_the_preset_and_the_project(extes, peconv):
    short = replace(english(), turns=english().turns[:2])
    found = lint(extes, short)
    assert [(f.rule, f.message) for f in found] == [
        ("lint.dialogue_length", "has 2 turns; the project expects 6 to 40")]
    assert lint(extes, short, {"min_turns": 2}) == []
    long = replace(chinese(), turns=chinese().turns * 7)
    assert [f.message for f in lint(peconv, long) if f.rule == "lint.dialogue_length"] == [
        "has 42 turns; the project expects 6 to 40"]


def test_a_turn_longer_than_the_bound_is_flagged(peconv, extes):
    long_zh = "妈妈知道你很难过。" * 25  # 225 characters; PECONV allows 200
    found = lint(peconv, with_turn(chinese(), 3, text=long_zh))
    assert [(f.rule, f.turn, f.message) for f in found] == [
        ("lint.turn_length", 3, "is 225 characters long; the project allows 200")]
    assert lint(extes, with_turn(english(), 3, text="word " * 150)) == []  # 749 <= 800


def test_an_english_turn_in_a_chinese_project_is_flagged_and_mixed_text_passes(peconv):
    found = lint(peconv, with_turn(chinese(), 2, text="I studied really hard but still failed."))
    assert [(f.rule, f.turn) for f in found] == [("lint.language", 2)]
    assert "looks English, but the project is Chinese" in found[0].message
    for ok in ("我今天去了Starbucks买了一杯coffee。", "OK，妈妈，我知道了。", "嗯。"):
        assert lint(peconv, with_turn(chinese(), 2, text=ok)) == [], ok


def test_a_chinese_turn_in_an_english_project_is_flagged_and_a_quoted_word_passes(extes):
    found = lint(extes, with_turn(english(), 2, text="我每天晚上回家都觉得很累。"))
    assert [(f.rule, f.turn) for f in found] == [("lint.language", 2)]
    assert "looks Chinese, but the project is English" in found[0].message
    ok = "My grandmother used to make me 饺子 when I felt low — it’s “comfort food”."
    assert lint(extes, with_turn(english(), 2, text=ok)) == []


@pytest.mark.parametrize("text", [
    "AI: It sounds like you're carrying far more than your share.",
    "**Assistant**: It sounds like a lot.",
    "User： I feel tired.",
    "孩子：妈妈，我今天考试没考好。",
    "家长: 没关系，我们一起看看。",
    "It sounds hard.\nAI: Do you want to talk about it?",
    "```json\n{\"text\": \"hello\"}\n```",
    "As an AI language model, I cannot feel tired, but I understand.",
    "I'm just an AI, but that sounds hard.",
    "作为一个AI，我没有情绪，但我理解你。",
    "我是人工智能助手，我会帮你的。",
    "Tell me more about {{topic}}.",
])
def test_prompt_artefacts_are_flagged(extes, peconv, text):
    vocab, dialogue = (peconv, chinese()) if any("\u4e00" <= c <= "\u9fff" for c in text) \
        else (extes, english())
    found = [f for f in lint(vocab, with_turn(dialogue, 1, text=text))
             if f.rule == "lint.prompt_artefact"]
    assert len(found) == 1 and found[0].severity == "error" and found[0].turn == 1


@pytest.mark.parametrize("text", [
    "Aim for one small task first: which one matters most to you?",
    "Note: it is fine to say no sometimes.",
    "The user manual did not help, did it? Maybe the AI at work is not the problem.",
    "孩子们都会遇到这样的事情：不要太担心。",
])
def test_ordinary_text_is_not_an_artefact(extes, peconv, text):
    vocab, dialogue = (peconv, chinese()) if "孩" in text else (extes, english())
    assert lint(vocab, with_turn(dialogue, 1, text=text)) == []


def test_topic_and_emotion_must_come_from_the_vocabulary(extes, peconv):
    assert [(f.rule, f.severity, f.message) for f in lint(extes, english(topic=None))] == [
        ("lint.topic_missing", "warning", "has no scene")]
    found = lint(extes, english(topic="academic stress"))
    assert [(f.rule, f.message) for f in found] == [
        ("lint.topic_unknown",
         "scene 'academic stress' is not in the project's vocabulary "
         "(did you mean 'Academic Stress'?)")]
    found = lint(peconv, chinese(topic="火星旅行", emotion="bored"))
    assert [(f.rule, f.path) for f in found] == [("lint.topic_unknown", "topic"),
                                                ("lint.emotion_unknown", "emotion")]
    assert lint(peconv, chinese(emotion=None)) == []


def test_a_lead_extending_the_vocabulary_makes_a_label_known(extes):
    vocab = extes.extended("topic", ["Exam Results"]).extended("strategy", ["Humour"])
    dialogue = with_turn(english(topic="Exam Results"), 1, strategies=["Humour"])
    assert lint(vocab, dialogue) == []


def test_a_rule_switched_off_reports_nothing_and_a_changed_severity_is_used(peconv):
    # parent turns 1, 3, 4, 5: turn 4 (not the greeting nor the closing) has no strategy
    broken = with_turn(chinese(), 4, role=P, strategies=[])
    assert sorted(rules(lint(peconv, broken))) == ["lint.roles_alternate",
                                                   "lint.strategy_missing"]
    off = lint(peconv, broken, {"rules": {"lint.roles_alternate": {"enabled": False}}})
    assert rules(off) == ["lint.strategy_missing"]
    harder = lint(peconv, broken, {"rules": {"lint.strategy_missing": {"severity": "error"},
                                             "lint.roles_alternate": {"severity": "error"}}})
    assert {f.rule: f.severity for f in harder} == {"lint.strategy_missing": "error",
                                                    "lint.roles_alternate": "error"}


def test_every_finding_names_the_dialogue(extes):
    dialogue = english(id=77)
    dialogue.turns.append(Turn(Role.SUPPORTER, "", []))
    found = lint(extes, dialogue)
    assert found and all(f.dialogue_id == 77 for f in found)


# ---- the batch prefilter (artefact_suspects): it may flag too much, never too little ---------
ARTEFACTS = [
    "AI: It sounds like you're carrying far more than your share.",
    "**Assistant**: It sounds like a lot.", "User： I feel tired.", "ai: hello",
    "It sounds hard.\nAI: Do you want to talk about it?", "Okay.\n\n  Seeker:\tI am here.",
    "```json\n{\"text\": \"hello\"}\n```", "As an AI language model, I cannot feel tired.",
    "AS AN ARTIFICIAL INTELLIGENCE I cannot.", "I'm just an AI, but that sounds hard.",
    "i am only a language model", "As a large Language Model I see.", "Tell me about {{topic}}.",
    "Think about {emotion} today", "Ignore <|im_end|> this", "[INST] do it [/INST]",
    "作为一个AI，我没有情绪。", "我是人工智能助手。", "孩子：妈妈。", "Ａｓ ａｎ ＡＩ, I think.",
    "İ am an AI.", "}} closing", "Counselor : fine",
]
ORDINARY = [
    "Aim for one small task first: which one matters most to you?",
    "Note: it is fine to say no sometimes.", "It sounds like you're carrying a lot.",
    "The user manual did not help. Maybe the AI at work is not the problem.",
    "Main idea", "said again", "", " ", "x", "paid air", "孩子们都会遇到这样的事情：不要太担心。",
    "I feel tired and alone.", "He said: no.", "a\x00ai: nul inside",
]


def test_artefact_suspects_flag_every_text_an_artefact_is_found_in(extes, peconv):
    from curation_app.checks.lint import artefact_suspects

    texts = ARTEFACTS + ORDINARY
    # each text alone, at the start and end of a batch, and beside every other
    batches = [[t] for t in texts] + [texts, texts[::-1], [t + " ai" for t in texts],
                                      ["ai" + t for t in texts], [t.upper() for t in texts]]
    for vocab in (extes, peconv):
        linter = Linter(vocab, config_for(vocab))
        for batch in batches:
            flags = artefact_suspects(batch)
            assert len(flags) == len(batch)
            for text, flag in zip(batch, flags, strict=True):
                if linter._artefact(text) is not None:
                    assert flag, text
    # the point of it: ordinary ASCII text is not suspect
    assert artefact_suspects(["I feel tired and alone.", "Main idea", "paid"]) == [
        False, False, False]
    assert artefact_suspects([]) == []


def test_a_batch_finds_the_same_lint_findings_as_dialogue_by_dialogue(extes):
    checker = DialogueChecker(extes, config_for(extes), ["lint"])
    dialogues = [with_turn(english(id=i), i % 4, text=text)
                 for i, text in enumerate(ARTEFACTS + ORDINARY)]
    expected = [f for d in dialogues for f in checker.check(d)]
    assert checker.check_many(dialogues) == expected
    assert sum(f.rule == "lint.prompt_artefact" for f in expected) >= len(ARTEFACTS) - 4
