"""Checks page: privacy findings per turn, one-click placeholders, a lead's false-alarm mark."""

from __future__ import annotations

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.services import editing, privacy
from curation_app.services.projects import create_project
from curation_app.ui import state
from tests.ui.conftest import actor, open_page, texts

PROJECT = "pp"


def _seed(ctx) -> int:
    create_project(ctx.uow(), actor("lea"), PROJECT, "peconv")
    with ctx.uow() as uow:
        (dialogue_id,) = uow.repo.add_dialogues(uow.repo.get_project(PROJECT), [Dialogue(
            turns=[Turn(Role.SEEKER, "我儿子王小明在育才小学，电话13912345678。"),
                   Turn(Role.SUPPORTER, "**谢谢**你告诉我。", ["认可"]),
                   Turn(Role.SEEKER, "王小明说想转学。"),
                   Turn(Role.SUPPORTER, "你担心他吗？", ["共情"])],
            topic="转学", source=Source.GENERATED)], author="lea")
        uow.commit()
    return dialogue_id


def _run(make_app):
    at = open_page(make_app("lea", project=PROJECT), "checks")
    at.button(key="checks.run_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_findings_per_turn_and_one_click_placeholders(make_app, app_ctx):
    dialogue_id = _seed(app_ctx)
    at = _run(make_app)
    shown = texts(at)
    assert "privacy 3" in shown
    assert f"Dialogue #{dialogue_id}: 3 findings" in shown
    assert "turn 1 · privacy.phone · a phone number in turn 1 ('13" in shown
    # the turn itself as plain text (its Markdown would not render)
    assert [e.value for e in at.text if e.value.startswith("我儿子")] != []
    at.button(key=f"privacy.replace.{dialogue_id}").click().run()
    assert not at.exception
    assert f"Dialogue #{dialogue_id}: 3 replaced by placeholders (revision 1)." in texts(at)
    saved = editing.get_dialogue(app_ctx.uow(), actor("lea"), dialogue_id)
    assert saved.turns[0].text == "我儿子[NAME]在[SCHOOL]，电话[PHONE]。"
    assert saved.turns[1].text == "**谢谢**你告诉我。"
    assert "No personal data among the latest findings." in texts(at)


def test_a_lead_marks_a_false_alarm_with_a_reason(make_app, app_ctx):
    dialogue_id = _seed(app_ctx)
    at = _run(make_app)
    at.text_input(key=f"privacy.reason.{dialogue_id}.1").input("这是学校的公开总机").run()
    at.button(key=f"privacy.mark.{dialogue_id}.1").click().run()
    assert not at.exception
    assert f"Marked as a false alarm in dialogue #{dialogue_id}." in texts(at)
    (mark,) = privacy.dismissals(app_ctx, actor("lea"), PROJECT)
    assert (mark.rule, mark.dismissed_by, mark.reason) == ("privacy.phone", "lea",
                                                           "这是学校的公开总机")
    assert f"Dialogue #{dialogue_id}: 2 findings" in texts(at)


def test_the_editor_shows_privacy_findings_under_their_turn(make_app, app_ctx):
    dialogue_id = _seed(app_ctx)
    at = make_app("lea", project=PROJECT)
    at.session_state[state.EDITOR_DIALOGUE] = dialogue_id
    at = open_page(at, "editor")
    shown = texts(at)
    assert "`privacy.phone` a phone number in turn 1 ('13" in shown
    assert "`privacy.school` a school or class name in turn 1" in shown
