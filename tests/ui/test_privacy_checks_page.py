"""Checks page: privacy findings per turn, one-click placeholders, a lead's false-alarm mark."""

from __future__ import annotations

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.services import editing, privacy
from curation_app.services.projects import create_project
from curation_app.ui import state
from tests.ui.conftest import actor, box_named, open_page, texts

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


def _editor(make_app, dialogue_id: int, language: str = "en"):
    at = make_app("lea", project=PROJECT, language=language)
    at.session_state[state.EDITOR_DIALOGUE] = dialogue_id
    return open_page(at, "editor")


def test_the_editor_replaces_one_turns_personal_data_in_the_text_it_shows(make_app, app_ctx):
    dialogue_id = _seed(app_ctx)
    at = _editor(make_app, dialogue_id)
    # unsaved edits: more words in turn 1 (the one with findings), a phone in turn 3
    box_named(at, f"w:editor.{dialogue_id}.0.text").input(
        "我儿子王小明在育才小学，电话13912345678。他最近很难过。").run()
    third = "王小明说想转学，打13800138000找我。"
    box_named(at, f"w:editor.{dialogue_id}.2.text").input(third).run()
    assert "Unsaved changes" in texts(at)
    buttons = [b.key for b in at.button if b.key and b.key.endswith(".redact")]
    assert buttons == [f"editor.{dialogue_id}.0.redact", f"editor.{dialogue_id}.2.redact"]
    at.button(key=f"editor.{dialogue_id}.0.redact").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert (f"Turn 1: 3 replaced by placeholders; saved as revision 1 of dialogue "
            f"#{dialogue_id}. Your unsaved changes to this dialogue were saved with it.") in shown
    # what the page shows at once: the replaced text, the typed words kept, nothing unsaved
    assert box_named(at, f"w:editor.{dialogue_id}.0.text").value == \
        "我儿子[NAME]在[SCHOOL]，电话[PHONE]。他最近很难过。"
    assert box_named(at, f"w:editor.{dialogue_id}.2.text").value == third
    assert "Unsaved changes" not in shown
    # stored as one revision by the person who clicked, with the note saying what was done
    saved = editing.get_dialogue(app_ctx.uow(), actor("lea"), dialogue_id)
    assert saved.turns[0].text == "我儿子[NAME]在[SCHOOL]，电话[PHONE]。他最近很难过。"
    assert saved.turns[2].text == third  # only turn 1's replacement was asked for
    latest = max(editing.history(app_ctx.uow(), actor("lea"), dialogue_id),
                 key=lambda r: r.number)
    assert latest.author == "lea" and latest.note.startswith("privacy: 3 item(s) replaced")
    # turn 3's phone is still found, and its own button is still there
    assert [b.key for b in at.button if b.key and b.key.endswith(".redact")] == \
        [f"editor.{dialogue_id}.2.redact"]


def test_a_replacement_refused_for_a_conflict_changes_nothing_and_keeps_the_text(
        make_app, app_ctx):
    dialogue_id = _seed(app_ctx)
    at = _editor(make_app, dialogue_id, language="zh")
    typed = "我儿子王小明在育才小学，电话13912345678。还有一句。"
    box_named(at, f"w:editor.{dialogue_id}.0.text").input(typed).run()
    assert "替换为占位符" in [b.label for b in at.button]
    # someone else saves first
    stored = editing.get_dialogue(app_ctx.uow(), actor("rita"), dialogue_id)
    editing.save_revision(app_ctx.uow(), actor("rita"), dialogue_id, stored.version,
                          list(stored.turns), note="rita")
    at.button(key=f"editor.{dialogue_id}.0.redact").click().run()
    assert not at.exception
    assert box_named(at, f"w:editor.{dialogue_id}.0.text").value == typed
    saved = editing.get_dialogue(app_ctx.uow(), actor("lea"), dialogue_id)
    assert saved.turns[0].text == "我儿子王小明在育才小学，电话13912345678。"
    assert at.error, "the conflict is shown"
