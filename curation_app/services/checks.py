"""Use cases of the quality checks: run them over a project, read what they found, check one
dialogue as it is saved, look for duplicates in a file, and set a project's check rules.

A run reads the project's dialogues (discarded ones excepted: a lead discarding the copies is
how a duplicate cluster gets resolved), checks them outside any transaction, then stores the
findings in one: they replace the project's previous findings of the kinds that ran. Findings
are data: a run that finds faults succeeds; only a run that cannot check (a database or a
moderation endpoint that fails, a reference file that cannot be read) raises.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from curation_app import formats
from curation_app.checks import (
    KINDS,
    CheckConfig,
    DialogueChecker,
    DuplicateSearch,
    Finding,
    Reference,
    duplicate_findings,
    validate_settings,
)
from curation_app.checks.moderation import ModerationConfig, Moderator
from curation_app.domain import Dialogue, Role, Status
from curation_app.errors import InvalidInputError
from curation_app.presets import Vocabulary
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.store.checks_repository import CheckRunRecord
from curation_app.store.release_queries import BATCH, ReleaseQueries
from curation_app.wording import plural

CHECKED_STATUSES = tuple(s for s in Status if s != Status.DISCARDED)


@dataclass
class CheckSummary:
    project: str
    run_id: int
    dialogues: int
    kinds: tuple[str, ...]
    errors: int
    warnings: int
    by_kind: dict[str, int]
    by_rule: dict[str, dict[str, Any]]
    clusters: int
    seconds: float
    findings: list[Finding] = field(default_factory=list, repr=False)

    def line(self) -> str:
        kinds = ", ".join(f"{k} {self.by_kind.get(k, 0)}" for k in self.kinds)
        return (f"checked {self.dialogues} dialogues in {self.project}: "
                f"{plural(self.errors, 'error')}, {plural(self.warnings, 'warning')} ({kinds})")

    def to_json(self) -> dict[str, Any]:
        """What the run row keeps: the counts, not the findings."""
        return {"dialogues": self.dialogues, "kinds": list(self.kinds), "errors": self.errors,
                "warnings": self.warnings, "by_kind": self.by_kind, "by_rule": self.by_rule,
                "clusters": self.clusters, "seconds": round(self.seconds, 3)}


def parse_only(only: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"format,lint"`` or ``["dedup"]`` -> the kinds of check to run, in canonical order."""
    if only is None:
        return KINDS
    names = [p.strip() for p in (only.split(",") if isinstance(only, str) else only)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in KINDS]
    if unknown or not names:
        raise InvalidInputError(f"unknown check {', '.join(map(repr, unknown)) or '(none)'}; "
                                f"choose from {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in names)


def _summarise(project: str, run_id: int, dialogues: int, kinds: tuple[str, ...],
               findings: list[Finding], seconds: float) -> CheckSummary:
    by_rule: dict[str, dict[str, Any]] = {}
    for f in findings:
        entry = by_rule.setdefault(f.rule, {"severity": f.severity, "count": 0})
        entry["count"] += 1
    kind_counts = Counter(f.kind for f in findings)
    return CheckSummary(
        project=project, run_id=run_id, dialogues=dialogues, kinds=kinds,
        errors=sum(1 for f in findings if f.severity == "error"),
        warnings=sum(1 for f in findings if f.severity == "warning"),
        by_kind={k: kind_counts.get(k, 0) for k in kinds},
        by_rule=dict(sorted(by_rule.items())),
        clusters=len({f.cluster for f in findings if f.cluster is not None}),
        seconds=seconds, findings=findings)


def _references(paths: Sequence[tuple[str | Path, str]],
                vocab: Vocabulary) -> list[Reference]:
    refs: list[Reference] = []
    for path, fmt in paths:
        result = formats.read_file(path, fmt, vocab)
        name = Path(path).name
        for parsed in result.records:
            ident = f" ({parsed.record_id})" if parsed.record_id else ""
            refs.append(Reference(f"record {parsed.index}{ident} of {name}", parsed.dialogue))
    return refs


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a run lasts. A run makes millions of small
    objects (rows, decoded turns, dialogues, findings) that reference counting frees batch by
    batch. The CLI already raises the collector's threshold for every command (cli/base.py),
    but a run started from the app's server process meets the default one, under which the
    collector walks each batch's objects again and again (measured in-process at 10k: reading
    the batches 2.7 s of CPU with it, 1.4 s without). It is switched back on after (only if
    it was on), and then collects whatever cycles the run left."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_checks(ctx: AppContext, actor: Actor, project: str,
               only: str | Iterable[str] | None = None, *,
               against: Sequence[tuple[str | Path, str]] = (),
               moderator: Moderator | None = None, batch: int = BATCH) -> CheckSummary:
    """Run the checks (all, or the kinds in ``only``) over ``project`` and store the findings.

    ``against`` lists earlier export or release files, as (path, format), that the project's
    dialogues must not duplicate. The moderation endpoint configured in the environment (see
    :mod:`curation_app.checks.moderation`) joins the safety screen unless ``moderator`` is given.
    ``batch``: dialogues read and checked at a time.
    """
    require(actor, "checks.run", project=project)
    with _collector_paused():
        return _run_checks(ctx, actor, project, parse_only(only), against, moderator, batch)


def _run_checks(ctx: AppContext, actor: Actor, project: str, kinds: tuple[str, ...],
                against: Sequence[tuple[str | Path, str]], moderator: Moderator | None,
                batch: int) -> CheckSummary:
    started = time.perf_counter()
    own = None
    if "safety" in kinds and moderator is None:
        settings = ModerationConfig.from_env()
        own = moderator = Moderator(settings) if settings else None
    # The project is read in keyset batches and checked batch by batch, so memory stays flat
    # as it grows: the near-duplicate search keeps numpy sketches of each batch and reads the
    # texts of its candidate pairs back at the end. Only the moderation endpoint holds the
    # dialogues whole.
    moderated = "safety" in kinds and moderator is not None
    findings: list[Finding] = []
    held: list[Dialogue] = []
    checked = 0
    try:
        with ctx.uow() as uow:
            record = uow.repo.get_project(project)
            vocab = record.vocabulary
            config = CheckConfig.resolve(vocab.checks, record.settings)
            # privacy findings a lead marked as false alarms are not reported again
            dismissed = [d.key() for d in uow.security.dismissals(record.id)]
            per_dialogue = [k for k in kinds if k != "dedup"]
            checker = (DialogueChecker(vocab, config, per_dialogue, dismissed)
                       if per_dialogue else None)
            search = (DuplicateSearch(threshold=config.dedup_threshold,
                                      language=vocab.language)
                      if "dedup" in kinds else None)
            ids: list[int] = []
            seeds: list[bool] = []
            queries = ReleaseQueries(uow.repo.session)
            # Only the jsonl writer puts the provenance in a record, so only its format check
            # reads it; every other check leaves the column (a draft's whole prompt) unread.
            provenance = "format" in kinds and vocab.export_format == "jsonl"
            for chunk in queries.dialogue_batches(record, CHECKED_STATUSES,
                                                  provenance=provenance, batch=batch):
                checked += len(chunk)
                if checker is not None:
                    findings.extend(checker.check_many(chunk))
                if search is not None:
                    search.add([[t.text for t in d.turns] for d in chunk],
                               [[t.role == Role.SUPPORTER for t in d.turns] for d in chunk])
                    ids.extend(d.id or 0 for d in chunk)
                    seeds.extend(d.is_seed for d in chunk)
                if moderated:
                    held.extend(chunk)
            if search is not None:
                refs = _references(against, vocab) if against else []
                if refs:
                    search.add([[t.text for t in r.dialogue.turns] for r in refs],
                               [[t.role == Role.SUPPORTER for t in r.dialogue.turns]
                                for r in refs])
                n = len(ids)

                def texts_of(indices: list[int]) -> list[list[str]]:
                    stored = queries.turn_texts([ids[i] for i in indices if i < n], batch)
                    return [stored[ids[i]] if i < n
                            else [t.text for t in refs[i - n].dialogue.turns]
                            for i in indices]

                result = search.result(texts_of)
                findings.extend(duplicate_findings(result, config, ids, seeds,
                                                   [r.label for r in refs]))
        if moderator is not None and "safety" in kinds:
            findings.extend(moderator.check(held, vocab, config))
    finally:
        if own is not None:
            own.close()
    findings.sort(key=lambda f: (f.dialogue_id or 0, -1 if f.turn is None else f.turn, f.rule))

    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        run_id = uow.checks.start_run(record, actor.name, kinds)
        uow.checks.replace_findings(record, run_id, kinds, findings)
        summary = _summarise(project, run_id, checked, kinds, findings,
                             time.perf_counter() - started)
        uow.checks.finish_run(run_id, summary.to_json())
        uow.commit()
    return summary


def latest_findings(ctx: AppContext, project: str, dialogue_id: int | None = None,
                    rule: str | None = None, severity: str | None = None,
                    kind: str | None = None) -> list[Finding]:
    """The stored findings of the project's newest run of each kind, filtered."""
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        return uow.checks.findings(record, dialogue_id=dialogue_id, rule=rule,
                                   severity=severity, kind=kind)


def check_runs(ctx: AppContext, project: str, limit: int = 20) -> list[CheckRunRecord]:
    """The project's check runs, newest first, with their summaries."""
    with ctx.uow() as uow:
        return uow.checks.runs(uow.repo.get_project(project), limit)


def check_dialogue(ctx: AppContext, dialogue_id: int,
                   dialogue: Dialogue | None = None) -> list[Finding]:
    """Format, lint and the local safety screen for one dialogue, as stored or, when
    ``dialogue`` is given, as the editor holds it before saving. Stores nothing; fast enough
    to call on every save (no model call, no corpus-wide duplicate search)."""
    with ctx.uow() as uow:
        stored = uow.repo.get_dialogue(dialogue_id)
        record = uow.repo.get_project(stored.project or "")
        dismissed = [d.key() for d in uow.security.dismissals(record.id, dialogue_id)]
    target = dialogue if dialogue is not None else stored
    if target.id is None:
        target = replace(target, id=dialogue_id)
    config = CheckConfig.resolve(record.vocabulary.checks, record.settings)
    return DialogueChecker(record.vocabulary, config, dismissed=dismissed).check(target)


def configure_checks(ctx: AppContext, actor: Actor, project: str, *,
                     rules: Mapping[str, Mapping[str, Any]] | None = None,
                     dedup_threshold: float | None = None,
                     bounds: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Change a project's check settings: switch rules on or off, change their severity
    (``{"lint.roles_alternate": {"enabled": False}}``), set the duplicate threshold or the
    length bounds. Returns the project's check settings as stored."""
    require(actor, "checks.configure", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        settings = dict(record.settings)
        checks = dict(settings.get("checks") or {})
        if rules:
            merged = {k: dict(v) for k, v in (checks.get("rules") or {}).items()}
            for rule_id, change in rules.items():
                merged.setdefault(rule_id, {}).update(change)
            checks["rules"] = merged
        if dedup_threshold is not None:
            checks["dedup_threshold"] = dedup_threshold
        if bounds:
            checks.update(bounds)
        validate_settings(checks)
        settings["checks"] = checks
        uow.repo.set_settings(record.id, settings)
        uow.commit()
    return checks


# ---- the Checks page: findings a page at a time, filtered in the database ----------------------
@dataclass(frozen=True)
class FindingsPage:
    matching: int  # findings that pass the filters
    stored: int  # findings stored for the project (latest run of each kind)
    per_rule: dict[str, int]  # matching findings per rule, most first
    items: list[Finding]  # one page of the matching findings


def findings_page(ctx: AppContext, actor: Actor, project: str, *,
                  kinds: Sequence[str] = (), rules: Sequence[str] = (),
                  severities: Sequence[str] = (), text: str = "", limit: int = 200,
                  offset: int = 0) -> FindingsPage:
    """One page of the project's stored findings, filtered and counted by the database (a
    project of 11k dialogues can hold tens of thousands of findings)."""
    require(actor, "checks.run", project=project)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        matching, stored, per_rule, items = uow.checks.findings_page(
            record, kinds=kinds, rules=rules, severities=severities, text=text.strip(),
            limit=limit, offset=offset)
    return FindingsPage(matching, stored, per_rule, items)


def duplicate_clusters(ctx: AppContext, actor: Actor, project: str,
                       limit: int = 20) -> tuple[int, dict[int, list[Finding]]]:
    """How many near-duplicate clusters are stored, and the members of the first ``limit``."""
    require(actor, "checks.run", project=project)
    with ctx.uow() as uow:
        total, found = uow.checks.clusters(uow.repo.get_project(project), limit)
    clusters: dict[int, list[Finding]] = {}
    for f in found:
        if f.cluster is not None and f.dialogue_id is not None:
            clusters.setdefault(f.cluster, []).append(f)
    return total, clusters
