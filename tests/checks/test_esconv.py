"""The checks on the real ESConv corpus (1,300 dialogues), imported through the import service
and run through the check service on both databases. Run with ``-s`` to see the counts."""

from __future__ import annotations

import pytest

from curation_app.services import checks, transfer
from curation_app.services.projects import create_project
from tests.conftest import LEAD, shared_file


@pytest.mark.slow
def test_checks_run_on_esconv_and_report_sane_totals(ctx):
    source = shared_file("esconv", "ESConv.json")
    create_project(ctx.uow(), LEAD, "esconv", "esconv")
    imported = transfer.import_file(ctx.uow(), LEAD, source, "esconv", "esconv")
    assert imported.imported == 1300
    summary = checks.run_checks(ctx, LEAD, "esconv")
    print(f"\n{summary.line()} in {summary.seconds:.1f}s")
    for rule, info in summary.by_rule.items():
        print(f"  {rule:<22} {info['severity']:<8} {info['count']}")

    rules = {rule: info["count"] for rule, info in summary.by_rule.items()}
    assert summary.dialogues == 1300
    assert summary.by_kind["format"] == 0  # it was read through the same schema
    # ESConv is human-written: no prompt artefacts, every supporter turn is labelled, and
    # no dialogue is a copy of another; but supporters often send two messages in a row,
    # and about half the dialogues open with the supporter.
    for clean in ("lint.prompt_artefact", "lint.strategy_missing", "lint.strategy_unknown",
                  "lint.empty_turn", "lint.language", "dedup.exact", "dedup.near"):
        assert clean not in rules, clean
    assert 5000 < rules["lint.roles_alternate"] < 8000
    assert 500 < rules["lint.seeker_opens"] < 800
    # a few greetings and stock sentences recur; a few seekers speak of suicide
    assert 100 < rules["dedup.turn"] < 400
    assert 10 < rules.get("safety.self_harm", 0) < 60
    assert summary.errors < 20
    stored = checks.latest_findings(ctx, "esconv")
    assert len(stored) == summary.errors + summary.warnings
