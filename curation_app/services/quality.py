"""Use cases of rating campaigns: protocols, campaigns and their samples, rating, progress,
agreement, exports and group comparisons.

A campaign freezes what it rates: the protocol is copied into it and every item is a blinded
snapshot (see :mod:`curation_app.quality.samples`), so raters do not know where an item came
from and a later edit of the dialogue does not change what was rated. Items come from the
project (a random or per-topic sample, named dialogues, each dialogue's machine draft beside its
current text, seeds beside generated dialogues), from release split files, or from the responses
a trained model generated. Each item goes to ``overlap`` raters; a rating is saved at once and
may be changed until the lead closes the campaign. The LLM judge is in ``services.judging``,
overlap copies and adjudication in ``services.adjudication``.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from curation_app.domain import Dialogue, Status
from curation_app.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from curation_app.quality import agreement as stats
from curation_app.quality.compare import Difference, bootstrap_difference
from curation_app.quality.protocols import Protocol, get_protocol, project_protocols
from curation_app.quality.samples import (
    SAMPLE_KINDS,
    NewItem,
    SampleSpec,
    blind,
    release_items,
    response_items,
)
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole, require
from curation_app.store.quality_repository import (
    CampaignRecord,
    RatingItem,
    RatingRecord,
)

__all__ = ["SAMPLE_KINDS", "CampaignRecord", "Protocol", "RatingItem", "SampleSpec"]

NOT_DISCARDED = tuple(s for s in Status if s != Status.DISCARDED)


# ---- protocols --------------------------------------------------------------------------------
def list_protocols(ctx: AppContext, project: str) -> dict[str, Protocol]:
    """The papers' protocols and the project's own."""
    with ctx.uow() as uow:
        return project_protocols(uow.repo.get_project(project).settings)


def define_protocol(ctx: AppContext, actor: Actor, project: str, name: str,
                    spec: Mapping[str, Any]) -> Protocol:
    """Add or replace a custom protocol of the project (``{"min", "max", "aspects": [...]}``)."""
    require(actor, "quality.manage", project=project)
    protocol = Protocol.from_dict(name, spec)
    if name in ("extes", "panda"):
        raise InvalidInputError(f"{name!r} is a built-in protocol; choose another name")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        settings = dict(record.settings)
        quality = dict(settings.get("quality") or {})
        quality["protocols"] = {**(quality.get("protocols") or {}), name: protocol.to_dict()}
        settings["quality"] = quality
        uow.repo.set_settings(record.id, settings)
        uow.commit()
    return protocol


def _project_items(uow: Any, project: Any, spec: SampleSpec, rng: random.Random
                   ) -> list[NewItem]:
    statuses = [Status(s) for s in spec.statuses] if spec.statuses else list(NOT_DISCARDED)
    if spec.ids:
        chosen = []
        for dialogue_id in spec.ids:
            d = uow.repo.get_dialogue(dialogue_id)
            if d.project != project.name:
                raise NotFoundError(f"dialogue {dialogue_id} is not in project {project.name}")
            chosen.append(d)
    else:
        pool = [d for d in uow.repo.list_dialogues(project, statuses) if d.overlap_of is None]
        if spec.kind == "draft-vs-final":
            pool = [d for d in pool if d.version > 0]
        if spec.n is None or spec.n < 1:
            raise InvalidInputError(f"a {spec.kind} sample needs a size n of at least 1")
        if spec.kind == "seeds-vs-generated":
            seeds = [d for d in pool if d.is_seed]
            made = [d for d in pool if not d.is_seed and str(d.source) == "generated"]
            if not seeds or not made:
                raise InvalidInputError(f"project {project.name} needs both seeds and "
                                        "generated dialogues for a seeds-vs-generated sample")
            language = project.vocabulary.language
            return [NewItem(source=f"project:{project.name}:{group}", group=group,
                            ref=str(d.id), dialogue_id=d.id,
                            content=blind(d.turns, language, d.topic, d.description))
                    for group, part in (("seeds", seeds), ("generated", made))
                    for d in rng.sample(part, min(spec.n, len(part)))]
        if spec.kind == "stratified":
            by_topic: dict[str, list[Dialogue]] = {}
            for d in pool:
                by_topic.setdefault(d.topic or "", []).append(d)
            chosen = []
            for topic in sorted(by_topic):
                chosen += rng.sample(by_topic[topic], min(spec.n, len(by_topic[topic])))
        else:
            chosen = rng.sample(pool, min(spec.n, len(pool)))
    if not chosen:
        raise InvalidInputError(f"the {spec.kind} sample of {project.name} is empty (no "
                                "dialogues with those statuses)")
    language = project.vocabulary.language
    items = []
    for d in chosen:
        if spec.kind == "draft-vs-final":
            revisions = uow.repo.revisions(d.id)
            draft = revisions[0] if revisions else None
            if draft is None:
                continue
            items.append(NewItem(source=f"project:{project.name}:draft", group="draft",
                                 ref=str(d.id), dialogue_id=d.id,
                                 content=blind(draft.turns, language, d.topic,
                                                draft.description)))
            items.append(NewItem(source=f"project:{project.name}:final", group="final",
                                 ref=str(d.id), dialogue_id=d.id,
                                 content=blind(d.turns, language, d.topic, d.description)))
        else:
            items.append(NewItem(source=f"project:{project.name}", group=spec.group,
                                 ref=str(d.id), dialogue_id=d.id,
                                 content=blind(d.turns, language, d.topic, d.description)))
    return items


# ---- campaigns --------------------------------------------------------------------------------
def create_campaign(ctx: AppContext, actor: Actor, project: str, name: str, protocol: str,
                    raters: Sequence[str], samples: Sequence[SampleSpec], *, overlap: int = 2,
                    seed: int = 0) -> CampaignRecord:
    """Draw the samples, freeze them as items in a shuffled order (so groups interleave) and
    give each item to ``overlap`` raters in turn."""
    require(actor, "quality.manage", project=project)
    name = name.strip()
    if not name:
        raise InvalidInputError("a campaign needs a name")
    names = list(dict.fromkeys(r.strip() for r in raters if r.strip()))
    if not names:
        raise InvalidInputError("name at least one rater")
    if not 1 <= overlap <= len(names):
        raise InvalidInputError(f"overlap must be between 1 and the number of raters "
                                f"({len(names)})")
    if not samples:
        raise InvalidInputError("choose at least one sample")
    for spec in samples:
        if spec.kind not in SAMPLE_KINDS:
            raise InvalidInputError(f"unknown sample {spec.kind!r}; choose from "
                                    f"{', '.join(SAMPLE_KINDS)}")
    rng = random.Random(seed)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        chosen = get_protocol(protocol, record.settings)
        for rater in names:
            uow.repo.get_user(rater)
        items: list[NewItem] = []
        for spec in samples:
            if spec.kind == "release":
                items += release_items(spec)
            elif spec.kind == "responses":
                items += response_items(spec)
            else:
                items += _project_items(uow, record, spec, rng)
        rng.shuffle(items)
        assignments = [(seq, names[(seq - 1 + j) % len(names)])
                       for seq in range(1, len(items) + 1) for j in range(overlap)]
        sample = {"seed": seed, "specs": [
            {k: v for k, v in vars(s).items() if v not in (None, (), "")} for s in samples]}
        for spec in sample["specs"]:
            if "ids" in spec:
                spec["ids"] = list(spec["ids"])
            if "statuses" in spec:
                spec["statuses"] = list(spec["statuses"])
        campaign_id = uow.quality.create_campaign(
            record, name, {**chosen.to_dict()}, overlap, names, sample, actor.name, items,
            assignments)
        uow.commit()
        return uow.quality.get_campaign(campaign_id)


def protocol_of(campaign: CampaignRecord) -> Protocol:
    data = campaign.protocol
    return Protocol.from_dict(data["name"], data)


def list_campaigns(ctx: AppContext, actor: Actor, project: str) -> list[CampaignRecord]:
    """Every campaign of the project for leads and reviewers; the ones with items assigned
    to them for annotators."""
    role = require(actor, "quality.rate", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        if role == UserRole.ANNOTATOR:
            return uow.quality.campaigns_of_rater(record, actor.name)
        return uow.quality.campaigns(record)


def get_campaign(ctx: AppContext, actor: Actor, campaign_id: int) -> CampaignRecord:
    require(actor, "quality.rate", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        return uow.quality.get_campaign(campaign_id)


def campaign_protocol(ctx: AppContext, actor: Actor, campaign_id: int) -> Protocol:
    return protocol_of(get_campaign(ctx, actor, campaign_id))


@dataclass(frozen=True)
class RaterTask:
    """One item as its rater sees it: a number within the campaign, the content, their scores."""

    item_id: int
    number: int
    content: dict[str, Any]
    scores: dict[str, int] | None
    comment: str | None


def my_items(ctx: AppContext, actor: Actor, campaign_id: int) -> list[RaterTask]:
    """The actor's items in the campaign, in order, with what they have scored so far."""
    require(actor, "quality.rate", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        uow.quality.get_campaign(campaign_id)
        items = uow.quality.items(campaign_id, rater=actor.name)
        mine = {r.item_id: r for r in uow.quality.ratings(campaign_id, rater=actor.name)}
    return [RaterTask(item_id=it.id, number=n, content=it.content,
                      scores=mine[it.id].scores if it.id in mine else None,
                      comment=mine[it.id].comment if it.id in mine else None)
            for n, it in enumerate(items, start=1)]


def rate(ctx: AppContext, actor: Actor, item_id: int, scores: Mapping[str, Any],
         comment: str | None = None) -> dict[str, int]:
    """Save (or change) the actor's scores for one item of an open campaign."""
    require(actor, "quality.rate", of=("rating_item", item_id))
    with ctx.uow() as uow:
        item = uow.quality.get_item(item_id)
        campaign = uow.quality.get_campaign(item.campaign_id, for_update=True)
        if campaign.status != "open":
            raise PermissionDeniedError(f"campaign {campaign.name} is closed; its ratings can "
                                        "no longer change")
        if not uow.quality.is_assigned(item_id, actor.name):
            raise PermissionDeniedError(f"item {item_id} of campaign {campaign.name} is not "
                                        f"assigned to {actor.name}")
        protocol = protocol_of(campaign)
        clean: dict[str, int] = {}
        for aspect in protocol.aspect_names:
            value = scores.get(aspect)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"item {item_id}, field {aspect}: give a score from "
                                        f"{protocol.minimum} to {protocol.maximum}")
            if not protocol.minimum <= value <= protocol.maximum:
                raise InvalidInputError(f"item {item_id}, field {aspect}: {value} is outside "
                                        f"{protocol.minimum}-{protocol.maximum}")
            clean[aspect] = value
        unknown = sorted(set(scores) - set(protocol.aspect_names))
        if unknown:
            raise InvalidInputError(f"item {item_id}: {', '.join(unknown)} is not an aspect of "
                                    f"protocol {protocol.name}")
        uow.quality.save_rating(campaign.id, item_id, actor.name, clean,
                                (comment or "").strip() or None)
        uow.commit()
    return clean


def close_campaign(ctx: AppContext, actor: Actor, campaign_id: int) -> CampaignRecord:
    require(actor, "quality.manage", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id, for_update=True)
        if campaign.status == "closed":
            raise InvalidInputError(f"campaign {campaign.name} is already closed")
        uow.quality.set_campaign_status(campaign_id, "closed")
        uow.commit()
        return uow.quality.get_campaign(campaign_id)


def reopen_campaign(ctx: AppContext, actor: Actor, campaign_id: int) -> CampaignRecord:
    require(actor, "quality.manage", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        uow.quality.get_campaign(campaign_id, for_update=True)
        uow.quality.set_campaign_status(campaign_id, "open")
        uow.commit()
        return uow.quality.get_campaign(campaign_id)


@dataclass(frozen=True)
class RaterProgress:
    rater: str
    assigned: int
    rated: int

    @property
    def share(self) -> float:
        return self.rated / self.assigned if self.assigned else 0.0


def campaign_progress(ctx: AppContext, actor: Actor, campaign_id: int) -> list[RaterProgress]:
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        assigned = uow.quality.assignments(campaign_id)
        rated = {(r.item_id, r.rater) for r in uow.quality.ratings(campaign_id)}
    out = []
    for rater in campaign.raters:
        mine = [i for i, r in assigned if r == rater]
        out.append(RaterProgress(rater, len(mine), sum((i, rater) in rated for i in mine)))
    return out


# ---- agreement --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AspectAgreement:
    aspect: str
    mean: float | None
    ratings: int
    fleiss: stats.Fleiss
    alpha: float | None
    paper_mean: float | None = None  # the protocol's published figures, where it has them
    paper_kappa: float | None = None


@dataclass
class CampaignAgreement:
    campaign: str
    protocol: str
    items: int
    rated_items: int
    aspects: list[AspectAgreement]
    raters: list[stats.RaterAgreement]
    group_means: dict[str, dict[str, float]] = field(default_factory=dict)
    overall_mean: float | None = None  # over every rating and aspect (PANDA's overall score)
    reference: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign, "protocol": self.protocol, "items": self.items,
            "rated_items": self.rated_items,
            "aspects": [{"aspect": a.aspect, "mean": a.mean, "ratings": a.ratings,
                         "fleiss_kappa": a.fleiss.kappa, "fleiss_items": a.fleiss.units,
                         "raters_per_item": a.fleiss.raters_per_unit,
                         "krippendorff_alpha": a.alpha, "paper_mean": a.paper_mean,
                         "paper_kappa": a.paper_kappa} for a in self.aspects],
            "overall_mean": self.overall_mean, "reference": self.reference,
            "raters": [{"rater": r.rater, "shared_items": r.units, "kappa": r.kappa,
                        "spearman": r.spearman, "mean_abs_diff": r.mean_abs_diff}
                       for r in self.raters],
            "group_means": self.group_means,
        }


def rounded(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def campaign_agreement(ctx: AppContext, actor: Actor, campaign_id: int) -> CampaignAgreement:
    """Fleiss' kappa and ordinal Krippendorff's alpha per aspect, each rater against the rest,
    and the mean score per aspect and group."""
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        items = uow.quality.items(campaign_id)
        ratings = uow.quality.ratings(campaign_id)
    protocol = protocol_of(campaign)
    groups = {it.id: it.group for it in items}
    aspects = []
    for aspect in protocol.aspect_names:
        by_item: dict[int, list[int]] = {}
        by_rater: dict[str, dict[int, int]] = {}
        for r in ratings:
            by_item.setdefault(r.item_id, []).append(r.scores[aspect])
            by_rater.setdefault(r.rater, {})[r.item_id] = r.scores[aspect]
        values = [v for vs in by_item.values() for v in vs]
        fleiss = stats.fleiss_kappa(list(by_item.values()), protocol.scale)
        paper = protocol.reference
        aspects.append(AspectAgreement(
            aspect=aspect, mean=rounded(sum(values) / len(values)) if values else None,
            ratings=len(values), fleiss=replace(fleiss, kappa=rounded(fleiss.kappa)),
            alpha=rounded(stats.krippendorff_alpha(by_rater, "ordinal", protocol.scale)),
            paper_mean=(paper.get("mean") or {}).get(aspect),
            paper_kappa=(paper.get("kappa") or {}).get(aspect)))
    pooled: dict[str, dict[tuple[int, str], int]] = {}
    for r in ratings:
        for aspect, value in r.scores.items():
            pooled.setdefault(r.rater, {})[(r.item_id, aspect)] = value
    raters = [replace(x, kappa=rounded(x.kappa), spearman=rounded(x.spearman),
                      mean_abs_diff=rounded(x.mean_abs_diff))
              for x in stats.rater_agreement(pooled, protocol.scale)]
    group_means: dict[str, dict[str, float]] = {}
    for group in sorted({g for g in groups.values()}):
        scores = item_means(ratings, {i for i, g in groups.items() if g == group})
        group_means[group or "(all)"] = {
            a: round(sum(s[a] for s in scores.values()) / len(scores), 3)
            for a in protocol.aspect_names if scores}
    every = [v for r in ratings for v in r.scores.values()]
    return CampaignAgreement(campaign=campaign.name, protocol=protocol.name, items=len(items),
                             rated_items=len({r.item_id for r in ratings}), aspects=aspects,
                             raters=raters, group_means=group_means,
                             overall_mean=rounded(sum(every) / len(every)) if every else None,
                             reference=dict(protocol.reference))


def item_means(ratings: Sequence[RatingRecord], item_ids: set[int]
                ) -> dict[int, dict[str, float]]:
    sums: dict[int, list[dict[str, int]]] = {}
    for r in ratings:
        if r.item_id in item_ids:
            sums.setdefault(r.item_id, []).append(r.scores)
    return {i: {a: sum(s[a] for s in ss) / len(ss) for a in ss[0]} for i, ss in sums.items()}


# ---- exports ----------------------------------------------------------------------------------
def ratings_table(ctx: AppContext, actor: Actor, campaign_id: int) -> list[dict[str, Any]]:
    """One row per rating: item number, group, source, reference, rater, a column per aspect."""
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        items = {it.id: it for it in uow.quality.items(campaign_id)}
        ratings = uow.quality.ratings(campaign_id)
    protocol = protocol_of(campaign)
    rows = []
    for r in ratings:
        it = items[r.item_id]
        rows.append({"campaign": campaign.name, "item": it.seq, "group": it.group,
                     "source": it.source, "ref": it.ref, "rater": r.rater,
                     **{a: r.scores.get(a) for a in protocol.aspect_names},
                     "comment": r.comment or ""})
    return rows


def agreement_table(result: CampaignAgreement) -> list[dict[str, Any]]:
    return result.to_json()["aspects"]


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: ("" if v is None else v) for k, v in row.items()} for row in rows])
    return out.getvalue()


def figures_markdown(figures: Mapping[str, Any]) -> str:
    """A Markdown table of :func:`latest_figures`, for a dataset card."""
    lines = [f"Human evaluation ({figures['protocol']} protocol, campaign "
             f"{figures['campaign']}, {figures['rated_items']} items):", "",
             "| aspect | mean | Fleiss' kappa | Krippendorff's alpha | paper mean | paper kappa |",
             "| --- | --- | --- | --- | --- | --- |"]
    for a in figures["aspects"]:
        cells = [a["aspect"], a["mean"], a["fleiss_kappa"], a["krippendorff_alpha"],
                 a.get("paper_mean"), a.get("paper_kappa")]
        lines.append("| " + " | ".join("—" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def latest_figures(ctx: AppContext, actor: Actor, project: str) -> dict[str, Any] | None:
    """The newest closed campaign's agreement of a project, for a release card (or None)."""
    require(actor, "quality.read", project=project)
    with ctx.uow() as uow:
        closed = [c for c in uow.quality.campaigns(uow.repo.get_project(project))
                  if c.status == "closed"]
    if not closed:
        return None
    return campaign_agreement(ctx, actor, closed[0].id).to_json()


# ---- comparisons ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AspectComparison:
    aspect: str
    difference: Difference


@dataclass
class Comparison:
    campaign: str
    group_a: str
    group_b: str
    scorer: str  # "human" or "judge run N"
    paired: bool
    aspects: list[AspectComparison]

    def to_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "a": self.group_a, "b": self.group_b,
                "scorer": self.scorer, "paired": self.paired,
                "aspects": [{"aspect": a.aspect, **a.difference.to_dict()}
                            for a in self.aspects]}


def compare_groups(ctx: AppContext, actor: Actor, campaign_id: int, group_a: str, group_b: str,
                   *, judge_run_id: int | None = None, confidence: float = 0.95,
                   resamples: int = 2000, seed: int = 0) -> Comparison:
    """Mean score per aspect of two groups of a campaign's items (human ratings averaged per
    item, or a judge run's scores), B minus A with a bootstrap interval. Groups whose items
    pair up by reference (the same dialogue as draft and final, the same prompt answered by two
    models) are compared pair by pair."""
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        campaign = uow.quality.get_campaign(campaign_id)
        items = uow.quality.items(campaign_id)
        if judge_run_id is not None:
            run = uow.quality.get_judge_run(judge_run_id)
            if run.campaign_id != campaign_id:
                raise InvalidInputError(f"judge run {judge_run_id} belongs to another campaign")
            scored: dict[int, dict[str, float]] = {
                j.item_id: {k: float(v) for k, v in (j.scores or {}).items()}
                for j in uow.quality.judge_items(judge_run_id, "succeeded")}
        else:
            scored = item_means(uow.quality.ratings(campaign_id), {it.id for it in items})
    groups = {it.group for it in items}
    for g in (group_a, group_b):
        if g not in groups:
            raise NotFoundError(f"campaign {campaign.name} has no group {g!r}; its groups: "
                                f"{', '.join(sorted(repr(x) for x in groups))}")
    a_items = [it for it in items if it.group == group_a and it.id in scored]
    b_items = [it for it in items if it.group == group_b and it.id in scored]
    b_by_ref = {it.ref: it for it in b_items}
    pairs = [(a, b_by_ref[a.ref]) for a in a_items if a.ref is not None and a.ref in b_by_ref]
    paired = bool(pairs) and len(pairs) == len(a_items) == len(b_items)
    out = []
    for aspect in protocol_of(campaign).aspect_names:
        if paired:
            xs = [scored[a.id][aspect] for a, _ in pairs]
            ys = [scored[b.id][aspect] for _, b in pairs]
        else:
            xs = [scored[it.id][aspect] for it in a_items]
            ys = [scored[it.id][aspect] for it in b_items]
        out.append(AspectComparison(aspect, bootstrap_difference(
            xs, ys, paired=paired, confidence=confidence, resamples=resamples, seed=seed)))
    return Comparison(campaign.name, group_a, group_b,
                      "human" if judge_run_id is None else f"judge run {judge_run_id}", paired,
                      out)


def campaign_items(ctx: AppContext, actor: Actor, campaign_id: int) -> list[RatingItem]:
    """Every item with its source and group (the lead's view; raters never see these)."""
    require(actor, "quality.read", of=("campaign", campaign_id))
    with ctx.uow() as uow:
        uow.quality.get_campaign(campaign_id)
        return uow.quality.items(campaign_id)
