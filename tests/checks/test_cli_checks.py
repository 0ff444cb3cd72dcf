"""`curation check` and `curation dedup`, end to end on both databases: exact summary lines,
details on stderr, JSON on request, exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation_app import formats
from curation_app.cli import main
from curation_app.presets import load_preset
from tests.checks.conftest import english, with_turn


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", db_url)
    monkeypatch.setenv("CURATION_USER", "tester")
    monkeypatch.delenv("CURATION_MODERATION", raising=False)
    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def extes_file(tmp_path: Path) -> Path:
    """Four ExTES records: a clean one, its exact copy, one with a leftover 'AI:' prefix and
    an unlabelled AI turn, one where the user opens with a wish to die."""
    clean = english()
    prefixed = with_turn(with_turn(english(), 1, text="AI: That sounds really heavy to carry."),
                         3, text="It is okay to feel worn out after such a long stretch.",
                         strategies=[])
    prefixed = with_turn(prefixed, 5, text="Could you ask for one quiet hour a day to recover?")
    darker = with_turn(english(), 0, text="Some days I want to die because of this job.")
    darker = with_turn(with_turn(darker, 1, text="Thank you for telling me; that must be so hard."),
                       3, text="Anyone would be exhausted after carrying all of that alone.")
    darker = with_turn(darker, 5, text="What would help you feel a little safer this week?")
    path = tmp_path / "extes.json"
    dialogues = [replace(d, id=None) for d in (clean, clean, prefixed, darker)]
    formats.write_file(dialogues, "extes", load_preset("extes"), path)
    return path


def test_check_prints_one_summary_line_and_details_per_rule_on_stderr(run, tmp_path):
    run("projects", "create", "ex", "--preset", "extes")
    imported = run("import", extes_file(tmp_path), "--format", "extes", "--project", "ex")
    assert imported.exit_code == 0
    result = run("check", "--project", "ex")
    assert result.exit_code == 0  # findings are data, not failure
    assert result.stdout == ("checked 4 dialogues in ex: 3 errors, 2 warnings "
                             "(format 0, lint 2, dedup 2, safety 1, privacy 0)\n")
    err = result.stderr.splitlines()
    assert "dedup.exact (error): 2" in err
    assert "lint.prompt_artefact (error): 1" in err
    assert "  dialogue 3 turn 2: starts with a speaker label 'AI:': a leftover of the prompt " \
           "format" in err
    assert "safety.self_harm (warning): 1" in err


def test_check_only_some_kinds_and_as_json(run, tmp_path):
    run("projects", "create", "ex", "--preset", "extes")
    run("import", extes_file(tmp_path), "--format", "extes", "--project", "ex")
    only = run("check", "--project", "ex", "--only", "format,lint")
    assert only.stdout.strip() == "checked 4 dialogues in ex: 1 error, 1 warning " \
                                  "(format 0, lint 2)"
    as_json = run("check", "--project", "ex", "--only", "safety", "--json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert data["summary"]["by_kind"] == {"safety": 1}
    assert [(f["rule"], f["dialogue_id"], f["turn"], f["category"]) for f in data["findings"]] \
        == [("safety.self_harm", 4, 0, "self_harm")]
    assert as_json.stderr.strip().endswith(
        "checked 4 dialogues in ex: 0 errors, 1 warning (safety 1)")


def test_check_against_an_earlier_release(run, tmp_path):
    run("projects", "create", "ex", "--preset", "extes")
    source = extes_file(tmp_path)
    run("import", source, "--format", "extes", "--project", "ex")
    result = run("check", "--project", "ex", "--only", "dedup", "--against", source)
    assert result.exit_code == 0
    assert "of extes.json" in result.stderr
    assert result.stdout.startswith("checked 4 dialogues in ex: ")


def test_check_fails_only_when_it_cannot_run(run):
    missing = run("check", "--project", "ghost")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "Error: no project named 'ghost' (see `curation projects " \
                                     "list`)"
    run("projects", "create", "ex", "--preset", "extes")
    bad = run("check", "--project", "ex", "--only", "spelling")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == ("Error: unknown check 'spelling'; choose from format, lint, "
                                  "dedup, safety, privacy")


def test_dedup_reads_a_file_outside_any_project(tmp_path):
    path = extes_file(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["dedup", str(path), "--format", "extes"])
    assert result.exit_code == 0
    assert result.stdout == ("checked 4 dialogues in extes.json: 1 exact and 0 near-duplicate "
                             "clusters (2 dialogues), 0 clusters of recycled supporter turns "
                             "(0 turns)\n")
    assert result.stderr == "cluster 1 (dialogue, exact): record 0, record 1\n"
    as_json = runner.invoke(main, ["dedup", str(path), "--format", "extes", "--json",
                                   "--threshold", "0.5"])
    clusters = json.loads(as_json.stdout)["clusters"]
    assert clusters[0] == {"cluster": 1, "level": "dialogue", "exact": True, "score": 1.0,
                           "members": [{"record": "record 0", "turn": None, "score": 1.0},
                                       {"record": "record 1", "turn": None, "score": 1.0}]}
    bad = runner.invoke(main, ["dedup", str(path), "--format", "extes", "--threshold", "2"])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "Error: --threshold must be in (0, 1], not 2.0"
    gone = runner.invoke(main, ["dedup", str(tmp_path / "nope.json"), "--format", "extes"])
    assert gone.exit_code == 1 and "does not exist" in gone.stderr
