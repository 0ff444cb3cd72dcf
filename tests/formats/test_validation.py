"""The schema files, schema_for, the fast checker and the messages it leads to."""

from __future__ import annotations

import json
import random

import pytest
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.domain import Source, Status
from curation_app.errors import InvalidInputError
from curation_app.formats.validation import (
    SCHEMA_FILES,
    RecordValidator,
    compile_checker,
    format_path,
    structural_schema,
)
from curation_app.presets import load_preset
from curation_app.resources import resource_path
from tests.formats.conftest import ESCONV, EXTES, PECONV, mutations, sample_head


@pytest.mark.parametrize("fmt", formats.FORMAT_NAMES)
def test_schema_files_are_valid_draft_2020_12_with_placeholders(fmt):
    schema = structural_schema(fmt)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["strategy"] == {
        "type": "string", "$comment": "placeholder: the project's strategy names"}


def test_schema_for_fills_strategies_and_speakers_from_the_vocabulary():
    peconv = load_preset("peconv")
    schema = formats.schema_for("peconv", peconv)
    assert schema["$defs"]["strategy"]["enum"] == ["validation", "empathy", "support"]
    assert schema["$defs"]["role"]["enum"] == ["孩子", "家长"]
    assert "maxItems" not in schema["$defs"]["strategy_list"]
    Draft202012Validator.check_schema(schema)
    esconv = formats.schema_for("esconv", load_preset("extes"))
    assert esconv["$defs"]["role"]["enum"] == ["seeker", "supporter"]
    assert "Stress Management" in esconv["$defs"]["strategy"]["enum"]


def test_schema_for_a_single_strategy_project_allows_one_per_turn():
    schema = formats.schema_for("jsonl", load_preset("esconv"))
    assert schema["$defs"]["strategy_list"]["maxItems"] == 1


def test_schema_for_follows_a_vocabulary_a_lead_extended():
    vocab = load_preset("extes").extended("strategy", ["Humour"])
    assert "Humour" in formats.schema_for("extes", vocab)["$defs"]["strategy"]["enum"]


def test_schema_for_returns_a_fresh_copy_each_time():
    vocab = load_preset("extes")
    formats.schema_for("extes", vocab)["$defs"]["strategy"]["enum"].append("tampered")
    assert "tampered" not in formats.schema_for("extes", vocab)["$defs"]["strategy"]["enum"]
    assert "enum" not in structural_schema("extes")["$defs"]["strategy"]


def test_canonical_schema_lists_every_status_and_source():
    props = structural_schema("jsonl")["properties"]
    assert props["status"]["enum"] == [s.value for s in Status]
    assert props["source"]["enum"] == [s.value for s in Source]


def test_schemas_are_found_through_resource_path():
    for name in SCHEMA_FILES.values():
        assert resource_path("schemas", name).is_file()
    assert resource_path("prompts", "x.j2").parent.name == "prompts"
    with pytest.raises(InvalidInputError):
        resource_path("schemas", "../pyproject.toml")
    with pytest.raises(InvalidInputError):
        resource_path("secrets", "x")


def test_fast_checker_refuses_keywords_it_does_not_implement():
    with pytest.raises(ValueError, match="'pattern' is not supported"):
        compile_checker({"type": "string", "pattern": "^a"})


def test_field_paths_read_like_the_source():
    assert format_path(("dialog", 3, "text")) == "dialog[3].text"
    assert format_path(("content", 2, "AI Strategy")) == 'content[2]["AI Strategy"]'
    assert format_path(()) == ""


SOURCES = {"peconv": PECONV, "extes": EXTES, "esconv": ESCONV}


@pytest.mark.parametrize("fmt", ["peconv", "extes", "esconv"])
def test_fast_checker_agrees_with_jsonschema_on_mutated_records(fmt):
    rng = random.Random(f"agree-{fmt}")
    record = sample_head(SOURCES[fmt], 1)[0]
    turns = "content" if fmt == "extes" else "dialog"
    record[turns] = record[turns][:8]  # the shape matters here, not the length
    vocab = load_preset(fmt)
    for schema in (structural_schema(fmt), formats.schema_for(fmt, vocab)):
        full = Draft202012Validator(schema)
        fast = RecordValidator(schema)
        for variant in mutations(record, rng, 200):
            valid = full.is_valid(variant)
            assert fast.is_valid(variant) == valid, variant
            assert (fast.problems(variant) == []) == valid


def test_installed_wheel_uses_its_bundled_copy(tmp_path, monkeypatch):
    import curation_app.resources as resources

    package = tmp_path / "site-packages" / "curation_app"
    (package / "_bundled" / "schemas").mkdir(parents=True)
    (tmp_path / "site-packages" / "schemas").mkdir()  # some other project's folder
    monkeypatch.setattr(resources, "_PACKAGE_ROOT", package)
    assert resources.resource_path("schemas", "esconv.schema.json") == \
        package / "_bundled" / "schemas" / "esconv.schema.json"


# Schemas exercising every keyword the generated checker writes, including the ones our files
# do not use yet (oneOf, not, allOf, additionalProperties, recursion, deep nesting).
_TREE = {
    "$defs": {"node": {"type": "object", "required": ["name"], "additionalProperties": False,
                       "properties": {"name": {"type": "string", "minLength": 1},
                                      "kids": {"type": "array", "maxItems": 3,
                                               "items": {"$ref": "#/$defs/node"}}}}},
    "$ref": "#/$defs/node",
}
_DEEP: dict = {"type": "array", "items": {"type": "integer"}}
for _ in range(25):  # 25 loops deep: Python refuses over 20 in one function, so it must split
    _DEEP = {"type": "array", "items": {"type": "object", "properties": {"a": _DEEP}}}
CONSTRUCTS = [
    _TREE,
    _DEEP,
    {"oneOf": [{"type": "integer"}, {"type": "number"}, {"enum": ["x", "y"]}]},
    {"not": {"type": ["string", "null"]}},
    {"allOf": [{"required": ["a"]}, {"properties": {"a": {"const": "k"}}}]},
    {"anyOf": [{"type": "boolean"}, {"type": "array", "minItems": 2,
                                     "items": {"type": "array", "items": {"type": "null"}}}]},
    {"type": "object", "additionalProperties": {"type": "string", "enum": ["p", "q"]},
     "properties": {"n": {"type": "number"}}},
    {"if": {"type": "array", "items": {"type": "string"}}, "then": {"minItems": 1},
     "else": {"not": {"enum": ["bad"]}}},
    {"if": {"required": ["k"]}, "then": {"properties": {"k": {"type": "integer"}}}},
    True,
    False,
]
_LEAVES = [None, True, False, 0, 1, 1.0, 2.5, -3, "", "x", "k", "p", "bad", [], {},
           float("nan")]


def _random_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 28 or roll < 0.4:
        return rng.choice(_LEAVES)
    if roll < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["a", "k", "n", "name", "kids", "other"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _deep_value(rng: random.Random):
    value = [rng.choice([1, 2.0, "3", True]) for _ in range(rng.randint(0, 2))]
    for _ in range(rng.randint(20, 26)):
        value = [{"a": value}] if rng.random() < 0.97 else rng.choice(_LEAVES)
    return value


def _tree_value(rng: random.Random, depth: int = 0):
    node: dict = {}
    if rng.random() < 0.95:
        node["name"] = rng.choice(["", "n", 3])
    if depth < 4 and rng.random() < 0.7:
        node["kids"] = [_tree_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.05:
        node["extra"] = 1
    return node


@pytest.mark.parametrize("index", range(len(CONSTRUCTS)))
def test_generated_checker_agrees_with_jsonschema_on_every_construct(index):
    schema = CONSTRUCTS[index]
    rng = random.Random(f"construct-{index}")
    full, fast = Draft202012Validator(schema), compile_checker(schema)
    values = [*_LEAVES, *(_random_value(rng) for _ in range(400)),
              *(_deep_value(rng) for _ in range(100)), *(_tree_value(rng) for _ in range(200))]
    verdicts = [full.is_valid(v) for v in values]
    assert [fast(v) for v in values] == verdicts
    assert any(verdicts) or schema is False, "the values should exercise the accepting side"
    assert not all(verdicts) or schema is True, "…and the refusing side"


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES.values()) + ["chat_messages.schema.json"])
def test_generated_checker_accepts_our_schema_files_and_is_plain_code(name):
    schema = json.loads(resource_path("schemas", name).read_text(encoding="utf-8"))
    check = compile_checker(schema)
    # one function for the whole record: no helper call per turn for these files
    assert check.source.count("def ") == 1, check.source
    assert not check(None) and not check([])
