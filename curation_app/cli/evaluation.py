"""Commands for quality evaluation: ``curation eval …`` (campaigns, agreement, judge, compare).

(The quality *checks*, check and dedup, are in ``cli/quality.py``.)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from curation_app.cli.base import cli_actor, handle_errors, main, open_context
from curation_app.errors import CurationError
from curation_app.generation.client import LLMConfig
from curation_app.quality.judge import AsyncJudgeClient
from curation_app.services import adjudication, judging
from curation_app.services import quality as q
from curation_app.store.quality_repository import JudgeRunRecord


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _write(path: str, rows: list[dict[str, Any]], payload: Any) -> None:
    """CSV or JSON by the file's suffix; never over an existing file."""
    target = Path(path)
    if target.exists():
        raise CurationError(f"{target} already exists; choose another file")
    if target.suffix.lower() == ".csv":
        target.write_text(q.to_csv(rows), encoding="utf-8")
    elif target.suffix.lower() == ".json":
        target.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")
    else:
        raise CurationError(f"{target}: write .csv or .json")


@main.group("eval")
def evaluation() -> None:
    """Rating campaigns, agreement, the LLM judge and group comparisons."""


@evaluation.command("protocols")
@click.option("--project", required=True, help="The project (its custom protocols are listed "
              "too).")
@handle_errors
def protocols(project: str) -> None:
    """List the rating protocols a campaign can use."""
    ctx = open_context()
    try:
        found = q.list_protocols(ctx, project)
    finally:
        ctx.close()
    for p in found.values():
        click.echo(f"{p.name}: {p.minimum}-{p.maximum} on {', '.join(p.aspect_names)}")


@evaluation.command("define-protocol")
@click.option("--project", required=True, help="The project that gets the protocol.")
@click.option("--name", required=True, help="The protocol's name (lower-case letters, digits, "
              "_).")
@click.option("--scale", required=True, metavar="MIN-MAX", help="The whole-number scale, e.g. "
              "1-5.")
@click.option("--aspect", "aspects", multiple=True, required=True, metavar="NAME[=DEFINITION]",
              help="An aspect and what it means (repeatable, in order).")
@handle_errors
def define_protocol(project: str, name: str, scale: str, aspects: tuple[str, ...]) -> None:
    """Add (or replace) a custom rating protocol of a project."""
    low, sep, high = scale.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise CurationError(f"--scale {scale!r}: write MIN-MAX, e.g. 1-5")
    spec = {"min": int(low), "max": int(high), "aspects": [
        {"name": a.partition("=")[0].strip(),
         "definition": {"en": a.partition("=")[2].strip()}} for a in aspects]}
    ctx = open_context()
    try:
        protocol = q.define_protocol(ctx, cli_actor(), project, name, spec)
    finally:
        ctx.close()
    click.echo(f"protocol {protocol.name} of {project}: {protocol.minimum}-{protocol.maximum} "
               f"on {', '.join(protocol.aspect_names)}")


# ---- campaigns -------------------------------------------------------------------------------
@evaluation.group("campaign")
def campaign() -> None:
    """Create, list, follow and close rating campaigns."""


def _split(spec: str) -> tuple[str, str]:
    path, _, group = spec.partition("=")
    return path, group


@campaign.command("create")
@click.option("--project", required=True, help="The project the campaign belongs to.")
@click.option("--name", required=True, help="A name for the campaign, unique in the project.")
@click.option("--protocol", required=True, help="extes, panda or a custom protocol of the "
              "project (see `curation eval protocols`).")
@click.option("--raters", required=True, help="Comma-separated user names of the raters.")
@click.option("--overlap", type=int, default=2, show_default=True,
              help="How many raters rate each item.")
@click.option("--sample", "kind", type=click.Choice(["random", "stratified", "ids",
                                                     "draft-vs-final", "seeds-vs-generated",
                                                     "none"]),
              default="random", show_default=True,
              help="Dialogues of the project to rate (none: only the files given).")
@click.option("-n", "n", type=int, help="Sample size (stratified: per topic).")
@click.option("--ids", help="Comma-separated dialogue ids (with --sample ids or "
              "draft-vs-final).")
@click.option("--status", "statuses", multiple=True, help="Only dialogues with this status "
              "(repeatable; default every status but discarded).")
@click.option("--release-file", "release_files", multiple=True, metavar="PATH[=GROUP]",
              help="A release split file (chat/<split>.jsonl) to rate; repeatable.")
@click.option("--responses", "responses", multiple=True, metavar="PATH[=GROUP]",
              help="A JSONL file of generated responses ({id, context, response} per line); "
              "repeatable.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random sample and of the item order.")
@handle_errors
def campaign_create(project: str, name: str, protocol: str, raters: str, overlap: int,
                    kind: str, n: int | None, ids: str | None, statuses: tuple[str, ...],
                    release_files: tuple[str, ...], responses: tuple[str, ...],
                    seed: int) -> None:
    """Start a rating campaign: draw the items and assign each to OVERLAP raters."""
    specs: list[q.SampleSpec] = []
    if kind != "none":
        id_list = tuple(int(x) for x in ids.split(",") if x.strip()) if ids else ()
        specs.append(q.SampleSpec(kind, n=n, ids=id_list, statuses=statuses))
    specs += [q.SampleSpec("release", path=p, group=g) for p, g in map(_split, release_files)]
    specs += [q.SampleSpec("responses", path=p, group=g) for p, g in map(_split, responses)]
    ctx = open_context()
    try:
        record = q.create_campaign(ctx, cli_actor(), project, name, protocol,
                                   raters.split(","), specs, overlap=overlap, seed=seed)
        items = q.campaign_items(ctx, cli_actor(), record.id)
    finally:
        ctx.close()
    groups = sorted({it.group for it in items if it.group})
    extra = f" in groups {', '.join(groups)}" if groups else ""
    click.echo(f"campaign {record.id} ({record.name}): {len(items)} items{extra}, "
               f"{record.protocol['name']} protocol, {len(record.raters)} raters, overlap "
               f"{record.overlap}")


@campaign.command("list")
@click.option("--project", required=True, help="The project whose campaigns to list.")
@handle_errors
def campaign_list(project: str) -> None:
    """List a project's rating campaigns, newest first."""
    ctx = open_context()
    try:
        found = q.list_campaigns(ctx, cli_actor(), project)
        shown = [(c, q.campaign_progress(ctx, cli_actor(), c.id)) for c in found]
    finally:
        ctx.close()
    if not shown:
        click.echo(f"no campaigns in {project}")
    for c, progress in shown:
        done = sum(p.rated for p in progress)
        total = sum(p.assigned for p in progress)
        click.echo(f"{c.id}  {c.name}  {c.status}  {c.protocol['name']}  {done}/{total} "
                   f"ratings")


@campaign.command("show")
@click.argument("campaign_id", type=int)
@handle_errors
def campaign_show(campaign_id: int) -> None:
    """A campaign's settings and each rater's progress."""
    ctx = open_context()
    try:
        c = q.get_campaign(ctx, cli_actor(), campaign_id)
        progress = q.campaign_progress(ctx, cli_actor(), campaign_id)
    finally:
        ctx.close()
    click.echo(f"campaign {c.id} ({c.name}) in {c.project}: {c.status}, "
               f"{c.protocol['name']} protocol, overlap {c.overlap}")
    _table([["rater", "rated", "assigned"]] +
           [[p.rater, str(p.rated), str(p.assigned)] for p in progress])


@campaign.command("close")
@click.argument("campaign_id", type=int)
@handle_errors
def campaign_close(campaign_id: int) -> None:
    """Close a campaign: its ratings can no longer change."""
    ctx = open_context()
    try:
        c = q.close_campaign(ctx, cli_actor(), campaign_id)
    finally:
        ctx.close()
    click.echo(f"campaign {c.id} ({c.name}) closed")


@evaluation.command("rate")
@click.argument("campaign_id", type=int)
@click.argument("number", type=int)
@click.option("--score", "scores", multiple=True, required=True, metavar="ASPECT=VALUE",
              help="One aspect's score (repeat for every aspect of the protocol).")
@click.option("--comment", help="A note kept with the rating.")
@handle_errors
def rate(campaign_id: int, number: int, scores: tuple[str, ...], comment: str | None) -> None:
    """Rate item NUMBER of your items in a campaign as $CURATION_USER (saved at once; rating
    again changes it until the campaign closes)."""
    values: dict[str, str] = {}
    for pair in scores:
        aspect, sep, value = pair.partition("=")
        if not sep:
            raise CurationError(f"--score {pair!r}: write ASPECT=VALUE")
        values[aspect.strip()] = value.strip()
    ctx = open_context()
    actor = cli_actor()
    try:
        tasks = q.my_items(ctx, actor, campaign_id)
        if not 1 <= number <= len(tasks):
            raise CurationError(f"{actor.name} has {len(tasks)} items in campaign "
                                f"{campaign_id}; NUMBER must be 1 to {len(tasks)}")
        saved = q.rate(ctx, actor, tasks[number - 1].item_id, values, comment)
    finally:
        ctx.close()
    click.echo(f"{actor.name} rated item {number} of campaign {campaign_id}: "
               + ", ".join(f"{k} {v}" for k, v in saved.items()))


# ---- agreement and exports -------------------------------------------------------------------
@evaluation.command("agreement")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Also write the per-aspect table to this .csv or .json file.")
@handle_errors
def agreement(campaign_id: int, as_json: bool, out: str | None) -> None:
    """Mean score, Fleiss' kappa and Krippendorff's alpha per aspect; each rater vs the rest."""
    ctx = open_context()
    try:
        result = q.campaign_agreement(ctx, cli_actor(), campaign_id)
    finally:
        ctx.close()
    if out:
        _write(out, q.agreement_table(result), result.to_json())
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{result.campaign} ({result.protocol}): {result.rated_items} of "
               f"{result.items} items rated, overall mean {_f(result.overall_mean, 2)}")
    _table([["aspect", "mean", "fleiss_kappa", "alpha", "items", "paper_mean", "paper_kappa"]] +
           [[a.aspect, _f(a.mean, 2), _f(a.fleiss.kappa), _f(a.alpha), str(a.fleiss.units),
             _f(a.paper_mean, 2), _f(a.paper_kappa, 2)] for a in result.aspects])
    overall = result.reference.get("overall")
    if overall:  # PANDA reports one overall score per model
        click.echo("paper overall: " + ", ".join(f"{m} {v:g}" for m, v in overall))
    if result.reference.get("source"):
        click.echo(f"paper figures: {result.reference['source']}")
    _table([["rater", "shared", "kappa_vs_rest", "spearman_vs_rest"]] +
           [[r.rater, str(r.units), _f(r.kappa), _f(r.spearman)] for r in result.raters])


@evaluation.command("export")
@click.argument("campaign_id", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The .csv or .json file to write (one row per rating).")
@handle_errors
def export(campaign_id: int, out: str) -> None:
    """Write every rating of a campaign to a CSV or JSON file."""
    ctx = open_context()
    try:
        rows = q.ratings_table(ctx, cli_actor(), campaign_id)
    finally:
        ctx.close()
    _write(out, rows, rows)
    click.echo(f"wrote {len(rows)} ratings to {out}")


@evaluation.command("tags")
@click.option("--project", required=True, help="The project whose overlap copies to compare.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handle_errors
def tags(project: str, as_json: bool) -> None:
    """Agreement on strategy tags between the finished overlap copies of the same drafts."""
    ctx = open_context()
    try:
        result = adjudication.tag_agreement(ctx, cli_actor(), project)
    finally:
        ctx.close()
    fleiss = result.fleiss.kappa if result.fleiss else None
    if as_json:
        click.echo(json.dumps({
            "groups": result.groups, "unaligned": result.unaligned, "units": result.units,
            "multi_label": result.multi_label, "fleiss_kappa": fleiss, "alpha": result.alpha,
            "pairs": [{"a": p.a, "b": p.b, "units": p.units, "kappa": p.kappa}
                      for p in result.pairs], "per_strategy": result.per_strategy},
            ensure_ascii=False, indent=2))
        return
    click.echo(f"{result.groups} overlap groups, {result.units} decisions "
               f"({result.unaligned} groups skipped: different numbers of turns): "
               f"Fleiss' kappa {_f(fleiss)}, Krippendorff's alpha {_f(result.alpha)}")
    for p in result.pairs:
        click.echo(f"  {p.a} vs {p.b}: Cohen's kappa {_f(p.kappa)} over {p.units} decisions")


# ---- the judge -------------------------------------------------------------------------------
def _run_line(run: JudgeRunRecord) -> str:
    c = run.counts
    text = (f"judge run {run.id} {run.status}: {c.get('succeeded', 0)} scored, "
            f"{c.get('failed', 0)} failed, {c.get('pending', 0)} remaining "
            f"({run.model}, {run.prompt_version}, ${run.cost_usd:.4f})")
    if run.stop_reason and run.status != "finished":
        text += f"; {run.stop_reason}"
    return text


@evaluation.command("judge")
@click.argument("campaign_id", type=int, required=False)
@click.option("--model", help="The judge model (default: the project's judge_model or model).")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="Sampling temperature of the judge.")
@click.option("--budget-usd", type=float, help="Stop starting calls before this cost.")
@click.option("--concurrency", type=int, help="Model calls in flight at once (default 4).")
@click.option("--resume", type=int, metavar="RUN", help="Finish judge run RUN instead.")
@click.option("--retry-failed", is_flag=True, help="With --resume, also retry failed items.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for one model reply.")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Retries of a call after a timeout, 429 or 5xx.")
@handle_errors
def judge(campaign_id: int | None, model: str | None, temperature: float,
          budget_usd: float | None, concurrency: int | None, resume: int | None,
          retry_failed: bool, timeout: float, max_retries: int) -> None:
    """Score a campaign's items with the LLM judge at $OPENAI_BASE_URL ($OPENAI_API_KEY)."""
    ctx = open_context()
    actor = cli_actor()
    try:
        if resume is None:
            if campaign_id is None:
                raise CurationError("name a CAMPAIGN_ID (or --resume RUN)")
            run_id = judging.plan_judge(ctx, actor, campaign_id, model=model,
                                  temperature=temperature, budget_usd=budget_usd,
                                  concurrency=concurrency or 4)
        else:
            run_id = resume
            if budget_usd is not None:
                judging.set_judge_budget(ctx, actor, run_id, budget_usd)
        run = judging.judge_run(ctx, actor, run_id)
        config = LLMConfig.from_env(run.model, timeout_s=timeout, max_retries=max_retries,
                                    temperature=run.settings.get("temperature"))

        async def go() -> JudgeRunRecord:
            async with AsyncJudgeClient(config) as client:
                return await judging.run_judge(ctx, actor, run_id, client, concurrency=concurrency,
                                         retry_failed=retry_failed)
        try:
            run = asyncio.run(go())
        except KeyboardInterrupt:
            click.echo(_run_line(judging.judge_run(ctx, actor, run_id)), err=True)
            click.echo(f"Error: interrupted; resume with `curation eval judge --resume "
                       f"{run_id}`", err=True)
            sys.exit(130)
    finally:
        ctx.close()
    click.echo(_run_line(run))
    if run.counts.get("pending"):
        click.echo(f"resume with `curation eval judge --resume {run.id}`", err=True)


@evaluation.command("judge-report")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@handle_errors
def judge_report(run_id: int, as_json: bool) -> None:
    """A judge run beside the human ratings of the same items (Spearman per aspect)."""
    ctx = open_context()
    try:
        run = judging.judge_run(ctx, cli_actor(), run_id)
        rows = judging.judge_vs_human(ctx, cli_actor(), run_id)
        failures = judging.judge_failures(ctx, cli_actor(), run_id)
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps({"run": run_id, "model": run.model,
                               "prompt_version": run.prompt_version,
                               "aspects": [vars(r) for r in rows]}, indent=2))
        return
    click.echo(_run_line(run))
    _table([["aspect", "items", "judge_mean", "human_mean", "spearman"]] +
           [[r.aspect, str(r.items), _f(r.judge_mean, 2), _f(r.human_mean, 2),
             _f(r.spearman)] for r in rows])
    for f in failures[:5]:
        click.echo(f"item {f.item_id} failed: {f.error}", err=True)


@evaluation.command("compare")
@click.argument("campaign_id", type=int)
@click.option("--a", "group_a", required=True, help="The first group (the baseline).")
@click.option("--b", "group_b", required=True, help="The group compared with it.")
@click.option("--judge", "judge_run", type=int, metavar="RUN",
              help="Use judge run RUN's scores instead of the human ratings.")
@click.option("--confidence", type=float, default=0.95, show_default=True,
              help="Level of the bootstrap interval.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@handle_errors
def compare(campaign_id: int, group_a: str, group_b: str, judge_run: int | None,
            confidence: float, as_json: bool) -> None:
    """Two groups of a campaign side by side: means, B minus A, bootstrap interval."""
    ctx = open_context()
    try:
        result = q.compare_groups(ctx, cli_actor(), campaign_id, group_a, group_b,
                                  judge_run_id=judge_run, confidence=confidence)
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    how = "paired" if result.paired else "unpaired"
    click.echo(f"{result.campaign}: {group_b} vs {group_a} ({result.scorer}, {how}, "
               f"{confidence:.0%} bootstrap interval)")
    _table([["aspect", group_a, group_b, "diff", "interval"]] +
           [[a.aspect, _f(a.difference.mean_a, 2), _f(a.difference.mean_b, 2),
             _f(a.difference.diff, 2),
             f"[{_f(a.difference.low, 2)}, {_f(a.difference.high, 2)}]"]
            for a in result.aspects])
