"""The canonical records: one dialogue is the unit of editing, locking and export.

Pure Python, no I/O. Readers turn external formats into these; writers turn them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Who speaks a turn. Display names ("孩子", "User") come from the project's preset."""

    SEEKER = "seeker"
    SUPPORTER = "supporter"


class Status(StrEnum):
    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    DISCARDED = "discarded"


class Source(StrEnum):
    GENERATED = "generated"
    IMPORTED = "imported"
    MANUAL = "manual"


@dataclass
class Turn:
    role: Role
    text: str
    strategies: list[str] = field(default_factory=list)
    # Format-specific extras that must survive a round trip (e.g. ESConv seeker feedback).
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": str(self.role), "text": self.text,
                               "strategies": list(self.strategies)}
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            role=Role(data["role"]),
            text=data["text"],
            strategies=list(data.get("strategies") or []),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass
class Dialogue:
    turns: list[Turn]
    language: str = "en"
    topic: str | None = None
    emotion: str | None = None
    description: str | None = None
    status: Status = Status.DRAFT
    source: Source = Source.IMPORTED
    external_id: str | None = None
    # How the dialogue came to be: model, template@version, seed ids, request id, tokens, cost.
    provenance: dict[str, Any] = field(default_factory=dict)
    # Format-specific dialogue fields kept for lossless export (ESConv survey scores, ...).
    metadata: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    project: str | None = None
    version: int = 0
    assignee: str | None = None
    # Iterative expansion: seeds are in-context examples; the round counts expansions from
    # the imported seeds (round 0).
    is_seed: bool = False
    seed_round: int | None = None
    overlap_of: int | None = None  # the dialogue this is an annotator's overlap copy of
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def turn_count(self) -> int:
        return len(self.turns)

    def to_record(self) -> dict[str, Any]:
        """The canonical JSON-able record (the project's lossless ``jsonl`` line)."""
        return {
            "external_id": self.external_id,
            "language": self.language,
            "topic": self.topic,
            "emotion": self.emotion,
            "description": self.description,
            "status": str(self.status),
            "source": str(self.source),
            "provenance": dict(self.provenance),
            "metadata": dict(self.metadata),
            "turns": [t.to_dict() for t in self.turns],
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Dialogue:
        return cls(
            turns=[Turn.from_dict(t) for t in data["turns"]],
            language=data.get("language") or "en",
            topic=data.get("topic"),
            emotion=data.get("emotion"),
            description=data.get("description"),
            status=Status(data.get("status") or Status.DRAFT),
            source=Source(data.get("source") or Source.IMPORTED),
            external_id=data.get("external_id"),
            provenance=dict(data.get("provenance") or {}),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class Revision:
    """One saved state of a dialogue's content. Number 0 is the machine (or imported) draft."""

    dialogue_id: int
    number: int
    turns: list[Turn]
    topic: str | None
    emotion: str | None
    description: str | None
    author: str
    created_at: datetime
    note: str | None = None
    seconds_spent: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["turns"] = [t.to_dict() for t in self.turns]
        return data
