"""The ExTES preset as published (Table 1), greeting turns without a strategy, and ESConv read
into an ExTES project through the bundled strategy map, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_app.errors import ImportRefusedError, InvalidInputError
from curation_app.presets import load_preset
from curation_app.services import checks, transfer
from curation_app.services.projects import create_project
from tests.conftest import LEAD, shared_file

TABLE_1 = Path(__file__).parent.parent / "fixtures" / "extes_table1.tsv"
ESCONV_STRATEGIES = {"Question", "Restatement or Paraphrasing", "Reflection of feelings",
                     "Self-disclosure", "Affirmation and Reassurance", "Providing Suggestions",
                     "Information", "Others"}


def table_1() -> list[tuple[str, int]]:
    rows = [line.split("\t") for line in TABLE_1.read_text("utf-8").splitlines()
            if line and not line.startswith("#")]
    return [(name, int(count)) for name, count, _ in rows]


def test_the_extes_preset_holds_the_36_scenarios_of_table_1_with_their_counts():
    extes = load_preset("extes")
    assert len(table_1()) == 36
    assert list(extes.topics) == [name for name, _ in table_1()]
    assert extes.paper_targets == dict(table_1())
    assert sum(extes.paper_targets.values()) == 11183  # the table's rows; the text says 11,177
    # hints are optional, but only for scenarios of the table
    assert set(extes.topic_hints) <= set(extes.topics)
    assert sum(1 for hints in extes.topic_hints.values() if hints) >= 35


def test_the_extes_preset_invents_no_emotion_and_keeps_the_16_strategies():
    extes = load_preset("extes")
    assert extes.emotions == ()
    assert extes.generation["emotion_per_draft"] is False
    assert len(extes.strategies) == 16
    assert [s.code for s in extes.strategies] == [
        "RS", "Cla", "EV", "ES", "Aff", "OH", "AJC", "SO", "CP", "PDP", "RNT", "SI", "NE",
        "PSP", "SM", "Oth"]


def _pet_loss_file(tmp_path: Path) -> Path:
    """An ExTES record in the published layout, scene 'Dealing with the Loss of a Pet', with a
    greeting and a closing AI turn whose strategy is empty (text written for this test)."""
    record = {"scene": "Dealing with the Loss of a Pet",
              "description": "My old cat died last week and the flat feels unbearably quiet.",
              "content": [
                  {"User": "Hi. Can I talk about something silly?"},
                  {"AI Strategy": "", "AI": "Hello, of course. Nothing you feel is silly here."},
                  {"User": "My cat Miso died on Tuesday. She was sixteen."},
                  {"AI Strategy": "Empathetic Statements",
                   "AI": "Sixteen years together is a whole chapter of your life. I'm so sorry."},
                  {"User": "People keep saying she was just a cat."},
                  {"AI Strategy": "Emotional Validation",
                   "AI": "Your grief is real; she was family to you, and missing her makes sense."},
                  {"User": "Thanks. I think I'll plant something for her in the garden."},
                  {"AI Strategy": "", "AI": "That sounds like a lovely way to remember her. "
                                            "Take care of yourself."}]}
    path = tmp_path / "pet.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    return path


def test_the_real_extes_record_and_a_pet_loss_record_import_without_add_labels(ctx, tmp_path):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    real = transfer.import_file(ctx.uow(), LEAD, shared_file("extes", "extes_one_record.json"),
                                "extes", "ex")
    pet = transfer.import_file(ctx.uow(), LEAD, _pet_loss_file(tmp_path), "extes", "ex")
    assert (real.imported, pet.imported) == (1, 1)
    assert real.added_labels == {} and pet.added_labels == {}
    with ctx.uow() as uow:
        topics = sorted(d.topic for d in uow.repo.list_dialogues(uow.repo.get_project("ex")))
    assert topics == ["Communication Challenges", "Dealing with the Loss of a Pet"]


def test_empty_greeting_and_closing_strategies_pass_check_with_no_error(ctx, tmp_path):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    transfer.import_file(ctx.uow(), LEAD, shared_file("extes", "extes_one_record.json"),
                         "extes", "ex")
    transfer.import_file(ctx.uow(), LEAD, _pet_loss_file(tmp_path), "extes", "ex")
    summary = checks.run_checks(ctx, LEAD, "ex", only="format,lint")
    assert summary.errors == 0, [f.message for f in summary.findings]
    assert not [f for f in summary.findings if f.rule == "lint.strategy_missing"]


def test_esconv_imports_into_an_extes_project_through_the_strategy_map(ctx):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    summary = transfer.import_file(ctx.uow(), LEAD, shared_file("esconv", "ESConv.json"),
                                   "esconv", "ex", status="approved",
                                   label_map="esconv-to-extes")
    assert (summary.imported, summary.turns) == (1300, 38365)
    assert summary.added_labels == {}
    extes = load_preset("extes")
    with ctx.uow() as uow:
        stored = uow.repo.list_dialogues(uow.repo.get_project("ex"))
    used = {s for d in stored for t in d.turns for s in t.strategies}
    assert used and used <= set(extes.strategy_names)
    assert {d.topic for d in stored} <= set(extes.topics)
    assert all(d.emotion is None for d in stored)
    # every turn whose label changed is marked, with what it was
    marked = [m for d in stored for m in d.provenance["label_map"]["turns"]]
    assert {m["from"][0] for m in marked} == ESCONV_STRATEGIES - {"Others"}
    first = stored[0]
    for m in first.provenance["label_map"]["turns"]:
        assert first.turns[m["turn"]].strategies == m["to"]
    assert first.provenance["label_map"]["map"] == "esconv-to-extes"
    assert first.provenance["label_map"]["emotion"]["to"] is None


def test_a_map_naming_a_strategy_the_project_lacks_is_refused(ctx, tmp_path):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"strategies": {"Question": "Interrogation"}}), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="'Question': target 'Interrogation' is not"):
        transfer.import_file(ctx.uow(), LEAD, shared_file("esconv", "ESConv.json"), "esconv",
                             "ex", label_map=bad)
    with ctx.uow() as uow:
        assert uow.repo.list_dialogues(uow.repo.get_project("ex")) == []


def test_an_unmapped_strategy_is_refused_by_record_and_field(ctx, tmp_path):
    create_project(ctx.uow(), LEAD, "ex", "extes")
    partial = tmp_path / "map.json"
    partial.write_text(json.dumps({"strategies": {"Question": "Clarification"},
                                   "emotions": "drop"}), encoding="utf-8")
    with pytest.raises(ImportRefusedError) as caught:
        transfer.import_file(ctx.uow(), LEAD, shared_file("esconv", "ESConv.json"), "esconv",
                             "ex", label_map=partial)
    first = caught.value.problems[0]
    assert first.index == 0 and "annotation.strategy" in first.field
