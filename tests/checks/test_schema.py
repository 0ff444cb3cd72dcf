"""Format check: findings name the dialogue, the JSON path and the rule; its fast verdicts agree
with plain jsonschema on valid and invalid records."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.checks import DialogueChecker
from curation_app.checks.schema import check_format, validator_for
from curation_app.domain import Role
from tests.checks.conftest import chinese, config_for, english, esconv_english, with_turn
from tests.formats.conftest import mutations


def fmt_findings(vocab, dialogue):
    return check_format(dialogue, vocab, config_for(vocab))


def test_an_unknown_strategy_is_reported_at_its_path_in_the_export_format(extes, peconv):
    found = fmt_findings(extes, with_turn(english(id=9), 3, strategies=["Hypnosis"]))
    assert [(f.rule, f.severity, f.dialogue_id, f.turn, f.path) for f in found] == [
        ("format.schema", "error", 9, 3, 'content[3]["AI Strategy"]')]
    assert found[0].message.startswith(
        "extes schema, content[3][\"AI Strategy\"]: 'Hypnosis' is not one of: ''")
    found = fmt_findings(peconv, with_turn(chinese(id=4), 5, strategies=["support", "拥抱"]))
    assert [(f.turn, f.path) for f in found] == [(5, "dialog[5].strategy[1]")]
    assert "'拥抱' is not one of: 'validation', 'empathy', 'support'" in found[0].message


def test_two_strategies_in_a_one_strategy_project_break_its_format(esconv):
    dialogue = with_turn(esconv_english(), 1, strategies=["Question", "Others"])
    found = fmt_findings(esconv, dialogue)
    assert {(f.turn, f.path) for f in found} == {(1, "dialog[1].annotation.strategy")}
    assert found[0].message.endswith("expected a string, got an array")


def test_what_a_format_cannot_hold_at_all_is_a_finding_not_an_exception(extes):
    found = fmt_findings(extes, with_turn(english(), 0, strategies=["Others"]))
    assert [(f.rule, f.turn, f.path) for f in found] == [("format.schema", 0, "content[0]")]
    assert "a User turn cannot carry a strategy" in found[0].message


def test_a_dialogue_without_turns_fails_the_schema_at_the_turn_list(peconv):
    found = fmt_findings(peconv, replace(chinese(), turns=[]))
    assert [(f.path, f.turn) for f in found] == [("dialog", None)]
    assert "must not be empty" in found[0].message


def test_the_format_rule_can_be_switched_off(extes):
    config = config_for(extes, {"rules": {"format.schema": {"enabled": False}}})
    assert check_format(with_turn(english(), 3, strategies=["Hypnosis"]), extes, config) == []


@pytest.mark.parametrize("preset, make", [("extes", english), ("peconv", chinese),
                                          ("esconv", esconv_english)])
def test_fast_verdicts_agree_with_plain_jsonschema_on_valid_and_invalid_records(
        preset, make, request):
    vocab = request.getfixturevalue(preset)
    fmt = vocab.export_format
    schema = formats.schema_for(fmt, vocab)
    full = Draft202012Validator(schema)
    fast = validator_for(fmt, vocab)
    record = formats.export_record(make(), fmt, vocab)
    assert full.is_valid(record) and fast.is_valid(record)
    rng = random.Random(f"checks-{preset}")
    verdicts = set()
    for variant in mutations(record, rng, 300):
        valid = full.is_valid(variant)
        verdicts.add(valid)
        assert fast.is_valid(variant) == valid, variant
        assert (fast.problems(variant) == []) == valid
    assert verdicts == {True, False}


def test_the_validator_is_compiled_once_per_vocabulary_and_follows_changes(extes):
    assert validator_for("extes", extes) is validator_for("extes", extes)
    extended = extes.extended("strategy", ["Humour"])
    assert validator_for("extes", extended) is not validator_for("extes", extes)
    dialogue = with_turn(english(), 1, strategies=["Humour"])
    assert DialogueChecker(extended, config_for(extended)).check(dialogue) == []


def test_role_names_of_the_vocabulary_reach_the_schema(peconv):
    # PECONV writes speakers by their display names; a wrong role is impossible to write,
    # so the canonical record is the one that carries it.
    assert formats.export_record(chinese(), "peconv", peconv)["dialog"][0]["speaker"] == "孩子"
    assert chinese().turns[0].role == Role.SEEKER
