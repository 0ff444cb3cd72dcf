"""Use cases of draft generation: plan a batch job, run or resume it, make one draft.

A job's items are planned and stored before any call is made; each item ends either as a stored
draft (revision 0, status ``draft``) or as a recorded failure with the raw reply and the error.
Nothing is approved automatically, and nothing paid for is dropped.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from curation_app.domain import Dialogue, Source, Status
from curation_app.errors import BudgetError, InvalidInputError, NotFoundError
from curation_app.generation.client import AsyncDraftClient, DraftClient, DraftResult
from curation_app.generation.pricing import PriceTable
from curation_app.generation.prompts import RenderedPrompt, load_template, render
from curation_app.presets import Vocabulary
from curation_app.processes import current_runner
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.store import ProjectRecord, UnitOfWork
from curation_app.store.jobs import FAILED, PENDING, ItemRecord, JobRecord, Outcome, PlannedItem

DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class JobRequest:
    project: str
    topics: Sequence[str] = ()
    all_topics: bool = False
    fill_targets: bool = False
    emotion: str | None = None
    n: int | None = None  # drafts per topic; with fill_targets, a cap on the total
    model: str | None = None
    template: str | None = None
    turns: int | None = None
    budget_usd: float | None = None
    concurrency: int = 4


@dataclass(frozen=True)
class Progress:
    """Counts of a running job, reported after every finished item."""

    job_id: int
    requested: int
    succeeded: int
    failed: int
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


ProgressCallback = Callable[[Progress], None]


# ---- planning ------------------------------------------------------------------------------
def _check_label(vocab: Vocabulary, kind: str, value: str) -> str:
    match = vocab.match(kind, value)  # type: ignore[arg-type]
    if match.label is None:
        raise InvalidInputError(f"{kind} {value!r} is not in the project's vocabulary "
                                f"(`curation projects show` lists them)")
    return match.label


def targets_missing(uow: UnitOfWork, project: ProjectRecord) -> dict[str, int]:
    """Drafts still needed per topic: target minus dialogues not discarded."""
    targets: dict[str, int] = project.settings.get("targets", {})
    have = uow.repo.topic_counts(project)
    return {t: max(0, n - have.get(t, 0)) for t, n in targets.items() if n > have.get(t, 0)}


def plan_job(ctx: AppContext, actor: Actor, request: JobRequest) -> int:
    """Store a job and its planned items; returns the job id. Makes no model call."""
    require(actor, "generation.run")
    if sum([bool(request.topics), request.all_topics, request.fill_targets]) != 1:
        raise InvalidInputError("choose exactly one of --topic, --all-topics, --fill-targets")
    if request.n is not None and request.n < 1:
        raise InvalidInputError("-n must be at least 1")
    if request.concurrency < 1:
        raise InvalidInputError("--concurrency must be at least 1")
    with ctx.uow() as uow:
        project = uow.repo.get_project(request.project)
        vocab = project.vocabulary
        gen = vocab.generation
        model = request.model or project.settings.get("model") or DEFAULT_MODEL
        template = request.template or gen.get("template")
        if not template:
            raise InvalidInputError(f"project {project.name} names no prompt template")
        load_template(template)  # fail now, not after the first call
        emotion = _check_label(vocab, "emotion", request.emotion) if request.emotion else None

        if request.fill_targets:
            missing = targets_missing(uow, project)
            if not project.settings.get("targets"):
                raise InvalidInputError(f"project {project.name} has no targets; set them with "
                                        "`curation projects configure NAME --target TOPIC=N`")
            plan = [t for t, k in missing.items() for _ in range(k)]
            if request.n is not None:
                plan = plan[: request.n]
        else:
            topics = (vocab.topics if request.all_topics
                      else [_check_label(vocab, "topic", t) for t in request.topics])
            plan = [t for t in topics for _ in range(request.n or 1)]
        if not plan:
            raise InvalidInputError("nothing to generate: every target is already met")

        rotate = bool(gen.get("emotion_per_draft")) and emotion is None and vocab.emotions
        items = [
            PlannedItem(topic=topic,
                        emotion=emotion or (vocab.emotions[i % len(vocab.emotions)]
                                            if rotate else None))
            for i, topic in enumerate(plan)
        ]
        if request.budget_usd is not None and PriceTable.load().price(model) is None:
            raise BudgetError(f"model {model!r} has no price in the price table, so a "
                              "budget cannot be enforced; add it (CURATION_PRICES_FILE)")
        params = {
            "model": model, "template": template,
            "turns": request.turns or gen.get("turns", 12),
            "seeds_per_prompt": int(gen.get("seeds_per_prompt", 0)),
            "budget_usd": request.budget_usd, "concurrency": request.concurrency,
        }
        job_id = uow.jobs.create(project, params, items, created_by=actor.name)
        uow.commit()
    return job_id


# ---- running -------------------------------------------------------------------------------
def _pick_seeds(seeds: list[Dialogue], topic: str | None, k: int,
                rng: random.Random) -> list[Dialogue]:
    """Same-topic seeds first, then any others, ``k`` at most."""
    if k <= 0 or not seeds:
        return []
    same = [s for s in seeds if s.topic == topic]
    other = [s for s in seeds if s.topic != topic]
    rng.shuffle(same)
    rng.shuffle(other)
    return (same + other)[:k]


def _draft_dialogue(result: DraftResult, item: ItemRecord, vocab: Vocabulary,
                    rendered: RenderedPrompt, seeds: list[Dialogue], job_id: int) -> Dialogue:
    assert result.dialogue is not None
    rounds = [s.seed_round or 0 for s in seeds]
    return replace(
        result.dialogue,
        language=vocab.language, topic=item.topic, emotion=item.emotion,
        status=Status.DRAFT, source=Source.GENERATED,
        seed_round=(max(rounds) + 1) if seeds else None, is_seed=False,
        provenance={
            "job_id": job_id, "item": item.seq, "model": result.model,
            "template": f"{rendered.template_name}@{rendered.template_version}",
            "prompt": rendered.messages, "seed_ids": [s.id for s in seeds],
            "request_id": result.request_id, "usage": dict(result.usage),
            "cost_usd": result.cost_usd, "attempts": result.attempts,
            "repaired": result.repaired, "structured_mode": result.structured_mode,
        },
    )


def _outcome(result: DraftResult, rendered: RenderedPrompt, seeds: list[Dialogue]) -> Outcome:
    return Outcome(
        attempts=result.attempts, model=result.model,
        template=f"{rendered.template_name}@{rendered.template_version}",
        prompt=rendered.messages, seed_ids=[s.id for s in seeds if s.id is not None],
        raw_text=result.raw_text,
        error=(f"{result.error_type}: {result.error_message}" if result.error else None),
        request_id=result.request_id,
        prompt_tokens=int(result.usage.get("prompt_tokens", 0)),
        completion_tokens=int(result.usage.get("completion_tokens", 0)),
        cost_usd=result.cost_usd,
    )


class _Budget:
    """Stops new calls before the cap would be passed, counting calls still in flight.

    Each call reserves its expected cost while in flight: the mean cost of the calls finished
    in this run, or, before any has finished, an estimate from the prompt's length and the
    target number of turns at the model's price.
    """

    def __init__(self, cap: float | None, spent: float):
        self.cap = cap
        self.spent = spent  # by the whole job, earlier runs included
        self.spent_in_run = 0.0
        self.reserved = 0.0
        self.finished = 0

    def expected(self, estimate: float) -> float:
        return self.spent_in_run / self.finished if self.finished else estimate

    def try_reserve(self, amount: float) -> bool:
        if self.cap is not None and self.spent + self.reserved + amount > self.cap:
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, cost: float | None) -> None:
        self.reserved -= reserved
        self.finished += 1
        self.spent += cost or 0.0
        self.spent_in_run += cost or 0.0


def _estimate_cost(prices: PriceTable, model: str, rendered: RenderedPrompt,
                   turns: int) -> float:
    # About four characters a token for English (fewer for Chinese, hence the generous turn
    # allowance); the stored usage replaces this guess as soon as one call has finished.
    prompt_tokens = sum(len(m["content"]) for m in rendered.messages) // 4
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": turns * 30}
    return prices.cost_usd(model, usage) or 0.0


async def run_job(ctx: AppContext, actor: Actor, job_id: int, client: AsyncDraftClient, *,
                  concurrency: int | None = None, retry_failed: bool = False,
                  on_progress: ProgressCallback | None = None) -> JobRecord:
    """Run (or resume) a job until no item is pending or the budget stops it."""
    require(actor, "generation.run")
    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        project = uow.repo.get_project(job.project)
        if retry_failed:
            uow.jobs.reset_failed(job_id)
        uow.jobs.set_status(job_id, "running")
        uow.jobs.update_params(job_id, {"runner": current_runner()})  # see processes.py
        uow.commit()
        job = uow.jobs.get(job_id)
        pending = uow.jobs.items(job_id, PENDING)
        seeds = uow.repo.seeds(project) if job.params.get("seeds_per_prompt") else []
    vocab = project.vocabulary
    params = job.params
    template = load_template(params["template"])
    limit = concurrency or int(params.get("concurrency") or 4)
    prices = PriceTable.load()
    budget = _Budget(params.get("budget_usd"), job.cost_usd)
    counts: dict[str, Any] = {
        "succeeded": job.succeeded, "failed": job.failed, "cost_usd": job.cost_usd,
        "prompt_tokens": job.prompt_tokens, "completion_tokens": job.completion_tokens}
    stop_reason: list[str] = []
    semaphore = asyncio.Semaphore(limit)
    start_lock = asyncio.Lock()

    def report() -> None:
        if on_progress:
            on_progress(Progress(job_id, job.requested, counts["succeeded"], counts["failed"],
                                 round(counts["cost_usd"], 8), counts["prompt_tokens"],
                                 counts["completion_tokens"]))

    def store(item: ItemRecord, result: DraftResult, rendered: RenderedPrompt,
              used: list[Dialogue]) -> None:
        outcome = _outcome(result, rendered, used)
        with ctx.uow() as uow:
            if result.ok:
                uow.jobs.record_success(project, item.id,
                                        _draft_dialogue(result, item, vocab, rendered, used,
                                                        job_id), outcome)
            else:
                uow.jobs.record_failure(item.id, outcome)
            uow.commit()

    turns = int(params.get("turns", 12))

    async def one(item: ItemRecord) -> None:
        async with semaphore:
            rng = random.Random(job_id * 100_003 + item.seq)
            used = _pick_seeds(seeds, item.topic, int(params.get("seeds_per_prompt", 0)), rng)
            rendered = render(template, vocab, topic=item.topic or "", emotion=item.emotion,
                              turns=turns, seeds=used)
            async with start_lock:
                reserved = budget.expected(
                    _estimate_cost(prices, params["model"], rendered, turns))
                if stop_reason or not budget.try_reserve(reserved):
                    if not stop_reason:
                        stop_reason.append(f"budget of ${params['budget_usd']:.4f} reached "
                                           f"(spent ${budget.spent:.4f})")
                    return
            result = await client.generate(rendered, vocab, model=params["model"])
            budget.settle(reserved, result.cost_usd)
            await asyncio.to_thread(store, item, result, rendered, used)
            counts["succeeded" if result.ok else "failed"] += 1
            counts["cost_usd"] += result.cost_usd or 0.0
            counts["prompt_tokens"] += int(result.usage.get("prompt_tokens", 0))
            counts["completion_tokens"] += int(result.usage.get("completion_tokens", 0))
            report()

    try:
        await asyncio.gather(*(one(item) for item in pending))
    finally:
        with ctx.uow() as uow:
            left = len(uow.jobs.items(job_id, PENDING))
            if left == 0:
                uow.jobs.set_status(job_id, "finished")
            else:
                uow.jobs.set_status(job_id, "stopped",
                                    stop_reason[0] if stop_reason else "interrupted")
            uow.commit()
    with ctx.uow() as uow:
        return uow.jobs.get(job_id)


def set_job_budget(ctx: AppContext, actor: Actor, job_id: int,
                   budget_usd: float | None) -> None:
    """Change (or lift, with None) a job's budget before resuming it."""
    require(actor, "generation.run")
    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        if budget_usd is not None and PriceTable.load().price(job.params["model"]) is None:
            raise BudgetError(f"model {job.params['model']!r} has no price in the price table, "
                              "so a budget cannot be enforced")
        uow.jobs.update_params(job_id, {"budget_usd": budget_usd})
        uow.commit()


def job_status(ctx: AppContext, job_id: int) -> JobRecord:
    with ctx.uow() as uow:
        return uow.jobs.get(job_id)


def list_jobs(ctx: AppContext, project: str | None = None) -> list[JobRecord]:
    with ctx.uow() as uow:
        record = uow.repo.get_project(project) if project else None
        return uow.jobs.list(record)


def project_spend(ctx: AppContext, project: str) -> tuple[int, int, float]:
    """(prompt tokens, completion tokens, USD) over every generation job of the project."""
    with ctx.uow() as uow:
        return uow.jobs.project_spend(uow.repo.get_project(project))


def failed_items(ctx: AppContext, job_id: int) -> list[ItemRecord]:
    with ctx.uow() as uow:
        uow.jobs.get(job_id)
        return uow.jobs.items(job_id, FAILED)


# ---- one draft (the Generate page) ----------------------------------------------------------
@dataclass(frozen=True)
class SingleDraft:
    job_id: int
    dialogue_id: int | None
    result: DraftResult
    prompt: list[dict[str, str]]


def preview_prompt(ctx: AppContext, project: str, topic: str, emotion: str | None = None,
                   *, template: str | None = None, turns: int | None = None,
                   seed: int = 0) -> RenderedPrompt:
    """The prompt a single draft would send, for showing and editing before generating."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        gen = record.vocabulary.generation
        k = int(gen.get("seeds_per_prompt", 0))
        seeds = uow.repo.seeds(record) if k else []
    vocab = record.vocabulary
    used = _pick_seeds(seeds, topic, k, random.Random(seed))
    return render(load_template(template or gen["template"]), vocab, topic=topic,
                  emotion=emotion, turns=turns or int(gen.get("turns", 12)), seeds=used)


def generate_one(ctx: AppContext, actor: Actor, project: str, rendered: RenderedPrompt,
                 client: DraftClient, *, messages: list[dict[str, str]] | None = None,
                 model: str | None = None, stream: bool = False,
                 on_text: Callable[[str], None] | None = None) -> SingleDraft:
    """Generate one draft, optionally from an edited prompt; recorded as a one-item job.

    The draft is assigned to whoever generated it: on the Generate page the annotator goes on
    to rewrite it, which the editor allows only for one's own dialogues.
    """
    require(actor, "generation.single")
    if messages is not None:
        if not messages or not all(m.get("content", "").strip() for m in messages):
            raise InvalidInputError("the edited prompt is empty")
        rendered = replace(rendered, messages=messages,
                           template_name=f"{rendered.template_name}+edited")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        model = model or record.settings.get("model") or DEFAULT_MODEL
        job_id = uow.jobs.create(
            record, {"model": model, "template": rendered.template_name, "single": True,
                     "turns": rendered.turns},
            [PlannedItem(rendered.topic, rendered.emotion)], created_by=actor.name)
        (item,) = uow.jobs.items(job_id)
        seeds = [uow.repo.get_dialogue(int(i)) for i in rendered.seed_ids]
        uow.commit()
    if stream:
        result = client.stream_draft(rendered, record.vocabulary, model=model, on_text=on_text)
    else:
        result = client.generate(rendered, record.vocabulary, model=model)
    outcome = _outcome(result, rendered, seeds)
    dialogue_id = None
    with ctx.uow() as uow:
        if result.ok:
            dialogue_id = uow.jobs.record_success(
                record, item.id,
                replace(_draft_dialogue(result, item, record.vocabulary, rendered, seeds, job_id),
                        assignee=actor.name),
                outcome)
        else:
            uow.jobs.record_failure(item.id, outcome)
        uow.jobs.set_status(job_id, "finished")
        uow.commit()
    return SingleDraft(job_id, dialogue_id, result, rendered.messages)


def generate_one_streamed(ctx: AppContext, actor: Actor, project: str,
                          rendered: RenderedPrompt, client: DraftClient, *,
                          messages: list[dict[str, str]] | None = None,
                          model: str | None = None,
                          on_text: Callable[[str], None] | None = None) -> SingleDraft:
    """Like :func:`generate_one`, but the reply is streamed to ``on_text`` as it arrives."""
    return generate_one(ctx, actor, project, rendered, client, messages=messages, model=model,
                        on_text=on_text, stream=True)


# ---- seeds and targets ----------------------------------------------------------------------
def promote_seeds(ctx: AppContext, actor: Actor, project: str, *,
                  ids: Sequence[int] = (), approved: bool = False) -> list[int]:
    """Mark dialogues as seeds for later prompts; ``approved`` takes every approved one."""
    require(actor, "generation.run")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        chosen = list(ids)
        if approved:
            chosen += uow.repo.dialogue_ids(record, [Status.APPROVED])
        if not chosen:
            raise InvalidInputError("name dialogues with --id, or pass --approved")
        changed = uow.repo.mark_seeds(record, sorted(set(chosen)))
        uow.commit()
    return changed


def list_seeds(ctx: AppContext, project: str) -> list[Dialogue]:
    with ctx.uow() as uow:
        return uow.repo.seeds(uow.repo.get_project(project))


def configure_project(ctx: AppContext, actor: Actor, project: str, *,
                      model: str | None = None,
                      targets: dict[str, int] | None = None) -> dict[str, Any]:
    """Set a project's model and per-topic targets (merged into the existing ones)."""
    require(actor, "project.edit_vocabulary")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        settings = dict(record.settings)
        if model:
            settings["model"] = model
        if targets:
            merged = dict(settings.get("targets", {}))
            for topic, n in targets.items():
                label = _check_label(record.vocabulary, "topic", topic)
                if n < 0:
                    raise InvalidInputError(f"target for {topic!r} must be 0 or more")
                merged[label] = n
            settings["targets"] = merged
        uow.repo.set_settings(record.id, settings)
        uow.commit()
    return settings


def target_progress(ctx: AppContext, project: str) -> list[tuple[str, int, int]]:
    """(topic, target, have) for each topic with a target."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        have = uow.repo.topic_counts(record)
    targets = record.settings.get("targets", {})
    return [(t, n, have.get(t, 0)) for t, n in targets.items()]


def ideal_seconds(n: int, concurrency: int, latency_s: float) -> float:
    """Wall time of ``n`` calls of ``latency_s`` at ``concurrency``, with zero overhead."""
    return math.ceil(n / concurrency) * latency_s


__all__ = ["BudgetError", "JobRequest", "NotFoundError", "Progress", "generate_one",
           "plan_job", "run_job"]
