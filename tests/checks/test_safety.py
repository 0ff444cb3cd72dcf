"""The local safety screen in both languages (firing and staying quiet), whose turns each
category applies to, and the moderation endpoint through the openai SDK and the local stub."""

from __future__ import annotations

import pytest

from curation_app.checks.moderation import ModerationConfig, Moderator
from curation_app.checks.safety import SafetyScreen, default_screen, expand
from curation_app.domain import Role
from curation_app.errors import InvalidInputError, ModelServerError
from tests.checks.conftest import P, S, chinese, config_for, english, with_turn
from tests.openai_stub_server import OpenAIStub


def categories(text: str, role: Role = Role.SUPPORTER) -> list[str]:
    return sorted(h.category.name for h in default_screen().screen(text, role))


@pytest.mark.parametrize("text, role, expected", [
    ("Sometimes I just want to kill myself.", S, "self_harm"),
    ("I've been thinking about ending my life lately.", S, "self_harm"),
    ("最近我真的不想活了，活着没意思。", S, "self_harm"),
    ("我有时候会偷偷割腕。", S, "self_harm"),
    ("If he says that again I will stab him.", S, "violence"),
    ("我真想杀了他。", S, "violence"),
    ("He wanted me to send nudes and I'm only 13.", S, "sexual_minors"),
    ("有个大人让我发裸照给他。", S, "sexual_minors"),
    ("My stepdad beats me when he's drunk.", S, "abuse"),
    ("爸爸喝醉了就打我，还把我关在房间里。", S, "abuse"),
    ("Honestly, you're so stupid for failing that test.", P, "contempt"),
    ("Stop whining, stupid kid.", P, "contempt"),
    ("你怎么这么笨，哭什么哭！", P, "contempt"),
    ("You definitely have depression; this medication will cure you.", P, "certain_advice"),
    ("你肯定是抑郁症，不用看医生。", P, "certain_advice"),
    ("Sue them and you'll win, I promise.", P, "certain_advice"),
])
def test_the_screen_fires_on_each_category_in_both_languages(text, role, expected):
    assert expected in categories(text, role)


@pytest.mark.parametrize("text", [
    "I killed it at my presentation today!",
    "This week has been killing me, honestly.",
    "You are not stupid at all; anyone would struggle with that exam.",
    "It's not that you are worthless, you are exhausted.",
    "What doesn't kill you makes you stronger, as they say.",
    "Maybe talking to a doctor could help you understand what is going on.",
    "You deserve it after all that hard work!",
    "妈妈想死你了，快回来吃饭吧。",
    "你不是笨蛋，你已经很努力了。",
    "如果一直睡不好，我们可以一起去看医生问问。",
    "今天体育课跑步，我累死了。",
])
def test_ordinary_supportive_talk_passes_the_screen(text):
    assert categories(text, Role.SUPPORTER) == []
    assert categories(text, Role.SEEKER) == []


def test_contempt_and_certain_advice_only_count_in_supporter_turns():
    assert categories("I'm so stupid, you are so stupid, everyone is.", Role.SEEKER) == []
    assert categories("你真笨", Role.SEEKER) == []
    assert categories("你真笨", Role.SUPPORTER) == ["contempt"]


def test_phrases_are_written_with_alternatives_in_the_data_file():
    assert expand("(kill|hurt) (my|)self") == ["kill myself", "kill self", "hurt myself",
                                               "hurt self"]
    screen = SafetyScreen({"demo": {"roles": ["seeker"], "message": "says demo",
                                    "en": ["big (red|) dog"], "zh": ["大(红|)狗"]}})
    assert [h.phrase for h in screen.screen("A BIG, red dog!", Role.SEEKER)] == ["big red dog"]
    assert [h.phrase for h in screen.screen("一只大狗", Role.SEEKER)] == ["大狗"]
    assert screen.screen("a big dog", Role.SUPPORTER) == []


def test_safety_findings_carry_the_category_turn_and_a_review_message(peconv, extes):
    config = config_for(peconv)
    dialogue = with_turn(chinese(id=8), 3, text="你真是没用，哭什么哭。")
    found = default_screen().check(dialogue, peconv, config)
    assert [(f.rule, f.severity, f.turn, f.path, f.category) for f in found] == [
        ("safety.contempt", "error", 3, "turns[3].text", "contempt")]
    assert found[0].message.startswith("Parent turn shows contempt towards the child or seeker")
    seeker = with_turn(english(), 2, text="Some nights I want to kill myself.")
    found = default_screen().check(seeker, extes, config_for(extes))
    assert [(f.rule, f.severity, f.category) for f in found] == [
        ("safety.self_harm", "warning", "self_harm")]
    off = config_for(extes, {"rules": {"safety.self_harm": {"enabled": False}}})
    assert default_screen().check(seeker, extes, off) == []


# ---- the moderation endpoint ---------------------------------------------------------------
def test_moderation_is_off_unless_asked_for_and_needs_a_key():
    assert ModerationConfig.from_env({}) is None
    assert ModerationConfig.from_env({"CURATION_MODERATION": "off"}) is None
    with pytest.raises(InvalidInputError, match="needs an API key"):
        ModerationConfig.from_env({"CURATION_MODERATION": "openai"})
    with pytest.raises(InvalidInputError, match="must be 'openai' or 'off'"):
        ModerationConfig.from_env({"CURATION_MODERATION": "perspective"})
    config = ModerationConfig.from_env({"CURATION_MODERATION": "openai",
                                        "OPENAI_API_KEY": "sk-test-123456789",
                                        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert config is not None and config.base_url == "http://127.0.0.1:9/v1"
    assert "sk-test" not in repr(config)


def test_the_moderation_endpoint_adds_its_categories_through_the_sdk(extes):
    dialogue = with_turn(with_turn(english(id=3), 2, text="I could end my life tonight."),
                         4, text="I want to kill him, you idiot.")
    with OpenAIStub() as stub:
        config = ModerationConfig(base_url=stub.url, api_key="sk-test-moderation", batch_size=4)
        with Moderator(config) as moderator:
            found = moderator.check([dialogue], extes, config_for(extes))
        requests = stub.moderation_requests
    assert [(f.rule, f.turn, f.category) for f in found] == [
        ("safety.moderation", 2, "self-harm"),
        ("safety.moderation", 4, "harassment, violence")]
    assert found[1].message == ("User turn flagged by the moderation endpoint: harassment, "
                                "violence")
    assert [len(r.body["input"]) for r in requests] == [4, 2]  # six turns, batches of four
    assert stub.chat_requests == []


def test_a_failing_moderation_endpoint_is_an_error_not_a_clean_result(extes):
    with OpenAIStub() as stub:
        stub.moderation_error = 500
        config = ModerationConfig(base_url=stub.url, api_key="sk-secret-abcdefghijkl",
                                  max_retries=0)
        with Moderator(config) as moderator, pytest.raises(ModelServerError) as raised:
            moderator.check([english()], extes, config_for(extes))
    assert "500" in str(raised.value) and "sk-secret-abcdefghijkl" not in str(raised.value)
