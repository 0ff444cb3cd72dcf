"""The check service on SQLite and PostgreSQL: runs store findings per dialogue, newer runs
replace them, leads configure rules, the editor checks one dialogue, permissions hold."""

from __future__ import annotations

from dataclasses import replace

import pytest

from curation_app import formats
from curation_app.domain import Dialogue, Status
from curation_app.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from curation_app.services import checks, editing
from curation_app.services.projects import create_project
from tests.checks.conftest import S, chinese, corpus, with_turn
from tests.conftest import ANNOTATOR, LEAD
from tests.openai_stub_server import OpenAIStub


def _project(ctx, dialogues: list[Dialogue], name: str = "pc") -> list[int]:
    create_project(ctx.uow(), LEAD, name, "peconv")
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project(name),
                                     [replace(d, id=None) for d in dialogues], author="lead")
        uow.commit()
    return ids


def test_a_run_stores_findings_per_dialogue_and_sums_them_up(ctx):
    ids = _project(ctx, corpus())
    summary = checks.run_checks(ctx, LEAD, "pc")
    assert summary.line() == ("checked 4 dialogues in pc: 3 errors, 1 warning "
                              "(format 0, lint 1, dedup 2, safety 1, privacy 0)")
    stored = checks.latest_findings(ctx, "pc")
    assert [(f.dialogue_id, f.rule, f.turn) for f in stored] == [
        (ids[0], "dedup.exact", None), (ids[1], "lint.strategy_missing", 3),
        (ids[2], "safety.contempt", 3), (ids[3], "dedup.exact", None)]
    assert stored == summary.findings
    assert summary.by_rule["dedup.exact"] == {"severity": "error", "count": 2}
    assert checks.latest_findings(ctx, "pc", dialogue_id=ids[2], severity="error") == [
        f for f in stored if f.dialogue_id == ids[2] and f.severity == "error"]
    assert [f.dialogue_id for f in checks.latest_findings(ctx, "pc", rule="dedup.exact")] == [
        ids[0], ids[3]]
    runs = checks.check_runs(ctx, "pc")
    assert [(r.started_by, r.kinds, r.summary["errors"]) for r in runs] == [
        ("lead", ["format", "lint", "dedup", "safety", "privacy"], 3)]


def test_a_new_run_replaces_the_findings_of_the_kinds_it_ran_and_keeps_the_others(ctx):
    ids = _project(ctx, corpus())
    checks.run_checks(ctx, LEAD, "pc")
    current = editing.get_dialogue(ctx.uow(), LEAD, ids[1])
    fixed = with_turn(current, 3, strategies=["support"])
    editing.save_revision(ctx.uow(), LEAD, ids[1], current.version, fixed.turns)
    lint_only = checks.run_checks(ctx, LEAD, "pc", only="lint")
    assert lint_only.line() == "checked 4 dialogues in pc: 0 errors, 0 warnings (lint 0)"
    kinds = sorted({f.kind for f in checks.latest_findings(ctx, "pc")})
    assert kinds == ["dedup", "safety"]  # untouched by the lint-only run
    assert len(checks.check_runs(ctx, "pc")) == 2


def test_discarding_the_copy_resolves_an_exact_duplicate(ctx):
    ids = _project(ctx, corpus())
    checks.run_checks(ctx, LEAD, "pc", only=["dedup"])
    with ctx.uow() as uow:
        uow.repo.set_status(ids[3], Status.DISCARDED)
        uow.commit()
    summary = checks.run_checks(ctx, LEAD, "pc", only=["dedup"])
    assert summary.dialogues == 3
    assert checks.latest_findings(ctx, "pc", rule="dedup.exact") == []


def test_leads_switch_rules_off_and_change_severities_per_project(ctx):
    _project(ctx, corpus())
    stored = checks.configure_checks(
        ctx, LEAD, "pc", rules={"safety.contempt": {"severity": "warning"},
                                "dedup.exact": {"enabled": False}}, dedup_threshold=0.9)
    assert stored == {"rules": {"safety.contempt": {"severity": "warning"},
                                "dedup.exact": {"enabled": False}}, "dedup_threshold": 0.9}
    summary = checks.run_checks(ctx, LEAD, "pc")
    assert "dedup.exact" not in summary.by_rule
    assert summary.by_rule["safety.contempt"]["severity"] == "warning"
    with pytest.raises(InvalidInputError, match="unknown check rule 'lint.typo'"):
        checks.configure_checks(ctx, LEAD, "pc", rules={"lint.typo": {"enabled": False}})
    with pytest.raises(PermissionDeniedError):
        checks.configure_checks(ctx, ANNOTATOR, "pc", dedup_threshold=0.5)


def test_only_leads_run_checks_and_unknown_kinds_are_refused(ctx):
    _project(ctx, corpus())
    with pytest.raises(PermissionDeniedError, match="may not checks run"):
        checks.run_checks(ctx, ANNOTATOR, "pc")
    with pytest.raises(InvalidInputError, match="unknown check 'spelling'"):
        checks.run_checks(ctx, LEAD, "pc", only="lint,spelling")
    with pytest.raises(NotFoundError):
        checks.run_checks(ctx, LEAD, "nope")


def test_the_editor_checks_one_dialogue_as_stored_or_as_edited(ctx):
    ids = _project(ctx, corpus())
    assert [f.rule for f in checks.check_dialogue(ctx, ids[2])] == ["safety.contempt"]
    editing_now = editing.get_dialogue(ctx.uow(), ANNOTATOR, ids[0])
    unsaved = with_turn(editing_now, 3, role=S, strategies=[])
    found = checks.check_dialogue(ctx, ids[0], unsaved)
    assert [(f.rule, f.dialogue_id, f.turn) for f in found] == [
        ("lint.roles_alternate", ids[0], 3)]
    assert checks.latest_findings(ctx, "pc") == []  # nothing stored by the editor's check


def test_duplicates_of_an_earlier_release_file_are_found(ctx, tmp_path):
    ids = _project(ctx, corpus()[:3])
    release = tmp_path / "v1.json"
    formats.write_file([corpus()[1]], "peconv", ctx_vocab(ctx), release)
    summary = checks.run_checks(ctx, LEAD, "pc", only="dedup", against=[(release, "peconv")])
    exact = checks.latest_findings(ctx, "pc", rule="dedup.exact")
    assert [(f.dialogue_id, f.category) for f in exact] == [(ids[1], "release")]
    assert "record 0 (dialog_id 2) of v1.json" in exact[0].message
    assert summary.by_kind == {"dedup": len(checks.latest_findings(ctx, "pc"))}


def ctx_vocab(ctx):
    with ctx.uow() as uow:
        return uow.repo.get_project("pc").vocabulary


def test_the_configured_moderation_endpoint_joins_the_safety_run(ctx, monkeypatch):
    ids = _project(ctx, [with_turn(chinese(), 2, text="我有时候想自杀。")])
    with OpenAIStub() as stub:
        monkeypatch.setenv("CURATION_MODERATION", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-moderation-key")
        summary = checks.run_checks(ctx, LEAD, "pc", only="safety")
        assert len(stub.moderation_requests) == 1
    found = checks.latest_findings(ctx, "pc")
    assert [(f.rule, f.turn, f.category) for f in found] == [
        ("safety.moderation", 2, "self-harm"), ("safety.self_harm", 2, "self_harm")]
    assert all(f.dialogue_id == ids[0] for f in found)
    assert summary.by_kind == {"safety": 2}
