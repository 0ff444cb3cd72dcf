"""The OpenAI Batch API as a way to run draft requests: half the price per token, results
within the completion window (24 hours) instead of at once.

The requests are the very ones :class:`~curation_app.generation.client.AsyncDraftClient` would
send (same messages, same strict JSON Schema), written as JSONL lines, uploaded with
``files.create(purpose="batch")`` and run with ``batches.create``. Replies are read and
validated by the same code as live replies, so a batch draft is stored, or recorded as a
failure, exactly like any other. Two differences: no repair round (a reply that fails
validation is a failure, retried by queueing the job again with failures reset) and no
``response_format`` step-down (the Batch API is OpenAI's own, which supports strict schemas).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from curation_app.errors import GenerationError, ModelOutputError
from curation_app.generation.client import (
    CallOptions,
    DraftCore,
    DraftResult,
    LLMConfig,
    Tally,
    map_openai_error,
)
from curation_app.generation.draft_schema import draft_json_schema
from curation_app.generation.pricing import PriceTable
from curation_app.generation.prompts import RenderedPrompt
from curation_app.presets import Vocabulary

# OpenAI bills Batch API tokens at half the synchronous price.
BATCH_DISCOUNT = 0.5
ENDPOINT = "/v1/chat/completions"
OPEN_STATUSES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})


@dataclass(frozen=True)
class BatchOutcome:
    """A batch that has ended: a result per request that got an answer or an error, and a
    batch-wide note for requests it says nothing about (a batch that failed validation)."""

    batch_id: str
    status: str
    results: dict[str, DraftResult] = field(default_factory=dict)
    note: str | None = None


class BatchClient:
    """Sends draft requests as one OpenAI batch and reads the batch's results."""

    def __init__(self, config: LLMConfig, *, prices: PriceTable | None = None):
        self.config = config
        self.prices = prices if prices is not None else PriceTable.load()
        self._core = DraftCore(config, self.prices)
        self._openai = openai.AsyncOpenAI(api_key=config.api_key, base_url=config.base_url,
                                          timeout=config.timeout_s,
                                          max_retries=config.max_retries)

    async def __aenter__(self) -> BatchClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._openai.close()

    def line(self, custom_id: str, rendered: RenderedPrompt, vocab: Vocabulary,
             model: str | None = None, *, options: CallOptions | None = None) -> dict[str, Any]:
        """One JSONL request line, with the body a live call would send (``options``: the
        job's sampling and output cap; a budget gate in them is not used here, the caller
        reserves each line itself)."""
        body = self._core.request(list(rendered.messages), draft_json_schema(vocab),
                                  "json_schema", model, options=options)
        body.update(body.pop("extra_body", {}))  # on the wire it is all one body
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    async def submit(self, lines: list[dict[str, Any]], *,
                     metadata: dict[str, str] | None = None) -> str:
        """Upload the lines and start a batch; returns the batch id."""
        data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode("utf-8")
        try:
            uploaded = await self._openai.files.create(file=("drafts.jsonl", data),
                                                       purpose="batch")
            batch = await self._openai.batches.create(
                input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h",
                metadata=metadata)
        except openai.OpenAIError as exc:
            raise map_openai_error(exc, secret=self.config.api_key) from None
        return batch.id

    async def poll(self, batch_id: str, requests: Mapping[str, RenderedPrompt],
                   vocab: Vocabulary, model: str) -> BatchOutcome | None:
        """None while the batch runs; once it has ended, what it produced for ``requests``
        (custom id -> the prompt it was sent with)."""
        try:
            batch = await self._openai.batches.retrieve(batch_id)
            if batch.status in OPEN_STATUSES:
                return None
            lines = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = await self._openai.files.content(file_id)
                    lines += [json.loads(x) for x in content.text.splitlines() if x.strip()]
        except openai.OpenAIError as exc:
            raise map_openai_error(exc, secret=self.config.api_key) from None
        results: dict[str, DraftResult] = {}
        for line in lines:
            custom_id = str(line.get("custom_id"))
            if custom_id in requests:
                results[custom_id] = self._read(line, requests[custom_id], vocab, model)
        note = None
        errors = getattr(batch, "errors", None)
        if errors is not None and getattr(errors, "data", None):
            note = "; ".join(f"{e.code}: {e.message}" for e in errors.data)
        return BatchOutcome(batch_id, batch.status, results,
                            note or f"the batch ended ({batch.status}) without an answer "
                                    "for this request")

    def _read(self, line: dict[str, Any], rendered: RenderedPrompt, vocab: Vocabulary,
              model: str) -> DraftResult:
        tally = Tally(attempts=1)
        response = line.get("response") or {}
        error = line.get("error")
        tally.request_id = response.get("request_id")
        if error or response.get("status_code") != 200:
            detail = error or (response.get("body") or {}).get("error") or {}
            status = response.get("status_code")
            message = (f"{detail.get('code') or 'error'}: {detail.get('message')}"
                       + (f" (HTTP {status})" if status else ""))
            return self._core.result(rendered, tally, "json_schema", model, [], False,
                                     error=GenerationError(f"batch request failed: {message}",
                                                           retryable=True))
        completion = ChatCompletion.model_validate(response["body"])
        tally.add(completion)
        reading = self._core.read(completion, vocab)
        result = self._core.result(
            rendered, tally, "json_schema", model, [reading.raw_text], False,
            dialogue=reading.dialogue,
            error=None if reading.dialogue is not None else (
                reading.error or ModelOutputError("the reply could not be read")))
        cost = None if result.cost_usd is None else result.cost_usd * BATCH_DISCOUNT
        if result.dialogue is not None:
            result.dialogue.provenance = {**result.dialogue.provenance, "cost_usd": cost,
                                          "batch_api": True}
        return replace(result, cost_usd=cost)


__all__ = ["BATCH_DISCOUNT", "BatchClient", "BatchOutcome"]
