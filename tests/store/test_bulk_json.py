"""The JSON text the bulk writer hands the database for a JSON column: orjson for plain turns,
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


def test_sqlite_turns_are_text_that_reads_back_as_the_same_value():
    from curation_app.store.bulk import _sqlite_turns

    bind = _sqlite_turns(json.dumps)
    plain = [{"role": "seeker", "text": "caf\u00e9 \u2028 \"q\" \U0001f600", "strategies": []}]
    text = bind(plain)
    assert type(text) is str and json.loads(text) == plain  # str: bytes would be a BLOB
    assert "\u00e9" in text  # orjson's UTF-8, not json.dumps' \u escapes
    with_meta = [{**plain[0], "metadata": {"n": float("nan")}}]
    assert bind(with_meta) == json.dumps(with_meta)
    lone = [{"role": "seeker", "text": "\ud800", "strategies": []}]
    assert bind(lone) == json.dumps(lone)


def test_an_import_on_sqlite_stores_turns_as_json_text(tmp_path):
    import sqlite3

    from curation_app.domain import Dialogue, Role, Source, Status, Turn
    from curation_app.services.context import AppContext
    from curation_app.services.projects import create_project
    from curation_app.store import migrate
    from tests.conftest import LEAD

    ctx = AppContext.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(ctx.engine)
    project = create_project(ctx.uow(), LEAD, "p", "extes")
    turns = [Turn(Role.SEEKER, "\u4f60\u597d \u00e9", []), Turn(Role.SUPPORTER, "ok", ["x"])]
    with ctx.uow() as uow:
        (dialogue_id,) = uow.repo.add_dialogues(
            project, [Dialogue(turns=turns, language="en", status=Status.DRAFT,
                               source=Source.IMPORTED)], author="lead", note=None)
        uow.commit()
    db = sqlite3.connect(tmp_path / "c.db")
    for table, key in (("dialogues", "id"), ("revisions", "dialogue_id")):
        kind, text = db.execute(f"SELECT typeof(turns), turns FROM {table} WHERE {key} = ?",
                                (dialogue_id,)).fetchone()
        assert kind == "text" and "\u4f60\u597d" in text
        assert db.execute(f"SELECT json_extract(turns, '$[0].text') FROM {table} "
                          f"WHERE {key} = ?", (dialogue_id,)).fetchone() == ("\u4f60\u597d \u00e9",)
    with ctx.uow() as uow:
        assert uow.repo.get_dialogue(dialogue_id).turns == turns
    ctx.close()
