"""Rating campaigns, agreement, tag agreement, adjudication and comparisons on both databases."""

from __future__ import annotations

import json

import pytest

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.errors import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from curation_app.services import adjudication, editing, users, workflow
from curation_app.services import quality as q
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from tests.conftest import LEAD

ANN = Actor("ann", UserRole.ANNOTATOR)
BEN = Actor("ben", UserRole.ANNOTATOR)
REV = Actor("rita", UserRole.REVIEWER)
TOPICS = ("Work Stress", "Breakups or Divorce")


def add_people(ctx) -> None:
    for actor in (ANN, BEN, REV):
        users.add_user(ctx, LEAD, actor.name, actor.role, "correct horse")


@pytest.fixture
def project(ctx):
    create_project(ctx.uow(), LEAD, "p", "extes")
    add_people(ctx)
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        uow.repo.add_dialogues(record, [
            Dialogue(turns=[Turn(Role.SEEKER, f"problem {i}"),
                            Turn(Role.SUPPORTER, f"answer {i}", ["Others"])],
                     topic=TOPICS[i % 2])
            for i in range(6)
        ], author="model")
        uow.commit()
    return "p"


def test_campaign_assigns_each_item_to_k_raters_and_blinds_the_source(ctx, project):
    campaign = q.create_campaign(ctx, LEAD, project, "first", "extes", ["ann", "ben", "rita"],
                                 [q.SampleSpec("random", n=4)], overlap=2, seed=1)
    assert campaign.status == "open" and campaign.protocol["max"] == 3
    progress = {p.rater: p for p in q.campaign_progress(ctx, LEAD, campaign.id)}
    assert sum(p.assigned for p in progress.values()) == 8
    assert all(p.rated == 0 for p in progress.values())
    task = q.my_items(ctx, ANN, campaign.id)[0]
    assert set(task.content) == {"language", "topic", "description", "turns"}
    assert all(set(t) == {"role", "text"} for t in task.content["turns"])  # no tags, no ids
    with pytest.raises(AlreadyExistsError):
        q.create_campaign(ctx, LEAD, project, "first", "extes", ["ann"],
                          [q.SampleSpec("random", n=1)], overlap=1)


def test_stratified_sample_takes_n_per_topic(ctx, project):
    campaign = q.create_campaign(ctx, LEAD, project, "strat", "panda", ["ann"],
                                 [q.SampleSpec("stratified", n=2)], overlap=1)
    items = q.campaign_items(ctx, LEAD, campaign.id)
    assert sorted(it.content["topic"] for it in items) == sorted(TOPICS * 2)


def test_rate_change_close_and_agreement(ctx, project):
    campaign = q.create_campaign(ctx, LEAD, project, "c", "extes", ["ann", "ben"],
                                 [q.SampleSpec("random", n=3)], overlap=2)
    aspects = ["informativeness", "understanding", "helpfulness", "consistency", "coherence"]
    plan = {0: 3, 1: 1, 2: 2}
    for actor in (ANN, BEN):
        for n, task in enumerate(q.my_items(ctx, actor, campaign.id)):
            q.rate(ctx, actor, task.item_id, {a: plan[n] for a in aspects})
    first = q.my_items(ctx, BEN, campaign.id)[0]
    # A change replaces the earlier scores (it is one rating, not two).
    q.rate(ctx, BEN, first.item_id, {a: 0 for a in aspects})
    assert q.my_items(ctx, BEN, campaign.id)[0].scores == {a: 0 for a in aspects}
    result = q.campaign_agreement(ctx, LEAD, campaign.id)
    assert result.rated_items == 3 and result.aspects[0].ratings == 6
    # ann: 3,1,2; ben: 0,1,2 on the same items. Fleiss: p_e from pooled marginals.
    p = {0: 1 / 6, 1: 2 / 6, 2: 2 / 6, 3: 1 / 6}
    p_e = sum(v * v for v in p.values())
    assert result.aspects[0].fleiss.kappa == pytest.approx(round((2 / 3 - p_e) / (1 - p_e), 3))
    assert {r.rater for r in result.raters} == {"ann", "ben"}
    q.close_campaign(ctx, LEAD, campaign.id)
    with pytest.raises(PermissionDeniedError, match="closed"):
        q.rate(ctx, ANN, first.item_id, {a: 1 for a in aspects})
    assert q.latest_figures(ctx, LEAD, project)["campaign"] == "c"


def test_bad_ratings_are_refused_with_the_field_named(ctx, project):
    campaign = q.create_campaign(ctx, LEAD, project, "c", "extes", ["ann", "ben"],
                                 [q.SampleSpec("random", n=2)], overlap=1)
    mine = q.my_items(ctx, ANN, campaign.id)[0]
    theirs = q.my_items(ctx, BEN, campaign.id)[0]
    good = {"informativeness": 1, "understanding": 1, "helpfulness": 1, "consistency": 1,
            "coherence": 1}
    with pytest.raises(InvalidInputError, match=rf"item {mine.item_id}, field coherence: 4"):
        q.rate(ctx, ANN, mine.item_id, {**good, "coherence": 4})
    with pytest.raises(InvalidInputError, match="field helpfulness"):
        q.rate(ctx, ANN, mine.item_id, {k: v for k, v in good.items() if k != "helpfulness"})
    with pytest.raises(PermissionDeniedError, match="not assigned to ann"):
        q.rate(ctx, ANN, theirs.item_id, good)
    with pytest.raises(PermissionDeniedError):
        q.create_campaign(ctx, ANN, project, "x", "extes", ["ann"], [q.SampleSpec("random", n=1)])
    with pytest.raises(PermissionDeniedError):
        q.campaign_agreement(ctx, ANN, campaign.id)
    assert q.my_items(ctx, ANN, campaign.id)[0].scores is None  # nothing partial stored


def test_release_and_responses_files_are_samples_with_groups(ctx, project, tmp_path):
    release = tmp_path / "test.jsonl"
    release.write_text("\n".join(json.dumps({"id": str(i), "language": "en", "messages": [
        {"role": "system", "content": "be kind"},
        {"role": "user", "content": f"I feel low {i}"},
        {"role": "assistant", "content": "I'm here.", "strategies": []}]}) for i in range(2)))
    base = tmp_path / "base.jsonl"
    tuned = tmp_path / "tuned.jsonl"
    for path, reply in ((base, "ok"), (tuned, "That sounds hard; tell me more.")):
        path.write_text("\n".join(json.dumps({"id": f"r{i}", "context": [
            {"role": "user", "content": f"my exam {i}"}], "response": reply})
            for i in range(3)), encoding="utf-8")
    campaign = q.create_campaign(ctx, LEAD, project, "files", "panda", ["ann"], [
        q.SampleSpec("release", path=str(release)),
        q.SampleSpec("responses", path=str(base), group="base"),
        q.SampleSpec("responses", path=str(tuned), group="tuned")], overlap=1)
    items = q.campaign_items(ctx, LEAD, campaign.id)
    assert sorted({it.group for it in items}) == ["base", "test", "tuned"]
    response = next(it for it in items if it.group == "tuned")
    assert response.content["turns"][-1] == {"role": "supporter",
                                             "text": "That sounds hard; tell me more.",
                                             "focus": True}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "context": [], "response": "fine"}\n{"id": 2, "context": []}\n')
    with pytest.raises(InvalidInputError, match="bad.jsonl: record 1, field response"):
        q.create_campaign(ctx, LEAD, project, "bad", "panda", ["ann"],
                          [q.SampleSpec("responses", path=str(bad))], overlap=1)
    assert [c.name for c in q.list_campaigns(ctx, LEAD, project)] == ["files"]


def test_draft_versus_final_comparison_is_paired_with_a_bootstrap_interval(ctx, project):
    dialogues = workflow.list_dialogues(ctx, LEAD, project)
    for d in dialogues[:4]:
        editing.save_revision(ctx.uow(), LEAD, d.id, d.version,
                              [d.turns[0], Turn(Role.SUPPORTER, "rewritten", ["Others"])])
    campaign = q.create_campaign(ctx, LEAD, project, "dvf", "extes", ["ann"],
                                 [q.SampleSpec("draft-vs-final", n=4)], overlap=1)
    items = {it.id: it for it in q.campaign_items(ctx, LEAD, campaign.id)}
    assert sorted(it.group for it in items.values()) == ["draft"] * 4 + ["final"] * 4
    aspects = q.campaign_protocol(ctx, LEAD, campaign.id).aspect_names
    for task in q.my_items(ctx, ANN, campaign.id):
        final = items[task.item_id].group == "final"
        q.rate(ctx, ANN, task.item_id, {a: 3 if final else 1 for a in aspects})
    result = q.compare_groups(ctx, LEAD, campaign.id, "draft", "final")
    assert result.paired
    first = result.aspects[0].difference
    assert (first.mean_a, first.mean_b, first.diff) == (1.0, 3.0, 2.0)
    assert first.low == first.high == 2.0
    with pytest.raises(NotFoundError, match="no group 'nope'"):
        q.compare_groups(ctx, LEAD, campaign.id, "draft", "nope")


def test_custom_protocol_is_stored_in_the_project(ctx, project):
    q.define_protocol(ctx, LEAD, project, "warmth", {"min": 1, "max": 5,
                                                     "aspects": ["warmth", "clarity"]})
    assert q.list_protocols(ctx, project)["warmth"].scale == [1, 2, 3, 4, 5]
    campaign = q.create_campaign(ctx, LEAD, project, "w", "warmth", ["ann"],
                                 [q.SampleSpec("ids", ids=(1,))], overlap=1)
    assert campaign.protocol["aspects"][0]["name"] == "warmth"


# ---- overlap copies: tag agreement and adjudication ----------------------------------------
@pytest.fixture
def peconv(ctx):
    create_project(ctx.uow(), LEAD, "pe", "peconv")
    add_people(ctx)
    with ctx.uow() as uow:
        record = uow.repo.get_project("pe")
        uow.repo.add_dialogues(record, [Dialogue(turns=[
            Turn(Role.SEEKER, "我考试没考好"), Turn(Role.SUPPORTER, "你很难过吧", ["empathy"]),
            Turn(Role.SEEKER, "嗯"), Turn(Role.SUPPORTER, "我们一起看看", ["support"])],
            topic=None)], author="model")
        uow.commit()
    return "pe"


def _tag(ctx, actor, dialogue_id, tags):
    d = editing.get_dialogue(ctx.uow(), actor, dialogue_id)
    turns = [Turn(t.role, t.text, tags.pop(0) if t.role == Role.SUPPORTER else [])
             for t in d.turns]
    editing.save_revision(ctx.uow(), actor, dialogue_id, d.version, turns)
    workflow.submit(ctx, actor, dialogue_id)


def test_tag_agreement_between_overlap_copies_and_adjudication(ctx, peconv):
    (original, _), (copy, _) = workflow.assign(ctx, LEAD, peconv, annotators=["ann", "ben"],
                                               overlap=2)
    _tag(ctx, ANN, original, [["validation", "empathy"], ["support"]])
    _tag(ctx, BEN, copy, [["empathy"], ["support"]])
    result = adjudication.tag_agreement(ctx, LEAD, peconv)
    assert result.groups == 1 and result.units == 6
    (pair,) = result.pairs
    # 6 yes/no decisions, 5 agree; ann says yes 3 times, ben 2: p_e = 3/6*2/6 + 3/6*4/6 = 1/2.
    assert pair.kappa == pytest.approx((5 / 6 - 1 / 2) / (1 - 1 / 2))

    (group,) = adjudication.overlap_groups(ctx, REV, peconv)
    assert [d.id for d in group.members] == [original, copy]
    assert group.differing == [1] and group.adjudicated is None
    adjudication.adjudicate(ctx, REV, copy)
    adjudication.adjudicate(ctx, REV, original)
    marks = {d.id: d.metadata.get("adjudicated") for d in
             (editing.get_dialogue(ctx.uow(), LEAD, i) for i in (original, copy))}
    assert marks == {original: True, copy: None}
    # A merge saves a new revision on the chosen copy through the editor's service.
    chosen = editing.get_dialogue(ctx.uow(), LEAD, copy)
    merged = [*chosen.turns[:1], Turn(Role.SUPPORTER, "你很难过吧", ["validation", "empathy"]),
              *chosen.turns[2:]]
    adjudication.adjudicate(ctx, REV, copy, merged=merged, note="ann's tags, ben's text")
    after = editing.get_dialogue(ctx.uow(), LEAD, copy)
    assert after.turns[1].strategies == ["validation", "empathy"]
    assert after.metadata["adjudicated"] is True
    assert editing.get_dialogue(ctx.uow(), LEAD, original).metadata.get("adjudicated") is None
    assert adjudication.overlap_groups(ctx, REV, peconv, only_open=True) == []
    assert after.status == Status.SUBMITTED
    with pytest.raises(PermissionDeniedError):
        adjudication.adjudicate(ctx, ANN, original)


def test_seeds_versus_generated_and_the_figures_for_a_dataset_card(ctx, project):
    from curation_app.domain import Source
    with ctx.uow() as uow:
        record = uow.repo.get_project("p")
        uow.repo.add_dialogues(record, [
            Dialogue(turns=[Turn(Role.SEEKER, f"generated {i}"),
                            Turn(Role.SUPPORTER, "ok", ["Others"])], topic=TOPICS[0],
                     source=Source.GENERATED) for i in range(3)], author="model")
        uow.repo.mark_seeds(record, [1, 2])
        uow.commit()
    campaign = q.create_campaign(ctx, LEAD, project, "svg", "extes", ["ann"],
                                 [q.SampleSpec("seeds-vs-generated", n=2)], overlap=1)
    items = q.campaign_items(ctx, LEAD, campaign.id)
    assert sorted(it.group for it in items) == ["generated", "generated", "seeds", "seeds"]
    aspects = q.campaign_protocol(ctx, LEAD, campaign.id).aspect_names
    for task in q.my_items(ctx, ANN, campaign.id):
        q.rate(ctx, ANN, task.item_id, dict.fromkeys(aspects, 2))
    q.close_campaign(ctx, LEAD, campaign.id)
    card = q.figures_markdown(q.latest_figures(ctx, LEAD, project))
    assert "| informativeness | 2.0 | — | — |" in card


def test_the_release_card_carries_the_latest_quality_figures(ctx, project, tmp_path):
    from curation_app.services import checks, judging
    from curation_app.services import release as release_services

    # the fixture's "Work Stress" is no ExTES topic: a lead lets it through as a warning
    checks.configure_checks(ctx, LEAD, project, rules={"lint.topic_unknown":
                                                       {"severity": "warning"}})
    plain = release_services.build_release(ctx, LEAD, project, "1.0.0", out=tmp_path,
                                           statuses=["draft"])
    assert "## Quality evaluation" not in (plain.path / "README.md").read_text("utf-8")
    campaign = q.create_campaign(ctx, LEAD, project, "c", "extes", ["ann", "ben"],
                                 [q.SampleSpec("random", n=3)], overlap=2)
    aspects = q.campaign_protocol(ctx, LEAD, campaign.id).aspect_names
    for actor in (ANN, BEN):
        for n, task in enumerate(q.my_items(ctx, actor, campaign.id)):
            q.rate(ctx, actor, task.item_id, dict.fromkeys(aspects, n))
    run_id = judging.plan_judge(ctx, LEAD, campaign.id, model="judge-model")
    open_card = release_services.build_release(ctx, LEAD, project, "1.1.0", out=tmp_path,
                                               statuses=["draft"])
    text = (open_card.path / "README.md").read_text("utf-8")
    # an open campaign gives no human figures yet; the judge run is listed with what it scored
    assert "Human evaluation" not in text
    assert f"LLM judge (run {run_id}, judge-model" in text and "0 items scored" in text
    q.close_campaign(ctx, LEAD, campaign.id)
    closed = release_services.build_release(ctx, LEAD, project, "1.2.0", out=tmp_path,
                                            statuses=["draft"])
    text = (closed.path / "README.md").read_text("utf-8")
    section = text[text.index("## Quality evaluation"):text.index("## Known limitations")]
    assert q.figures_markdown(q.latest_figures(ctx, LEAD, project)) in section
    # both raters gave 0, 1, 2 to the same three items: perfect agreement, mean 1.0
    assert "| informativeness | 1.0 | 1.0 |" in section
