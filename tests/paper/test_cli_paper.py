"""The commands of the paper workflows: paper targets, the topic -> emotions map (by hand and
from the model), seeds demote, import with a strategy map, and `curation show`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from curation_app.cli import main
from curation_app.presets import load_preset
from tests.conftest import shared_file
from tests.openai_stub_server import OpenAIStub, reply


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", db_url)
    monkeypatch.setenv("CURATION_USER", "tester")
    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_paper_targets_scale_table_1_to_n_dialogues(run):
    run("projects", "create", "ex", "--preset", "extes")
    result = run("projects", "targets", "ex", "--from-paper", "--scale", "1000")
    assert result.exit_code == 0, result.output
    assert result.stdout == "ex: targets for 36 topics as in the paper, 1000 dialogues in all\n"
    targets = {name.strip(): int(n) for name, _, n in
               (line.rpartition(": ") for line in result.stderr.splitlines())}
    table = load_preset("extes").paper_targets
    assert set(targets) == set(table) and sum(targets.values()) == 1000
    for name, n in targets.items():  # each within one dialogue of its exact share
        assert abs(n - table[name] * 1000 / 11183) < 1, name
    refused = run("projects", "targets", "ex", "--from-paper", "--scale", "0")
    assert refused.exit_code != 0 and "at least 1" in refused.stderr


def test_topic_emotions_by_hand_and_from_the_model(run, monkeypatch):
    run("projects", "create", "pc", "--preset", "peconv")
    run("projects", "add-labels", "pc", "--topic", "火星旅行", "--topic", "丢了钥匙")
    by_hand = run("projects", "topic-emotions", "pc", "--set", "火星旅行=surprise,happy")
    assert by_hand.exit_code == 0, by_hand.output
    assert "  火星旅行: surprise, happy" in by_hand.stderr
    bad = run("projects", "topic-emotions", "pc", "--set", "火星旅行=bored")
    assert bad.exit_code != 0 and "emotion 'bored' is not in the project" in bad.stderr
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        stub.script(reply(json.dumps({"丢了钥匙": ["fear", "sad", "bored"]})))
        filled = run("projects", "topic-emotions", "pc", "--fill")
        prompt = stub.chat_requests[0].messages[-1]["content"]
    assert filled.exit_code == 0, filled.output
    assert "丢了钥匙" in prompt and "火星旅行" not in prompt  # only the unmapped topic is asked
    assert "  丢了钥匙: fear, sad" in filled.stderr  # 'bored' is not a label: dropped
    assert filled.stdout.startswith("pc: ") and "topics have emotions mapped" in filled.stdout


def test_import_with_map_then_promote_demote_and_show(run):
    run("projects", "create", "ex", "--preset", "extes")
    imported = run("import", shared_file("esconv", "ESConv.json"), "--format", "esconv",
                   "--project", "ex", "--status", "approved",
                   "--map-strategies", "esconv-to-extes")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout == "imported 1300 dialogues (38365 turns) into ex\n"
    assert run("seeds", "promote", "--project", "ex", "--id", "1", "--id", "2").exit_code == 0
    demoted = run("seeds", "demote", "--project", "ex", "--id", "2")
    assert demoted.stdout == "demoted 1 seeds in ex (1 seeds left)\n"
    shown = run("show", "1")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0].startswith("dialogue 1 (ex): ")
    assert "labels mapped by esconv-to-extes: " in shown.stdout
