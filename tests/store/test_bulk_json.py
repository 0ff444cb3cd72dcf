"""The JSON text the bulk writer hands PostgreSQL for a JSONB column: orjson for plain turns,
the dialect's ``dumps`` for anything else, the same value either way."""

from __future__ import annotations

import json

from curation_app.store.bulk import _jsonb_text

PLAIN = [{"role": "seeker", "text": 'caf\u00e9 "q" \\ \u2028 \U0001f600 \t', "strategies": []},
         {"role": "supporter", "text": "ok", "strategies": ["Reflective Statements", "x"]}]


def test_plain_turns_read_back_as_the_same_value():
    text = _jsonb_text("turns", PLAIN, json.dumps)
    assert json.loads(text) == PLAIN == json.loads(json.dumps(PLAIN))


def test_turns_with_metadata_and_other_columns_keep_the_dialects_dumps():
    with_meta = [{**PLAIN[0], "metadata": {"extes": {"score": float("nan")}}}]
    assert _jsonb_text("turns", with_meta, json.dumps) == json.dumps(with_meta)
    assert _jsonb_text("provenance", {"cost": 0.5}, json.dumps) == json.dumps({"cost": 0.5})


def test_text_orjson_refuses_falls_back_to_dumps():
    lone = [{"role": "seeker", "text": "\ud800", "strategies": []}]
    assert _jsonb_text("turns", lone, json.dumps) == json.dumps(lone)
