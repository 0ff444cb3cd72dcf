"""Use case: advance a generation job that runs through the OpenAI Batch API.

Each call does one step and returns whether the job is done: it sends the job's pending items
that have not been sent (within the budget, at the Batch API's price), then looks at every batch
still owing results and, for each one that has ended, stores the good drafts and records the
failures, each in its own transaction as a live job would (:mod:`curation_app.store.jobs`).

Items are prepared by the job's :class:`~curation_app.services.generation.JobRecipe`, as
:func:`~curation_app.services.generation.run_job` prepares them: the same seed policy, hints,
template, sampling and output cap, in the request lines and in the provenance. The prompt,
seeds and template an item was sent with are stored when it is sent, and its draft is read
against those.

The budget follows the live rules at the batch price: before a line goes into a batch its worst
case (prompt bound plus the output cap) is reserved, on top of what the job has spent and the
worst case of every line still in a batch; a line that does not fit is not sent, nor any after
it. Each item's cost is recorded from the usage its batch reported, and the next step starts
from that.
"""

from __future__ import annotations

from curation_app.domain import Dialogue
from curation_app.errors import GenerationError, NotFoundError
from curation_app.generation.batch_api import BATCH_DISCOUNT, BatchClient, BatchOutcome
from curation_app.generation.client import DraftResult
from curation_app.generation.prompts import RenderedPrompt
from curation_app.services.context import AppContext
from curation_app.services.generation import JobRecipe, PreparedItem, job_recipe
from curation_app.services.permissions import Actor, require
from curation_app.store import UnitOfWork
from curation_app.store.jobs import PENDING, ItemRecord


def _key(item: ItemRecord) -> str:
    return f"item-{item.id}"


async def advance(ctx: AppContext, actor: Actor, job_id: int, client: BatchClient) -> bool:
    """One step of a Batch API job (send what is unsent, collect what has ended)."""
    require(actor, "generation.run", of=("job", job_id))
    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        recipe = job_recipe(uow, job)
        pending = uow.jobs.items(job_id, PENDING)
        sent = _sent(uow, job_id)
        seed_by_id = _seeds_sent_with(uow, recipe, pending, sent)
        uow.jobs.set_status(job_id, "running", "waiting for the Batch API")
        uow.commit()
    vocab = recipe.project.vocabulary
    options = recipe.call_options()  # the budget is checked here, line by line

    def as_sent(item: ItemRecord, template: str | None) -> PreparedItem:
        seeds = [seed_by_id[int(s)] for s in (item.seed_ids or []) if int(s) in seed_by_id]
        return recipe.as_sent(item, seeds, template)

    # -- send the unsent items the budget allows --
    budget = recipe.budget(client.prices, discount=BATCH_DISCOUNT)
    for item in pending:  # lines still in a batch hold their worst case until collected
        if item.id in sent:
            budget.hold(client.line(_key(item), as_sent(item, sent[item.id][1]).rendered,
                                    vocab, recipe.model, options=options)["body"])
    unsent = [item for item in pending if item.id not in sent]
    lines, prompts, templates = [], {}, {}
    for item in unsent:
        prepared = recipe.prepare(item)
        line = client.line(_key(item), prepared.rendered, vocab, recipe.model, options=options)
        if budget.reserve(line["body"]) is None:
            break
        lines.append(line)
        rendered = prepared.rendered
        prompts[item.id] = (rendered.messages,
                            [s.id for s in prepared.seeds if s.id is not None])
        templates[item.id] = f"{rendered.template_name}@{rendered.template_version}"
    if lines:
        batch_id = await client.submit(lines, metadata={"job": str(job_id)})
        with ctx.uow() as uow:
            uow.queue.mark_sent(list(prompts), batch_id, prompts, templates=templates)
            uow.commit()

    # -- collect every batch that has ended --
    with ctx.uow() as uow:
        pending = uow.jobs.items(job_id, PENDING)
        sent = _sent(uow, job_id)
    by_batch: dict[str, list[ItemRecord]] = {}
    for item in pending:
        if item.id in sent:
            by_batch.setdefault(sent[item.id][0], []).append(item)
    for batch_id, items in sorted(by_batch.items()):
        prepared_items = {_key(i): as_sent(i, sent[i.id][1]) for i in items}
        outcome = await client.poll(batch_id, {key: p.rendered
                                               for key, p in prepared_items.items()},
                                    vocab, recipe.model)
        if outcome is not None:
            _store(ctx, recipe, outcome, prepared_items)

    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        still_sent = uow.queue.open_batches(job_id)
        if job.pending == 0:
            uow.jobs.set_status(job_id, "finished")
            done = True
        elif not still_sent and budget.stopped:
            uow.jobs.set_status(job_id, "stopped", budget.stop_reason(job.cost_usd))
            done = True
        else:
            done = False
        uow.commit()
    return done


def _sent(uow: UnitOfWork, job_id: int) -> dict[int, tuple[str, str | None]]:
    """Pending items in a batch: item id -> (batch id, template it was sent with)."""
    return {row.id: (row.batch_id, row.template) for b in uow.queue.open_batches(job_id)
            for row in uow.queue.batch_items(job_id, b)}


def _seeds_sent_with(uow: UnitOfWork, recipe: JobRecipe, pending: list[ItemRecord],
                     sent: dict[int, tuple[str, str | None]]) -> dict[int, Dialogue]:
    """The seeds by id, including those items in a batch were sent with that are seeds no more
    (demoted since); one deleted since is left out of the draft's seeds."""
    seed_by_id: dict[int, Dialogue] = {s.id: s for s in recipe.seeds if s.id is not None}
    for item in pending:
        for sid in (item.seed_ids or []) if item.id in sent else []:
            if int(sid) not in seed_by_id:
                try:
                    seed_by_id[int(sid)] = uow.repo.get_dialogue(int(sid))
                except NotFoundError:
                    continue
    return seed_by_id


def _store(ctx: AppContext, recipe: JobRecipe, outcome: BatchOutcome,
           prepared_items: dict[str, PreparedItem]) -> None:
    for key, prepared in prepared_items.items():
        result = outcome.results.get(key) or _no_answer(prepared.rendered, outcome)
        with ctx.uow() as uow:
            try:
                if result.ok:
                    draft = recipe.draft(prepared, result)
                    draft.provenance = {**draft.provenance, "batch_id": outcome.batch_id,
                                        "batch_api": True}
                    uow.jobs.record_success(recipe.project, prepared.item.id, draft,
                                            recipe.outcome(prepared, result))
                else:
                    uow.jobs.record_failure(prepared.item.id, recipe.outcome(prepared, result))
                    # Retried (after --retry-failed) it goes out in a new batch.
                    uow.queue.clear_batch([prepared.item.id])
            except NotFoundError:
                continue  # stored already (a worker that died after storing, before releasing)
            uow.commit()


def _no_answer(rendered: RenderedPrompt, outcome: BatchOutcome) -> DraftResult:
    return DraftResult(dialogue=None, raw_text=None,
                       error=GenerationError(f"batch {outcome.batch_id}: {outcome.note}",
                                             retryable=True),
                       usage={}, request_id=None, model="", attempts=1, finish_reason=None,
                       structured_mode="json_schema",
                       template=f"{rendered.template_name}@{rendered.template_version}")


__all__ = ["advance"]
