"""Use cases around overlap copies (the same draft given to several annotators by
``assign --overlap``): how far their strategy tags agree, and adjudication, the choice of the
copy that goes into the dataset.

Adjudication marks the chosen copy with ``metadata["adjudicated"] = True`` and clears the mark
on the other members of its group; the release builder takes the marked member. A merge of the
copies is saved first as a new revision of the chosen one through the editor's service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.errors import InvalidInputError
from curation_app.quality import agreement as stats
from curation_app.quality.agreement import TagAgreement
from curation_app.services import editing
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require

# ---- strategy-tag agreement ------------------------------------------------------------------
FINISHED = (Status.SUBMITTED, Status.APPROVED)


def _supporter_tags(d: Dialogue) -> list[list[str]]:
    return [list(t.strategies) for t in d.turns if t.role == Role.SUPPORTER]


def tag_agreement(ctx: AppContext, actor: Actor, project: str,
                  statuses: Sequence[Status] = FINISHED) -> TagAgreement:
    """Agreement on strategy tags between the overlap copies of the same drafts, counting only
    copies whose annotators have finished (submitted or approved, by default)."""
    require(actor, "quality.read", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        groups = []
        for ids in uow.quality.overlap_group_ids(record):
            members = [uow.repo.get_dialogue(i) for i in ids]
            done = {d.assignee or f"dialogue {d.id}": _supporter_tags(d) for d in members
                    if d.status in statuses}
            groups.append(done)
    vocab = record.vocabulary
    return stats.tag_agreement(groups, list(vocab.strategy_names), vocab.multi_strategy)


# ---- adjudication -----------------------------------------------------------------------------
@dataclass(frozen=True)
class OverlapGroup:
    original: int
    members: list[Dialogue]
    differing: list[int]  # turn indexes whose text or strategies differ between members
    adjudicated: int | None


def _differing(members: Sequence[Dialogue]) -> list[int]:
    longest = max(len(d.turns) for d in members)
    out = []
    for i in range(longest):
        seen = {(str(d.turns[i].role), d.turns[i].text.strip(), tuple(sorted(
            d.turns[i].strategies))) if i < len(d.turns) else None for d in members}
        if len(seen) > 1:
            out.append(i)
    return out


def overlap_groups(ctx: AppContext, actor: Actor, project: str,
                   only_open: bool = False) -> list[OverlapGroup]:
    """Every group of overlap copies in the project, with the turns where they differ."""
    require(actor, "quality.adjudicate", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        out = []
        for ids in uow.quality.overlap_group_ids(record):
            members = [uow.repo.get_dialogue(i) for i in ids]
            chosen = next((d.id for d in members if d.metadata.get("adjudicated")), None)
            if only_open and chosen is not None:
                continue
            out.append(OverlapGroup(ids[0], members, _differing(members), chosen))
    return out


def adjudicate(ctx: AppContext, actor: Actor, chosen_id: int, *,
               merged: Sequence[Turn] | None = None, expected_version: int | None = None,
               note: str | None = None) -> int:
    """Pick the copy of an overlap group that goes into the dataset: it gets
    ``metadata["adjudicated"] = True``, the others lose the mark. With ``merged`` turns (a
    merge of the copies), they are first saved as a new revision of the chosen copy through
    the editor's service (so the usual version check and history apply)."""
    require(actor, "quality.adjudicate", of=("dialogue", chosen_id))
    with ctx.uow() as uow:
        group = uow.quality.group_of(chosen_id)
        if len(group) < 2:
            raise InvalidInputError(f"dialogue {chosen_id} has no overlap copies to choose "
                                    "between")
        current = uow.repo.get_dialogue(chosen_id)
        if current.status == Status.DISCARDED:
            raise InvalidInputError(f"dialogue {chosen_id} is discarded; choose another copy")
    if merged is not None:
        editing.save_revision(ctx.uow(), actor, chosen_id,
                              current.version if expected_version is None else expected_version,
                              list(merged), note=note or "merge of overlap copies")
    with ctx.uow() as uow:
        uow.quality.set_adjudicated(group, chosen_id)
        uow.workflow.add_event(chosen_id, actor.name, "adjudicate", None, None,
                               note or f"chosen among {', '.join(map(str, group))}")
        uow.commit()
    return chosen_id
