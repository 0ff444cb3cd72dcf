"""Use case: advance a generation job that runs through the OpenAI Batch API.

Each call does one step and returns whether the job is done: it sends the job's pending items
that have not been sent (within the budget, at the Batch API's price), then looks at every batch
still owing results and, for each one that has ended, stores the good drafts and records the
failures, each in its own transaction as a live job would (:mod:`curation_app.store.jobs`).
Items are rendered as :func:`~curation_app.services.generation.run_job` renders them, so the
prompts, seeds and provenance match; the prompt and seeds an item was sent with are stored when
it is sent, and its draft is read against those.
"""

from __future__ import annotations

import random
from dataclasses import replace

from curation_app.errors import GenerationError, NotFoundError
from curation_app.generation.batch_api import BATCH_DISCOUNT, BatchClient, BatchOutcome
from curation_app.generation.client import DraftResult
from curation_app.generation.prompts import RenderedPrompt, load_template, render
from curation_app.services.context import AppContext

# The job runner's own helpers, so a batch draft is built and recorded exactly like a live one.
from curation_app.services.generation import (
    _draft_dialogue,
    _estimate_cost,
    _outcome,
    _pick_seeds,
)
from curation_app.services.permissions import Actor, require
from curation_app.store.jobs import PENDING, ItemRecord


def _key(item: ItemRecord) -> str:
    return f"item-{item.id}"


async def advance(ctx: AppContext, actor: Actor, job_id: int, client: BatchClient) -> bool:
    """One step of a Batch API job (send what is unsent, collect what has ended)."""
    require(actor, "generation.run")
    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        project = uow.repo.get_project(job.project)
        pending = uow.jobs.items(job_id, PENDING)
        sent = {row.id: row.batch_id for b in uow.queue.open_batches(job_id)
                for row in uow.queue.batch_items(job_id, b)}
        params = job.params
        k = int(params.get("seeds_per_prompt", 0))
        seeds = uow.repo.seeds(project) if k else []
        seed_by_id = {s.id: s for s in seeds}
        for item in pending:  # seeds an item was sent with may since have been demoted
            for sid in (item.seed_ids or []) if item.id in sent else []:
                if sid not in seed_by_id:
                    seed_by_id[sid] = uow.repo.get_dialogue(int(sid))
        uow.jobs.set_status(job_id, "running", "waiting for the Batch API")
        uow.commit()
    vocab = project.vocabulary
    model = str(params["model"])
    template = load_template(params["template"])
    turns = int(params.get("turns", 12))

    def fresh(item: ItemRecord) -> tuple[RenderedPrompt, list]:
        rng = random.Random(job_id * 100_003 + item.seq)  # as run_job picks them
        used = _pick_seeds(seeds, item.topic, k, rng)
        return render(template, vocab, topic=item.topic or "", emotion=item.emotion,
                      turns=turns, seeds=used), used

    def as_sent(item: ItemRecord) -> tuple[RenderedPrompt, list]:
        used = [seed_by_id[int(s)] for s in (item.seed_ids or [])]
        rendered = render(template, vocab, topic=item.topic or "", emotion=item.emotion,
                          turns=turns, seeds=used)
        return replace(rendered, messages=list(item.prompt or rendered.messages)), used

    # -- send the unsent items the budget allows --
    unsent = [item for item in pending if item.id not in sent]
    budget_note = None
    if unsent:
        cap = params.get("budget_usd")
        committed = job.cost_usd + sum(
            client.estimate_usd(model, {"prompt_tokens": len(str(i.prompt)) // 4,
                                        "completion_tokens": turns * 30})  # still in flight
            for i in pending if i.id in sent)
        lines, prompts, chosen = [], {}, []
        for item in unsent:
            rendered, used = fresh(item)
            estimate = _estimate_cost(client.prices, model, rendered, turns) * BATCH_DISCOUNT
            if cap is not None and committed + estimate > cap:
                budget_note = f"budget of ${cap:.4f} reached (spent ${job.cost_usd:.4f})"
                break
            committed += estimate
            lines.append(client.line(_key(item), rendered, vocab, model))
            prompts[item.id] = (rendered.messages, [s.id for s in used if s.id is not None])
            chosen.append(item.id)
        if lines:
            batch_id = await client.submit(lines, metadata={"job": str(job_id)})
            with ctx.uow() as uow:
                uow.queue.mark_sent(chosen, batch_id, prompts)
                uow.commit()
            sent.update({i: batch_id for i in chosen})

    # -- collect every batch that has ended --
    with ctx.uow() as uow:
        pending = {i.id: i for i in uow.jobs.items(job_id, PENDING)}
    by_batch: dict[str, list[ItemRecord]] = {}
    for item_id, batch_id in sent.items():
        if item_id in pending and batch_id:
            by_batch.setdefault(batch_id, []).append(pending[item_id])
    for batch_id, items in sorted(by_batch.items()):
        prepared = {_key(i): (i, *as_sent(i)) for i in items}
        outcome = await client.poll(batch_id, {key: p[1] for key, p in prepared.items()},
                                    vocab, model)
        if outcome is not None:
            _store(ctx, project, job_id, outcome, prepared)

    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        still_sent = uow.queue.open_batches(job_id)
        if job.pending == 0:
            uow.jobs.set_status(job_id, "finished")
            done = True
        elif not still_sent and budget_note:
            uow.jobs.set_status(job_id, "stopped", budget_note)
            done = True
        else:
            done = False
        uow.commit()
    return done


def _store(ctx: AppContext, project, job_id: int, outcome: BatchOutcome,
           prepared: dict[str, tuple]) -> None:
    for key, (item, rendered, used) in prepared.items():
        result = outcome.results.get(key) or _no_answer(rendered, outcome)
        with ctx.uow() as uow:
            try:
                if result.ok:
                    draft = _draft_dialogue(result, item, project.vocabulary, rendered, used,
                                            job_id)
                    draft.provenance = {**draft.provenance, "batch_id": outcome.batch_id}
                    uow.jobs.record_success(project, item.id, draft,
                                            _outcome(result, rendered, used))
                else:
                    uow.jobs.record_failure(item.id, _outcome(result, rendered, used))
                    # Retried (after --retry-failed) it goes out in a new batch.
                    uow.queue.clear_batch([item.id])
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
