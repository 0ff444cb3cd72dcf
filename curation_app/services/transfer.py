"""Import and export: files in the external formats to and from a project's dialogues.

An import is all or nothing unless ``skip_invalid`` is given: every record is read and checked
first, and only then is anything written, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from curation_app import formats
from curation_app.domain import Source, Status
from curation_app.errors import ImportRefusedError, InvalidInputError, RecordProblem
from curation_app.presets import LabelKind
from curation_app.services.permissions import Actor, require
from curation_app.store import UnitOfWork
from curation_app.wording import plural


@dataclass
class ImportSummary:
    project: str
    imported: int
    turns: int
    total: int
    refused: list[RecordProblem] = field(default_factory=list)
    warnings: list[RecordProblem] = field(default_factory=list)
    added_labels: dict[str, list[str]] = field(default_factory=dict)

    def line(self) -> str:
        parts = [f"imported {self.imported} dialogues ({self.turns} turns) into {self.project}"]
        if self.refused:
            parts.append(f"{plural(len({p.index for p in self.refused}), 'record')} skipped")
        if self.warnings:
            parts.append(plural(len(self.warnings), "warning"))
        added = sum(len(v) for v in self.added_labels.values())
        if added:
            parts.append(f"{plural(added, 'label')} added")
        return ", ".join(parts)


@dataclass
class ExportSummary:
    project: str
    path: Path
    dialogues: int
    turns: int
    fmt: str

    def line(self) -> str:
        return (f"exported {self.dialogues} dialogues ({self.turns} turns) from {self.project} "
                f"to {self.path} as {self.fmt}")


def _parse_statuses(values: Sequence[str] | None) -> list[Status] | None:
    if not values:
        return None
    out = []
    for value in values:
        try:
            out.append(Status(value))
        except ValueError:
            choices = ", ".join(s.value for s in Status)
            raise InvalidInputError(f"unknown status {value!r}; choose from {choices}") from None
    return out


def import_file(uow: UnitOfWork, actor: Actor, path: str | Path, fmt: str, project: str, *,
                status: str = "draft", skip_invalid: bool = False,
                add_labels: bool = False) -> ImportSummary:
    require(actor, "dialogue.import")
    (initial_status,) = _parse_statuses([status]) or [Status.DRAFT]
    with uow:
        record = uow.repo.get_project(project)
        vocab = record.vocabulary
        result = formats.read_file(path, fmt, vocab)

        refused = list(result.refused)
        new_labels: dict[LabelKind, list[str]] = {}
        accepted = []
        for parsed in result.records:
            if parsed.unknown_labels and not add_labels:
                refused.extend(
                    RecordProblem(parsed.index, u.field,
                                  f"{u.kind} {u.label!r} is not in project {project}'s "
                                  f"vocabulary (pass --add-labels to add it)",
                                  parsed.record_id)
                    for u in parsed.unknown_labels
                )
                continue
            for u in parsed.unknown_labels:
                new_labels.setdefault(u.kind, [])
                if u.label not in new_labels[u.kind]:
                    new_labels[u.kind].append(u.label)
            accepted.append(parsed)

        refused.sort(key=lambda p: p.index)
        if refused and not skip_invalid:
            raise ImportRefusedError(refused, result.total)

        for kind, labels in new_labels.items():
            vocab = vocab.extended(kind, labels)
        if new_labels:
            uow.repo.set_vocabulary(record.id, vocab)

        dialogues = [
            replace(p.dialogue, status=initial_status, source=Source.IMPORTED,
                    language=p.dialogue.language or vocab.language)
            for p in accepted
        ]
        uow.repo.add_dialogues(record, dialogues, author=actor.name,
                               note=f"imported from {Path(path).name}")
        uow.security.audit("import", actor.name, str(path),
                           detail={"project": project, "format": fmt,
                                   "dialogues": len(dialogues)})
        uow.commit()
    return ImportSummary(
        project=project, imported=len(dialogues), turns=sum(len(d.turns) for d in dialogues),
        total=result.total, refused=refused, warnings=list(result.warnings),
        added_labels={k: v for k, v in new_labels.items()},
    )


def export_file(uow: UnitOfWork, actor: Actor, project: str, fmt: str, path: str | Path, *,
                statuses: Sequence[str] | None = None, overwrite: bool = False) -> ExportSummary:
    require(actor, "dialogue.export")
    wanted = _parse_statuses(statuses)
    with uow:
        record = uow.repo.get_project(project)
        dialogues = uow.repo.list_dialogues(record, wanted)
    count = formats.write_file(dialogues, fmt, record.vocabulary, path, overwrite=overwrite)
    with uow:
        uow.security.audit("export", actor.name, str(path),
                           detail={"project": project, "format": fmt, "dialogues": count})
        uow.commit()
    return ExportSummary(project=project, path=Path(path), dialogues=count,
                         turns=sum(len(d.turns) for d in dialogues), fmt=fmt)
