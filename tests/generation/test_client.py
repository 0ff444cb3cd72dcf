"""The sync draft client against a real HTTP server speaking the OpenAI API.

Each stub behaviour maps to one outcome: a draft, a retry, a repair, a fallback or a failed
result that keeps the raw text and our error.
"""

from __future__ import annotations

import json
import random

import pytest

from curation_app.domain import Role, Source
from curation_app.errors import (
    GenerationError,
    GenerationTimeoutError,
    ModelOutputError,
    ModelServerError,
    RateLimitedError,
)
from curation_app.generation import DraftClient, LLMConfig, parse_draft
from curation_app.generation.prompts import RenderedPrompt
from curation_app.presets import Vocabulary
from tests.generation.conftest import PRICES, SECRET_KEY, fast_config
from tests.openai_stub_server import (
    OpenAIStub,
    auth_error,
    invalid_json,
    ok,
    plain_text,
    rate_limit,
    reject_json_schema,
    schema_violation,
    server_error,
    stall,
    truncated,
)


def _client(stub: OpenAIStub, rng: random.Random, **overrides: object) -> DraftClient:
    return DraftClient(fast_config(stub, **overrides), prices=PRICES, rng=rng)


def test_ok_reply_becomes_a_dialogue_with_roles_strategies_and_provenance(
    openai_stub: OpenAIStub, rng: random.Random, peconv: Vocabulary,
    peconv_prompt: RenderedPrompt,
) -> None:
    with _client(openai_stub, rng) as client:
        result = client.generate(peconv_prompt, peconv)

    assert result.ok and result.error is None
    dialogue = result.dialogue
    assert dialogue is not None
    assert dialogue.turns[0].role == Role.SEEKER
    assert {t.role for t in dialogue.turns} == {Role.SEEKER, Role.SUPPORTER}
    assert all(t.strategies and set(t.strategies) <= set(peconv.strategy_names)
               for t in dialogue.turns if t.role == Role.SUPPORTER)
    assert (dialogue.topic, dialogue.emotion, dialogue.language) == ("考试没考好", "sad", "zh")
    assert dialogue.source == Source.GENERATED
    assert dialogue.provenance["template"] == "peconv_draft"
    assert dialogue.provenance["template_version"] == peconv_prompt.template_version
    assert dialogue.provenance["request_id"] == result.request_id == "req_stub_000001"
    assert result.attempts == 1 and result.finish_reason == "stop"
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.cost_usd == pytest.approx(
        (result.usage["prompt_tokens"] * 0.15 + result.usage["completion_tokens"] * 0.60) / 1e6)

    sent = openai_stub.chat_requests[0].body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    enum = (sent["response_format"]["json_schema"]["schema"]["properties"]["turns"]["items"]
            ["properties"]["strategies"]["items"]["enum"])
    assert enum == list(peconv.strategy_names)
    assert sent["messages"] == peconv_prompt.messages


def test_extes_draft_with_seeds_uses_the_extes_strategies(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert result.ok and result.dialogue is not None
    assert result.dialogue.language == "en"
    assert result.dialogue.provenance["seed_ids"] == ["seed-1", "seed-2"]
    assert result.dialogue.turns[1].strategies == [extes.strategy_names[0]]


def test_429_with_retry_after_is_retried_after_at_least_that_long_and_succeeds(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(rate_limit(retry_after=1), ok())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)

    assert result.ok
    assert result.attempts == 2
    first, second = openai_stub.chat_requests
    assert second.received_at - first.received_at >= 1.0


def test_500_is_retried_with_backoff_and_succeeds(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(server_error(500), server_error(503), ok())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert result.ok and result.attempts == 3
    assert [r.behaviour for r in openai_stub.chat_requests] == ["server_error", "server_error",
                                                                 "ok"]


def test_server_errors_past_max_retries_give_a_failed_result_not_an_exception(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(*[server_error(502)] * 3)
    with _client(openai_stub, rng, max_retries=2) as client:
        result = client.generate(extes_prompt, extes)
    assert not result.ok
    assert isinstance(result.error, ModelServerError)
    assert result.error.status_code == 502 and result.error.retryable
    assert "gave up after 3 attempts" in str(result.error)
    assert result.attempts == 3 and len(openai_stub.chat_requests) == 3
    assert result.error_type == "ModelServerError"
    assert result.raw_text is None
    assert result.as_log()["error_type"] == "ModelServerError"


def test_stall_past_the_timeout_is_a_timeout_error_after_retries_and_recorded(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(stall(3), stall(3))
    with _client(openai_stub, rng, timeout_s=0.3, max_retries=1) as client:
        result = client.generate(extes_prompt, extes)
    assert not result.ok
    assert isinstance(result.error, GenerationTimeoutError)
    assert result.error.retryable
    assert result.attempts == 2
    assert [r.behaviour for r in openai_stub.chat_requests] == ["stall", "stall"]
    assert result.as_log()["attempts"] == 2


def test_a_rate_limit_longer_than_the_client_will_wait_fails_at_once(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(rate_limit(retry_after=600))
    with _client(openai_stub, rng, max_retry_after_s=5) as client:
        result = client.generate(extes_prompt, extes)
    assert isinstance(result.error, RateLimitedError)
    assert result.error.retry_after == 600
    assert "asked to wait 600 s" in str(result.error)
    assert result.attempts == 1


def test_used_up_quota_is_not_retried(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(rate_limit(retry_after=None, code="insufficient_quota"))
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert isinstance(result.error, RateLimitedError) and not result.error.retryable
    assert result.attempts == 1


def test_invalid_json_gets_one_repair_and_then_succeeds(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(invalid_json(), ok())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)

    assert result.ok and result.repaired and result.attempts == 2
    assert result.dialogue is not None and result.dialogue.provenance["repaired"] is True
    assert len(result.earlier_raw_texts) == 1 and "unfinished" in result.earlier_raw_texts[0]
    repair = openai_stub.chat_requests[1].messages
    assert repair[:-2] == extes_prompt.messages
    assert repair[-2] == {"role": "assistant", "content": result.earlier_raw_texts[0]}
    assert repair[-1]["role"] == "user" and "not valid JSON" in repair[-1]["content"]
    # usage adds both calls
    assert result.usage["completion_tokens"] > 0


def test_invalid_json_twice_is_a_failure_that_keeps_both_raw_texts(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(invalid_json(), invalid_json(), ok())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert not result.ok and result.repaired
    assert isinstance(result.error, ModelOutputError)
    assert result.raw_text is not None and "unfinished" in result.raw_text
    assert len(result.earlier_raw_texts) == 1
    assert len(openai_stub.chat_requests) == 2  # no third try: one repair at most
    assert openai_stub.pending == 1


@pytest.mark.parametrize(("variant", "field"), [("wrong_enum", "turns[1].strategies[0]"),
                                                 ("missing_field", "turns[1]")])
def test_schema_violation_is_repaired_with_the_field_named(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt, variant: str, field: str,
) -> None:
    openai_stub.script(schema_violation(variant), ok())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert result.ok and result.repaired
    assert field in openai_stub.chat_requests[1].messages[-1]["content"]


def test_schema_violation_twice_fails_with_the_field_and_raw_text(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(schema_violation(), schema_violation())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert isinstance(result.error, ModelOutputError)
    assert result.error.field == "turns[1].strategies[0]"
    assert "Hypnosis" in (result.raw_text or "")
    assert result.as_log()["error_field"] == "turns[1].strategies[0]"


def test_a_truncated_reply_fails_with_a_clear_error_and_keeps_the_raw_text(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(truncated())
    with _client(openai_stub, rng) as client:
        result = client.generate(extes_prompt, extes)
    assert not result.ok
    assert isinstance(result.error, ModelOutputError)
    assert "cut off at max_tokens" in str(result.error)
    assert result.finish_reason == "length"
    assert result.raw_text and result.raw_text.startswith('{"description"')
    assert result.attempts == 1 and not result.repaired


def test_rejected_json_schema_falls_back_to_json_object_and_remembers_it(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(reject_json_schema())
    with _client(openai_stub, rng) as client:
        first = client.generate(extes_prompt, extes)
        second = client.generate(extes_prompt, extes)

    assert first.ok and second.ok
    assert first.structured_mode == second.structured_mode == "json_object"
    assert client.structured_mode == "json_object"
    formats = [r.response_format_type for r in openai_stub.chat_requests]
    assert formats == ["json_schema", "json_object", "json_object"]
    fallback = openai_stub.chat_requests[1].messages
    assert any(m["role"] == "system" and "JSON Schema" in m["content"] for m in fallback)


def test_a_server_without_structured_output_falls_back_to_plain_text(
    rng: random.Random, extes: Vocabulary, extes_prompt: RenderedPrompt,
) -> None:
    with OpenAIStub(reject_formats={"json_schema", "json_object"}) as stub:
        stub.script(plain_text())
        with _client(stub, rng) as client:
            result = client.generate(extes_prompt, extes)
        formats = [r.response_format_type for r in stub.chat_requests]
    assert result.ok and result.structured_mode == "text"
    assert formats == ["json_schema", "json_object", None]
    assert result.raw_text and result.raw_text.startswith("Sure!")


def test_a_pinned_mode_does_not_fall_back(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(reject_json_schema())
    with _client(openai_stub, rng, structured="json_schema") as client:
        result = client.generate(extes_prompt, extes)
    assert isinstance(result.error, ModelServerError)
    assert result.error.status_code == 400 and not result.error.retryable
    assert "response_format" in str(result.error)


def test_streaming_yields_deltas_that_join_into_a_valid_draft(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    with _client(openai_stub, rng) as client:
        pieces = list(client.stream_text(extes_prompt, extes))
    assert len(pieces) > 3
    dialogue = parse_draft("".join(pieces), extes)
    assert dialogue.turns[0].role == Role.SEEKER
    assert openai_stub.chat_requests[0].body["stream"] is True


def test_streaming_retries_opening_the_stream(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(server_error(503))
    with _client(openai_stub, rng) as client:
        text = "".join(client.stream_text(extes_prompt, extes))
    assert json.loads(text)["turns"]
    assert len(openai_stub.chat_requests) == 2


def test_streaming_failure_raises_our_error(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(auth_error())
    with _client(openai_stub, rng) as client, pytest.raises(ModelServerError) as caught:
        list(client.stream_text(extes_prompt, extes))
    assert SECRET_KEY not in str(caught.value)


def test_the_api_key_never_appears_in_results_errors_or_reprs(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(auth_error(), invalid_json(), invalid_json(), ok())
    with _client(openai_stub, rng) as client:
        results = [client.generate(extes_prompt, extes) for _ in range(3)]
        client_repr = repr(client)

    refused = results[0]
    assert isinstance(refused.error, ModelServerError)
    assert refused.error.status_code == 401 and not refused.error.retryable
    assert "Incorrect API key provided" in str(refused.error)  # the server's words, redacted
    assert refused.attempts == 1
    assert refused.error.__cause__ is None and refused.error.__traceback__ is None
    assert openai_stub.chat_requests[0].had_auth
    texts = [client_repr, repr(fast_config(openai_stub))]
    for result in results:
        texts += [repr(result), str(result.error), json.dumps(result.as_log(), default=str),
                  repr(result.error)]
        if result.dialogue is not None:
            texts.append(json.dumps(result.dialogue.to_record(), default=str))
    for text in texts:
        assert SECRET_KEY not in text
        assert SECRET_KEY[8:] not in text


def test_config_from_env_reads_key_and_base_url_and_requires_a_key() -> None:
    config = LLMConfig.from_env("gpt-4o-mini", environ={
        "OPENAI_API_KEY": SECRET_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert config.api_key == SECRET_KEY and config.base_url == "http://127.0.0.1:9/v1"
    assert SECRET_KEY not in repr(config)
    with pytest.raises(GenerationError, match="OPENAI_API_KEY"):
        LLMConfig.from_env("gpt-4o-mini", environ={})
    with pytest.raises(GenerationError, match="structured must be one of"):
        LLMConfig(model="m", api_key="k", structured="yaml")  # type: ignore[arg-type]
