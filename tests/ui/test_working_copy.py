"""The editor's working copy: turn operations, unsaved-change tracking, time, reapplying."""

from __future__ import annotations

from curation_app.domain import Dialogue, Role, Turn
from curation_app.ui.working_copy import IDLE_CAP_S, WorkingCopy, split_text


def dialogue(language: str = "zh", version: int = 3) -> Dialogue:
    return Dialogue(
        id=7, version=version, language=language, topic="作业", emotion="sad",
        turns=[Turn(Role.SEEKER, "我今天很难过。老师批评了我。"),
               Turn(Role.SUPPORTER, "听起来你很委屈。", ["empathy"], {"feedback": "5"}),
               Turn(Role.SEEKER, "嗯。")])


def test_a_fresh_copy_has_no_unsaved_changes_and_gives_back_the_same_turns():
    wc = WorkingCopy.from_dialogue(dialogue())
    assert not wc.dirty
    assert wc.to_turns() == dialogue().turns
    assert [t.uid for t in wc.turns] == [0, 1, 2]


def test_moving_a_turn_keeps_its_uid_and_text_together():
    wc = WorkingCopy.from_dialogue(dialogue())
    wc.move(1, -1)
    assert [(t.uid, t.text) for t in wc.turns][:2] == [(1, "听起来你很委屈。"),
                                                     (0, "我今天很难过。老师批评了我。")]
    wc.move(1, -1)  # already first: nothing happens
    assert wc.turns[0].uid == 1 and wc.dirty


def test_split_cuts_at_a_sentence_end_and_merge_joins_without_a_space_in_chinese():
    wc = WorkingCopy.from_dialogue(dialogue())
    new = wc.split(0)
    assert new is not None
    assert [t.text for t in wc.turns[:2]] == ["我今天很难过。", "老师批评了我。"]
    assert wc.turns[1].role == Role.SEEKER
    assert wc.merge_next(0)
    assert wc.turns[0].text == "我今天很难过。老师批评了我。"
    assert not wc.dirty  # back to what was loaded


def test_merge_in_english_joins_with_a_space_and_unites_the_strategies():
    wc = WorkingCopy.from_dialogue(Dialogue(id=1, language="en", turns=[
        Turn(Role.SUPPORTER, "That sounds hard.", ["Empathy"]),
        Turn(Role.SUPPORTER, "What happened?", ["Question"])]))
    assert wc.merge_next(0)
    assert wc.to_turns() == [Turn(Role.SUPPORTER, "That sounds hard. What happened?",
                                  ["Empathy", "Question"])]
    assert not wc.merge_next(0)  # the last turn has nothing after it


def test_a_typed_line_break_decides_where_a_turn_splits():
    assert split_text("First part\nsecond part. More.") == ("First part", "second part. More.")
    assert split_text("No sentence end here") == ("No sentence end here", "")


def test_add_delete_and_role_change_and_seeker_turns_lose_strategies_on_save():
    wc = WorkingCopy.from_dialogue(dialogue())
    uid = wc.add_after(1)
    assert wc.turns[2].uid == uid and wc.turns[2].role == Role.SEEKER
    wc.set_text(uid, "好吧")
    wc.delete(uid)
    wc.set_role(1, "seeker")
    assert wc.to_turns()[1].strategies == []
    assert wc.to_turns()[1].metadata == {"feedback": "5"}
    wc.set_role(1, "supporter")
    wc.set_strategies(1, ["validation", "validation", "support"])
    assert wc.to_turns()[1].strategies == ["validation", "support"]


def test_time_counts_active_editing_and_caps_long_pauses():
    wc = WorkingCopy.from_dialogue(dialogue())
    wc.last_touch = 0.0
    wc.touch(now=30.0)
    wc.touch(now=30.0 + 10 * IDLE_CAP_S)
    assert wc.seconds == 30.0 + IDLE_CAP_S
    wc.seconds = 12.4
    wc.last_touch = 10**9  # a clock reading in the future adds nothing
    assert wc.take_seconds() == 12 and wc.seconds == 0.0


def test_rebasing_puts_the_edit_on_the_newer_version():
    wc = WorkingCopy.from_dialogue(dialogue(version=3))
    wc.set_text(1, "你被批评了，一定很难受。")
    wc.topic = "老师"
    latest = dialogue(version=5)
    rebased = wc.rebased(latest)
    assert rebased.version == 5
    assert rebased.turns[1].text == "你被批评了，一定很难受。" and rebased.topic == "老师"
    assert rebased.dirty
