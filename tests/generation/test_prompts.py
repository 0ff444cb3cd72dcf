"""Prompt templates: loading, versioning, rendering for the PECONV and ExTES presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_app.errors import InvalidInputError, NotFoundError
from curation_app.generation import load_template, render
from curation_app.presets import Vocabulary, load_preset
from curation_app.resources import resource_path
from tests.generation.conftest import extes_seed


def test_peconv_prompt_is_chinese_and_carries_topic_emotion_turns_and_strategies(
    peconv: Vocabulary,
) -> None:
    template = load_template("peconv_draft")
    rendered = render(template, peconv, topic="弟弟妹妹出生", emotion="angry", turns=12)

    assert [m["role"] for m in rendered.messages] == ["system", "user"]
    user = rendered.messages[1]["content"]
    # the emotion by its Chinese name, the strategies with their Chinese definitions
    assert "弟弟妹妹出生" in user and "生气" in user and "12" in user
    assert "孩子先开口" in user and "家长" in user
    for strategy in peconv.strategies:
        assert strategy.name in user
        assert strategy.label("zh") in user
        assert strategy.definition_in("zh") in user and strategy.definition not in user
    assert rendered.template_name == "peconv_draft"
    assert rendered.template_version == template.version
    assert (rendered.topic, rendered.emotion, rendered.turns) == ("弟弟妹妹出生", "angry", 12)


def test_extes_prompt_shows_each_seed_as_an_example_with_its_strategies(
    extes: Vocabulary,
) -> None:
    seeds = [extes_seed("seed-a"), extes_seed("seed-b")]
    rendered = render(load_template("extes_selfchat"), extes, topic="Job Loss or Career Setbacks",
                      seeds=seeds)

    user = rendered.messages[-1]["content"]
    assert "Scenario: Job Loss or Career Setbacks" in user
    assert "Here are 2 examples" in user
    # each seed is shown as the ExTES export writes it
    assert user.count('"User": "My manager keeps piling work on me') == 2
    assert '"AI Strategy": "Reflective Statements",\n   "AI": "It sounds like' in user
    assert user.count('"scene": "Work-related Stress and Burnout"') == 2
    assert all(f"{s.name} ({s.code}): {s.definition}" in user for s in extes.strategies)
    assert "exactly one" in user
    assert rendered.seed_ids == ("seed-a", "seed-b")
    assert rendered.turns == extes.generation.get("turns", 10)


def test_templates_take_labels_from_the_vocabulary_not_from_the_file(
    extes: Vocabulary,
) -> None:
    extended = extes.extended("strategy", ["Humour"])
    user = render(load_template("extes_selfchat"), extended, topic="Burnout").messages[-1]
    assert "Humour" in user["content"]
    # No bundled template spells out a preset's label: multi-word names cannot occur by chance.
    names = {s.name for p in ("peconv", "extes", "esconv") for s in load_preset(p).strategies
             if " " in s.name}
    for template in ("peconv_draft", "extes_selfchat", "esconv_draft"):
        source = resource_path("prompts", f"{template}.j2").read_text(encoding="utf-8")
        assert not [n for n in names if n in source], template


@pytest.mark.parametrize("name", ["peconv_draft", "extes_selfchat", "esconv_draft"])
def test_every_bundled_template_renders_for_every_preset(name: str) -> None:
    for preset in ("peconv", "extes", "esconv"):
        vocab = load_preset(preset)
        rendered = render(load_template(name), vocab, topic="t", emotion="e", turns=4,
                          seeds=[extes_seed()] if preset == "extes" else [])
        assert rendered.messages[-1]["role"] == "user"
        assert all(m["content"].strip() for m in rendered.messages)


def test_template_version_changes_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "mine.j2"
    path.write_text("{% block user %}Write about {{ topic }}.{% endblock %}", encoding="utf-8")
    first = load_template("mine", folder=tmp_path)
    again = load_template("mine.j2", folder=tmp_path)
    path.write_text("{% block user %}Write kindly about {{ topic }}.{% endblock %}",
                    encoding="utf-8")
    changed = load_template("mine", folder=tmp_path)

    assert first.version == again.version
    assert changed.version != first.version
    assert len(first.version) == 12
    assert changed.ref == f"mine@{changed.version}"


def test_a_variable_the_template_needs_but_was_not_given_is_an_error(
    tmp_path: Path, extes: Vocabulary,
) -> None:
    (tmp_path / "needs.j2").write_text("{% block user %}{{ audience }}{% endblock %}",
                                       encoding="utf-8")
    template = load_template("needs", folder=tmp_path)
    with pytest.raises(InvalidInputError, match="audience"):
        render(template, extes, topic="Burnout")
    rendered = render(template, extes, topic="Burnout", extra={"audience": "teenagers"})
    assert rendered.messages == [{"role": "user", "content": "teenagers"}]


def test_a_missing_template_is_reported_by_name() -> None:
    with pytest.raises(NotFoundError, match="no_such_template.j2"):
        load_template("no_such_template")


def test_a_template_without_a_user_block_is_refused(tmp_path: Path, extes: Vocabulary) -> None:
    (tmp_path / "bad.j2").write_text("{% block system %}x{% endblock %}", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no 'user' block"):
        render(load_template("bad", folder=tmp_path), extes, topic="Burnout")
