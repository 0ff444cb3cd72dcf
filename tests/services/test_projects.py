"""Projects from presets, topic lists and vocabulary extension."""

from __future__ import annotations

import pytest

from curation_app.errors import AlreadyExistsError, NotFoundError
from curation_app.services import projects
from tests.conftest import LEAD, shared_file


def test_create_copies_the_preset_vocabulary_and_lists_counts(ctx):
    record = projects.create_project(ctx.uow(), LEAD, "zh", "peconv")
    assert record.vocabulary.language == "zh"
    assert record.vocabulary.strategy_names == ("validation", "empathy", "support")
    assert record.vocabulary.role_display(record.vocabulary.role_for("家长")) == "家长"
    listed = projects.list_projects(ctx.uow())
    assert [(p.name, p.preset, p.dialogues, p.turns) for p in listed] == [("zh", "peconv", 0, 0)]


def test_a_topic_list_file_extends_or_replaces_topics(ctx):
    topics = shared_file("peconv", "topics.txt")
    extended = projects.create_project(ctx.uow(), LEAD, "a", "peconv", topics_file=topics)
    replaced = projects.create_project(ctx.uow(), LEAD, "b", "peconv", topics_file=topics,
                                       replace_topics=True)
    assert len(replaced.vocabulary.topics) == 528  # 538 listed, 528 distinct
    assert set(replaced.vocabulary.topics) < set(extended.vocabulary.topics)
    assert "班会游戏" in replaced.vocabulary.topics


def test_duplicate_names_and_unknown_presets_are_refused(ctx):
    projects.create_project(ctx.uow(), LEAD, "x", "esconv")
    with pytest.raises(AlreadyExistsError):
        projects.create_project(ctx.uow(), LEAD, "x", "extes")
    with pytest.raises(NotFoundError, match="no preset named 'nope'"):
        projects.create_project(ctx.uow(), LEAD, "y", "nope")


def test_labels_can_be_added_and_are_stored(ctx):
    projects.create_project(ctx.uow(), LEAD, "x", "extes")
    added = projects.add_labels(ctx.uow(), LEAD, "x", "topic",
                                ["Exam Results", "Work-related Stress and Burnout"])
    assert added == ["Exam Results"]
    vocab = projects.get_project(ctx.uow(), "x").vocabulary
    assert vocab.topics[-1] == "Exam Results" and len(vocab.topics) == 37
