"""The asyncio draft client: same behaviour as the sync one, many drafts at once."""

from __future__ import annotations

import asyncio
import random

from curation_app.errors import GenerationTimeoutError
from curation_app.generation import AsyncDraftClient, parse_draft
from curation_app.generation.prompts import RenderedPrompt
from curation_app.presets import Vocabulary
from tests.generation.conftest import PRICES, fast_config
from tests.openai_stub_server import OpenAIStub, invalid_json, rate_limit, reject_json_schema, stall


def test_twenty_drafts_run_concurrently_against_the_stub(
    rng: random.Random, extes: Vocabulary, extes_prompt: RenderedPrompt,
) -> None:
    async def main(stub: OpenAIStub) -> list:
        async with AsyncDraftClient(fast_config(stub, timeout_s=5), prices=PRICES,
                                    rng=rng) as client:
            return await asyncio.gather(
                *(client.generate(extes_prompt, extes) for _ in range(20)))

    with OpenAIStub(latency_s=0.2) as stub:
        results = asyncio.run(main(stub))
        requests = stub.chat_requests
        peak = stub.max_in_flight

    assert len(results) == 20 and all(r.ok for r in results)
    assert len({r.request_id for r in results}) == 20
    assert len(requests) == 20
    # All twenty were in the server at once, not one after another.
    assert peak >= 10


def test_async_client_retries_repairs_and_falls_back_like_the_sync_one(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(reject_json_schema(), rate_limit(retry_after=0.1), invalid_json())

    async def main() -> tuple:
        async with AsyncDraftClient(fast_config(openai_stub), prices=PRICES, rng=rng) as client:
            first = await client.generate(extes_prompt, extes)
            return first, client.structured_mode

    result, mode = asyncio.run(main())
    assert result.ok and result.repaired
    assert result.attempts == 4  # rejected, rate limited, invalid, repaired
    assert mode == "json_object"
    assert [r.behaviour for r in openai_stub.chat_requests] == [
        "reject_json_schema", "rate_limit", "invalid_json", "ok"]


def test_async_timeouts_become_a_failed_result(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    openai_stub.script(stall(3), stall(3))

    async def main():
        async with AsyncDraftClient(fast_config(openai_stub, timeout_s=0.3, max_retries=1),
                                    prices=PRICES, rng=rng) as client:
            return await client.generate(extes_prompt, extes)

    result = asyncio.run(main())
    assert isinstance(result.error, GenerationTimeoutError)
    assert result.attempts == 2


def test_async_streaming_yields_deltas(
    openai_stub: OpenAIStub, rng: random.Random, extes: Vocabulary,
    extes_prompt: RenderedPrompt,
) -> None:
    async def main() -> list[str]:
        async with AsyncDraftClient(fast_config(openai_stub), prices=PRICES, rng=rng) as client:
            return [piece async for piece in client.stream_text(extes_prompt, extes)]

    pieces = asyncio.run(main())
    assert len(pieces) > 3
    assert parse_draft("".join(pieces), extes).turns
