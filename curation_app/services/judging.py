"""Use cases of the LLM judge: plan a run over a campaign's items, run or resume it (same
retries, budget and cost rules as draft generation), read its results, and set them beside the
human ratings of the same items.

Every item of a run ends scored (a valid score per aspect and a reason) or failed (the raw reply
and the error kept); a malformed or out-of-range reply is never stored as scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curation_app.domain import Role
from curation_app.errors import BudgetError, BudgetReachedError, InvalidInputError
from curation_app.generation.pricing import PriceTable
from curation_app.generation.tokens import request_prompt_tokens
from curation_app.quality import agreement as stats
from curation_app.quality.judge import (
    JUDGE_MAX_TOKENS,
    AsyncJudgeClient,
    judge_json_schema,
    judge_max_tokens,
    judge_messages,
    prompt_version,
)
from curation_app.services.context import AppContext
from curation_app.services.generation import DEFAULT_MODEL, JobBudget
from curation_app.services.permissions import Actor, require
from curation_app.services.quality import item_means, protocol_of, rounded
from curation_app.store.quality_repository import (
    FAILED,
    PENDING,
    JudgeItemRecord,
    JudgeOutcome,
    JudgeRunRecord,
)


@dataclass(frozen=True)
class JudgeProgress:
    run_id: int
    requested: int
    succeeded: int
    failed: int
    cost_usd: float


def plan_judge(ctx: AppContext, actor: Actor, campaign_id: int, *, model: str | None = None,
               temperature: float | None = 0.0, budget_usd: float | None = None,
               concurrency: int = 4) -> int:
    """Store a judge run over every item of the campaign; returns its id. Makes no call."""
    require(actor, "quality.manage", of=("campaign", campaign_id))
    if concurrency < 1:
        raise InvalidInputError("--concurrency must be at least 1")
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        record = uow.repo.get_project(campaign.project)
        model = model or record.settings.get("judge_model") or record.settings.get("model") \
            or DEFAULT_MODEL
        if budget_usd is not None and PriceTable.load().price(model) is None:
            raise BudgetError(f"model {model!r} has no price in the price table, so a budget "
                              "cannot be enforced; add it (CURATION_PRICES_FILE)")
        items = uow.quality.items(campaign_id)
        run_id = uow.quality.create_judge_run(
            campaign_id, model, prompt_version(),
            {"temperature": temperature, "budget_usd": budget_usd, "concurrency": concurrency,
             "protocol": campaign.protocol["name"]}, actor.name, [it.id for it in items])
        uow.commit()
    return run_id


def _worst_case(prices: PriceTable, model: str, messages: list[dict[str, str]],
                schema: dict[str, Any], max_out: int) -> float:
    """The most one judgement may cost: the request and its one repair (which carries the first
    reply back), each at the prompt's upper bound and the full output cap."""
    prompt = request_prompt_tokens({"model": model, "messages": messages,
                                    "response_format": schema})
    usage = {"prompt_tokens": 2 * prompt + max_out + 64, "completion_tokens": 2 * max_out}
    return prices.cost_usd(model, usage) or 0.0


def worst_case_of_run(ctx: AppContext, campaign_id: int, model: str,
                      prices: PriceTable | None = None, max_out: int | None = None) -> float:
    """The most any one judgement of the campaign may cost: what a budget must at least allow
    for one item to be sent (a lead sizes ``--budget-usd`` with it)."""
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        vocab = uow.repo.get_project(campaign.project).vocabulary
        items = uow.quality.items(campaign_id)
    protocol = protocol_of(campaign)
    speakers = {str(r): vocab.role_display(r, "en") for r in Role}
    schema = judge_json_schema(protocol)
    return max((_worst_case(prices or PriceTable.load(), model,
                            judge_messages(protocol, it.content, speakers), schema,
                            max_out or JUDGE_MAX_TOKENS) for it in items), default=0.0)


async def run_judge(ctx: AppContext, actor: Actor, run_id: int, client: AsyncJudgeClient, *,
                    concurrency: int | None = None, retry_failed: bool = False,
                    on_progress: Callable[[JudgeProgress], None] | None = None
                    ) -> JudgeRunRecord:
    """Run (or resume) a judge run until no item is pending or the budget stops it; every
    item ends scored or failed with its raw reply and error, never with invalid scores."""
    require(actor, "quality.manage", of=("judge_run", run_id))
    with ctx.uow() as uow:
        run = uow.quality.get_judge_run(run_id)
        campaign = uow.quality.get_campaign(run.campaign_id)
        record = uow.repo.get_project(campaign.project)
        if retry_failed:
            uow.quality.reset_failed_judgements(run_id)
        # What the client really sends, kept with the run (the key never is).
        uow.quality.update_judge_settings(run_id, {"client": {
            "temperature": client.config.temperature, "max_tokens": client.config.max_tokens,
            "structured": client.structured_mode, "max_retries": client.config.max_retries,
            "timeout_s": client.config.timeout_s}})
        uow.quality.set_judge_status(run_id, "running")
        uow.commit()
        run = uow.quality.get_judge_run(run_id)
        pending = uow.quality.judge_items(run_id, PENDING)
        items = {it.id: it for it in uow.quality.items(run.campaign_id)}
    protocol = protocol_of(campaign)
    vocab = record.vocabulary
    speakers = {str(r): vocab.role_display(r, "en") for r in Role}
    prices = PriceTable.load()
    max_out = judge_max_tokens(client.config)
    # The client's shared per-call gate (as for drafts): each request, a repair too, reserves
    # its worst case before it is sent and settles with what the server reported.
    cap = run.settings.get("budget_usd")
    budget = JobBudget(cap, run.cost_usd, prices, run.model, max_out)
    gate = budget if cap is not None else None
    counts = {"succeeded": run.counts.get("succeeded", 0), "failed": run.counts.get("failed", 0),
              "cost": run.cost_usd}
    semaphore = asyncio.Semaphore(concurrency or int(run.settings.get("concurrency") or 4))

    def store(judge_item: JudgeItemRecord, result: Any, *, finished: bool = True) -> None:
        outcome = JudgeOutcome(
            scores=result.scores, reason=result.reason, raw_text=result.raw_text,
            error=result.error_text, attempts=result.attempts, request_id=result.request_id,
            prompt_tokens=int(result.usage.get("prompt_tokens", 0)),
            completion_tokens=int(result.usage.get("completion_tokens", 0)),
            cost_usd=result.cost_usd)
        with ctx.uow() as uow:
            if finished:
                uow.quality.record_judgement(judge_item.id, outcome)
            else:
                uow.quality.charge_pending_judgement(judge_item.id, outcome)
            uow.commit()

    async def one(judge_item: JudgeItemRecord) -> None:
        async with semaphore:
            if budget.stopped:
                return
            messages = judge_messages(protocol, items[judge_item.item_id].content, speakers)
            result = await client.judge(messages, protocol, model=run.model, gate=gate)
            if isinstance(result.error, BudgetReachedError):
                # Refused before a call (nothing sent) or between the judgement and its
                # repair: the item stays pending for a resume; what was sent is paid for.
                if result.attempts:
                    await asyncio.to_thread(store, judge_item, result, finished=False)
                    counts["cost"] += result.cost_usd or 0.0
                return
            await asyncio.to_thread(store, judge_item, result)
            counts["succeeded" if result.ok else "failed"] += 1
            counts["cost"] += result.cost_usd or 0.0
            if on_progress:
                on_progress(JudgeProgress(run_id, run.requested, counts["succeeded"],
                                          counts["failed"], round(counts["cost"], 8)))

    try:
        await asyncio.gather(*(one(it) for it in pending))
    finally:
        with ctx.uow() as uow:
            left = len(uow.quality.judge_items(run_id, PENDING))
            if left == 0:
                uow.quality.set_judge_status(run_id, "finished")
            elif budget.stopped:
                uow.quality.set_judge_status(
                    run_id, "stopped", budget.stop_reason(uow.quality.get_judge_run(run_id)
                                                          .cost_usd))
            else:
                uow.quality.set_judge_status(run_id, "stopped", "interrupted")
            uow.commit()
    with ctx.uow() as uow:
        return uow.quality.get_judge_run(run_id)


def set_judge_budget(ctx: AppContext, actor: Actor, run_id: int,
                     budget_usd: float | None) -> None:
    require(actor, "quality.manage", of=("judge_run", run_id))
    with ctx.uow() as uow:
        uow.quality.get_judge_run(run_id)
        uow.quality.update_judge_settings(run_id, {"budget_usd": budget_usd})
        uow.commit()


def judge_runs(ctx: AppContext, actor: Actor, campaign_id: int) -> list[JudgeRunRecord]:
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        uow.quality.get_campaign(campaign_id)
        return uow.quality.judge_runs(campaign_id)


def judge_run(ctx: AppContext, actor: Actor, run_id: int) -> JudgeRunRecord:
    require(actor, "quality.read", of=("judge_run", run_id))
    with ctx.uow() as uow:
        return uow.quality.get_judge_run(run_id)


def judge_failures(ctx: AppContext, actor: Actor, run_id: int) -> list[JudgeItemRecord]:
    require(actor, "quality.read", of=("judge_run", run_id))
    with ctx.uow() as uow:
        uow.quality.get_judge_run(run_id)
        return uow.quality.judge_items(run_id, FAILED)


@dataclass(frozen=True)
class JudgeVsHuman:
    aspect: str
    items: int
    judge_mean: float | None
    human_mean: float | None
    spearman: float | None


def judge_vs_human(ctx: AppContext, actor: Actor, run_id: int) -> list[JudgeVsHuman]:
    """Per aspect: the judge's scores beside the mean human rating of the same items, and
    their Spearman correlation."""
    require(actor, "quality.read", of=("judge_run", run_id))
    with ctx.uow() as uow:
        run = uow.quality.get_judge_run(run_id)
        campaign = uow.quality.get_campaign(run.campaign_id)
        judged = {j.item_id: j.scores for j in uow.quality.judge_items(run_id, "succeeded")}
        ratings = uow.quality.ratings(run.campaign_id)
    human = item_means(ratings, set(judged))
    out = []
    for aspect in protocol_of(campaign).aspect_names:
        both = [i for i in judged if i in human]
        j = [float(judged[i][aspect]) for i in both]  # type: ignore[index]
        h = [human[i][aspect] for i in both]
        out.append(JudgeVsHuman(aspect, len(both), rounded(sum(j) / len(j)) if j else None,
                                rounded(sum(h) / len(h)) if h else None,
                                rounded(stats.spearman(j, h))))
    return out
