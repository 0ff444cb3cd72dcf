"""Twenty simulated annotators editing overlapping dialogues at once on PostgreSQL.

Every save that succeeds must be in the history, every refused save must have been reported as
a conflict, and no revision may be lost or duplicated.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ConflictError
from curation_app.services import editing
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKERS, ROUNDS, DIALOGUES = 20, 8, 5


def test_twenty_annotators_lose_no_revision_and_every_refusal_is_a_conflict(pg_url: str):
    ctx = AppContext.from_url(pg_url)
    create_project(ctx.uow(), LEAD, "busy", "extes")
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project("busy"), [
            Dialogue(turns=[Turn(Role.SEEKER, "start")], topic="Work-related Stress and Burnout")
            for _ in range(DIALOGUES)], author="model")
        uow.commit()

    # Reviewers may edit any open dialogue, which is what makes the edits overlap.
    actors = [Actor(f"worker{i:02d}", UserRole.REVIEWER) for i in range(WORKERS)]
    saved: list[tuple[int, str, int]] = []  # (dialogue, text, revision number)
    refused: list[tuple[int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WORKERS)

    def work(actor: Actor) -> None:
        rng = random.Random(actor.name)
        barrier.wait()
        for round_no in range(ROUNDS):
            dialogue_id = rng.choice(ids)
            current = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
            text = f"{actor.name} round {round_no}"
            turns = [*current.turns, Turn(Role.SUPPORTER, text, ["Others"])]
            try:
                result = editing.save_revision(ctx.uow(), actor, dialogue_id, current.version,
                                               turns)
            except ConflictError as exc:
                assert exc.attempted["turns"][-1]["text"] == text  # the loser keeps its text
                with lock:
                    refused.append((dialogue_id, text))
            else:
                with lock:
                    saved.append((dialogue_id, text, result.revision))

    threads = [threading.Thread(target=work, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(saved) + len(refused) == WORKERS * ROUNDS
    assert saved and refused, "the test should produce both outcomes"
    for dialogue_id in ids:
        history = editing.history(ctx.uow(), LEAD, dialogue_id)
        numbers = [r.number for r in history]
        assert numbers == list(range(len(history)))  # contiguous, none lost or doubled
        mine = sorted((n, text) for d, text, n in saved if d == dialogue_id)
        assert [(r.number, r.turns[-1].text) for r in history[1:]] == mine
        # each revision builds on the one before it: no save was applied over another
        for before, after in zip(history, history[1:], strict=False):
            assert after.turns[:-1] == before.turns
        final = editing.get_dialogue(ctx.uow(), LEAD, dialogue_id)
        assert final.turns == history[-1].turns and final.version == len(history) - 1
    assert not set(t for _, t in refused) & set(t for _, t, _ in saved)
    assert max(Counter(d for d, _, _ in saved).values()) > 1
    ctx.close()
