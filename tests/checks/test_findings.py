"""The finding shape, the rule catalogue and how a project's settings resolve."""

from __future__ import annotations

import pytest

from curation_app.checks import RULES, CheckConfig, Finding
from curation_app.checks.findings import DEFAULT_BOUNDS, validate_settings
from curation_app.errors import InvalidInputError


def test_every_rule_has_a_known_kind_a_severity_and_a_description():
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.kind in ("format", "lint", "dedup", "safety", "privacy")
        assert rule.severity in ("error", "warning")
        assert rule.description


def test_a_finding_is_plain_data_with_its_kind():
    f = Finding("lint.empty_turn", "error", 3, 2, "turns[2].text", "is empty")
    assert f.kind == "lint"
    assert f.to_dict() == {"rule": "lint.empty_turn", "severity": "error", "dialogue_id": 3,
                           "turn": 2, "path": "turns[2].text", "message": "is empty",
                           "category": None, "cluster": None, "score": None}


def test_settings_override_the_preset_which_overrides_the_defaults():
    preset = {"min_turns": 6, "max_turns": 40, "rules": {"lint.seeker_opens": {"enabled": False}}}
    config = CheckConfig.resolve(preset, {"checks": {
        "max_turns": 60, "dedup_threshold": 0.9,
        "rules": {"lint.seeker_opens": {"enabled": True, "severity": "error"}}}})
    assert config.bounds == {"min_turns": 6, "max_turns": 60,
                             "max_turn_chars": DEFAULT_BOUNDS["max_turn_chars"]}
    assert config.dedup_threshold == 0.9
    assert config.enabled("lint.seeker_opens") and config.severity("lint.seeker_opens") == "error"
    assert CheckConfig.resolve().dedup_threshold == 0.85


def test_keep_drops_switched_off_rules_and_applies_severities():
    config = CheckConfig.resolve(None, {"checks": {"rules": {
        "dedup.near": {"enabled": False}, "dedup.turn": {"severity": "error"}}}})
    found = [Finding("dedup.near", "warning", 1, None, "", "x"),
             Finding("dedup.turn", "warning", 1, 2, "turns[2].text", "y")]
    assert [(f.rule, f.severity) for f in config.keep(found)] == [("dedup.turn", "error")]


@pytest.mark.parametrize("checks, message", [
    ({"rules": {"lint.nope": {"enabled": False}}}, "unknown check rule 'lint.nope'"),
    ({"rules": {"lint.empty_turn": {"severity": "fatal"}}}, "severity must be error or warning"),
    ({"rules": {"lint.empty_turn": {"enabled": "no"}}}, "enabled must be true or false"),
    ({"rules": {"lint.empty_turn": "off"}}, "expected an object"),
    ({"dedup_threshold": 1.5}, "dedup_threshold must be a number in (0, 1]"),
    ({"dedup_threshold": True}, "dedup_threshold must be a number in (0, 1]"),
    ({"min_turns": -1}, "min_turns must be a whole number >= 0"),
])
def test_bad_settings_are_refused_naming_the_key(checks, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        validate_settings(checks)


def test_presets_carry_length_bounds_that_survive_a_vocabulary_round_trip():
    from curation_app.presets import Vocabulary, load_preset

    for name, bounds in {"peconv": (6, 40, 200), "extes": (6, 40, 800),
                         "esconv": (8, 100, 600)}.items():
        vocab = load_preset(name)
        assert tuple(vocab.checks[k] for k in DEFAULT_BOUNDS) == bounds
        assert Vocabulary.from_dict(vocab.to_dict()).checks == vocab.checks
    older = load_preset("extes").to_dict()
    del older["checks"]  # a project stored before the checks existed
    assert CheckConfig.resolve(Vocabulary.from_dict(older).checks).bounds == DEFAULT_BOUNDS
