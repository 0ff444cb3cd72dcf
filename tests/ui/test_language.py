"""The interface in English and Chinese: the switch, the string tables, Chinese dialogue text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curation_app.services import editing, workflow
from curation_app.ui import i18n, state
from tests.ui.conftest import actor, box_named, open_page, texts

UI = Path(i18n.__file__).parent


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(i18n.EN) == set(i18n.ZH)
    for key, text in i18n.EN.items():
        assert i18n.placeholders(text) == i18n.placeholders(i18n.ZH[key]), key


def test_every_string_the_pages_ask_for_exists():
    used = set()
    for path in UI.rglob("*.py"):
        used |= set(re.findall(r"""\bt(?:_optional)?\(\s*["']([a-z_]+\.[a-z_.]+)["']""",
                               path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in i18n.EN)
    assert not missing, missing
    # Keys built at run time: statuses, roles, actions, diff kinds, batch modes.
    for prefix, values in {"status": ["draft", "in_progress", "submitted", "approved",
                                      "returned", "discarded"],
                           "role": ["annotator", "reviewer", "lead"],
                           "action": ["take", "assign", "start", "submit", "approve", "return",
                                      "discard"],
                           "diff": ["same", "changed", "added", "removed"],
                           "generate.mode": ["topics", "all", "targets"]}.items():
        sep = "_" if prefix == "generate.mode" else "."
        for value in values:
            assert f"{prefix}{sep}{value}" in i18n.EN


def test_the_switch_turns_the_whole_interface_into_chinese_and_back(make_app):
    at = open_page(make_app("ann"), "queue")
    assert at.title[0].value == "My queue"
    at.segmented_control(key="w:ui.language").set_value("zh").run()
    assert at.session_state[state.LANGUAGE] == "zh"
    assert at.title[0].value == "我的任务"
    shown = texts(at)
    assert "标注员" in shown and "领取下一条" in [b.label for b in at.button]
    assert at.button(key="sidebar.sign_out").label == "退出登录"
    # It holds on every page, and is remembered in a cookie for the next visit.
    open_page(at, "editor")
    assert at.title[0].value == "编辑"
    assert any("curation_lang" in h.value and '"zh"' in h.value for h in at.html)
    at.segmented_control(key="w:ui.language").set_value("en").run()
    assert at.title[0].value == "Editor"


def test_the_sign_in_page_is_translated_too(make_app):
    at = make_app(None, language="zh").run()
    assert at.title[0].value == "对话数据整理"
    assert at.text_input(key="sign_in.name").label == "用户名"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_chinese_and_english_dialogue_text_displays_and_saves_unchanged(make_app, app_ctx,
                                                                       language):
    dialogue = workflow.take_next(app_ctx, actor("ann"), "demo-peconv")
    assert dialogue is not None
    at = make_app("ann", language=language)
    at.session_state[state.EDITOR_DIALOGUE] = dialogue.id
    open_page(at, "editor")
    box = box_named(at, f"w:editor.{dialogue.id}.0.text")
    assert box.value == dialogue.turns[0].text  # Chinese, exactly as stored
    mixed = "妈妈，我有点害怕 — I'm scared of the test 😟\n第二行：“引号”和 <b>标签</b>"
    box.input(mixed).run()
    at.button(key="editor.save").click().run()
    saved = editing.get_dialogue(app_ctx.uow(), actor("ann"), dialogue.id)
    assert saved.turns[0].text == mixed
    # The diff is drawn when its tab is open.
    at.session_state["editor.tabs"] = "与草稿的差异" if language == "zh" else \
        "Changes against the draft"
    at.run()
    diff = "".join(h.value for h in at.html)
    assert "&lt;b&gt;" in diff and "<b>标签" not in diff  # dialogue text is escaped markup
