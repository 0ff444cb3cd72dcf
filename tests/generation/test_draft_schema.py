"""The draft JSON Schema built from a preset, and parsing replies against it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from curation_app.domain import Role, Source
from curation_app.errors import ModelOutputError
from curation_app.generation import draft_json_schema, extract_json_object, parse_draft
from curation_app.presets import Vocabulary

# Keywords OpenAI's strict structured-output mode accepts in the subset we use.
STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum",
                   "description"}


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key in ("properties",):
                for sub in value.values():
                    found.extend(_walk(sub))
            elif key == "items":
                found.extend(_walk(value))
    return found


def _draft(**changes: Any) -> dict[str, Any]:
    data = {
        "description": "A child is upset after a test.",
        "turns": [
            {"role": "seeker", "text": "我考砸了。", "strategies": []},
            {"role": "supporter", "text": "你一定很难过。",
             "strategies": ["validation", "empathy"]},
        ],
    }
    data.update(changes)
    return data


def test_the_schema_has_the_presets_strategy_enum(peconv: Vocabulary, extes: Vocabulary) -> None:
    for vocab in (peconv, extes):
        schema = draft_json_schema(vocab)
        turn = schema["properties"]["turns"]["items"]
        assert turn["properties"]["strategies"]["items"]["enum"] == list(vocab.strategy_names)
        assert turn["properties"]["role"]["enum"] == ["seeker", "supporter"]
    assert len(draft_json_schema(extes)["properties"]["turns"]["items"]["properties"]
               ["strategies"]["items"]["enum"]) == 16


def test_the_schema_is_strict_mode_compatible(extes: Vocabulary) -> None:
    for node in _walk(draft_json_schema(extes)):
        assert set(node) <= STRICT_KEYWORDS
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])


def test_a_valid_reply_becomes_a_generated_draft_dialogue(peconv: Vocabulary) -> None:
    dialogue = parse_draft(json.dumps(_draft(), ensure_ascii=False), peconv)
    assert [t.role for t in dialogue.turns] == [Role.SEEKER, Role.SUPPORTER]
    assert dialogue.turns[1].strategies == ["validation", "empathy"]
    assert dialogue.language == "zh"
    assert dialogue.source == Source.GENERATED
    assert dialogue.description == "A child is upset after a test."


def test_known_aliases_of_strategies_and_roles_are_normalised(peconv: Vocabulary) -> None:
    data = _draft(turns=[
        {"role": "孩子", "text": "我考砸了。", "strategies": []},
        {"role": "parent", "text": "你一定很难过。", "strategies": ["认可", "Empathy", "empathy"]},
    ])
    dialogue = parse_draft(json.dumps(data, ensure_ascii=False), peconv)
    assert [t.role for t in dialogue.turns] == [Role.SEEKER, Role.SUPPORTER]
    assert dialogue.turns[1].strategies == ["validation", "empathy"]


def test_json_wrapped_in_prose_is_extracted() -> None:
    assert extract_json_object('Sure!\n```json\n{"a": [1, {"b": 2}]}\n```\nBye') == {
        "a": [1, {"b": 2}]}
    with pytest.raises(ValueError):
        extract_json_object("no object here {oops")


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (_draft(turns=[{"role": "seeker", "text": "hi", "strategies": []},
                       {"role": "supporter", "text": "hey", "strategies": ["hypnosis"]}]),
         "turns[1].strategies[0]", "'hypnosis' is not one of"),
        (_draft(turns=[{"role": "seeker", "strategies": []},
                       {"role": "supporter", "text": "hey", "strategies": ["support"]}]),
         "turns[0]", "'text' is a required property"),
        ({"turns": []}, "(top level)", "'description' is a required property"),
        (_draft(turns=[{"role": "supporter", "text": "hi", "strategies": ["support"]},
                       {"role": "seeker", "text": "hey", "strategies": []}]),
         "turns[0].role", "first turn"),
        (_draft(turns=[{"role": "seeker", "text": "hi", "strategies": []},
                       {"role": "supporter", "text": "hey", "strategies": ["support"]},
                       {"role": "seeker", "text": "so", "strategies": []},
                       {"role": "supporter", "text": "mm", "strategies": []},
                       {"role": "seeker", "text": "bye", "strategies": []},
                       {"role": "supporter", "text": "bye", "strategies": ["support"]}]),
         "turns[3].strategies", "needs a strategy"),
        (_draft(turns=[{"role": "seeker", "text": "hi", "strategies": ["support"]},
                       {"role": "supporter", "text": "hey", "strategies": ["support"]}]),
         "turns[0].strategies", "no strategies"),
        (_draft(turns=[{"role": "seeker", "text": "hi", "strategies": []}]),
         "turns", "at least 2 turns"),
        (_draft(turns=[{"role": "seeker", "text": "  ", "strategies": []},
                       {"role": "supporter", "text": "hey", "strategies": ["support"]}]),
         "turns[0].text", "empty"),
    ],
)
def test_an_off_schema_reply_names_the_field_at_fault(
    peconv: Vocabulary, data: dict[str, Any], field: str, words: str,
) -> None:
    with pytest.raises(ModelOutputError) as caught:
        parse_draft(json.dumps(data), peconv)
    assert caught.value.field == field
    assert field in str(caught.value) and words in str(caught.value)


def test_a_single_strategy_preset_refuses_two_strategies_on_one_turn(extes: Vocabulary) -> None:
    data = {"description": "d", "turns": [
        {"role": "seeker", "text": "hi", "strategies": []},
        {"role": "supporter", "text": "hey", "strategies": ["Affirmation", "Offer Hope"]},
    ]}
    with pytest.raises(ModelOutputError, match=r"turns\[1\]\.strategies: this project allows one"):
        parse_draft(json.dumps(data), extes)


def test_text_that_is_not_json_says_where_parsing_failed(extes: Vocabulary) -> None:
    with pytest.raises(ModelOutputError, match=r"not valid JSON \(line 1, column"):
        parse_draft('{"description": "x", "turns": [,]', extes)


def test_greeting_and_closing_turns_may_come_without_a_strategy(extes: Vocabulary) -> None:
    data = _draft(turns=[
        {"role": "seeker", "text": "Hey.", "strategies": []},
        {"role": "supporter", "text": "Hi, how are you?", "strategies": []},
        {"role": "seeker", "text": "Not great, work is crushing me.", "strategies": []},
        {"role": "supporter", "text": "That sounds exhausting.",
         "strategies": ["Empathetic Statements"]},
        {"role": "seeker", "text": "Thanks, bye.", "strategies": []},
        {"role": "supporter", "text": "Take care!", "strategies": []},
        {"role": "seeker", "text": "You too.", "strategies": []},
        {"role": "supporter", "text": "Goodbye!", "strategies": []}])
    dialogue = parse_draft(json.dumps(data), extes)
    assert [t.strategies for t in dialogue.turns if t.role == "supporter"] == [
        [], ["Empathetic Statements"], [], []]
