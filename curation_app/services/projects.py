"""Use cases about projects: create from a preset, list with counts, extend the vocabulary."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from curation_app.errors import InvalidInputError
from curation_app.presets import LabelKind, load_preset, read_topic_file
from curation_app.services.permissions import Actor, require
from curation_app.store import ProjectCounts, ProjectRecord, UnitOfWork


def create_project(uow: UnitOfWork, actor: Actor, name: str, preset: str, *,
                   topics_file: str | Path | None = None,
                   replace_topics: bool = False) -> ProjectRecord:
    """Create a project with a copy of ``preset``'s vocabulary.

    ``topics_file`` (a topic list such as PECONV's, one or more topics per line separated by
    、) extends the topics, or replaces them when ``replace_topics`` is set.
    """
    require(actor, "project.create")
    name = name.strip()
    if not name:
        raise InvalidInputError("a project needs a non-empty name")
    vocab = load_preset(preset)
    if topics_file is not None:
        topics = read_topic_file(topics_file)
        if replace_topics:
            vocab = replace(vocab, topics=tuple(topics))
        else:
            vocab = vocab.extended("topic", topics)
    with uow:
        record = uow.repo.add_project(name, preset, vocab)
        uow.commit()
    return record


def list_projects(uow: UnitOfWork) -> list[ProjectCounts]:
    with uow:
        return uow.repo.project_counts()


def get_project(uow: UnitOfWork, name: str) -> ProjectRecord:
    with uow:
        return uow.repo.get_project(name)


def add_labels(uow: UnitOfWork, actor: Actor, project: str, kind: LabelKind,
               labels: list[str]) -> list[str]:
    """Add labels to a project's vocabulary; returns the ones that were new."""
    require(actor, "project.edit_vocabulary", project=project)
    with uow:
        record = uow.repo.get_project(project)
        before = set(record.vocabulary.labels(kind))
        vocab = record.vocabulary.extended(kind, labels)
        uow.repo.set_vocabulary(record.id, vocab)
        uow.commit()
    return [label for label in dict.fromkeys(labels) if label not in before]


# The project setting that lets annotators read every dialogue of the project (not only their
# own and the unassigned drafts); editing stays limited to their own.
READ_ALL = "annotators_read_all"


def set_annotator_reading(uow: UnitOfWork, actor: Actor, project: str, *,
                          read_all: bool) -> None:
    """Whether annotators of ``project`` may read every dialogue (leads)."""
    require(actor, "project.edit_vocabulary", project=project)
    with uow:
        record = uow.repo.get_project(project)
        uow.repo.set_settings(record.id, {**record.settings, READ_ALL: bool(read_all)})
        uow.security.audit("project.reading", actor.name, project,
                           detail={READ_ALL: bool(read_all)})
        uow.commit()
