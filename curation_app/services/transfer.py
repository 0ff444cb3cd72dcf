"""Import and export: files in the external formats to and from a project's dialogues.

An import is all or nothing unless ``skip_invalid`` is given: the file is read and written in
batches inside one transaction, and the first refused record stops the writing (the rest is
read to list every refusal) and rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from curation_app import formats
from curation_app.domain import Source, Status
from curation_app.errors import ImportRefusedError, InvalidInputError, RecordProblem
from curation_app.formats.label_map import LabelMap
from curation_app.presets import LabelKind
from curation_app.services.permissions import Actor, require
from curation_app.store import UnitOfWork
from curation_app.wording import plural

if TYPE_CHECKING:
    from curation_app.store.release_queries import StoredDialogue


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
    # What went in and what was left out, so an export never says less than it did.
    by_status: dict[str, int] = field(default_factory=dict)
    overlap_copies: int = 0
    left_out_discarded: int = 0
    left_out_copies: int = 0

    def line(self) -> str:
        return (f"exported {self.dialogues} dialogues ({self.turns} turns) from {self.project} "
                f"to {self.path} as {self.fmt}")

    def included(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items())) or "none"
        parts = [f"included: {statuses}"]
        if self.overlap_copies:
            parts.append(f"{self.overlap_copies} overlap copies among them")
        left = []
        if self.left_out_discarded:
            left.append(f"{self.left_out_discarded} discarded (--include-discarded adds them)")
        if self.left_out_copies:
            left.append(f"{self.left_out_copies} overlap copies "
                        "(--include-overlap-copies adds them)")
        if left:
            parts.append("left out: " + ", ".join(left))
        return "; ".join(parts)


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
                add_labels: bool = False,
                label_map: str | Path | None = None) -> ImportSummary:
    """Import ``path``; ``label_map`` (a file or a bundled map's name) maps another dataset's
    strategies, topics and emotions onto the project's, recording each mapping in provenance.

    The file is read and written in batches (bounded memory at any size), all in one
    transaction: once a record is refused without ``skip_invalid``, writing stops, the rest is
    still read so the error lists every refused record, and nothing is committed."""
    require(actor, "dialogue.import", project=project)
    (initial_status,) = _parse_statuses([status]) or [Status.DRAFT]
    with uow:
        record = uow.repo.get_project(project)
        vocab = record.vocabulary
        mapping = LabelMap.load(label_map, vocab) if label_map is not None else None
        records = formats.stream_file(path, fmt, mapping.reading_vocabulary(vocab)
                                      if mapping is not None else vocab)
        writer = uow.repo.dialogue_writer(record, author=actor.name,
                                          note=f"imported from {Path(path).name}")
        refused: list[RecordProblem] = []
        warnings: list[RecordProblem] = []
        new_labels: dict[LabelKind, list[str]] = {}
        imported = turns = 0
        for batch in records:
            refused.extend(batch.refused)
            warnings.extend(batch.warnings)
            accepted = []
            for parsed in batch.records:
                if mapping is not None:
                    parsed = replace(parsed, dialogue=mapping.apply(parsed.dialogue),
                                     unknown_labels=[u for u in parsed.unknown_labels
                                                     if not (u.kind == "emotion"
                                                             and mapping.drop_emotions)])
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
            if refused and not skip_invalid:
                continue  # nothing more is written; reading on collects every refusal
            dialogues = [p.dialogue for p in accepted]
            for d in dialogues:  # fresh from the reader: set in place (no copy per record)
                d.status, d.source = initial_status, Source.IMPORTED
                d.language = d.language or vocab.language
            writer.add(dialogues)
            imported += len(dialogues)
            turns += sum(len(d.turns) for d in dialogues)

        refused.sort(key=lambda p: p.index)
        if refused and not skip_invalid:
            raise ImportRefusedError(refused, records.total)

        for kind, labels in new_labels.items():
            vocab = vocab.extended(kind, labels)
        if new_labels:
            uow.repo.set_vocabulary(record.id, vocab)
        uow.security.audit("import", actor.name, str(path),
                           detail={"project": project, "format": fmt,
                                   "dialogues": imported})
        uow.commit()
        if imported >= 1000:
            uow.repo.refresh_planner_statistics()
            uow.commit()
    return ImportSummary(
        project=project, imported=imported, turns=turns,
        total=records.total, refused=refused, warnings=warnings,
        added_labels={k: v for k, v in new_labels.items()},
    )


@dataclass
class _ExportTally:
    """What an export wrote and left out, counted as the dialogues stream past."""

    turns: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overlap_copies: int = 0
    discarded: int = 0
    copies: int = 0

    def written(self, dialogues: Iterable[StoredDialogue], include_discarded: bool,
                include_overlap_copies: bool) -> Iterator[StoredDialogue]:
        """The dialogues that go in the file; the left-out ones are only counted."""
        for d in dialogues:
            if d.status == Status.DISCARDED and not include_discarded:
                self.discarded += 1
            elif d.overlap_of is not None and not include_overlap_copies:
                self.copies += 1
            else:
                status = str(d.status)
                self.by_status[status] = self.by_status.get(status, 0) + 1
                # a turns column that is not a list is read as the general path reads it
                self.turns += len(d.turns if type(d.turns) is list else d.dialogue().turns)
                if d.overlap_of is not None:
                    self.overlap_copies += 1
                yield d


def export_file(uow: UnitOfWork, actor: Actor, project: str, fmt: str, path: str | Path, *,
                statuses: Sequence[str] | None = None, overwrite: bool = False,
                include_discarded: bool = False,
                include_overlap_copies: bool = False) -> ExportSummary:
    """Write a project's dialogues (those in ``statuses``, default all) to one file.

    Discarded dialogues and overlap copies (a second annotator's copy of a dialogue, kept for
    agreement) go in only when asked for by their own flag; the summary says what went in
    and what was left out. A versioned, split dataset is ``curation release``'s job.
    """
    require(actor, "dialogue.export", project=project)
    wanted = _parse_statuses(statuses)
    if wanted and Status.DISCARDED in wanted and not include_discarded:
        raise InvalidInputError("discarded dialogues are exported only with "
                                "--include-discarded")
    tally = _ExportTally()
    with uow:
        record = uow.repo.get_project(project)
        # Keyset batches of plain column rows (no ORM objects), whole provenance (only jsonl
        # writes it): the file holds the dialogues exactly as stored. They stream from the
        # database through the writer to the file, counted on the way; none is kept. Most
        # become records straight from their stored turns (see formats.write_file).
        from curation_app.store.release_queries import (  # noqa: PLC0415
            ReleaseQueries,
            StoredDialogue,
        )

        stream = ReleaseQueries(uow.repo.session).stream_stored(
            record, wanted, provenance=fmt == "jsonl")
        count = formats.write_file(tally.written(stream, include_discarded,
                                                 include_overlap_copies),
                                   fmt, record.vocabulary, path, overwrite=overwrite,
                                   to_dialogue=StoredDialogue.dialogue)
    with uow:
        uow.security.audit("export", actor.name, str(path),
                           detail={"project": project, "format": fmt, "dialogues": count})
        uow.commit()
    return ExportSummary(project=project, path=Path(path), dialogues=count,
                         turns=tally.turns, fmt=fmt, by_status=tally.by_status,
                         overlap_copies=tally.overlap_copies,
                         left_out_discarded=tally.discarded,
                         left_out_copies=tally.copies)
