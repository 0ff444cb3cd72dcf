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
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from curation_app.domain import Dialogue, Source, Status
from curation_app.errors import (
    BudgetError,
    BudgetReachedError,
    InvalidInputError,
    NotFoundError,
)
from curation_app.generation.client import (
    AsyncDraftClient,
    CallOptions,
    DraftClient,
    DraftResult,
)
from curation_app.generation.draft_schema import extract_json_object
from curation_app.generation.pricing import PriceTable
from curation_app.generation.prompts import (
    PromptTemplate,
    RenderedPrompt,
    load_template,
    render,
    render_blocks,
    template_version,
)
from curation_app.generation.tokens import request_prompt_tokens
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
    temperature: float | None = None  # default: the project's setting, else the server's
    top_p: float | None = None


SEED_POLICIES = ("all_rounds", "newest_round")
SEED_SHORTAGE = ("warn", "refuse")


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
    require(actor, "generation.run", project=request.project)
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
        template = request.template or project.settings.get("template") or gen.get("template")
        if not template:
            raise InvalidInputError(f"project {project.name} names no prompt template")
        resolve_template(project, template)  # fail now, not after the first call
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

        items = plan_items(vocab, plan, emotion,
                           rotate=bool(gen.get("emotion_per_draft")) and emotion is None)
        if request.budget_usd is not None and PriceTable.load().price(model) is None:
            raise BudgetError(f"model {model!r} has no price in the price table, so a "
                              "budget cannot be enforced; add it (CURATION_PRICES_FILE)")
        settings = project.settings
        k = int(gen.get("seeds_per_prompt", 0))
        policy = _seed_policy(settings)
        seed_round, warnings = _check_seeds(uow, project, plan, k, settings)
        params = {
            "model": model, "template": template,
            "turns": request.turns or gen.get("turns", 12),
            "seeds_per_prompt": k, "seed_policy": policy, "seed_round": seed_round,
            "cross_scenario_seeds": bool(settings.get("cross_scenario_seeds", False)),
            "budget_usd": request.budget_usd, "concurrency": request.concurrency,
            "temperature": _sampling(request.temperature, settings, "temperature", 0.0, 2.0),
            "top_p": _sampling(request.top_p, settings, "top_p", 0.0, 1.0),
            "max_output_tokens": int(settings.get("max_output_tokens") or
                                     gen.get("max_output_tokens") or DEFAULT_MAX_OUTPUT),
            "warnings": warnings,
        }
        job_id = uow.jobs.create(project, params, items, created_by=actor.name)
        uow.commit()
    return job_id


DEFAULT_MAX_OUTPUT = 4096  # tokens a draft may take; also what a budget reserves per call


def plan_items(vocab: Vocabulary, topics: Sequence[str], emotion: str | None, *,
               rotate: bool) -> list[PlannedItem]:
    """One item per topic in ``topics``: emotion and sub-situation hint chosen for each.

    Emotions rotate through the topic's own list (``topic_emotions``), never one outside it: a
    topic with no list is refused (fill the map first).
    """
    if rotate and vocab.emotions:
        unmapped = sorted({t for t in topics if not vocab.emotions_for(t)})
        if unmapped:
            shown = ", ".join(unmapped[:5]) + (f" (and {len(unmapped) - 5} more)"
                                               if len(unmapped) > 5 else "")
            raise InvalidInputError(
                f"no emotions are mapped for topic(s) {shown}; fill the topic -> emotions map "
                "with `curation projects topic-emotions` (by hand or --fill with the model)")
    seen: dict[str, int] = {}
    items = []
    for topic in topics:
        n = seen.get(topic, 0)
        seen[topic] = n + 1
        chosen = emotion
        if rotate and chosen is None and vocab.emotions:
            allowed = vocab.emotions_for(topic)
            chosen = allowed[n % len(allowed)]
        items.append(PlannedItem(topic=topic, emotion=chosen))
    return items


def item_hints(vocab: Vocabulary, topics: Sequence[str | None]) -> list[str | None]:
    """The sub-situation hint of each planned item, rotating per topic in plan order (derived
    from the plan, so a resumed job gives each item the hint it had)."""
    seen: dict[str | None, int] = {}
    out: list[str | None] = []
    for topic in topics:
        n = seen.get(topic, 0)
        seen[topic] = n + 1
        hints = vocab.topic_hints.get(topic or "") or []
        out.append(hints[n % len(hints)] if hints else None)
    return out


def _seed_policy(settings: dict[str, Any]) -> str:
    policy = str(settings.get("seed_policy", "all_rounds"))
    if policy not in SEED_POLICIES:
        raise InvalidInputError(f"seed policy {policy!r} is unknown; choose "
                                f"{' or '.join(SEED_POLICIES)}")
    return policy


def _sampling(value: float | None, settings: dict[str, Any], key: str,
              low: float, high: float) -> float | None:
    chosen = value if value is not None else settings.get(key)
    if chosen is None:
        return None
    chosen = float(chosen)
    if not low <= chosen <= high:
        raise InvalidInputError(f"{key.replace('_', '-')} must be between {low:g} and "
                                f"{high:g}, got {chosen:g}")
    return chosen


def _eligible_seeds(seeds: list[Dialogue], policy: str, seed_round: int | None) -> list[Dialogue]:
    if policy == "newest_round" and seed_round is not None:
        return [s for s in seeds if (s.seed_round or 0) == seed_round]
    return seeds


def _check_seeds(uow: UnitOfWork, project: ProjectRecord, plan: Sequence[str], k: int,
                 settings: dict[str, Any]) -> tuple[int | None, list[str]]:
    """The seed round a job draws from (newest-round policy) and any shortage warnings.

    Refuses, or warns, as the project says (``seed_shortage``), when a scenario asked for has
    fewer same-scenario seeds than a prompt shows.
    """
    if k <= 0:
        return None, []
    policy = _seed_policy(settings)
    seeds = uow.repo.seeds(project)
    seed_round = max((s.seed_round or 0 for s in seeds), default=None)
    pool = _eligible_seeds(seeds, policy, seed_round)
    have: dict[str | None, int] = {}
    for s in pool:
        have[s.topic] = have.get(s.topic, 0) + 1
    short = {t: have.get(t, 0) for t in dict.fromkeys(plan) if have.get(t, 0) < k}
    if not short:
        return seed_round, []
    shown = "; ".join(f"{t} ({n})" for t, n in list(short.items())[:8])
    more = f" and {len(short) - 8} more" if len(short) > 8 else ""
    where = (f"round {seed_round}" if policy == "newest_round" and seed_round is not None
             else "the project")
    message = (f"{len(short)} scenario(s) have fewer than the {k} same-scenario seeds a prompt "
               f"shows in {where}: {shown}{more}")
    action = str(settings.get("seed_shortage", "warn"))
    if action == "refuse":
        raise InvalidInputError(message + "; promote approved dialogues with `curation seeds "
                                "promote`, or set seed_shortage to warn")
    return seed_round, [message]


# ---- running -------------------------------------------------------------------------------
def _pick_seeds(seeds: list[Dialogue], topic: str | None, k: int,
                rng: random.Random, *, cross_scenario: bool = False) -> list[Dialogue]:
    """``k`` same-topic seeds at most; others fill up only when the lead allows it."""
    if k <= 0 or not seeds:
        return []
    same = [s for s in seeds if s.topic == topic]
    other = [s for s in seeds if s.topic != topic] if cross_scenario else []
    rng.shuffle(same)
    rng.shuffle(other)
    return (same + other)[:k]


def _draft_dialogue(result: DraftResult, item: ItemRecord, vocab: Vocabulary,
                    rendered: RenderedPrompt, seeds: list[Dialogue], job_id: int,
                    params: dict[str, Any] | None = None) -> Dialogue:
    assert result.dialogue is not None
    params = params or {}
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
            "template_name": rendered.template_name,
            "template_version": rendered.template_version,
            "temperature": params.get("temperature"), "top_p": params.get("top_p"),
            "seed_policy": params.get("seed_policy"),
            "situation_hint": rendered.variables.get("situation_hint"),
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


# The job item whose draft the current asyncio task is making (for the call ledger).
CURRENT_ITEM: ContextVar[int | None] = ContextVar("curation_generation_item", default=None)


class Ticket(float):
    """A call's reservation (its worst-case cost), with its row in the call ledger if any."""

    call_id: int | None = None


class CallLedger:
    """Writes each call of a job down, with its worst-case cost, before it is sent, and its
    reported cost when the reply comes (``generation_calls``). A run killed mid-call leaves
    those rows behind, and the job counts them: a kill never hides what was spent."""

    def __init__(self, ctx: AppContext, job_id: int, runner: dict[str, Any]):
        self.ctx, self.job_id, self.runner = ctx, job_id, runner
        self._open: dict[int | None, list[int]] = {}

    def open(self, reserved_usd: float) -> int:
        item = CURRENT_ITEM.get()
        with self.ctx.uow() as uow:
            call_id = uow.jobs.open_call(self.job_id, item, self.runner, reserved_usd)
            uow.commit()
        self._open.setdefault(item, []).append(call_id)
        return call_id

    def settle(self, call_id: int, cost_usd: float) -> None:
        with self.ctx.uow() as uow:
            uow.jobs.settle_call(call_id, cost_usd)
            uow.commit()

    def take(self, item_id: int) -> list[int]:
        """The item's calls, to close in the transaction that stores the item."""
        return self._open.pop(item_id, [])


class JobBudget:
    """A job's budget as a gate on every model call (see :class:`CallOptions`).

    Before a call is sent its worst case is reserved: an upper bound of its prompt tokens plus
    the most output tokens it may take, at the model's price times ``discount`` (the Batch API
    bills half). The call is refused when the money spent plus what calls in flight hold plus
    that worst case would pass the cap; once one is refused, no new draft starts. Each call
    settles with the usage the server reported.
    """

    def __init__(self, cap: float | None, spent: float, prices: PriceTable, model: str,
                 max_output: int, *, discount: float = 1.0):
        self.cap = cap
        self.spent = spent  # by the whole job, earlier runs included
        self.reserved = 0.0
        self.prices = prices
        self.model = model
        self.max_output = max_output
        self.discount = discount
        self.stopped = False
        self.refused_worst: float | None = None
        self.ledger: CallLedger | None = None

    def worst_case(self, kwargs: dict[str, Any]) -> float:
        """The most a request (``create`` kwargs, or a Batch API line's body) can cost."""
        usage = {"prompt_tokens": request_prompt_tokens(kwargs),
                 "completion_tokens": int(kwargs.get("max_completion_tokens")
                                          or self.max_output)}
        cost = self.prices.cost_usd(kwargs.get("model") or self.model, usage)
        return (cost or 0.0) * self.discount

    def reserve(self, kwargs: dict[str, Any]) -> float | None:
        """A ticket for the request, or None (and no more calls) when it might pass the cap.
        With a ledger the reservation is written down before the call is sent."""
        if self.cap is None and self.ledger is None:
            return 0.0
        amount = self.worst_case(kwargs)
        if self.cap is not None and (self.stopped
                                     or self.spent + self.reserved + amount > self.cap):
            self.stopped = True
            self.refused_worst = amount
            return None
        ticket = Ticket(amount)
        if self.ledger is not None:
            ticket.call_id = self.ledger.open(amount)
        self.reserved += amount
        return ticket

    def hold(self, kwargs: dict[str, Any]) -> float:
        """Count a request sent earlier whose usage is not known yet (a Batch API line still
        in its batch) at its worst case, whether or not it fits the cap as it stands now."""
        amount = self.worst_case(kwargs) if self.cap is not None else 0.0
        self.reserved += amount
        return amount

    def settle(self, ticket: float | None, usage: dict[str, int], model: str | None) -> None:
        self.reserved -= ticket or 0.0
        cost = 0.0
        if usage:
            priced = self.prices.cost_usd(model or self.model, usage)
            if priced is None:
                priced = self.prices.cost_usd(self.model, usage)
            cost = (priced or 0.0) * self.discount
            self.spent += cost
        call_id = getattr(ticket, "call_id", None)
        if self.ledger is not None and call_id is not None:
            self.ledger.settle(call_id, cost)

    def stop_reason(self, spent: float) -> str:
        return (f"budget of ${self.cap or 0:.4f} reached: ${spent:.4f} spent, and the next "
                f"call could cost up to ${self.refused_worst or 0:.4f}")


# ---- one job item, prepared the same way for live calls and the Batch API -------------------
@dataclass(frozen=True)
class PreparedItem:
    """A job item ready to send: its prompt and the seed dialogues shown in it."""

    item: ItemRecord
    rendered: RenderedPrompt
    seeds: list[Dialogue]


@dataclass(frozen=True)
class JobRecipe:
    """How a job's items are rendered, sent and stored, read once per run from the job and its
    project: seeds per the seed policy (same scenario unless the lead allows others), the
    sub-situation hint of each item, the project's template, sampling settings and output cap.

    :func:`run_job` and Batch API jobs (:mod:`curation_app.services.batch_jobs`) both go
    through it, so an item follows the same rules whichever way it is sent.
    """

    job_id: int
    project: ProjectRecord
    params: dict[str, Any]
    template: PromptTemplate
    seeds: list[Dialogue]  # the seeds the policy allows, looked up at the start of the run
    hints: dict[int, str | None]  # item seq -> sub-situation hint
    extra: dict[str, Any]
    # What the job's calls cost so far, summed exactly over its items (the job's own total
    # is rounded to 1e-8, which a budget must not start below).
    spent_usd: float = 0.0

    @property
    def model(self) -> str:
        return str(self.params["model"])

    @property
    def max_output(self) -> int:
        return int(self.params.get("max_output_tokens") or DEFAULT_MAX_OUTPUT)

    @property
    def budget_usd(self) -> float | None:
        cap = self.params.get("budget_usd")
        return None if cap is None else float(cap)

    def call_options(self, gate: Any = None) -> CallOptions:
        """Sampling and output cap of every request of the job; ``gate``: its budget."""
        return CallOptions(temperature=self.params.get("temperature"),
                           top_p=self.params.get("top_p"), max_tokens=self.max_output,
                           gate=gate)

    def budget(self, prices: PriceTable, *, discount: float = 1.0) -> JobBudget:
        """The job's budget, starting from what the job has spent so far."""
        return JobBudget(self.budget_usd, self.spent_usd, prices, self.model, self.max_output,
                         discount=discount)

    def pick_seeds(self, item: ItemRecord) -> list[Dialogue]:
        """The item's seeds: the same for the same job and item on every run."""
        rng = random.Random(self.job_id * 100_003 + item.seq)
        return _pick_seeds(self.seeds, item.topic, int(self.params.get("seeds_per_prompt", 0)),
                           rng, cross_scenario=bool(self.params.get("cross_scenario_seeds")))

    def render(self, item: ItemRecord, seeds: list[Dialogue]) -> PreparedItem:
        rendered = render(self.template, self.project.vocabulary, topic=item.topic or "",
                          emotion=item.emotion, turns=int(self.params.get("turns", 12)),
                          seeds=seeds,
                          extra={**self.extra, "situation_hint": self.hints.get(item.seq)})
        return PreparedItem(item, rendered, seeds)

    def prepare(self, item: ItemRecord) -> PreparedItem:
        """The item rendered with the seeds and hint the job's rules give it."""
        return self.render(item, self.pick_seeds(item))

    def as_sent(self, item: ItemRecord, seeds: list[Dialogue],
                template: str | None = None) -> PreparedItem:
        """An item sent earlier (a Batch API line), with the prompt, seeds and template
        (``name@version``) it was sent with, whatever changed in the project since."""
        prepared = self.render(item, seeds)
        rendered = prepared.rendered
        if item.prompt:
            rendered = replace(rendered, messages=list(item.prompt))
        if template and "@" in template:
            name, version = template.rsplit("@", 1)
            rendered = replace(rendered, template_name=name, template_version=version)
        return replace(prepared, rendered=rendered)

    def draft(self, prepared: PreparedItem, result: DraftResult) -> Dialogue:
        """The dialogue to store from a good result, with its provenance."""
        return _draft_dialogue(result, prepared.item, self.project.vocabulary,
                               prepared.rendered, prepared.seeds, self.job_id, self.params)

    def outcome(self, prepared: PreparedItem, result: DraftResult) -> Outcome:
        """What the item's row records of a result, good or bad."""
        return _outcome(result, prepared.rendered, prepared.seeds)


def job_recipe(uow: UnitOfWork, job: JobRecord) -> JobRecipe:
    """Read a job's :class:`JobRecipe` (inside the caller's unit of work). Seeds are looked up
    now, not at planning: one discarded or returned since is gone."""
    project = uow.repo.get_project(job.project)
    params = dict(job.params)
    items = uow.jobs.items(job.id)
    hints = dict(zip([i.seq for i in items],
                     item_hints(project.vocabulary, [i.topic for i in items]), strict=True))
    seeds = (_eligible_seeds(uow.repo.seeds(project), params.get("seed_policy", "all_rounds"),
                             params.get("seed_round"))
             if params.get("seeds_per_prompt") else [])
    return JobRecipe(job_id=job.id, project=project, params=params,
                     template=resolve_template(project, params["template"]), seeds=seeds,
                     hints=hints, extra=_prompt_extra(project),
                     spent_usd=sum(i.cost_usd or 0.0 for i in items) + _lost(uow, job.id))


def _lost(uow: UnitOfWork, job_id: int) -> float:
    """What calls of killed runs cost the job (at most, for those in flight at the kill):
    part of what its budget has spent."""
    lost = uow.jobs.lost_calls(job_id)
    return lost.settled_usd + lost.in_flight_usd


async def run_job(ctx: AppContext, actor: Actor, job_id: int, client: AsyncDraftClient, *,
                  concurrency: int | None = None, retry_failed: bool = False,
                  on_progress: ProgressCallback | None = None) -> JobRecord:
    """Run (or resume) a job until no item is pending or the budget stops it."""
    require(actor, "generation.run", of=("job", job_id))
    with ctx.uow() as uow:
        job = uow.jobs.get(job_id)
        if retry_failed:
            uow.jobs.reset_failed(job_id)
        uow.jobs.set_status(job_id, "running")
        uow.jobs.update_params(job_id, {"runner": current_runner()})  # see processes.py
        uow.commit()
        job = uow.jobs.get(job_id)
        recipe = job_recipe(uow, job)
        pending = uow.jobs.items(job_id, PENDING)
    project = recipe.project
    params = recipe.params
    limit = concurrency or int(params.get("concurrency") or 4)
    budget = recipe.budget(PriceTable.load())
    budget.ledger = CallLedger(ctx, job_id, current_runner())
    options = recipe.call_options(gate=budget)
    counts: dict[str, Any] = {
        "succeeded": job.succeeded, "failed": job.failed, "cost_usd": job.cost_usd,
        "prompt_tokens": job.prompt_tokens, "completion_tokens": job.completion_tokens}
    semaphore = asyncio.Semaphore(limit)

    def report() -> None:
        if on_progress:
            on_progress(Progress(job_id, job.requested, counts["succeeded"], counts["failed"],
                                 round(counts["cost_usd"], 8), counts["prompt_tokens"],
                                 counts["completion_tokens"]))

    def store(prepared: PreparedItem, result: DraftResult) -> None:
        outcome = recipe.outcome(prepared, result)
        assert budget.ledger is not None
        with ctx.uow() as uow:
            if result.ok:
                uow.jobs.record_success(project, prepared.item.id,
                                        recipe.draft(prepared, result), outcome)
            else:
                uow.jobs.record_failure(prepared.item.id, outcome)
            uow.jobs.close_calls(budget.ledger.take(prepared.item.id))  # the item holds them
            uow.commit()

    async def one(item: ItemRecord) -> None:
        async with semaphore:
            if budget.stopped:
                return
            CURRENT_ITEM.set(item.id)
            prepared = recipe.prepare(item)
            result = await client.generate(prepared.rendered, project.vocabulary,
                                           model=recipe.model, options=options)
            if isinstance(result.error, BudgetReachedError) and result.attempts == 0:
                return  # nothing was sent: the item stays pending for a resume
            await asyncio.to_thread(store, prepared, result)
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
            spent = uow.jobs.get(job_id).cost_usd
            if left == 0:
                uow.jobs.set_status(job_id, "finished")
            elif budget.stopped:
                uow.jobs.set_status(job_id, "stopped", budget.stop_reason(spent))
            else:
                uow.jobs.set_status(job_id, "stopped", "interrupted")
            uow.commit()
    with ctx.uow() as uow:
        return uow.jobs.get(job_id)


def _prompt_extra(project: ProjectRecord) -> dict[str, Any]:
    """Project variables a template may use beyond the vocabulary (PECONV: the child's grade
    and the target length in characters)."""
    gen = project.vocabulary.generation
    settings = project.settings
    return {
        "child_grade": settings.get("child_grade") or gen.get("child_grade"),
        "target_chars": settings.get("target_chars") or gen.get("target_chars"),
    }


def set_job_budget(ctx: AppContext, actor: Actor, job_id: int,
                   budget_usd: float | None) -> None:
    """Change (or lift, with None) a job's budget before resuming it."""
    require(actor, "generation.run", of=("job", job_id))
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
    """The prompt a single draft would send, for showing and editing before generating.

    Seeds follow the project's policy (same scenario only unless allowed; newest round only
    when so set); ``seed`` also picks which of the scenario's sub-situation hints is shown.
    """
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        gen = record.vocabulary.generation
        k = int(gen.get("seeds_per_prompt", 0))
        seeds = uow.repo.seeds(record) if k else []
    vocab = record.vocabulary
    settings = record.settings
    newest = max((s.seed_round or 0 for s in seeds), default=None)
    pool = _eligible_seeds(seeds, _seed_policy(settings), newest)
    used = _pick_seeds(pool, topic, k, random.Random(seed),
                       cross_scenario=bool(settings.get("cross_scenario_seeds")))
    hints = vocab.topic_hints.get(topic) or []
    extra = {**_prompt_extra(record),
             "situation_hint": hints[seed % len(hints)] if hints else None}
    chosen = template or settings.get("template") or gen["template"]
    return render(resolve_template(record, chosen), vocab, topic=topic,
                  emotion=emotion, turns=turns or int(gen.get("turns", 12)), seeds=used,
                  extra=extra)


def generate_one(ctx: AppContext, actor: Actor, project: str, rendered: RenderedPrompt,
                 client: DraftClient, *, messages: list[dict[str, str]] | None = None,
                 model: str | None = None, stream: bool = False,
                 on_text: Callable[[str], None] | None = None) -> SingleDraft:
    """Generate one draft, optionally from an edited prompt; recorded as a one-item job.

    The draft is assigned to whoever generated it: on the Generate page the annotator goes on
    to rewrite it, which the editor allows only for one's own dialogues.
    """
    require(actor, "generation.single", project=project)
    if messages is not None:
        if not messages or not all(m.get("content", "").strip() for m in messages):
            raise InvalidInputError("the edited prompt is empty")
        rendered = replace(rendered, messages=messages,
                           template_name=f"{rendered.template_name}+edited")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        model = model or record.settings.get("model") or DEFAULT_MODEL
        params = {"model": model, "template": rendered.template_name, "single": True,
                  "turns": rendered.turns,
                  "temperature": _sampling(None, record.settings, "temperature", 0.0, 2.0),
                  "top_p": _sampling(None, record.settings, "top_p", 0.0, 1.0),
                  "seed_policy": _seed_policy(record.settings)}
        job_id = uow.jobs.create(record, params,
                                 [PlannedItem(rendered.topic, rendered.emotion)],
                                 created_by=actor.name)
        (item,) = uow.jobs.items(job_id)
        seeds = [uow.repo.get_dialogue(int(i)) for i in rendered.seed_ids]
        uow.commit()
    options = CallOptions(temperature=params["temperature"], top_p=params["top_p"])
    if stream:
        result = client.stream_draft(rendered, record.vocabulary, model=model, on_text=on_text,
                                     options=options)
    else:
        result = client.generate(rendered, record.vocabulary, model=model, options=options)
    outcome = _outcome(result, rendered, seeds)
    dialogue_id = None
    with ctx.uow() as uow:
        if result.ok:
            dialogue_id = uow.jobs.record_success(
                record, item.id,
                replace(_draft_dialogue(result, item, record.vocabulary, rendered, seeds, job_id,
                                        params),
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
    """Mark approved dialogues as seeds for later prompts; ``approved`` takes every approved
    one. A dialogue that is not approved is refused, with its status named."""
    require(actor, "generation.run", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        chosen = list(ids)
        if approved:
            chosen += uow.repo.dialogue_ids(record, [Status.APPROVED])
        if not chosen:
            raise InvalidInputError("name dialogues with --id, or pass --approved")
        mine = set(uow.repo.dialogue_ids(record, list(Status)))
        missing = [i for i in sorted(set(chosen)) if i not in mine]
        if missing:
            raise NotFoundError(f"project {project} has no dialogues with ids "
                                f"{', '.join(map(str, missing))}")
        ok = set(uow.repo.dialogue_ids(record, [Status.APPROVED]))
        refused = [i for i in sorted(set(chosen)) if i not in ok]
        if refused:
            described = []
            for i in refused[:5]:
                try:
                    described.append(f"{i} ({uow.repo.get_dialogue(i).status})")
                except NotFoundError:
                    described.append(f"{i} (no such dialogue)")
            more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
            raise InvalidInputError(
                f"only approved dialogues can become seeds; not approved: "
                f"{', '.join(described)}{more}")
        changed = uow.repo.mark_seeds(record, sorted(set(chosen)))
        uow.commit()
    return changed


def demote_seeds(ctx: AppContext, actor: Actor, project: str,
                 ids: Sequence[int]) -> list[int]:
    """Stop using dialogues as seeds; returns the ids that were seeds."""
    require(actor, "generation.run", project=project)
    if not ids:
        raise InvalidInputError("name the seeds to demote with --id")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        changed = uow.repo.demote_seeds(record, sorted(set(ids)))
        uow.commit()
    return changed


def seed_shortage(ctx: AppContext, project: str, topics: Sequence[str]) -> list[str]:
    """Warnings a job for ``topics`` would get about scenarios short of seeds (the Generate
    page shows them before anything is sent); raises where the project refuses such jobs."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        k = int(record.vocabulary.generation.get("seeds_per_prompt", 0))
        return _check_seeds(uow, record, list(topics), k, record.settings)[1]


def list_seeds(ctx: AppContext, project: str) -> list[Dialogue]:
    with ctx.uow() as uow:
        return uow.repo.seeds(uow.repo.get_project(project))


GENERATION_SETTINGS = ("temperature", "top_p", "seed_policy", "seed_shortage",
                       "cross_scenario_seeds", "child_grade", "target_chars",
                       "max_output_tokens", "template")


def _checked_setting(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "temperature":
        return _sampling(float(value), {}, key, 0.0, 2.0)
    if key == "top_p":
        return _sampling(float(value), {}, key, 0.0, 1.0)
    if key == "seed_policy":
        return _seed_policy({"seed_policy": value})
    if key == "seed_shortage":
        if value not in SEED_SHORTAGE:
            raise InvalidInputError(f"seed shortage must be {' or '.join(SEED_SHORTAGE)}, "
                                    f"not {value!r}")
        return value
    if key == "cross_scenario_seeds":
        return bool(value)
    if key in ("target_chars", "max_output_tokens"):
        if int(value) < 1:
            raise InvalidInputError(f"{key.replace('_', '-')} must be at least 1")
        return int(value)
    return str(value).strip() or None


def configure_project(ctx: AppContext, actor: Actor, project: str, *,
                      model: str | None = None,
                      targets: dict[str, int] | None = None,
                      generation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set a project's model, per-topic targets (merged into the existing ones) and generation
    settings (``GENERATION_SETTINGS``: sampling, seed policy, PECONV variables)."""
    require(actor, "project.edit_vocabulary", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        settings = dict(record.settings)
        for key, value in (generation or {}).items():
            if key not in GENERATION_SETTINGS:
                raise InvalidInputError(f"unknown generation setting {key!r}")
            checked = _checked_setting(key, value)
            if checked is None:
                settings.pop(key, None)
            else:
                settings[key] = checked
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



def paper_targets(ctx: AppContext, actor: Actor, project: str, scale: int) -> dict[str, int]:
    """Set every topic's target to its published count scaled to ``scale`` dialogues in all
    (largest-remainder rounding, so the targets add up to exactly ``scale``)."""
    require(actor, "project.edit_vocabulary", project=project)
    if scale < 1:
        raise InvalidInputError("--scale must be at least 1")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        counts = {t: n for t, n in record.vocabulary.paper_targets.items()
                  if t in record.vocabulary.topics}
    if not counts:
        raise InvalidInputError(f"project {project}'s preset has no published counts per "
                                f"{record.vocabulary.topic_label}")
    targets = scale_targets(counts, scale)
    configure_project(ctx, actor, project, targets=targets)
    return targets


def scale_targets(counts: dict[str, int], scale: int) -> dict[str, int]:
    total = sum(counts.values())
    exact = {t: n * scale / total for t, n in counts.items()}
    out = {t: math.floor(v) for t, v in exact.items()}
    left = scale - sum(out.values())
    for t in sorted(exact, key=lambda t: (out[t] - exact[t], list(counts).index(t)))[:left]:
        out[t] += 1
    return out



# ---- the topic -> emotions map (PECONV) ------------------------------------------------------
def set_topic_emotions(ctx: AppContext, actor: Actor, project: str,
                       mapping: dict[str, list[str]]) -> dict[str, list[str]]:
    """Set (by hand) which emotions fit each topic; merged into the project's map."""
    require(actor, "project.edit_vocabulary", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        vocab = record.vocabulary
        merged = {k: list(v) for k, v in vocab.topic_emotions.items()}
        for topic, emotions in mapping.items():
            label = _check_label(vocab, "topic", topic)
            merged[label] = [_check_label(vocab, "emotion", e) for e in emotions]
            if not merged[label]:
                raise InvalidInputError(f"topic {topic!r} needs at least one emotion")
        uow.repo.set_vocabulary(record.id, replace(vocab, topic_emotions=merged))
        uow.commit()
    return merged


def fill_topic_emotions(ctx: AppContext, actor: Actor, project: str,
                        complete: Callable[[list[dict[str, str]]], str], *,
                        all_topics: bool = False) -> dict[str, list[str]]:
    """Ask the model once which emotions fit each topic still unmapped (every topic with
    ``all_topics``); ``complete`` sends chat messages and returns the reply's text. Labels
    outside the project's emotions are dropped; topics left without one are reported by
    raising, and nothing is stored then."""
    require(actor, "project.edit_vocabulary", project=project)
    with ctx.uow() as uow:
        vocab = uow.repo.get_project(project).vocabulary
    topics = [t for t in vocab.topics if all_topics or not vocab.topic_emotions.get(t)]
    if not topics:
        return {}
    rendered = render(load_template("topic_emotions"), vocab, topic="",
                      extra={"topics": topics, "emotions": list(vocab.emotions)})
    reply = complete(rendered.messages)
    try:
        data = extract_json_object(reply)
    except ValueError as exc:
        raise InvalidInputError("the model's answer holds no JSON object") from exc
    found: dict[str, list[str]] = {}
    for topic in topics:
        raw = data.get(topic) if isinstance(data, dict) else None
        labels = [vocab.match("emotion", e).label for e in raw or [] if isinstance(e, str)]
        found[topic] = list(dict.fromkeys(e for e in labels if e))
    missing = [t for t, e in found.items() if not e]
    if missing:
        raise InvalidInputError(f"the model gave no usable emotion for {len(missing)} topic(s): "
                                f"{', '.join(missing[:5])}; set them by hand with --set")
    set_topic_emotions(ctx, actor, project, found)
    return found



# ---- provenance in view ----------------------------------------------------------------------
@dataclass(frozen=True)
class SeedRef:
    id: int
    topic: str | None
    seed_round: int | None
    exists: bool


@dataclass(frozen=True)
class ProvenanceView:
    """What a dialogue came from, for `curation show` and the editor's and Review's panel."""

    dialogue_id: int
    project: str | None
    topic: str | None
    emotion: str | None
    status: str
    source: str
    seed_round: int | None
    model: str | None
    template: str | None
    template_version: str | None
    temperature: float | None
    top_p: float | None
    prompt: list[dict[str, str]]
    seeds: list[SeedRef]
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    request_id: str | None
    job_id: int | None
    situation_hint: str | None
    label_map: dict[str, Any] | None

    def lines(self, *, prompt: bool = True) -> list[str]:
        out = [f"dialogue {self.dialogue_id} ({self.project}): {self.topic or '-'}"
               f"{f' / {self.emotion}' if self.emotion else ''}, {self.status}, "
               f"{self.source}{f', seed round {self.seed_round}' if self.seed_round else ''}"]
        if self.model is not None or self.template is not None:
            sampling = ", ".join(f"{k} {v:g}" for k, v in (("temperature", self.temperature),
                                                           ("top-p", self.top_p))
                                 if v is not None) or "server default sampling"
            out.append(f"model {self.model or '-'}, template {self.template or '-'}"
                       f"@{self.template_version or '-'}, {sampling}")
            cost = f"${self.cost_usd:.6f}" if self.cost_usd is not None else "cost unknown"
            out.append(f"tokens {self.prompt_tokens or 0} prompt + {self.completion_tokens or 0}"
                       f" completion, {cost}, request id {self.request_id or '-'}"
                       f"{f', job {self.job_id}' if self.job_id is not None else ''}")
        if self.situation_hint:
            out.append(f"situation hint: {self.situation_hint}")
        if self.seeds:
            out.append("seeds: " + ", ".join(
                f"{s.id} ({s.topic or '-'}, round "
                f"{s.seed_round if s.seed_round is not None else '-'})"
                if s.exists else f"{s.id} (gone)" for s in self.seeds))
        if self.label_map:
            turns = self.label_map.get("turns") or []
            out.append(f"labels mapped by {self.label_map.get('map')}: {len(turns)} turns")
        if prompt and self.prompt:
            out.append("prompt:")
            for message in self.prompt:
                out.append(f"--- {message.get('role')}")
                out.extend(str(message.get("content", "")).splitlines())
        return out


def provenance_view(ctx: AppContext, dialogue_id: int) -> ProvenanceView:
    with ctx.uow() as uow:
        dialogue = uow.repo.get_dialogue(dialogue_id)
        p = dialogue.provenance
        seeds = []
        for raw in p.get("seed_ids") or []:
            try:
                seed = uow.repo.get_dialogue(int(raw))
                seeds.append(SeedRef(int(raw), seed.topic, seed.seed_round, True))
            except (NotFoundError, TypeError, ValueError):
                seeds.append(SeedRef(int(raw) if str(raw).isdigit() else -1, None, None, False))
    usage = p.get("usage") or {}
    template = p.get("template_name") or (str(p["template"]).split("@")[0]
                                          if p.get("template") else None)
    version = p.get("template_version") or (str(p["template"]).split("@")[-1]
                                            if p.get("template") and "@" in p["template"]
                                            else None)
    return ProvenanceView(
        dialogue_id=dialogue_id, project=dialogue.project, topic=dialogue.topic,
        emotion=dialogue.emotion, status=str(dialogue.status), source=str(dialogue.source),
        seed_round=dialogue.seed_round, model=p.get("model"), template=template,
        template_version=version, temperature=p.get("temperature"), top_p=p.get("top_p"),
        prompt=list(p.get("prompt") or []), seeds=seeds,
        prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
        cost_usd=p.get("cost_usd"), request_id=p.get("request_id"), job_id=p.get("job_id"),
        situation_hint=p.get("situation_hint"), label_map=p.get("label_map"))



# ---- a project's own prompt templates --------------------------------------------------------
def resolve_template(project: ProjectRecord, name: str) -> PromptTemplate:
    """``name``'s newest version among the project's saved templates, else the bundled file."""
    saved = (project.settings.get("templates") or {}).get(name)
    if saved:
        newest = saved[-1]
        return PromptTemplate(name=name, version=newest["version"], source=newest["source"])
    return load_template(name)


def _as_template_source(messages: list[dict[str, str]], topic: str | None,
                        emotion_shown: str | None) -> str:
    """Jinja source from an edited prompt: the topic and emotion it was written for become
    variables again, so the saved template works for any topic."""
    blocks = []
    for message in messages:
        role = message.get("role")
        if role not in ("system", "user"):
            raise InvalidInputError(f"a template holds system and user messages, not {role!r}")
        text = message.get("content", "")
        # Keep the lead's text literal, except for the topic and emotion it was written for.
        text = text.replace("{", "{{ '{' }}") if "{" in text else text
        if topic:
            text = text.replace(topic, "{{ topic }}")
        if emotion_shown:
            text = text.replace(emotion_shown, "{{ emotion_label or emotion }}")
        blocks.append(f"{{% block {role} %}}\n{text}\n{{% endblock %}}")
    return "\n\n".join(blocks) + "\n"


def save_project_template(ctx: AppContext, actor: Actor, project: str, name: str,
                          messages: list[dict[str, str]], *, topic: str | None = None,
                          emotion: str | None = None,
                          make_default: bool = False) -> PromptTemplate:
    """Save an edited prompt as a new version of the project's template ``name``."""
    require(actor, "project.edit_vocabulary", project=project)
    name = name.strip()
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise InvalidInputError("a template name needs letters, digits, - or _ only")
    if not messages or not all(m.get("content", "").strip() for m in messages):
        raise InvalidInputError("the edited prompt is empty")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        shown_emotion = record.vocabulary.emotion_label(emotion) if emotion else None
        source = _as_template_source(messages, topic, shown_emotion)
        template = PromptTemplate(name=name, version=template_version(source), source=source)
        render_blocks(template, {"topic": topic or "", "emotion": emotion,
                                 "emotion_label": shown_emotion})  # refuse what cannot render
        settings = dict(record.settings)
        templates = {k: list(v) for k, v in (settings.get("templates") or {}).items()}
        versions = templates.setdefault(name, [])
        if not any(v["version"] == template.version for v in versions):
            versions.append({"version": template.version, "source": source,
                             "by": actor.name})
        settings["templates"] = templates
        if make_default:
            settings["template"] = name
        uow.repo.set_settings(record.id, settings)
        uow.commit()
    return template


def project_templates(ctx: AppContext, project: str) -> dict[str, list[str]]:
    """The project's saved templates and their versions, oldest first."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
    return {k: [v["version"] for v in vs]
            for k, vs in (record.settings.get("templates") or {}).items()}


__all__ = ["BudgetError", "JobBudget", "JobRecipe", "JobRequest", "NotFoundError",
           "PreparedItem", "Progress", "generate_one", "job_recipe", "plan_job", "run_job"]
