"""Use cases of the review workflow: queues, assignment, submit, approve / return / discard.

Statuses move draft → in_progress (first save) → submitted → approved | returned | discarded;
a returned dialogue goes back to its annotator. Every move is a compare-and-set on the status
and is logged as a workflow event, so the history says who did what and why.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from curation_app.checks import CheckConfig, DialogueChecker, Finding
from curation_app.domain import Dialogue, Status
from curation_app.errors import (
    BlockingFindingsError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from curation_app.services import editing
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole, check_may_read, require
from curation_app.store import UnitOfWork
from curation_app.store.repository import DialogueSummary
from curation_app.store.workflow import WorkflowEvent

OPEN_WORK = (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED)


def _audit(uow, actor: Actor, action: str, dialogue_id: int,  # type: ignore[no-untyped-def]
           to: Status) -> None:
    """Status changes also go to the audit log (the comment stays in the workflow events)."""
    uow.security.audit(f"dialogue.{action}", actor.name, f"dialogue {dialogue_id}",
                       detail={"to": str(to)})


def take_next(ctx: AppContext, actor: Actor, project: str) -> Dialogue | None:
    """Assign the oldest unassigned draft (or returned dialogue) to the actor."""
    require(actor, "workflow.take", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        dialogue_id = uow.workflow.claim_next(record, actor.name)
        uow.commit()
        return uow.repo.get_dialogue(dialogue_id) if dialogue_id is not None else None


def assign(ctx: AppContext, actor: Actor, project: str, *, annotators: Sequence[str],
           dialogue_ids: Sequence[int] | None = None, count: int | None = None,
           overlap: int = 1) -> list[tuple[int, str]]:
    """Hand dialogues to annotators round-robin; returns (dialogue id, annotator) pairs.

    Without ``dialogue_ids``, takes up to ``count`` unassigned drafts. With ``overlap`` k > 1,
    each dialogue goes to k different annotators: the first gets the dialogue, the others get
    copies of its machine draft (linked by ``overlap_of``) so their work stays independent
    for agreement measurement.
    """
    require(actor, "workflow.assign", project=project)
    names = list(dict.fromkeys(a.strip() for a in annotators if a.strip()))
    if not names:
        raise InvalidInputError("name at least one annotator")
    if not 1 <= overlap <= len(names):
        raise InvalidInputError(f"overlap must be between 1 and the number of annotators "
                                f"({len(names)})")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        for name in names:
            # Annotation work goes to annotators (or leads who choose to annotate): a
            # reviewer who annotated would then review their own work. Their role in this
            # project decides.
            user = uow.repo.get_user(name)
            here = uow.security.project_role(user.id, record.id)
            role = here or user.role
            if role not in (UserRole.ANNOTATOR, UserRole.LEAD):
                where = f" in {project}" if here else ""
                raise InvalidInputError(f"{name} is a {role}{where}; annotation work can be "
                                        "assigned to annotators and leads only")
        ids = list(dialogue_ids) if dialogue_ids else uow.workflow.unassigned(record, count)
        rotation = itertools.cycle(names)
        done: list[tuple[int, str]] = []
        for dialogue_id in ids:
            dialogue = uow.repo.get_dialogue(dialogue_id)
            if dialogue.project != project:
                raise NotFoundError(f"dialogue {dialogue_id} is not in project {project}")
            chosen = [next(rotation) for _ in range(overlap)]
            uow.workflow.set_assignee(dialogue_id, chosen[0])
            uow.workflow.add_event(dialogue_id, actor.name, "assign", None, None,
                                   f"to {chosen[0]}")
            done.append((dialogue_id, chosen[0]))
            for extra in chosen[1:]:
                copy_id = uow.workflow.copy_for_overlap(dialogue_id, extra)
                uow.workflow.add_event(copy_id, actor.name, "assign", None, None,
                                       f"to {extra} (overlap of {dialogue_id})")
                done.append((copy_id, extra))
        uow.commit()
    return done


def my_queue(ctx: AppContext, actor: Actor, project: str | None = None) -> list[Dialogue]:
    """The actor's open work (draft, in progress, returned), oldest first."""
    # Everyone reads their own work in every project, whatever their role there.
    require(actor, "dialogue.read", project=project)
    with ctx.uow() as uow:
        projects = [project] if project else uow.repo.project_names()
        out: list[Dialogue] = []
        for name in projects:
            out += uow.repo.list_dialogues(uow.repo.get_project(name), OPEN_WORK,
                                           assignee=actor.name)
    return out


def list_dialogues(ctx: AppContext, actor: Actor, project: str,
                   statuses: Sequence[Status] | None = None, assignee: str | None = None,
                   topic: str | None = None) -> list[Dialogue]:
    _own_only(actor, require(actor, "dialogue.read", project=project), assignee)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        return uow.repo.list_dialogues(record, statuses, assignee=assignee, topic=topic)


def blocking_findings(uow: UnitOfWork, dialogue: Dialogue) -> list[Finding]:
    """The error-level findings of the format and lint checks on a stored dialogue, with its
    project's rule settings: what stops it from moving on. The safety screen is left out on
    purpose: its word lists flag text for a reviewer to judge (the Review page shows them),
    they do not decide."""
    record = uow.repo.get_project(dialogue.project or "")
    config = CheckConfig.resolve(record.vocabulary.checks, record.settings)
    checker = DialogueChecker(record.vocabulary, config, ("format", "lint"))
    return [f for f in checker.check(dialogue)
            if f.severity == "error"]


def refuse_if_blocked(uow: UnitOfWork, dialogue: Dialogue, action: str) -> None:
    """Raise BlockingFindingsError naming each error-level finding (turns counted from 1, as
    the editor shows them)."""
    found = blocking_findings(uow, dialogue)
    if not found:
        return
    named = "; ".join(f"{f.rule}" + (f" (turn {f.turn + 1})" if f.turn is not None else "")
                      + f": {f.message}" for f in found[:10])
    more = f"; and {len(found) - 10} more" if len(found) > 10 else ""
    raise BlockingFindingsError(
        f"dialogue {dialogue.id} cannot be {action}: {len(found)} error-level finding"
        f"{'s' if len(found) != 1 else ''}: {named}{more}", found)


# ---- light lists for the pages ----------------------------------------------------------------
@dataclass(frozen=True)
class DialoguePage:
    total: int
    items: list[DialogueSummary]


def _own_only(actor: Actor, role: UserRole, assignee: str | None) -> None:
    if role == UserRole.ANNOTATOR and assignee != actor.name:
        raise PermissionDeniedError("annotators see their own dialogues only")


def project_names(ctx: AppContext) -> list[str]:
    """Every project's name, in order (what a project picker offers)."""
    with ctx.uow() as uow:
        return uow.repo.project_names()


def dialogue_page(ctx: AppContext, actor: Actor, project: str,
                  statuses: Sequence[Status] | None = None, assignee: str | None = None, *,
                  limit: int = 100, offset: int = 0, topic: str | None = None,
                  ids: Sequence[int] | None = None) -> DialoguePage:
    """One page of the project's dialogues as summaries (no turns), and how many there are:
    what a list on a page needs, at any project size."""
    _own_only(actor, require(actor, "dialogue.read", project=project), assignee)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        items = uow.repo.dialogue_summaries(record, statuses, assignee=assignee, topic=topic,
                                            limit=limit, offset=offset, ids=ids)
        total = (len(items) if ids is not None else
                 uow.repo.count_dialogues(record, statuses, assignee=assignee, topic=topic))
    return DialoguePage(total, items)


def neighbour(ctx: AppContext, actor: Actor, project: str, dialogue_id: int, step: int,
              statuses: Sequence[Status] | None = None,
              assignee: str | None = None) -> int | None:
    """The dialogue after (step 1) or before (step -1) ``dialogue_id`` in the same list."""
    _own_only(actor, require(actor, "dialogue.read", project=project), assignee)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        return uow.repo.neighbour_id(record, statuses, assignee, dialogue_id, step)


def submit(ctx: AppContext, actor: Actor, dialogue_id: int, comment: str | None = None) -> None:
    role = require(actor, "workflow.submit", of=("dialogue", dialogue_id))
    with ctx.uow() as uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        if role == UserRole.ANNOTATOR and dialogue.assignee != actor.name:
            raise PermissionDeniedError(f"dialogue {dialogue_id} is not assigned to you")
        refuse_if_blocked(uow, dialogue, "submitted")
        uow.workflow.transition(dialogue_id, OPEN_WORK, Status.SUBMITTED, actor.name, "submit",
                                comment)
        _audit(uow, actor, "submit", dialogue_id, Status.SUBMITTED)
        uow.commit()


def approve(ctx: AppContext, actor: Actor, dialogue_id: int, comment: str | None = None) -> None:
    require(actor, "workflow.review", of=("dialogue", dialogue_id))
    with ctx.uow() as uow:
        refuse_if_blocked(uow, uow.repo.get_dialogue(dialogue_id), "approved")
        uow.workflow.transition(dialogue_id, (Status.SUBMITTED,), Status.APPROVED, actor.name,
                                "approve", comment)
        _audit(uow, actor, "approve", dialogue_id, Status.APPROVED)
        uow.commit()


def return_(ctx: AppContext, actor: Actor, dialogue_id: int, comment: str) -> None:
    """Send a submitted dialogue back to its annotator; the comment says what to fix."""
    require(actor, "workflow.review", of=("dialogue", dialogue_id))
    if not (comment or "").strip():
        raise InvalidInputError("returning a dialogue needs a comment saying what to fix")
    with ctx.uow() as uow:
        uow.workflow.transition(dialogue_id, (Status.SUBMITTED,), Status.RETURNED, actor.name,
                                "return", comment.strip())
        _audit(uow, actor, "return", dialogue_id, Status.RETURNED)
        uow.commit()


def discard(ctx: AppContext, actor: Actor, dialogue_id: int, reason: str) -> None:
    """Take a badly broken dialogue out of the dataset (kept, with the reason, never deleted)."""
    require(actor, "workflow.review", of=("dialogue", dialogue_id))
    if not (reason or "").strip():
        raise InvalidInputError("discarding a dialogue needs a reason")
    with ctx.uow() as uow:
        uow.workflow.transition(dialogue_id, (*OPEN_WORK, Status.SUBMITTED), Status.DISCARDED,
                                actor.name, "discard", reason.strip())
        _audit(uow, actor, "discard", dialogue_id, Status.DISCARDED)
        uow.commit()


def review_queue(ctx: AppContext, actor: Actor, project: str) -> list[Dialogue]:
    require(actor, "workflow.review", project=project)
    with ctx.uow() as uow:
        return uow.repo.list_dialogues(uow.repo.get_project(project), [Status.SUBMITTED])


def events(ctx: AppContext, actor: Actor, dialogue_id: int) -> list[WorkflowEvent]:
    role = require(actor, "dialogue.read", of=("dialogue", dialogue_id))
    with ctx.uow() as uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        check_may_read(actor, dialogue, editing.project_allows(uow, dialogue), role)
        return uow.workflow.events(dialogue_id)


# ---- progress ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnnotatorProgress:
    name: str
    by_status: dict[str, int]
    revisions: int
    seconds: int


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    target: int | None
    dialogues: int  # not discarded
    approved: int


@dataclass(frozen=True)
class ProjectProgress:
    project: str
    by_status: dict[str, int]
    by_topic: list[TopicProgress]
    by_annotator: list[AnnotatorProgress]
    edited_dialogues: int
    human_revisions: int
    edits_per_dialogue: float
    total: int = 0
    notes: list[str] = field(default_factory=list)


def progress(ctx: AppContext, actor: Actor, project: str) -> ProjectProgress:
    require(actor, "progress.read", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        # The overall counts are the per-topic ones summed: one aggregate, answered from the
        # (project, overlap_of, topic, status) index, instead of a second one that read every
        # dialogue row to test overlap_of.
        per_topic = uow.workflow.status_counts(record, by="topic")
        per_assignee = uow.workflow.status_counts(record, by="assignee")
        revisions = uow.workflow.revision_totals(record)
        edited, human = uow.workflow.edited_share(record)
    summed: dict[str, int] = {}
    for _, status, n in per_topic:
        summed[status] = summed.get(status, 0) + n
    by_status = {status: summed[status] for status in sorted(summed)}
    targets: dict[str, int] = record.settings.get("targets", {})
    topics: dict[str, dict[str, int]] = {}
    for topic, status, n in per_topic:
        topics.setdefault(topic or "", {})[status] = n
    by_topic = [
        TopicProgress(
            topic=t, target=targets.get(t),
            dialogues=sum(n for s, n in topics.get(t, {}).items() if s != Status.DISCARDED),
            approved=topics.get(t, {}).get(str(Status.APPROVED), 0))
        for t in sorted(set(topics) | set(targets))
    ]
    assignees: dict[str, dict[str, int]] = {}
    for name, status, n in per_assignee:
        if name:
            assignees.setdefault(name, {})[status] = n
    work = {name: (n, s) for name, n, s in revisions}
    by_annotator = [
        AnnotatorProgress(name, assignees.get(name, {}), *work.get(name, (0, 0)))
        for name in sorted(set(assignees) | {n for n in work if n not in ("model",)})
    ]
    total = sum(by_status.values())
    return ProjectProgress(
        project=project, by_status=by_status, by_topic=by_topic, by_annotator=by_annotator,
        edited_dialogues=edited, human_revisions=human,
        edits_per_dialogue=round(human / edited, 2) if edited else 0.0, total=total)
