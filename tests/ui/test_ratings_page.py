"""The Ratings and Adjudication pages under AppTest: a lead starts a campaign, two raters rate
(and one changes a rating), the lead closes it and reads the agreement; a reviewer picks and
merges overlap copies."""

from __future__ import annotations

from curation_app.domain import Role, Turn
from curation_app.services import editing, judging, workflow
from curation_app.services import quality as q
from tests.ui.conftest import actor, open_page, texts

ASPECTS = ("informativeness", "understanding", "helpfulness", "consistency", "coherence")


def rate_all(make_app, app_ctx, name: str, campaign_id: int, plan: dict[int, int]):
    at = open_page(make_app(name, project="demo-extes"), "ratings")
    tasks = q.my_items(app_ctx, actor(name), campaign_id)
    assert "You have rated 0 of 3 items." in texts(at)
    for task in tasks:
        assert at.selectbox(key="w:ratings.item").value == task.number
        shown = texts(at)
        assert task.content["turns"][0]["text"] in shown
        # The aspect definitions are on the page, in the interface language.
        assert "How well the supporter grasps" in shown
        for aspect in ASPECTS:
            at.radio(key=f"ratings.{task.item_id}.{aspect}").set_value(plan[task.number])
        at.button(key="ratings.save").click().run()
        assert not at.exception
        assert f"Rating of item {task.number} saved." in texts(at)
    assert "You have rated 3 of 3 items." in texts(at)
    return at


def test_campaign_flow_assign_rate_change_close_and_see_agreement(make_app, app_ctx):
    lea = open_page(make_app("lea", project="demo-extes"), "ratings")
    assert "No rating campaigns in this project yet." in texts(lea)
    lea.text_input(key="ratings.new.name").input("pilot")
    lea.selectbox(key="ratings.new.protocol").set_value("extes")
    lea.number_input(key="ratings.new.n").set_value(3)
    lea.multiselect(key="ratings.new.raters").set_value(["ann", "ben"])
    lea.number_input(key="ratings.new.overlap").set_value(2)
    lea.button(key="ratings.new.start").click().run()
    assert not lea.exception
    assert "Campaign pilot started with 3 items." in texts(lea)
    (campaign,) = q.list_campaigns(app_ctx, actor("lea"), "demo-extes")

    rate_all(make_app, app_ctx, "ann", campaign.id, {1: 3, 2: 1, 3: 2})
    ben = rate_all(make_app, app_ctx, "ben", campaign.id, {1: 3, 2: 1, 3: 0})
    # ben changes their mind about item 3: the rating is replaced, not added.
    ben.selectbox(key="w:ratings.item").set_value(3).run()
    third = q.my_items(app_ctx, actor("ben"), campaign.id)[2]
    assert ben.radio(key=f"ratings.{third.item_id}.coherence").value == 0
    for aspect in ASPECTS:
        ben.radio(key=f"ratings.{third.item_id}.{aspect}").set_value(2)
    ben.button(key="ratings.save").click().run()
    assert q.my_items(app_ctx, actor("ben"), campaign.id)[2].scores == dict.fromkeys(ASPECTS, 2)

    lea = open_page(make_app("lea", project="demo-extes"), "ratings")
    shown = texts(lea)
    assert "3 of 3 items rated" in shown
    # Both raters now agree on every item: kappa 1 for every aspect.
    assert "Informativeness: Fleiss' kappa 1.000" in shown
    (table,) = [d.value for d in lea.dataframe if "paper mean" in d.value.columns]
    assert list(table.iloc[0])[-2:] == ["2.53", "0.51"]  # ExTES table 4, beside ours
    assert "Paper figures: ExTES table 4" in shown
    lea.button(key="ratings.close").click().run()
    assert "Campaign pilot closed." in texts(lea)

    ann = open_page(make_app("ann", project="demo-extes"), "ratings")
    assert "This campaign is closed" in texts(ann)
    assert ann.button(key="ratings.save").disabled


def test_a_rating_with_a_missing_aspect_is_not_saved(make_app, app_ctx):
    campaign = q.create_campaign(app_ctx, actor("lea"), "demo-extes", "c", "extes", ["ann"],
                                 [q.SampleSpec("random", n=1)], overlap=1)
    at = open_page(make_app("ann", project="demo-extes"), "ratings")
    (task,) = q.my_items(app_ctx, actor("ann"), campaign.id)
    at.radio(key=f"ratings.{task.item_id}.informativeness").set_value(2)
    at.button(key="ratings.save").click().run()
    assert "Give a score for every aspect: Understanding" in texts(at)
    assert q.my_items(app_ctx, actor("ann"), campaign.id)[0].scores is None


def test_an_annotator_sees_only_the_rating_form(make_app, app_ctx):
    q.create_campaign(app_ctx, actor("lea"), "demo-extes", "c", "panda", ["ann"],
                      [q.SampleSpec("random", n=1)], overlap=1)
    at = open_page(make_app("ann", project="demo-extes", language="zh"), "ratings")
    shown = texts(at)
    assert "流畅性" in shown or any(r.label == "流畅性" for r in at.radio)
    assert "新建评分任务" not in shown and not at.tabs


def test_a_reviewer_picks_and_merges_overlap_copies(make_app, app_ctx):
    (original, _), (copy, _) = workflow.assign(app_ctx, actor("lea"), "demo-peconv",
                                               annotators=["ann", "ben"], overlap=2,
                                               count=1)
    d = editing.get_dialogue(app_ctx.uow(), actor("ben"), copy)
    turns = list(d.turns)
    turns[1] = Turn(Role.SUPPORTER, "ben's better reply", ["support"])
    editing.save_revision(app_ctx.uow(), actor("ben"), copy, d.version, turns)
    at = open_page(make_app("rita", project="demo-peconv"), "adjudication")
    assert "Turns that differ: 2" in texts(at)
    at.button(key=f"adjudication.pick.{copy}").click().run()
    assert f"Copy #{copy} goes into the dataset." in texts(at)
    assert editing.get_dialogue(app_ctx.uow(), actor("lea"), copy).metadata["adjudicated"]
    # Merge: keep ben's turn 2 in the original.
    at.toggle(key="adjudication.only_open").set_value(False).run()
    at.radio(key=f"adjudication.{original}.turn.1").set_value(copy)
    at.selectbox(key=f"adjudication.{original}.target").set_value(original)
    at.button(key="adjudication.merge_save").click().run()
    assert not at.exception
    merged = editing.get_dialogue(app_ctx.uow(), actor("lea"), original)
    assert merged.turns[1].text == "ben's better reply"
    assert merged.metadata["adjudicated"] is True
    assert "adjudicated" not in editing.get_dialogue(app_ctx.uow(), actor("lea"), copy).metadata


def test_the_lead_runs_the_judge_and_sees_it_beside_the_humans(make_app, app_ctx, monkeypatch):
    import time

    from tests.openai_stub_server import OpenAIStub

    campaign = q.create_campaign(app_ctx, actor("lea"), "demo-extes", "c", "extes", ["ann"],
                                 [q.SampleSpec("random", n=3)], overlap=1)
    for task in q.my_items(app_ctx, actor("ann"), campaign.id):
        q.rate(app_ctx, actor("ann"), task.item_id, dict.fromkeys(ASPECTS, task.number))
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-ui")
        at = open_page(make_app("lea", project="demo-extes"), "ratings")
        at.text_input(key="ratings.judge.model").input("gpt-4o-mini")
        at.button(key="ratings.judge.start").click().run()
        assert "Judge run 1 started" in texts(at)
        # The run goes on in a background thread, as in the app; wait for it to end.
        deadline = time.monotonic() + 60
        while judging.judge_run(app_ctx, actor("lea"), 1).status not in ("finished", "stopped"):
            assert time.monotonic() < deadline, "the judge run did not finish"
            time.sleep(0.1)
        assert len(stub.chat_requests) == 3
    at.button(key="ratings.judge.refresh").click().run()
    shown = texts(at)
    assert "Judge run 1: gpt-4o-mini, judge@" in shown and "3 scored, 0 failed" in shown
    rows = judging.judge_vs_human(app_ctx, actor("lea"), 1)
    assert all(r.items == 3 for r in rows)
