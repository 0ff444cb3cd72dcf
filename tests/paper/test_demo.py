"""The demo projects use the corrected vocabularies: ExTES scenarios of Table 1 and no emotion,
PECONV emotions that fit their topics; both pass the format and lint checks without error."""

from __future__ import annotations

from curation_app.services import checks
from curation_app.services.setup import load_demo
from tests.conftest import LEAD


def test_the_demo_projects_use_the_papers_vocabularies(ctx):
    load_demo(ctx)
    with ctx.uow() as uow:
        for name in ("demo-extes", "demo-peconv"):
            record = uow.repo.get_project(name)
            vocab = record.vocabulary
            for d in uow.repo.list_dialogues(record):
                assert d.topic in vocab.topics, (name, d.topic)
                if vocab.preset == "extes":
                    assert d.emotion is None
                else:
                    assert d.emotion in vocab.emotions_for(d.topic), (d.topic, d.emotion)
    for name in ("demo-extes", "demo-peconv"):
        summary = checks.run_checks(ctx, LEAD, name, only="format,lint")
        assert summary.errors == 0, [f.message for f in summary.findings]
