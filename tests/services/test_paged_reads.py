"""The pages' light reads on both databases: dialogue summaries a page at a time with their
total, previous / next by id, findings filtered, counted and paged in SQL, clusters."""

from __future__ import annotations

import pytest

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.errors import PermissionDeniedError
from curation_app.services import checks, users, workflow
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD

ANN = Actor("ann", UserRole.ANNOTATOR)


@pytest.fixture
def project(ctx) -> list[int]:
    create_project(ctx.uow(), LEAD, "p", "extes")
    users.add_user(ctx, LEAD, "ann", "annotator", "correct horse")
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        ids = uow.repo.add_dialogues(record, [
            Dialogue(turns=[Turn(Role.SEEKER, f"I lost my job {i}."),
                            Turn(Role.SUPPORTER, f"That is hard {i}." if i % 3 else "  ",
                                 ["Others"] if i % 2 else [])],
                     topic="Job Loss")
            for i in range(12)], author="model")
        uow.commit()
    workflow.assign(ctx, LEAD, "p", annotators=["ann"], dialogue_ids=ids[:5])
    return ids


def test_dialogue_summaries_come_a_page_at_a_time_with_the_total(ctx, project):
    page = workflow.dialogue_page(ctx, LEAD, "p", limit=5, offset=5)
    assert page.total == 12 and [d.id for d in page.items] == project[5:10]
    assert page.items[0].turn_count == 2 and page.items[0].status == Status.DRAFT
    assert not hasattr(page.items[0], "turns")  # a summary, not a whole dialogue
    mine = workflow.dialogue_page(ctx, ANN, "p", workflow.OPEN_WORK, "ann", limit=3)
    assert mine.total == 5 and [d.id for d in mine.items] == project[:3]
    with pytest.raises(PermissionDeniedError):
        workflow.dialogue_page(ctx, ANN, "p")


def test_previous_and_next_follow_the_list_and_wrap_around(ctx, project):
    assert workflow.neighbour(ctx, ANN, "p", project[1], 1, workflow.OPEN_WORK, "ann") \
        == project[2]
    assert workflow.neighbour(ctx, ANN, "p", project[4], 1, workflow.OPEN_WORK, "ann") \
        == project[0]
    assert workflow.neighbour(ctx, ANN, "p", project[0], -1, workflow.OPEN_WORK, "ann") \
        == project[4]
    # From a dialogue outside the list (opened from elsewhere), the next one by id.
    assert workflow.neighbour(ctx, LEAD, "p", project[7], 1) == project[8]


def test_findings_are_filtered_counted_and_paged_by_the_database(ctx, project):
    checks.run_checks(ctx, LEAD, "p", "format,lint")
    everything = checks.findings_page(ctx, LEAD, "p", limit=1000)
    assert everything.matching == everything.stored == len(everything.items) > 0
    empty = checks.findings_page(ctx, LEAD, "p", rules=["lint.empty_turn"], limit=2)
    assert empty.matching == 4 and len(empty.items) == 2  # dialogues 0, 3, 6, 9
    assert empty.per_rule == {"lint.empty_turn": 4}
    rest = checks.findings_page(ctx, LEAD, "p", rules=["lint.empty_turn"], limit=2, offset=2)
    assert {f.dialogue_id for f in empty.items + rest.items} == {project[i] for i in (0, 3, 6, 9)}
    errors = checks.findings_page(ctx, LEAD, "p", severities=["error"], text="WHITESPACE")
    assert errors.matching == 4 and all(f.severity == "error" for f in errors.items)
    assert checks.findings_page(ctx, LEAD, "p", kinds=["dedup"]).matching == 0
    with pytest.raises(PermissionDeniedError):
        checks.findings_page(ctx, ANN, "p")


def test_duplicate_clusters_are_read_a_few_clusters_at_a_time(ctx, project):
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        uow.repo.add_dialogues(record, [Dialogue(turns=[Turn(Role.SEEKER, "Same words here."),
                                                        Turn(Role.SUPPORTER, "Same answer.",
                                                             ["Others"])], topic="Job Loss")
                                        for _ in range(3)], author="model")
        uow.commit()
    checks.run_checks(ctx, LEAD, "p", "dedup")
    total, clusters = checks.duplicate_clusters(ctx, LEAD, "p", limit=1)
    assert total >= 1 and len(clusters) == 1
    (members,) = clusters.values()
    assert len({m.dialogue_id for m in members}) == 3
