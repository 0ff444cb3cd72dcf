"""Checks page (leads): run the checks, filter the findings, keep one of a duplicate cluster, set
the rules; and the safety screen's warning on the Review page."""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from curation_app.domain import Role, Status, Turn
from curation_app.errors import PermissionDeniedError
from curation_app.services import checks, editing, workflow
from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from curation_app.ui import state
from tests.checks.conftest import CONTEMPT, corpus
from tests.ui.conftest import actor, open_page, texts

PROJECT = "pc"


def imported(ctx: AppContext) -> list[int]:
    """The corpus imported into a new PECONV project PROJECT."""
    create_project(ctx.uow(), actor("lea"), PROJECT, "peconv")
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project(PROJECT),
                                     [replace(d, id=None) for d in corpus()], author="lea")
        uow.commit()
    return ids


def checks_page(make_app) -> AppTest:
    return open_page(make_app("lea", project=PROJECT), "checks")


def run(at: AppTest) -> AppTest:
    at.button(key="checks.run_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def findings_table(at: AppTest):
    return at.dataframe[-1].value


def test_a_lead_runs_the_checks_and_sees_the_summary_and_the_findings(make_app, app_ctx):
    ids = imported(app_ctx)
    at = run(checks_page(make_app))
    assert ("Checks done: checked 4 dialogues in pc: 3 errors, 1 warning "
            "(format 0, lint 1, dedup 2, safety 1, privacy 0)") in texts(at)
    table = findings_table(at)
    assert list(table.columns) == ["dialogue", "turn", "rule", "severity", "category", "message"]
    assert list(zip(table["dialogue"], table["rule"], strict=True)) == [
        (ids[0], "dedup.exact"), (ids[1], "lint.strategy_missing"), (ids[2], "safety.contempt"),
        (ids[3], "dedup.exact")]
    assert "4 of 4 findings" in texts(at)
    assert "`dedup.exact` 2" in texts(at)  # the counts per rule, above the table
    runs = at.dataframe[0].value
    assert list(runs["by"]) == ["lea"] and list(runs["errors"]) == [3]


def test_the_filters_narrow_the_findings_table(make_app, app_ctx):
    ids = imported(app_ctx)
    at = run(checks_page(make_app))
    at.multiselect(key=state.widget_key(state.CHECKS_FILTER_KINDS)).set_value(["dedup"]).run()
    assert list(findings_table(at)["rule"]) == ["dedup.exact", "dedup.exact"]
    assert "2 of 4 findings" in texts(at)
    at.multiselect(key=state.widget_key(state.CHECKS_FILTER_KINDS)).set_value([]).run()
    at.multiselect(key=state.widget_key(state.CHECKS_FILTER_RULES)).set_value(
        ["safety.contempt", "lint.strategy_missing"]).run()
    assert list(findings_table(at)["dialogue"]) == [ids[1], ids[2]]
    at.text_input(key=state.widget_key(state.CHECKS_FILTER_TEXT)).input("CONTEMPT").run()
    assert list(findings_table(at)["dialogue"]) == [ids[2]]
    assert list(findings_table(at)["category"]) == ["contempt"]
    assert list(findings_table(at)["turn"]) == ["4"]  # numbered as the editor; blank if none
    # Filters and the findings' dialogue lead to the editor.
    at.button(key="checks.open_go").click().run()
    assert at.session_state[state.EDITOR_DIALOGUE] == ids[2]
    assert at.title[0].value == "Editor"


@pytest.mark.parametrize("name", ["ann", "rita"])
def test_annotators_and_reviewers_do_not_get_the_page_and_the_service_refuses_them(
        make_app, app_ctx, name):
    imported(app_ctx)
    at = make_app(name, project=PROJECT).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/checks.py")
    with pytest.raises(PermissionDeniedError):
        checks.run_checks(app_ctx, actor(name), PROJECT)
    with pytest.raises(PermissionDeniedError):
        checks.configure_checks(app_ctx, actor(name), PROJECT,
                                rules={"dedup.exact": {"enabled": False}})


def test_a_planted_duplicate_shows_as_a_cluster_and_keeping_one_discards_the_other(
        make_app, app_ctx):
    ids = imported(app_ctx)
    at = run(checks_page(make_app))
    assert "Cluster 1: exact duplicates" in texts(at)
    shown = "".join(h.value for h in at.html)
    assert shown.count("考试没考好确实会让人难过") == 2  # both members, side by side
    at.button(key=f"checks.keep.1.{ids[0]}").click().run()
    assert not at.exception
    assert f"Kept #{ids[0]}; discarded #{ids[3]}." in texts(at)
    lea = actor("lea")
    assert editing.get_dialogue(app_ctx.uow(), lea, ids[3]).status == Status.DISCARDED
    assert editing.get_dialogue(app_ctx.uow(), lea, ids[0]).status == Status.DRAFT
    event = workflow.events(app_ctx, lea, ids[3])[-1]
    assert (event.action, event.actor, event.comment) == (
        "discard", "lea", f"near-duplicate of #{ids[0]} (cluster 1)")
    # The discarded member shows as such until the next run, which leaves it out.
    assert "Discarded" in texts(at)
    assert not [b for b in at.button if b.key == f"checks.keep.1.{ids[3]}"]
    run(at)
    assert "No near-duplicates among the latest findings." in texts(at)


def test_a_rule_switched_off_in_the_settings_drops_its_findings_from_the_next_run(
        make_app, app_ctx):
    imported(app_ctx)
    at = run(checks_page(make_app))
    assert "safety.contempt" in list(findings_table(at)["rule"])
    at.checkbox(key="checks.rule.safety.contempt.enabled").uncheck()
    at.selectbox(key="checks.rule.lint.strategy_missing.severity").set_value("error")
    at.number_input(key="checks.threshold").set_value(0.9)
    at.button(key="FormSubmitter:checks.rules_form-Save the rule settings").click().run()
    assert not at.exception
    assert "Check settings of pc saved; they apply from the next run." in texts(at)
    config = checks.configure_checks(app_ctx, actor("lea"), PROJECT)
    assert config["rules"] == {"safety.contempt": {"enabled": False},
                               "lint.strategy_missing": {"severity": "error"}}
    assert config["dedup_threshold"] == pytest.approx(0.9)
    # The form shows what is stored.
    assert at.checkbox(key="checks.rule.safety.contempt.enabled").value is False
    run(at)
    table = findings_table(at)
    assert "safety.contempt" not in list(table["rule"])
    row = table[table["rule"] == "lint.strategy_missing"].iloc[0]
    assert row["severity"] == "error"


def submitted_with_contempt(ctx: AppContext) -> int:
    """ann rewrites the parent's first turn into contempt and submits it."""
    dialogue = workflow.take_next(ctx, actor("ann"), "demo-peconv")
    assert dialogue is not None and dialogue.id is not None
    turns = list(dialogue.turns)
    turns[1] = Turn(Role.SUPPORTER, CONTEMPT, ["empathy"])
    editing.save_revision(ctx.uow(), actor("ann"), dialogue.id, dialogue.version, turns)
    workflow.submit(ctx, actor("ann"), dialogue.id, None)
    return dialogue.id


@pytest.mark.parametrize("language, expected", [
    ("en", "may contain contempt towards the child; check it before approving."),
    ("zh", "的发言可能包含对孩子的轻视或辱骂；请在通过前检查。"),
])
def test_the_review_page_warns_about_a_flagged_supporter_turn(make_app, app_ctx, language,
                                                              expected):
    did = submitted_with_contempt(app_ctx)
    at = open_page(make_app("rita", language=language), "review")
    assert at.session_state[state.REVIEW_DIALOGUE] == did
    warnings = [w.value for w in at.warning]
    # Named above the tabs (turn 2) and beside the turn in the final text.
    assert len([w for w in warnings if expected in w]) == 2
    assert any(w.startswith(("Turn 2: ⚠ Safety: this", "第 2 轮：⚠ 安全提示")) for w in warnings)


def test_the_review_page_shows_no_safety_warning_for_a_clean_dialogue(make_app, app_ctx):
    from tests.ui.test_review_page import submitted

    submitted(app_ctx)
    at = open_page(make_app("rita"), "review")
    assert not [w for w in at.warning if "Safety" in w.value]


def test_the_page_is_in_chinese_too(make_app, app_ctx):
    imported(app_ctx)
    at = run(open_page(make_app("lea", project=PROJECT, language="zh"), "checks"))
    assert at.title[0].value == "质量检查"
    assert "检查完成：checked 4 dialogues in pc" in texts(at)
    assert "重复簇 1：完全相同" in texts(at)
    assert list(findings_table(at).columns) == ["对话", "轮次", "规则", "严重程度", "类型", "说明"]


def test_a_run_that_finds_nothing_says_so_and_chinese_shows_chinese_messages(make_app, app_ctx):
    ids = imported(app_ctx)
    at = checks_page(make_app)
    assert "No findings stored: run the checks." in texts(at)  # no run yet
    # Only the format check, which finds nothing in this corpus.
    at.multiselect(key=state.widget_key(state.CHECKS_KINDS)).set_value(["format"]).run()
    run(at)
    assert "0 errors, 0 warnings" in texts(at)
    assert "No findings stored" not in texts(at)
    assert "The latest check run found nothing to report." in texts(at)
    # In Chinese, the findings' messages are Chinese too.
    at.multiselect(key=state.widget_key(state.CHECKS_KINDS)).set_value(["lint"]).run()
    run(at)
    at.session_state[state.LANGUAGE] = "zh"
    at.run()
    shown = findings_table(at)
    assert ids[1] in list(shown.iloc[:, 0])
    messages = " ".join(str(m) for m in shown.iloc[:, -1])
    assert "支持者的发言没有标注策略" in messages
    assert "strategy" not in messages
