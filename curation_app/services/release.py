"""Cutting a release: select, check, find near-duplicates, split, write, describe.

::

    build_release   the whole build (leads only); stages reported through ``on_progress``
    verify_release  re-check a release folder's hashes and schemas
    diff_releases   dialogues added, removed, changed between two release folders
    list_releases   a project's release folders with their manifests

The build reads the database in batches and writes nothing to it except the check run it may
start: the per-dialogue checks (every kind but the corpus-wide duplicate search) run again
unless the latest run of that kind is newer than the last change to any dialogue of the
project; then every finding stored for the project's latest run of each kind that falls on a
dialogue about to ship, with the severity the project's rules give it now, blocks the release
if it is an error, whatever rule it comes from (format, lint, safety, or kinds added later).
The duplicate search runs over the selection itself.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curation_app import __version__
from curation_app.checks import (
    KINDS,
    RULES,
    CheckConfig,
    DuplicateSearch,
    Finding,
    duplicate_findings,
)
from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import InvalidInputError, ReleaseBlockedError, SelectionChangedError
from curation_app.release import card as card_module
from curation_app.release import selection, splits, writer
from curation_app.release.records import system_prompt
from curation_app.release.verify import ReleaseDiff, VerifyResult, diff, read_manifest, verify
from curation_app.services import checks as check_services
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.stats import ChangeStats, CorpusCounter
from curation_app.store.release_queries import ReleaseQueries, SelectionRow, stored_turns
from curation_app.store.repository import ProjectRecord
from curation_app.wording import plural

DEFAULT_OUT = "exports"


def exports_dir() -> Path:
    """Where the app writes releases: $CURATION_EXPORTS_DIR, else ``exports`` (as the CLI)."""
    return Path(os.environ.get("CURATION_EXPORTS_DIR") or DEFAULT_OUT)

STAGES = ("select", "checks", "duplicates", "split", "describe", "native", "chat", "parquet",
          "card", "manifest", "rename")
Progress = Callable[[str, int, int], None]  # stage, its number (1-based), how many stages


@dataclass
class ReleaseSummary:
    project: str
    version: str
    path: Path
    counts: dict[str, int]
    copies_left_out: int
    clusters: int
    warnings: int
    seconds: dict[str, float] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return (f"released {self.project} {self.version} to {self.path}: "
                f"{sum(self.counts.values())} dialogues ({counts}); "
                f"{self.copies_left_out} overlap copies left out, "
                f"{self.clusters} near-duplicate clusters kept within one split, "
                f"{plural(self.warnings, 'warning')} listed in the card's limitations")


def _statuses(values: Sequence[str] | None) -> list[Status]:
    out = []
    for value in values or ["approved"]:
        try:
            status = Status(value)
        except ValueError:
            raise InvalidInputError(f"--include-status {value!r} is not a status; choose from "
                                    f"{', '.join(s.value for s in Status)}") from None
        if status == Status.DISCARDED:
            raise InvalidInputError("discarded dialogues never go into a release")
        out.append(status)
    return out


# Dialogues read at a time by the build's passes over its selection.
BATCH = 1000


@dataclass
class _Scan:
    """What the build keeps of its selection between its passes: a few numbers a dialogue,
    and the counts behind the card's statistics."""
    counter: CorpusCounter
    topics: dict[int, str | None] = field(default_factory=dict)
    # draft id -> the ids of the seeds it was prompted with (seed families)
    families: dict[int, list[int]] = field(default_factory=dict)
    changes: ChangeStats = field(default_factory=lambda: ChangeStats(0, 0, 0, 0, 0, 0, 0))
    generated: int = 0
    models: Counter[str] = field(default_factory=Counter)
    templates: Counter[str] = field(default_factory=Counter)
    costs: list[float] = field(default_factory=list)
    tokens: Counter[str] = field(default_factory=Counter)

    @property
    def cost(self) -> float:
        return sum(self.costs)  # summed in selection order, as the whole list was

    def add(self, d: SelectionRow, draft: list[Turn] | None) -> None:
        """One dialogue of the selection, in selection order; ``draft``: its revision 0 if
        people revised it."""
        self.topics[d.id] = d.topic
        seeds = d.provenance.get("seed_ids") or []
        ids = [int(s) for s in seeds if isinstance(s, int | str) and str(s).isdigit()]
        if ids:
            self.families[d.id] = ids
        # the values Dialogue.turns would hold: role as stored, strategies or []
        self.counter.add(d.topic, d.emotion,
                         [(t["role"], t["text"], t.get("strategies") or []) for t in d.turns])
        if draft is None:
            self.changes.add_unchanged(len(d.turns))
        else:
            self.changes.add_pair(draft, stored_turns(d.turns))
        if d.source == Source.GENERATED:
            provenance = d.provenance
            self.generated += 1
            if provenance.get("model"):
                self.models[str(provenance.get("model"))] += 1
            if provenance.get("template"):
                self.templates[str(provenance.get("template"))] += 1
            self.costs.append(float(provenance.get("cost_usd") or 0))
            self.tokens.update({k: int(v) for k, v in (provenance.get("usage") or {}).items()
                                if isinstance(v, int)})


def _scan(ctx: AppContext, record: ProjectRecord, chosen: list[int], config: CheckConfig,
          ) -> tuple[list[Finding], list[list[int]], _Scan]:
    """The near-duplicate findings over the selection (``chosen``, in selection order), its
    near-duplicate clusters (ids), and its counts, from one pass in batches: the duplicate
    search keeps sketches and reads back the texts of the pairs it confirms, as
    ``check --only dedup`` does (the same clusters as ``dedup_findings`` over the list)."""
    vocab = record.vocabulary
    search = DuplicateSearch(threshold=config.dedup_threshold, language=vocab.language,
                             turns=False)
    scan = _Scan(CorpusCounter(vocab.language))
    seeds: list[bool] = []
    with ctx.uow() as uow:
        queries = ReleaseQueries(uow.repo.session)
        supporter = str(Role.SUPPORTER)
        for batch in queries.selection_rows(record, chosen, batch=BATCH):
            search.add([[t["text"] for t in d.turns] for d in batch],
                       [[t["role"] == supporter for t in d.turns] for d in batch])
            drafts = queries.drafts([d.id for d in batch], BATCH)
            for d in batch:
                seeds.append(d.is_seed)
                scan.add(d, drafts.get(d.id))

        def texts_of(indices: list[int]) -> list[list[str]]:
            stored = queries.turn_texts([chosen[i] for i in indices], BATCH)
            return [stored[chosen[i]] for i in indices]

        result = search.result(texts_of)
    found = duplicate_findings(result, config, chosen, seeds, [])
    clusters = [[chosen[m.item] for m in c.members] for c in result.clusters
                if c.level == "dialogue"]
    return found, clusters, scan


def _audit(ctx: AppContext, actor: Actor, action: str, target: Path,
           detail: dict[str, Any]) -> None:
    """Releases built and refused go to the audit log, like exports and backups."""
    with ctx.uow() as uow:
        uow.security.audit(action, actor.name, str(target), detail=detail)
        uow.commit()


def _stale_kinds(ctx: AppContext, project: str) -> list[str]:
    """The per-dialogue kinds of check (every kind but the corpus-wide duplicate search,
    which the build runs over its own selection) whose latest run is older than the
    project's last change to a dialogue, or that never ran: those run again."""
    kinds = [k for k in KINDS if k != "dedup"]
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        changed = ReleaseQueries(uow.repo.session).last_change(record)
        runs = uow.checks.runs(record, limit=50)
    fresh: set[str] = set()
    for run in runs:
        if run.finished_at is not None and (changed is None or run.finished_at >= changed):
            fresh.update(run.kinds)
    return [k for k in kinds if k not in fresh]


def build_release(ctx: AppContext, actor: Actor, project: str, version: str, *,
                  out: str | Path = DEFAULT_OUT, ratios: str | Sequence[float] = (0.8, 0.1, 0.1),
                  seed: int = 0, statuses: Sequence[str] | None = None,
                  license_id: str | None = None,
                  on_progress: Progress | None = None) -> ReleaseSummary:
    """Build release ``version`` of ``project`` under ``out/<project>/<version>``."""
    require(actor, "release.build", project=project)
    wanted = _statuses(statuses)
    shares = splits.parse_ratios(ratios)
    if license_id is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.\-+]*", license_id):
        raise InvalidInputError(f"--license {license_id!r} is not a license id such as "
                                "cc-by-4.0, mit or other")
    target = writer.target_dir(out, project, version)
    writer.refuse_existing(target)  # before any work: a version is written once
    timings: dict[str, float] = {}
    current: list[Any] = [None, time.perf_counter()]  # the stage running, when it started

    def stage(name: str | None) -> None:
        now = time.perf_counter()
        if current[0] is not None:
            timings[current[0]] = round(now - current[1], 3)
        current[:] = [name, now]
        if name is not None and on_progress is not None:
            on_progress(name, STAGES.index(name) + 1, len(STAGES))

    # ---- select -----------------------------------------------------------------------------
    # Only ids here: the overlap groups are decided from their members' labels (every other
    # candidate is a group of one), and the selection is ordered as pick_members orders it,
    # by each group's original. The dialogues are read in that order, a batch at a time, by
    # the passes below, so memory does not grow with the corpus.
    stage("select")
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        queries = ReleaseQueries(uow.repo.session)
        picked = selection.pick_members(queries.overlap_members(record, wanted))
        left_out = set(picked.copies_left_out)
        chosen = [i for _, i in sorted((root or i, i) for i, root
                                       in queries.candidates(record, wanted)
                                       if i not in left_out)]
        # The passes below read the selection again, each in its own transaction; a
        # dialogue changed in between is caught before the release appears (see unchanged).
        seen = queries.last_change_of(chosen)
    vocab = record.vocabulary
    if not chosen:
        raise InvalidInputError(f"project {project} has no dialogues in status "
                                f"{', '.join(map(str, wanted))} to release")
    shipping = set(chosen)

    # ---- checks -----------------------------------------------------------------------------
    stage("checks")
    config = CheckConfig.resolve(vocab.checks, record.settings)
    stale = _stale_kinds(ctx, project)
    if stale:
        check_services.run_checks(ctx, actor, project, only=stale)
    # Severities as the project sets them now (a lead may have made a rule an error since).
    # Findings of rules this version does not know (a newer check wrote them) keep theirs.
    # Only those on shipped dialogues are kept (the stored ones may be many more).
    with ctx.uow() as uow:
        shipped = [f for f in uow.checks.findings(uow.repo.get_project(project))
                   if f.dialogue_id in shipping and f.kind != "dedup"]
    mine = config.keep(f for f in shipped if f.rule in config.rules)
    mine += [f for f in shipped if f.rule not in config.rules]

    # ---- duplicates over the selection, and what the card counts -----------------------------
    # One pass over the selection: each batch is sketched for the duplicate search and counted
    # for the statistics, the human changes and the generation figures; what stays is a few
    # numbers a dialogue (no turns).
    stage("duplicates")
    found, clusters, scan = _scan(ctx, record, chosen, config)
    mine += found
    errors = [f for f in mine if f.severity == "error"]
    if errors:
        per_rule: dict[str, set[int]] = {}
        for f in errors:
            per_rule.setdefault(f.rule, set()).add(f.dialogue_id or 0)
        rules = ", ".join(f"{rule} in {plural(len(ids), 'dialogue')}"
                          for rule, ids in sorted(per_rule.items()))
        listed = "\n".join(
            f"  dialogue {f.dialogue_id}" + (f" turn {f.turn + 1}" if f.turn is not None else "")
            + f": {f.rule}: {f.message}" for f in errors[:20])
        more = f"\n  … {len(errors) - 20} more" if len(errors) > 20 else ""
        _audit(ctx, actor, "release.refused", target,
               {"project": project, "version": version, "errors": len(errors),
                "rules": sorted(per_rule)})
        raise ReleaseBlockedError(
            f"release refused: {plural(len(errors), 'error-level finding')} on dialogues it "
            f"would ship ({rules}); fix them, discard the dialogues, or set the rules to "
            f"warning:\n{listed}{more}", errors)
    warnings = Counter(f.rule for f in mine if f.severity == "warning")
    warned: dict[str, set[int]] = {}
    for f in mine:
        if f.severity == "warning" and f.dialogue_id is not None:
            warned.setdefault(f.rule, set()).add(f.dialogue_id)

    # ---- split ------------------------------------------------------------------------------
    stage("split")
    split = splits.assign_splits(scan.topics, ratios=shares, seed=seed,
                                 clusters=clusters, families=scan.families)

    # ---- what goes into the card and the manifest ----------------------------------------
    stage("describe")
    with ctx.uow() as uow:
        annotators, reviewers, revisions = ReleaseQueries(uow.repo.session).people(chosen)
    changes = scan.changes
    stats = scan.counter.result(strategies=vocab.strategy_names, topics=vocab.topics,
                                role_names={str(r): vocab.role_display(r) for r in vocab.roles})
    models, templates, tokens = scan.models, scan.templates, scan.tokens
    cost = scan.cost
    generated = scan.generated
    prompt = system_prompt(vocab, record.settings)
    limitations = [f"{len(warned[rule])} dialogues carry a {rule} warning "
                   f"({plural(n, 'finding')}: {RULES[rule].description})"
                   if rule in RULES else f"{len(warned[rule])} dialogues carry a {rule} warning"
                   for rule, n in sorted(warnings.items(), key=lambda kv: (-kv[1], kv[0]))]
    if clusters:
        limitations.append(f"{len(clusters)} clusters of near-duplicate dialogues "
                           f"({sum(map(len, clusters))} dialogues) ship, each within one split")
    for name, asked in zip(splits.SPLITS, shares, strict=True):
        if abs(split.reached[name] - asked) > 0.02:
            limitations.append(f"the {name} split holds {split.reached[name]:.1%} of the "
                               f"dialogues (asked {asked:.0%}): groups that must stay "
                               f"together (largest {split.largest_group}) do not divide evenly")
    if not generated:
        limitations.append("no dialogue has a machine draft: the human-change figures "
                           "compare imported text with its edits")
    counts = {s: len(split.ids[s]) for s in splits.SPLITS}
    check_summary = {"errors": 0, "warnings": sum(warnings.values()),
                     "warnings_by_rule": dict(sorted(warnings.items())),
                     "kinds": list(KINDS), "near_duplicate_clusters": len(clusters)}
    manifest: dict[str, Any] = {
        "format": "curation-release", "format_version": 1,
        "project": project, "version": version, "preset": vocab.preset,
        "language": vocab.language, "system_prompt": prompt,
        "strategies": list(vocab.strategy_names),
        "splits": {s: {"ids": [str(i) for i in split.ids[s]], "count": counts[s]}
                   for s in splits.SPLITS},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "curation-app", "version": __version__},
        "native_format": vocab.export_format,
        "license": license_id or record.settings.get("license") or card_module.LICENSE_DEFAULT,
        "selection": {"statuses": [str(s) for s in wanted],
                      "overlap_policy": "adjudicated copy, else the original",
                      "selected": len(chosen),
                      "overlap_copies_left_out": picked.copies_left_out},
        "split_settings": {"ratios": list(shares), "seed": seed, "stratify": "topic",
                           "groups": split.groups, "largest_group": split.largest_group,
                           "reached": split.reached,
                           "joined_by_near_duplicates": split.joined_by_duplicates,
                           "joined_by_seed_families": split.joined_by_seeds},
        "checks": check_summary,
        "models": dict(models), "templates": dict(templates),
        "costs": {"usd": round(cost, 6), "tokens": dict(tokens)},
        "people": {"annotators": annotators, "reviewers": reviewers, "revisions": revisions},
        "human_changes": changes.to_json(),
        "statistics": stats.figures,
    }
    quality = quality_markdown(ctx, actor, project)
    info = {
        "quality": quality,
        "project": project, "version": version, "title": vocab.title or project,
        "language": vocab.language, "license": license_id or record.settings.get("license"),
        "counts": counts, "system_prompt": prompt, "native_format": vocab.export_format,
        "models": dict(models), "templates": dict(templates), "cost_usd": cost,
        "generated": generated, "annotators": annotators, "reviewers": reviewers,
        "revisions": revisions, "topic_label": vocab.topic_label,
        "selection": {"statuses": [str(s) for s in wanted],
                      "overlap_copies_left_out": len(picked.copies_left_out)},
        "split": {"ratios": shares, "seed": seed, "near_duplicate_clusters": len(clusters)},
        "checks": check_summary, "limitations": limitations,
    }

    def progress(name: str) -> None:
        stage(name)

    def read(ids: Sequence[int]) -> Iterator[list[Dialogue]]:
        with ctx.uow() as uow:
            yield from ReleaseQueries(uow.repo.session).dialogues_by_id(record, ids,
                                                                        batch=BATCH)

    def unchanged() -> None:
        """Checked and counted is what ships: refuse the build if a dialogue of the selection
        changed or went since it was selected (its checks saw the older text)."""
        with ctx.uow() as uow:
            moved = ReleaseQueries(uow.repo.session).changed_since(chosen, seen)
        if moved:
            shown = ", ".join(map(str, moved[:10])) + (" …" if len(moved) > 10 else "")
            _audit(ctx, actor, "release.refused", target,
                   {"project": project, "version": version, "changed": len(moved)})
            raise SelectionChangedError(
                f"release not written: {plural(len(moved), 'dialogue')} it would ship changed "
                f"while it was built ({shown}); nothing was written, build it again", moved)

    written = writer.write_release(
        target, read, split.ids, vocab, prompt,
        card=lambda digest: card_module.render_card(info, stats, changes, digest),
        manifest=manifest,
        progress=progress, before_rename=unchanged)
    stage(None)
    _audit(ctx, actor, "release", target,
           {"project": project, "version": version, "counts": counts,
            "statuses": [str(s) for s in wanted]})
    return ReleaseSummary(project=project, version=version, path=target, counts=counts,
                          copies_left_out=len(picked.copies_left_out), clusters=len(clusters),
                          warnings=sum(warnings.values()), seconds=timings, manifest=written)


def quality_markdown(ctx: AppContext, actor: Actor, project: str) -> str | None:
    """The project's latest quality figures for the card: the newest closed rating campaign's
    means and agreement, and the newest LLM judge run beside the human ratings of its items;
    None when there is neither."""
    from curation_app.services import judging, quality

    parts = []
    figures = quality.latest_figures(ctx, actor, project)
    if figures:
        parts.append(quality.figures_markdown(figures))
    with ctx.uow() as uow:
        campaigns = {c.id: c for c in uow.quality.campaigns(uow.repo.get_project(project))}
        runs = [r for cid in campaigns for r in uow.quality.judge_runs(cid)]
    if runs:
        run = max(runs, key=lambda r: r.id)  # ids grow with time; created_at may tie
        rows = judging.judge_vs_human(ctx, actor, run.id)
        lines = [f"LLM judge (run {run.id}, {run.model}, prompt {run.prompt_version}, campaign "
                 f"{campaigns[run.campaign_id].name}, {run.counts.get('succeeded', 0)} items "
                 f"scored, {run.counts.get('failed', 0)} failed):", "",
                 "| aspect | items | judge mean | human mean | Spearman |",
                 "| --- | --- | --- | --- | --- |"]
        for row in rows:
            cells = [row.aspect, row.items, row.judge_mean, row.human_mean, row.spearman]
            lines.append("| " + " | ".join("—" if c is None else str(c) for c in cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts) if parts else None


def verify_release(folder: str | Path) -> VerifyResult:
    return verify(folder)


def diff_releases(a: str | Path, b: str | Path) -> ReleaseDiff:
    return diff(a, b)


@dataclass
class ReleaseInfo:
    path: Path
    version: str
    created_at: str
    counts: dict[str, int]
    card: str


def list_releases(project: str, out: str | Path = DEFAULT_OUT) -> list[ReleaseInfo]:
    """The project's releases under ``out``, newest version first."""
    found = []
    for folder in reversed(writer.list_releases(out, project)):
        manifest = read_manifest(folder)
        card_path = folder / "README.md"
        found.append(ReleaseInfo(
            path=folder, version=folder.name, created_at=str(manifest.get("created_at", "")),
            counts={s: int(v.get("count", 0)) for s, v in manifest.get("splits", {}).items()},
            card=card_path.read_text(encoding="utf-8") if card_path.exists() else ""))
    return found
