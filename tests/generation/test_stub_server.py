"""The OpenAI stub itself: concurrency, what it records, what it refuses."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

from tests.openai_stub_server import OpenAIStub, make_draft


def _post(stub: OpenAIStub, body: dict, path: str = "/v1/chat/completions") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body),
                     {"Content-Type": "application/json", "Authorization": "Bearer sk-x"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_the_stub_serves_at_least_32_concurrent_connections() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with OpenAIStub(latency_s=0.3) as stub, ThreadPoolExecutor(48) as pool:
        results = list(pool.map(lambda _: _post(stub, body), range(48)))
        peak = stub.max_in_flight
    assert all(status == 200 for status, _ in results)
    assert peak >= 32


def test_the_stub_records_requests_without_the_authorization_header() -> None:
    with OpenAIStub() as stub:
        status, payload = _post(stub, {"model": "m", "messages": []})
        recorded = stub.requests[0]
    assert status == 200 and payload["object"] == "chat.completion"
    assert payload["choices"][0]["message"]["role"] == "assistant"
    assert set(payload["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert recorded.had_auth and "authorization" not in recorded.headers
    assert recorded.body == {"model": "m", "messages": []}


def test_the_stub_answers_unknown_paths_with_an_openai_style_404() -> None:
    with OpenAIStub() as stub:
        status, payload = _post(stub, {}, path="/v1/embeddings")
    assert status == 404 and "Unknown request URL" in payload["error"]["message"]


def test_a_canned_draft_follows_the_schema_quoted_in_the_messages() -> None:
    schema = {"type": "object", "properties": {"turns": {"type": "array", "items": {
        "type": "object", "properties": {"strategies": {"type": "array",
                                                        "items": {"enum": ["A", "B"]}}}}}}}
    body = {"messages": [{"role": "system", "content": "Schema:\n" + json.dumps(schema)}]}
    draft = make_draft(body, turns=4)
    assert [t["strategies"] for t in draft["turns"]] == [[], ["A"], [], ["B"]]
