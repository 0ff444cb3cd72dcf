"""SQL for check runs and findings: start a run, replace a project's findings, read them back.

Only the newest run of each kind of check (format, lint, dedup, safety) keeps findings: storing
a run's findings first deletes the project's findings of the kinds that run covered, in the
same transaction, so a reader sees the old set or the new one, never a mix. Run rows stay, with
their summaries, as the project's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from curation_app.store.models import CheckFindingRow, CheckRunRow, utcnow
from curation_app.store.repository import ProjectRecord

if TYPE_CHECKING:
    # Imported where findings are made: importing it loads the whole ``checks`` package
    # (numpy, the screens), which every command would pay at start-up through the unit of work.
    from curation_app.checks.findings import Finding


@dataclass(frozen=True)
class CheckRunRecord:
    id: int
    project_id: int
    started_by: str
    kinds: list[str]
    summary: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None


def _run_record(row: CheckRunRow) -> CheckRunRecord:
    return CheckRunRecord(id=row.id, project_id=row.project_id, started_by=row.started_by,
                          kinds=list(row.kinds or []), summary=dict(row.summary or {}),
                          created_at=row.created_at, finished_at=row.finished_at)


class CheckRepository:
    def __init__(self, session: Session):
        self.session = session

    def start_run(self, project: ProjectRecord, started_by: str, kinds: Sequence[str]) -> int:
        row = CheckRunRow(project_id=project.id, started_by=started_by, kinds=list(kinds),
                          summary={}, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return row.id

    def replace_findings(self, project: ProjectRecord, run_id: int, kinds: Sequence[str],
                         findings: Sequence[Finding]) -> int:
        """Drop the project's stored findings of ``kinds``; store ``findings`` under
        ``run_id``. Returns how many were stored."""
        self.session.execute(
            delete(CheckFindingRow).where(CheckFindingRow.project_id == project.id,
                                          CheckFindingRow.kind.in_(list(kinds)))
            .execution_options(synchronize_session=False))
        rows = [
            {"run_id": run_id, "project_id": project.id, "dialogue_id": f.dialogue_id,
             "kind": f.kind, "rule": f.rule, "severity": f.severity, "turn": f.turn,
             "path": f.path[:300], "message": f.message, "category": f.category,
             "cluster": f.cluster, "score": f.score}
            for f in findings if f.dialogue_id is not None
        ]
        if rows:
            self.session.execute(insert(CheckFindingRow), rows)
        return len(rows)

    def finish_run(self, run_id: int, summary: dict[str, Any]) -> None:
        self.session.execute(update(CheckRunRow).where(CheckRunRow.id == run_id)
                             .values(summary=summary, finished_at=utcnow()))

    def findings(self, project: ProjectRecord, *, dialogue_id: int | None = None,
                 rule: str | None = None, severity: str | None = None,
                 kind: str | None = None) -> list[Finding]:
        query = select(CheckFindingRow).where(CheckFindingRow.project_id == project.id)
        if dialogue_id is not None:
            query = query.where(CheckFindingRow.dialogue_id == dialogue_id)
        if rule is not None:
            query = query.where(CheckFindingRow.rule == rule)
        if severity is not None:
            query = query.where(CheckFindingRow.severity == severity)
        if kind is not None:
            query = query.where(CheckFindingRow.kind == kind)
        query = query.order_by(CheckFindingRow.dialogue_id, CheckFindingRow.turn.nulls_first(),
                               CheckFindingRow.id)
        return [_finding(r) for r in self.session.scalars(query)]

    def runs(self, project: ProjectRecord, limit: int = 20) -> list[CheckRunRecord]:
        rows = self.session.scalars(
            select(CheckRunRow).where(CheckRunRow.project_id == project.id)
            .order_by(CheckRunRow.id.desc()).limit(limit))
        return [_run_record(r) for r in rows]

    # ---- one page of findings, filtered in the database (the Checks page) -------------------
    def _filtered(self, project: ProjectRecord, kinds: Sequence[str], rules: Sequence[str],
                  severities: Sequence[str], text: str) -> Any:
        where = [CheckFindingRow.project_id == project.id]
        if kinds:
            where.append(CheckFindingRow.kind.in_(list(kinds)))
        if rules:
            where.append(CheckFindingRow.rule.in_(list(rules)))
        if severities:
            where.append(CheckFindingRow.severity.in_(list(severities)))
        if text:
            where.append(func.lower(CheckFindingRow.message).contains(text.lower(),
                                                                      autoescape=True))
        return where

    def findings_page(self, project: ProjectRecord, *, kinds: Sequence[str] = (),
                      rules: Sequence[str] = (), severities: Sequence[str] = (),
                      text: str = "", limit: int = 200,
                      offset: int = 0) -> tuple[int, int, dict[str, int], list[Finding]]:
        """(findings matching, findings stored, matches per rule, one page of the matches)."""
        where = self._filtered(project, kinds, rules, severities, text)
        per_rule = {rule: int(n) for rule, n in self.session.execute(
            select(CheckFindingRow.rule, func.count()).where(*where)
            .group_by(CheckFindingRow.rule).order_by(func.count().desc()))}
        stored = int(self.session.scalar(
            select(func.count()).select_from(CheckFindingRow)
            .where(CheckFindingRow.project_id == project.id)) or 0)
        rows = self.session.scalars(
            select(CheckFindingRow).where(*where)
            .order_by(CheckFindingRow.dialogue_id, CheckFindingRow.turn.nulls_first(),
                      CheckFindingRow.id)
            .offset(offset).limit(limit))
        return sum(per_rule.values()), stored, per_rule, [_finding(r) for r in rows]

    def clusters(self, project: ProjectRecord, limit: int) -> tuple[int, list[Finding]]:
        """(how many duplicate clusters, the findings of the first ``limit`` of them)."""
        base = (select(CheckFindingRow.cluster)
                .where(CheckFindingRow.project_id == project.id, CheckFindingRow.kind == "dedup",
                       CheckFindingRow.cluster.is_not(None)).distinct())
        total = int(self.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
        first = list(self.session.scalars(base.order_by(CheckFindingRow.cluster).limit(limit)))
        if not first:
            return total, []
        rows = self.session.scalars(
            select(CheckFindingRow).where(CheckFindingRow.project_id == project.id,
                                          CheckFindingRow.kind == "dedup",
                                          CheckFindingRow.cluster.in_(first))
            .order_by(CheckFindingRow.cluster, CheckFindingRow.id))
        return total, [_finding(r) for r in rows]


def _finding(r: CheckFindingRow) -> Finding:
    from curation_app.checks.findings import Finding  # noqa: PLC0415 (see the import above)

    return Finding(rule=r.rule, severity=r.severity,  # type: ignore[arg-type]
                   dialogue_id=r.dialogue_id, turn=r.turn, path=r.path, message=r.message,
                   category=r.category, cluster=r.cluster, score=r.score)
