"""Generate page against the local OpenAI-protocol server: one streamed draft, errors in plain
words, an edited prompt, and a lead's batch job."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from curation_app.domain import Status
from curation_app.services import editing, generation
from curation_app.services.worker import Worker, WorkerSettings
from curation_app.ui import state
from tests.openai_stub_server import OpenAIStub, auth_error, server_error
from tests.ui.conftest import actor, open_page, texts

API_KEY = "sk-ui-test-key-0123456789"


@pytest.fixture
def stub(app_ctx, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        yield server


def test_one_draft_is_streamed_stored_as_revision_0_and_assigned_to_its_maker(
        make_app, app_ctx, stub):
    at = open_page(make_app("ann"), "generate")
    assert f"127.0.0.1:{stub.port}" in texts(at)
    at.button(key="generate.go").click().run()
    assert not at.exception
    result = at.session_state[state.GENERATE_RESULT]
    assert result["error"] is None, result
    assert f"Draft #{result['dialogue_id']} stored as revision 0" in texts(at)
    request = stub.chat_requests[-1]
    assert request.body.get("stream") is True
    draft = editing.get_dialogue(app_ctx.uow(), actor("ann"), result["dialogue_id"])
    assert draft.project == "demo-peconv" and draft.status == Status.DRAFT
    assert draft.assignee == "ann"
    assert [r.number for r in editing.history(app_ctx.uow(), actor("ann"), draft.id)] == [0]
    # "Open in the editor" goes there with the new draft chosen.
    at.button(key="generate.open").click().run()
    assert at.session_state[state.EDITOR_DIALOGUE] == draft.id
    assert at.title[0].value == "Editor"


def test_an_edited_prompt_is_what_is_sent_and_is_recorded_as_edited(make_app, app_ctx, stub):
    at = open_page(make_app("ann"), "generate")
    user_box = [ta for ta in at.text_area if ta.label == "user message"][0]
    user_box.input(user_box.value + "\n请让孩子的话更口语化。").run()
    at.button(key="generate.go").click().run()
    result = at.session_state[state.GENERATE_RESULT]
    assert result["error"] is None
    sent = stub.chat_requests[-1].messages
    assert "请让孩子的话更口语化。" in sent[-1]["content"]
    draft = editing.get_dialogue(app_ctx.uow(), actor("ann"), result["dialogue_id"])
    assert draft.provenance["template"].startswith("peconv_draft+edited@")


def test_a_refused_api_key_is_shown_in_plain_words_without_the_key(make_app, stub):
    stub.script(auth_error())
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    assert not at.exception
    shown = texts(at)
    assert "No draft was made:" in shown or "The model server failed:" in shown, shown
    assert API_KEY not in shown and API_KEY not in str(at.session_state[state.GENERATE_STREAMED])


def test_a_failing_model_server_is_reported_not_raised(make_app, stub):
    stub.script(server_error(503), server_error(503))
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    assert not at.exception
    assert "The model server failed:" in texts(at)
    assert at.session_state[state.GENERATE_RESULT]["dialogue_id"] is None


def test_without_an_api_key_the_page_says_what_to_set(make_app, app_ctx, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    assert "set OPENAI_API_KEY" in texts(at)


def test_a_lead_queues_a_batch_that_a_worker_runs(make_app, app_ctx, stub):
    at = open_page(make_app("lea", project="demo-extes"), "generate")
    at.multiselect(key="generate.topics").set_value(["Job Loss or Career Setbacks"])
    at.number_input(key="generate.n").set_value(2)
    at.button(key="FormSubmitter:generate.batch_form-Queue the batch").click().run()
    assert not at.exception
    assert "is queued; a worker runs it" in texts(at)
    (job,) = generation.list_jobs(app_ctx, "demo-extes")
    time.sleep(0.5)  # nothing runs it inside the web server any more
    assert generation.job_status(app_ctx, job.id).status == "queued"
    assert stub.chat_requests == []
    assert Worker(app_ctx, WorkerSettings(poll_s=0.05)).run(once=True) == 1
    finished = generation.job_status(app_ctx, job.id)
    assert (finished.status, finished.succeeded) == ("finished", 2)


def test_one_draft_from_a_server_that_ignores_stream_true(make_app, app_ctx, stub):
    """Several OpenAI-compatible servers answer ``stream: true`` with one plain JSON
    completion: that answer is the whole reply, and the draft is stored as usual."""
    stub.ignore_stream = True
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    assert not at.exception
    assert stub.chat_requests[-1].body.get("stream") is True
    result = at.session_state[state.GENERATE_RESULT]
    assert result["error"] is None, result
    assert result["tokens"] > 0  # the plain answer's usage is counted
    assert f"Draft #{result['dialogue_id']} stored as revision 0" in texts(at)
    draft = editing.get_dialogue(app_ctx.uow(), actor("ann"), result["dialogue_id"])
    assert len(draft.turns) == 6


def test_a_failed_plain_answer_shows_what_the_model_sent(make_app, app_ctx, stub):
    from tests.openai_stub_server import invalid_json

    stub.ignore_stream = True
    stub.script(invalid_json())
    at = open_page(make_app("ann"), "generate")
    at.button(key="generate.go").click().run()
    result = at.session_state[state.GENERATE_RESULT]
    assert result["error"] is not None
    sent = at.session_state[state.GENERATE_STREAMED]
    assert sent.strip() and sent != "—"
    assert any(sent in str(code.value) for code in at.code)
