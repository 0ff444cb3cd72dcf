"""The privacy scan: made-up English and Chinese examples of every kind are found, everyday
sentences are not; findings are errors stored per turn; placeholders are a new revision; a
lead's false-alarm mark is kept with who and why and silences that value only. SQLite and
PostgreSQL for everything that touches the database."""

from __future__ import annotations

import pytest

from curation_app.checks import RULES
from curation_app.checks.privacy import PLACEHOLDERS, redact, scan, valid_cn_id
from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from curation_app.services import checks, editing, privacy
from curation_app.services.projects import create_project
from tests.conftest import ANNOTATOR, LEAD

# (kind, text, the value that must be found) - every person, number and place is made up.
EXAMPLES = [
    ("name", "My daughter Emma cried all night.", "Emma"),
    ("name", "Mrs. Parker said I talk too much.", "Parker"),
    ("name", "Liam, my son, will not eat.", "Liam"),
    ("name", "There is a boy named Oliver Grant in my class.", "Oliver Grant"),
    ("name", "我儿子王小明今天不想上学。", "王小明"),
    ("name", "我的同桌叫张伟，他总是抢我的橡皮。", "张伟"),
    ("name", "今天李老师批评了我。", "李"),
    ("name", "我女儿叫小雨，她很害羞。", "小雨"),
    ("phone", "Call me on (415) 555-0132 tonight.", "(415) 555-0132"),
    ("phone", "My number is +86 138 1234 5678.", "+86 138 1234 5678"),
    ("phone", "妈妈的手机是13912345678，你打给她吧。", "13912345678"),
    ("phone", "家里电话010-62345678。", "010-62345678"),
    ("email", "Write to mia.chen@example.com please.", "mia.chen@example.com"),
    ("email", "我的邮箱是xiaoyu2012@example.cn。", "xiaoyu2012@example.cn"),
    ("address", "We live at 42 Maple Street, Apt 5 now.", "42 Maple Street, Apt 5"),
    ("address", "It is in Springfield, IL 62704.", "Springfield, IL 62704"),
    ("address", "我家住在北京市朝阳区建国路88号。", "北京市朝阳区建国路88号"),
    ("address", "阳光花园小区3号楼2单元，邮编100020。", "阳光花园小区3号楼2单元"),
    ("address", "邮编是518000。", "518000"),
    ("school", "She goes to Lincoln Elementary School.", "Lincoln Elementary School"),
    ("school", "Everyone in Class 3B laughed at me.", "Class 3B"),
    ("school", "我在育才小学读书。", "育才小学"),
    ("school", "我是三年级二班的。", "三年级二班"),
    ("school", "他在北京市第四中学。", "北京市第四中学"),
    ("id_number", "身份证号440305201205150012，别告诉别人。", "440305201205150012"),
    ("id_number", "My ID card says 11010519491231002X.", "11010519491231002X"),
    ("passport", "My passport number is E12345678.", "E12345678"),
    ("passport", "护照号码是E98765432。", "E98765432"),
    ("ssn", "His SSN is 123-45-6789.", "123-45-6789"),
    ("ssn", "social security number: 219 09 9999", "219 09 9999"),
    ("card", "Use card 4111 1111 1111 1111 for it.", "4111 1111 1111 1111"),
    ("card", "我的银行卡号是6222020200112233446。", "6222020200112233446"),
]

EVERYDAY = [
    "I feel so alone since my friend moved away.",
    "My mom said I should talk to my teacher about it.",
    "I missed class 2 times this week and the teacher noticed.",
    "I scored 95 out of 100 on the test on 2024-05-01.",
    "我上小学的时候很开心，今年初中了。",
    "妈妈，老师说我没赢游戏，但我真的赢了，我好生气！",
    "你可以和老师和同学们一起练习，这样就可以降低风险。",
    "我相信你能够从这次失败中学到很多。",
    "It costs $1,299.00 and order 1234567 shipped.",
]


@pytest.mark.parametrize(("kind", "text", "value"), EXAMPLES,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(EXAMPLES)])
def test_each_kind_is_found_in_english_and_chinese(kind, text, value):
    hits = scan(text)
    assert value in [h.value for h in hits if h.kind == kind], hits
    assert value not in redact(text, hits)
    assert PLACEHOLDERS[kind] in redact(text, hits)


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_sentences_are_not_flagged(text):
    assert scan(text) == []


def test_checksums_and_validity_are_verified():
    assert valid_cn_id("440305201205150012")
    assert scan("身份证号440305201205150013。") == []  # wrong check digit
    assert scan("身份证号440305201213150012。") == []  # no 13th month (checksum aside)
    assert not [h for h in scan("card 4111 1111 1111 1112") if h.kind == "card"]  # not Luhn
    assert not [h for h in scan("number 000-12-3456 here") if h.kind == "ssn"]


def test_every_privacy_rule_is_an_error_by_default():
    rules = [r for r in RULES.values() if r.kind == "privacy"]
    assert {r.id.split(".")[1] for r in rules} == set(PLACEHOLDERS)
    assert all(r.severity == "error" for r in rules)


# ---- the service, on both databases ------------------------------------------------------------
def _dialogue(ctx, turns: list[str], project: str = "px") -> int:
    create_project(ctx.uow(), LEAD, project, "extes")
    with ctx.uow() as uow:
        (dialogue_id,) = uow.repo.add_dialogues(uow.repo.get_project(project), [Dialogue(
            turns=[Turn(Role.SEEKER if i % 2 == 0 else Role.SUPPORTER, t,
                        [] if i % 2 == 0 else ["Reflective Statements"])
                   for i, t in enumerate(turns)],
            topic="Communication Challenges", source=Source.GENERATED,
            description="Mia Chen wrote from mia.chen@example.com")], author="model")
        uow.commit()
    return dialogue_id


TURNS = ["My daughter Emma goes to Lincoln Elementary School.",
         "That sounds like a big change for her.",
         "Call me on (415) 555-0132, my SSN is 123-45-6789.",
         "Thank you for trusting me with this."]


def test_findings_are_errors_per_turn_and_placeholders_make_a_revision(ctx):
    dialogue_id = _dialogue(ctx, TURNS)
    summary = checks.run_checks(ctx, LEAD, "px", "privacy")
    found = checks.latest_findings(ctx, "px", kind="privacy")
    assert summary.errors == len(found) == 5
    assert sorted((f.turn, f.rule) for f in found if f.turn is not None) == [
        (0, "privacy.name"), (0, "privacy.school"), (2, "privacy.phone"), (2, "privacy.ssn")]
    assert [f.path for f in found if f.turn is None] == ["description"]
    assert all(f.severity == "error" for f in found)
    assert "555-0132" not in " ".join(f.message for f in found)  # values are masked

    version = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version
    result = privacy.redact_dialogue(ctx, LEAD, dialogue_id, version)
    assert result.replaced == 5
    saved = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id)
    assert saved.turns[0].text == "My daughter [NAME] goes to [SCHOOL]."
    assert saved.turns[2].text == "Call me on [PHONE], my SSN is [SSN]."
    assert saved.description == "Mia Chen wrote from [EMAIL]"
    last = editing.history(ctx.uow(), LEAD, dialogue_id)[-1]
    assert last.author == "lead" and last.note.startswith("privacy: 5 item(s) replaced")
    assert editing.history(ctx.uow(), LEAD, dialogue_id)[0].turns[0].text == TURNS[0]
    assert checks.latest_findings(ctx, "px", kind="privacy") == []  # refreshed at once
    assert checks.run_checks(ctx, LEAD, "px", "privacy").errors == 0
    # nothing left: no empty revision
    assert privacy.redact_dialogue(ctx, LEAD, dialogue_id, saved.version).version is None


def test_a_lead_marks_a_false_alarm_with_who_and_why(ctx):
    dialogue_id = _dialogue(ctx, ["I read a story about Mrs. Parker in a book.",
                                  "What did you like about it?",
                                  "Mrs. Parker lives at 42 Maple Street.", "I see."])
    checks.run_checks(ctx, LEAD, "px", "privacy")
    story = next(f for f in checks.latest_findings(ctx, "px", kind="privacy") if f.turn == 0)
    with pytest.raises(PermissionDeniedError):
        privacy.dismiss(ctx, ANNOTATOR, dialogue_id, story.path, story.rule, story.message,
                        "a book")
    with pytest.raises(InvalidInputError, match="say why"):
        privacy.dismiss(ctx, LEAD, dialogue_id, story.path, story.rule, story.message, "  ")
    with pytest.raises(NotFoundError):
        privacy.dismiss(ctx, LEAD, dialogue_id, "turns[1].text", story.rule, story.message,
                        "x")
    mark = privacy.dismiss(ctx, LEAD, dialogue_id, story.path, story.rule, story.message,
                           "a character in a children's book, not a person")
    (listed,) = privacy.dismissals(ctx, LEAD, "px")
    assert (listed.dismissed_by, listed.reason, listed.path) == (
        "lead", "a character in a children's book, not a person", "turns[0].text")
    assert listed.id == mark.id and "Parker" not in listed.masked
    # the same name in another turn is still reported; the marked one is not, on any run
    for found in (checks.latest_findings(ctx, "px", kind="privacy"),
                  checks.run_checks(ctx, LEAD, "px", "privacy").findings):
        assert sorted((-1 if f.turn is None else f.turn, f.rule) for f in found) == [
            (-1, "privacy.email"), (2, "privacy.address"), (2, "privacy.name")]
    assert [f.rule for f in checks.check_dialogue(ctx, dialogue_id)
            if f.kind == "privacy" and f.turn == 0] == []
    # redaction leaves marked values alone
    version = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version
    privacy.redact_dialogue(ctx, LEAD, dialogue_id, version)
    turns = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).turns
    assert turns[0].text == "I read a story about Mrs. Parker in a book."
    assert turns[2].text == "Mrs. [NAME] lives at [ADDRESS]."


def test_an_annotator_redacts_only_what_they_may_edit(ctx):
    dialogue_id = _dialogue(ctx, TURNS)
    version = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version
    with pytest.raises(PermissionDeniedError):
        privacy.redact_dialogue(ctx, ANNOTATOR, dialogue_id, version)
    assert editing.get_dialogue(ctx.uow(), LEAD, dialogue_id).version == version
