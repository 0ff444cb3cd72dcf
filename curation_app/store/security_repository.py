"""SQL of the security features: privacy false-alarm marks (and, below, what later parts add)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from curation_app.checks.findings import Finding
from curation_app.store.models import CheckFindingRow, PrivacyDismissalRow, utcnow


@dataclass(frozen=True)
class Dismissal:
    id: int
    project_id: int
    dialogue_id: int
    path: str
    rule: str
    digest: str
    masked: str
    reason: str
    dismissed_by: str
    created_at: datetime

    def key(self) -> tuple[int | None, str, str, str]:
        return (self.dialogue_id, self.path, self.rule, self.digest)


def _dismissal(row: PrivacyDismissalRow) -> Dismissal:
    return Dismissal(id=row.id, project_id=row.project_id, dialogue_id=row.dialogue_id,
                     path=row.path, rule=row.rule, digest=row.digest, masked=row.masked,
                     reason=row.reason, dismissed_by=row.dismissed_by,
                     created_at=row.created_at)


class SecurityRepository:
    def __init__(self, session: Session):
        self.session = session

    # ---- privacy ---------------------------------------------------------------------------
    def add_dismissal(self, project_id: int, dialogue_id: int, path: str, rule: str,
                      digest: str, masked: str, reason: str, by: str) -> Dismissal:
        existing = self.session.scalar(select(PrivacyDismissalRow).where(
            PrivacyDismissalRow.dialogue_id == dialogue_id, PrivacyDismissalRow.path == path,
            PrivacyDismissalRow.rule == rule, PrivacyDismissalRow.digest == digest))
        if existing is not None:
            return _dismissal(existing)
        row = PrivacyDismissalRow(project_id=project_id, dialogue_id=dialogue_id, path=path,
                                  rule=rule, digest=digest, masked=masked[:200], reason=reason,
                                  dismissed_by=by, created_at=utcnow())
        self.session.add(row)
        self.session.flush()
        return _dismissal(row)

    def dismissals(self, project_id: int, dialogue_id: int | None = None) -> list[Dismissal]:
        query = select(PrivacyDismissalRow).where(PrivacyDismissalRow.project_id == project_id)
        if dialogue_id is not None:
            query = query.where(PrivacyDismissalRow.dialogue_id == dialogue_id)
        return [_dismissal(r) for r in self.session.scalars(query.order_by(
            PrivacyDismissalRow.id))]

    def replace_dialogue_findings(self, project_id: int, dialogue_id: int, kind: str,
                                  findings: list[Finding]) -> None:
        """The stored findings of one kind for one dialogue, as a fresh look found them (after
        a redaction or a false-alarm mark), under the run that stored the old ones."""
        run_id = self.session.scalar(
            select(CheckFindingRow.run_id).where(CheckFindingRow.project_id == project_id,
                                                 CheckFindingRow.kind == kind)
            .order_by(CheckFindingRow.run_id.desc()).limit(1))
        self.session.execute(delete(CheckFindingRow).where(
            CheckFindingRow.dialogue_id == dialogue_id, CheckFindingRow.kind == kind)
            .execution_options(synchronize_session=False))
        if run_id is None or not findings:
            return
        self.session.execute(insert(CheckFindingRow), [
            {"run_id": run_id, "project_id": project_id, "dialogue_id": dialogue_id,
             "kind": kind, "rule": f.rule, "severity": f.severity, "turn": f.turn,
             "path": f.path[:300], "message": f.message, "category": f.category,
             "cluster": f.cluster, "score": f.score} for f in findings])
