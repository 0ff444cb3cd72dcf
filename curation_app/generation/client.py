"""The OpenAI client for drafts: structured output, validation, one repair, retries, cost.

One call to :meth:`DraftClient.generate` (or :meth:`AsyncDraftClient.generate`) turns a rendered
prompt into a :class:`DraftResult`. It never raises for something the model or the server did:
a bad reply, a rate limit or a timeout comes back as a failed result that carries the raw text,
our error, the attempts made and the tokens spent, so a batch job can store it and move on.

How the two clients share one implementation: the decisions (what to send, whether to retry, how
long to wait, whether to repair or fall back) live in :class:`DraftCore` as generator
"protocols" that *yield* what they need done (``_Call`` a request, ``_Sleep`` a while) and receive
the outcome. The sync and async clients are small drivers that perform those actions with
``openai.OpenAI`` / ``time.sleep`` or ``openai.AsyncOpenAI`` / ``asyncio.sleep``. The SDK's own
retries are off (``max_retries=0``) so every attempt is ours: counted, logged and testable.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from openai import _exceptions as openai_exceptions

from curation_app.domain import Dialogue
from curation_app.errors import (
    BudgetReachedError,
    GenerationError,
    GenerationTimeoutError,
    ModelOutputError,
    ModelServerError,
    RateLimitedError,
)
from curation_app.generation.draft_schema import SCHEMA_NAME, draft_json_schema, parse_draft
from curation_app.generation.pricing import PriceTable
from curation_app.generation.prompts import RenderedPrompt, load_template, render_blocks
from curation_app.presets import Vocabulary

log = logging.getLogger(__name__)

StructuredMode = Literal["auto", "json_schema", "json_object", "text"]
STRUCTURED_MODES: tuple[str, ...] = ("auto", "json_schema", "json_object", "text")
# What "auto" steps down to when a server refuses a response_format.
_FALLBACK = {"json_schema": "json_object", "json_object": "text"}
_T = TypeVar("_T")


# ---- configuration ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """How to reach the model. ``api_key`` is left out of ``repr`` so it cannot reach a log.

    ``structured``: ``auto`` asks for a strict JSON Schema and steps down to ``json_object``, then
    plain text, when a server refuses; the other values pin one mode.
    ``max_retries`` counts retries after the first attempt, for timeouts, 429 and 5xx.
    Waits grow as ``backoff_base_s * 2**n`` (capped at ``backoff_max_s``) with jitter; a
    ``Retry-After`` from the server is honoured unless it exceeds ``max_retry_after_s``.
    """

    model: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    structured: StructuredMode = "auto"
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    max_tokens: int | None = None
    temperature: float | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise GenerationError("no model name given", retryable=False)
        if not self.api_key:
            raise GenerationError("no API key given: set OPENAI_API_KEY", retryable=False)
        if self.structured not in STRUCTURED_MODES:
            raise GenerationError(
                f"structured must be one of {', '.join(STRUCTURED_MODES)}, "
                f"not {self.structured!r}",
                retryable=False,
            )
        if self.max_retries < 0 or self.timeout_s <= 0:
            raise GenerationError("max_retries must be >= 0 and timeout_s > 0", retryable=False)

    @classmethod
    def from_env(
        cls, model: str, *, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> LLMConfig:
        """A config for ``model`` with the key and base URL from ``OPENAI_API_KEY`` and
        ``OPENAI_BASE_URL`` (unless given in ``overrides``)."""
        env = os.environ if environ is None else environ
        api_key = overrides.pop("api_key", None) or env.get("OPENAI_API_KEY", "")
        base_url = overrides.pop("base_url", None) or env.get("OPENAI_BASE_URL") or None
        return cls(model=model, api_key=api_key, base_url=base_url, **overrides)


@dataclass(frozen=True)
class CallOptions:
    """Per-draft settings a job passes down: sampling, an output cap and a budget gate.

    ``gate.reserve(kwargs)`` is asked before every request with what will be sent; it returns
    a ticket, or None to forbid the call. ``gate.settle(ticket, usage, model)`` follows with the
    usage the server reported (empty when the call failed).
    """

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    gate: Any = None


# ---- results ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DraftResult:
    """The outcome of one draft request, good or bad. Nothing here holds the API key.

    ``raw_text`` is the last reply the model sent (kept on failure too); replies that failed
    validation before a repair are in ``earlier_raw_texts``. ``usage`` and ``cost_usd`` add up
    every attempt, including failed ones and the repair.
    """

    dialogue: Dialogue | None
    raw_text: str | None
    error: GenerationError | None
    usage: dict[str, int]
    request_id: str | None
    model: str
    attempts: int
    finish_reason: str | None
    structured_mode: str
    repaired: bool = False
    earlier_raw_texts: tuple[str, ...] = ()
    cost_usd: float | None = None
    template: str | None = None

    @property
    def ok(self) -> bool:
        return self.dialogue is not None

    @property
    def error_type(self) -> str | None:
        return type(self.error).__name__ if self.error is not None else None

    @property
    def error_message(self) -> str | None:
        return str(self.error) if self.error is not None else None

    def as_log(self) -> dict[str, Any]:
        """A JSON-able summary for the generation job log (the dialogue itself is not in it)."""
        return {
            "ok": self.ok,
            "error_type": self.error_type,
            "error": self.error_message,
            "error_field": getattr(self.error, "field", None),
            "retryable": self.error.retryable if self.error is not None else None,
            "raw_text": self.raw_text,
            "earlier_raw_texts": list(self.earlier_raw_texts),
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "request_id": self.request_id,
            "model": self.model,
            "attempts": self.attempts,
            "finish_reason": self.finish_reason,
            "structured_mode": self.structured_mode,
            "repaired": self.repaired,
            "template": self.template,
        }


# ---- error mapping ---------------------------------------------------------------------------

_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{3})[A-Za-z0-9_*\-]{5,}")


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with ``secret`` and anything shaped like an OpenAI key blanked out.

    Servers echo keys back ("Incorrect API key provided: sk-abc…"), so every message that came
    from the server passes through here before it reaches an error, a result or a log.
    """
    if secret:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub(r"\1…[redacted]", text)


def _server_detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(exc, "message", None) or exc)


def _parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (a number or an HTTP date)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return None


def map_openai_error(exc: BaseException, *, secret: str | None = None) -> GenerationError:
    """Translate an exception of the ``openai`` SDK into ours (the one place that does).

    Decides ``retryable`` too: timeouts, connection failures, 408/409/429 and 5xx may succeed on
    a later try; a bad key, an unknown model, a refused request or a used-up quota will not.
    Server-provided text is redacted so the key cannot leak through an error message.
    """
    if isinstance(exc, GenerationError):
        return exc
    status = getattr(exc, "status_code", None) if isinstance(exc, openai.APIStatusError) else None
    request_id = getattr(exc, "request_id", None)
    response = getattr(exc, "response", None)
    retry_after = _parse_retry_after(getattr(response, "headers", None))
    detail = redact(_server_detail(exc), secret)
    common: dict[str, Any] = {"status_code": status, "request_id": request_id}

    if isinstance(exc, openai.APITimeoutError):
        return GenerationTimeoutError("the model server did not answer within the timeout",
                                      **common)
    if isinstance(exc, openai.APIConnectionError):
        return ModelServerError(f"could not reach the model server: {detail}", **common)
    if isinstance(exc, openai.RateLimitError):
        if getattr(exc, "code", None) == "insufficient_quota":
            return RateLimitedError(
                f"the account's quota is used up (429 insufficient_quota): {detail}",
                retryable=False, retry_after=retry_after, **common,
            )
        return RateLimitedError(f"rate limited by the model server (429): {detail}",
                                retry_after=retry_after, **common)
    if isinstance(exc, openai.AuthenticationError):
        return ModelServerError(
            f"the model server refused the API key ({status}): {detail}; check OPENAI_API_KEY",
            retryable=False, **common,
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return ModelServerError(
            f"the API key may not use this model or endpoint (403): {detail}",
            retryable=False, **common,
        )
    if isinstance(exc, openai.NotFoundError):
        return ModelServerError(
            f"the model or endpoint does not exist (404): {detail}; "
            "check the model name and OPENAI_BASE_URL",
            retryable=False, **common,
        )
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return ModelServerError(f"the model server refused the request ({status}): {detail}",
                                retryable=False, **common)
    if isinstance(exc, openai.ConflictError):
        return ModelServerError(f"the model server reported a conflict (409): {detail}",
                                retry_after=retry_after, retryable=True, **common)
    if isinstance(exc, openai.APIStatusError):
        if status == 408:
            return GenerationTimeoutError(f"the model server timed out (408): {detail}", **common)
        server_side = status is not None and status >= 500
        kind = "failed" if server_side else "refused the request"
        return ModelServerError(f"the model server {kind} ({status}): {detail}",
                                retry_after=retry_after, retryable=server_side, **common)
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelServerError(
            f"the model server's response did not have the expected shape: {detail}",
            retryable=False, **common,
        )
    if isinstance(exc, openai.LengthFinishReasonError):
        return ModelOutputError("the reply was cut off at max_tokens (finish_reason 'length')")
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ModelOutputError("the provider's content filter stopped the reply")
    if isinstance(exc, openai_exceptions.SubjectTokenProviderError):
        return ModelServerError(f"could not obtain credentials for the model server: {detail}",
                                retryable=False)
    if isinstance(exc, openai.WebSocketConnectionClosedError | openai.WebSocketQueueFullError):
        return ModelServerError(f"the connection to the model server failed: {detail}")
    return GenerationError(f"the openai SDK raised {type(exc).__name__}: {detail}", **common)


def _rejects_response_format(exc: BaseException | None) -> bool:
    """Whether a server refused the request because of ``response_format`` (unsupported mode)."""
    if not isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return False
    if getattr(exc, "param", None) == "response_format":
        return True
    text = _server_detail(exc).lower()
    return "response_format" in text or "json_schema" in text


# ---- the shared core -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Call:
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _Sleep:
    seconds: float


_Action = _Call | _Sleep
_Protocol = Generator[_Action, Any, _T]


@dataclass
class Tally:
    """What one ``generate`` has spent so far, over all its attempts."""

    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_id: str | None = None
    model: str | None = None
    finish_reason: str | None = None

    def add(self, completion: Any) -> None:
        usage = getattr(completion, "usage", None)
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        self.request_id = getattr(completion, "_request_id", None) or self.request_id
        self.model = getattr(completion, "model", None) or self.model
        choices = getattr(completion, "choices", None) or []
        self.finish_reason = choices[0].finish_reason if choices else None

    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True)
class _Reading:
    """A completion read against the schema: a dialogue, or an error and whether to repair."""

    raw_text: str
    dialogue: Dialogue | None = None
    error: ModelOutputError | None = None
    repairable: bool = False


class DraftCore:
    """Every decision of the draft clients, with no I/O of its own (see the module docstring)."""

    def __init__(self, config: LLMConfig, prices: PriceTable | None,
                 rng: random.Random | None = None):
        self.config = config
        self.prices = prices
        self.mode: str = "json_schema" if config.structured == "auto" else config.structured
        self._rng = rng or random.Random()
        self._format_template = load_template("output_format")

    # -- requests --
    def _messages(self, messages: list[dict[str, str]], schema: dict[str, Any],
                  mode: str) -> list[dict[str, str]]:
        if mode == "json_schema":
            return messages
        # Without a server-enforced schema the model must be told the shape in words; OpenAI's
        # json_object mode also refuses requests whose messages never mention JSON.
        text = render_blocks(self._format_template,
                             {"schema": json.dumps(schema, ensure_ascii=False), "error": ""})
        note = {"role": "system", "content": text["schema_instruction"]}
        at = next((i for i, m in enumerate(messages) if m["role"] != "system"), len(messages))
        return [*messages[:at], note, *messages[at:]]

    def request(self, messages: list[dict[str, str]], schema: dict[str, Any], mode: str,
                model: str | None, *, stream: bool = False,
                options: CallOptions | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": model or self.config.model,
            "messages": self._messages(messages, schema, mode),
        }
        if mode == "json_schema":
            # Sent through extra_body, which goes on the wire unchanged: as a typed argument
            # the SDK walks the whole schema through its type transformer on every call
            # (about 2 ms of CPU, a visible share of a batch's event-loop time).
            kwargs["extra_body"] = {"response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
            }}
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        max_tokens = (options.max_tokens if options and options.max_tokens is not None
                      else self.config.max_tokens)
        if max_tokens is not None:
            kwargs["max_completion_tokens"] = max_tokens
        temperature = (options.temperature if options and options.temperature is not None
                       else self.config.temperature)
        if temperature is not None:
            kwargs["temperature"] = temperature
        if options is not None and options.top_p is not None:
            kwargs["top_p"] = options.top_p
        if stream:
            kwargs["stream"] = True
            # Ask for the usage figures in the last chunk, so streamed drafts are costed too.
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def repair_message(self, error: ModelOutputError) -> dict[str, str]:
        text = render_blocks(self._format_template, {"schema": "", "error": str(error)})
        return {"role": "user", "content": text["repair"]}

    # -- retries --
    def retry_delay(self, retries_done: int, error: GenerationError) -> float | None:
        """Seconds to wait before the next try, or None to give up now."""
        if not error.retryable or retries_done >= self.config.max_retries:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.config.max_retry_after_s:
                return None
            # Jitter on top of the server's wait so that workers rate-limited together do not
            # all come back in the same instant.
            return error.retry_after + self._rng.uniform(0, self.config.backoff_base_s / 2)
        backoff = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**retries_done)
        return backoff * self._rng.uniform(0.5, 1.0)

    def call(self, kwargs: dict[str, Any], tally: Tally,
             gate: Any = None) -> _Protocol[Any]:
        """One request with retries; returns the SDK's answer or raises our GenerationError.

        With a ``gate`` (a job's budget), each try is reserved before it is sent and settled
        with the usage the server reported, so a budget holds even across retries and repairs.
        """
        retries = 0
        while True:
            ticket = None
            if gate is not None:
                ticket = gate.reserve(kwargs)
                if ticket is None:
                    raise BudgetReachedError("not sent: the worst case of this call would pass "
                                             "the job's budget")
            tally.attempts += 1
            reply = yield _Call(kwargs)
            if gate is not None:
                usage = getattr(reply, "usage", None) if not isinstance(reply,
                                                                         BaseException) else None
                gate.settle(ticket, {
                    "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                    "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
                } if usage is not None else {}, getattr(reply, "model", None))
            if not isinstance(reply, BaseException):
                return reply
            error = map_openai_error(reply, secret=self.config.api_key)
            delay = self.retry_delay(retries, error)
            if delay is None:
                limit = self.config.max_retry_after_s
                if error.retry_after is not None and error.retry_after > limit:
                    error.args = (f"{error}; the server asked to wait {error.retry_after:g} s, "
                                  f"more than max_retry_after_s={limit:g}",)
                elif retries:
                    error.args = (f"{error} (gave up after {retries + 1} attempts)",)
                raise error from reply
            retries += 1
            log.info("model call failed (%s: %s); retry %d of %d in %.2f s",
                     type(error).__name__, error, retries, self.config.max_retries, delay)
            yield _Sleep(delay)

    def step_down(self, mode: str, error: GenerationError) -> bool:
        """After a refused ``response_format``, switch to the next mode for good; True if so."""
        if self.config.structured != "auto" or mode not in _FALLBACK:
            return False
        if not _rejects_response_format(error.__cause__):
            return False
        if self.mode == mode:  # another concurrent draft may have stepped down already
            self.mode = _FALLBACK[mode]
            log.warning("the model server refused response_format %r; using %r from now on",
                        mode, self.mode)
        return True

    # -- reading replies --
    def read(self, completion: Any, vocab: Vocabulary) -> _Reading:
        choices = getattr(completion, "choices", None) or []
        if not choices:
            return _Reading("", error=ModelOutputError("the reply had no choices"))
        choice = choices[0]
        raw = choice.message.content or ""
        if choice.finish_reason == "length":
            tokens = getattr(getattr(completion, "usage", None), "completion_tokens", None)
            return _Reading(raw, error=ModelOutputError(
                f"the reply was cut off at max_tokens (finish_reason 'length', {tokens} "
                "completion tokens); raise max_tokens or ask for fewer turns"))
        if choice.finish_reason == "content_filter":
            return _Reading(raw, error=ModelOutputError(
                "the provider's content filter stopped the reply"))
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            return _Reading(raw, error=ModelOutputError(f"the model refused: {refusal}"))
        if not raw.strip():
            return _Reading(raw, error=ModelOutputError("the reply was empty"), repairable=True)
        try:
            return _Reading(raw, dialogue=parse_draft(raw, vocab))
        except ModelOutputError as exc:
            return _Reading(raw, error=exc, repairable=True)

    # -- protocols --
    def draft(self, rendered: RenderedPrompt, vocab: Vocabulary,
              model: str | None,
              options: CallOptions | None = None) -> _Protocol[DraftResult]:
        schema = draft_json_schema(vocab)
        tally = Tally()
        messages = [dict(m) for m in rendered.messages]
        replies: list[str] = []
        repaired = False
        while True:
            mode = self.mode
            try:
                completion = yield from self.call(
                    self.request(messages, schema, mode, model, options=options), tally,
                    options.gate if options is not None else None)
            except GenerationError as error:
                if self.step_down(mode, error):
                    continue
                tally.request_id = error.request_id or tally.request_id
                return self.result(rendered, tally, mode, model, replies, repaired, error=error)
            tally.add(completion)
            reading = self.read(completion, vocab)
            replies.append(reading.raw_text)
            if reading.dialogue is not None:
                return self.result(rendered, tally, mode, model, replies, repaired,
                                   dialogue=reading.dialogue)
            if repaired or not reading.repairable:
                return self.result(rendered, tally, mode, model, replies, repaired,
                                   error=reading.error)
            # One repair: show the model its reply and what is wrong with it.
            assert reading.error is not None
            log.info("draft reply failed validation (%s); asking once for a repair",
                     reading.error)
            repaired = True
            messages = [*messages, {"role": "assistant", "content": reading.raw_text},
                        self.repair_message(reading.error)]

    def open_stream(self, rendered: RenderedPrompt, vocab: Vocabulary,
                    model: str | None, options: CallOptions | None = None) -> _Protocol[Any]:
        schema = draft_json_schema(vocab)
        tally = Tally()
        while True:
            mode = self.mode
            try:
                return (yield from self.call(
                    self.request(list(rendered.messages), schema, mode, model, stream=True,
                                 options=options),
                    tally))
            except GenerationError as error:
                if not self.step_down(mode, error):
                    raise

    def priced(self, tally: Tally, model: str | None
               ) -> tuple[str, dict[str, int], float | None]:
        """(model used, usage, cost) of everything the tally counted; priced as the model the
        server named, else as the one requested (a dated snapshot may not be in the table)."""
        requested = model or self.config.model
        used = tally.model or requested
        usage = tally.usage()
        cost = None
        if self.prices is not None:
            cost = self.prices.cost_usd(used, usage)
            if cost is None:
                cost = self.prices.cost_usd(requested, usage)
        return used, usage, cost

    def result(self, rendered: RenderedPrompt, tally: Tally, mode: str, model: str | None,
               replies: list[str], repaired: bool, *, dialogue: Dialogue | None = None,
               error: GenerationError | None = None) -> DraftResult:
        used, usage, cost = self.priced(tally, model)
        template = f"{rendered.template_name}@{rendered.template_version}"
        if error is not None:
            # The SDK exception behind ours holds the HTTP request, whose headers carry the key,
            # and the traceback's frames hold the client; a stored result keeps neither.
            error.__cause__ = None
            error.__context__ = None
            error.__traceback__ = None
        if dialogue is not None:
            dialogue.topic = rendered.topic
            dialogue.emotion = rendered.emotion
            dialogue.provenance = {
                "model": used,
                "template": rendered.template_name,
                "template_version": rendered.template_version,
                "seed_ids": list(rendered.seed_ids),
                "request_id": tally.request_id,
                "usage": usage,
                "cost_usd": cost,
                "attempts": tally.attempts,
                "structured_mode": mode,
                "repaired": repaired,
            }
        return DraftResult(
            dialogue=dialogue,
            raw_text=replies[-1] if replies else None,
            error=error,
            usage=usage,
            request_id=tally.request_id,
            model=used,
            attempts=tally.attempts,
            finish_reason=tally.finish_reason,
            structured_mode=mode,
            repaired=repaired,
            earlier_raw_texts=tuple(replies[:-1]),
            cost_usd=cost,
            template=template,
        )


# ---- drivers ---------------------------------------------------------------------------------

def _drive(protocol: _Protocol[_T], create: Callable[..., Any]) -> _T:
    reply: Any = None
    while True:
        try:
            action = protocol.send(reply)
        except StopIteration as stop:
            return stop.value
        if isinstance(action, _Sleep):
            time.sleep(action.seconds)
            reply = None
            continue
        try:
            reply = create(**action.kwargs)
        except openai.OpenAIError as exc:
            reply = exc


async def _adrive(protocol: _Protocol[_T], create: Callable[..., Any]) -> _T:
    reply: Any = None
    while True:
        try:
            action = protocol.send(reply)
        except StopIteration as stop:
            return stop.value
        if isinstance(action, _Sleep):
            await asyncio.sleep(action.seconds)
            reply = None
            continue
        try:
            reply = await create(**action.kwargs)
        except openai.OpenAIError as exc:
            reply = exc


def _deltas(chunk: Any) -> Iterator[str]:
    for choice in getattr(chunk, "choices", None) or []:
        content = getattr(getattr(choice, "delta", None), "content", None)
        if content:
            yield content


class _ClientBase:
    """What both clients hold: the config, the shared decision core and one SDK client."""

    _sdk_class: Any = None

    def __init__(self, config: LLMConfig, *, prices: PriceTable | None = None,
                 http_client: Any = None, rng: random.Random | None = None):
        self.config = config
        self._core = DraftCore(config, prices if prices is not None else PriceTable.load(), rng)
        # The SDK's own retries are off: ours are in the core, counted and testable.
        self._openai = self._sdk_class(
            api_key=config.api_key, base_url=config.base_url, timeout=config.timeout_s,
            max_retries=0, http_client=http_client,
        )

    @property
    def structured_mode(self) -> str:
        """The response_format mode the next request will use."""
        return self._core.mode

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.config.model!r}, "
                f"base_url={self.config.base_url!r}, structured_mode={self.structured_mode!r})")


def _unstreamed(stream: Any) -> dict[str, Any] | None:
    """The body of a reply to a streamed request that is not an event stream (a server that
    ignores ``stream: true`` and sends one JSON completion), or None for a real stream."""
    response = stream.response
    kind = response.headers.get("content-type", "")
    if "text/event-stream" in kind:
        return None
    body = response.read()
    try:
        data = json.loads(body)
    except ValueError:
        # Not JSON either: its text is the reply, for the parser to judge and the page to show.
        return {"choices": [{"message": {"content": body.decode("utf-8", "replace")}}]}
    return data if isinstance(data, dict) else {"choices": [{"message": {"content": body.decode(
        "utf-8", "replace")}}]}


def _whole_reply(data: dict[str, Any], tally: Tally) -> str:
    """The message text of a plain completion, its usage and model counted into ``tally``."""
    tally.model = data.get("model") or tally.model
    usage = data.get("usage") or {}
    tally.prompt_tokens += int(usage.get("prompt_tokens") or 0)
    tally.completion_tokens += int(usage.get("completion_tokens") or 0)
    choices = data.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    tally.finish_reason = choice.get("finish_reason") or tally.finish_reason
    message = choice.get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else json.dumps(data, ensure_ascii=False)


class DraftClient(_ClientBase):
    """Drafts from an OpenAI-compatible server, synchronously (UI, CLI, scripts).

    Remembers a ``response_format`` fallback for its lifetime. Close it (or use ``with``).
    """

    _sdk_class = openai.OpenAI

    def generate(self, rendered: RenderedPrompt, vocab: Vocabulary, *,
                 model: str | None = None,
                 options: CallOptions | None = None) -> DraftResult:
        """One draft for ``rendered``; never raises for model or server trouble."""
        return _drive(self._core.draft(rendered, vocab, model, options),
                      self._openai.chat.completions.create)

    def stream_text(self, rendered: RenderedPrompt, vocab: Vocabulary, *,
                    model: str | None = None) -> Iterator[str]:
        """The reply's text as it arrives, in pieces (for a live preview).

        Opening the stream is retried like :meth:`generate`; a failure raises our
        :class:`GenerationError`. The joined text is not validated here: pass it to
        :func:`parse_draft`.
        """
        stream = _drive(self._core.open_stream(rendered, vocab, model),
                        self._openai.chat.completions.create)
        try:
            for chunk in stream:
                yield from _deltas(chunk)
        except openai.OpenAIError as exc:
            raise map_openai_error(exc, secret=self.config.api_key) from exc
        finally:
            stream.close()

    def stream_draft(self, rendered: RenderedPrompt, vocab: Vocabulary, *,
                     model: str | None = None,
                     on_text: Callable[[str], None] | None = None,
                     options: CallOptions | None = None) -> DraftResult:
        """One draft, streamed: ``on_text`` gets the reply so far after every piece.

        Like :meth:`generate` it never raises for model or server trouble and validates the
        reply, but a bad streamed reply is not repaired (the person watching can generate
        again); it comes back as a failed result with its raw text.
        """
        tally = Tally()
        mode = self._core.mode
        pieces: list[str] = []
        try:
            stream = _drive(self._core.open_stream(rendered, vocab, model, options),
                            self._openai.chat.completions.create)
            mode = self._core.mode
            tally.attempts = 1
            try:
                tally.request_id = stream.response.headers.get("x-request-id")
                whole = _unstreamed(stream)
                if whole is not None:
                    # The server ignored ``stream: true`` and answered with one completion:
                    # it is the whole reply (the SDK would read it as an empty stream).
                    pieces.append(_whole_reply(whole, tally))
                    if on_text is not None:
                        on_text(pieces[0])
                for chunk in stream if whole is None else ():
                    tally.model = getattr(chunk, "model", None) or tally.model
                    usage = getattr(chunk, "usage", None)
                    if usage is not None:
                        tally.prompt_tokens += int(usage.prompt_tokens or 0)
                        tally.completion_tokens += int(usage.completion_tokens or 0)
                    for choice in chunk.choices or []:
                        tally.finish_reason = choice.finish_reason or tally.finish_reason
                    for piece in _deltas(chunk):
                        pieces.append(piece)
                        if on_text is not None:
                            on_text("".join(pieces))
            finally:
                stream.close()
        except openai.OpenAIError as exc:
            error = map_openai_error(exc, secret=self.config.api_key)
            return self._core.result(rendered, tally, mode, model, ["".join(pieces)], False,
                                     error=error)
        except GenerationError as error:
            return self._core.result(rendered, tally, mode, model, ["".join(pieces)], False,
                                     error=error)
        text = "".join(pieces)
        if tally.finish_reason == "length":
            cut = ModelOutputError(
                "the reply was cut off at max_tokens (finish_reason 'length'); raise "
                "max_tokens or ask for fewer turns")
            return self._core.result(rendered, tally, mode, model, [text], False, error=cut)
        try:
            dialogue = parse_draft(text, vocab)  # also takes JSON wrapped in prose
        except ModelOutputError as error:
            return self._core.result(rendered, tally, mode, model, [text], False, error=error)
        return self._core.result(rendered, tally, mode, model, [text], False, dialogue=dialogue)

    def close(self) -> None:
        self._openai.close()

    def __enter__(self) -> DraftClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()



class AsyncDraftClient(_ClientBase):
    """Drafts from an OpenAI-compatible server with asyncio (batch jobs run many at once).

    Same behaviour as :class:`DraftClient`; share one instance between concurrent tasks so
    that a ``response_format`` fallback learnt by one applies to all.
    """

    _sdk_class = openai.AsyncOpenAI

    async def generate(self, rendered: RenderedPrompt, vocab: Vocabulary, *,
                       model: str | None = None,
                       options: CallOptions | None = None) -> DraftResult:
        """One draft for ``rendered``; never raises for model or server trouble."""
        return await _adrive(self._core.draft(rendered, vocab, model, options),
                             self._openai.chat.completions.create)

    async def stream_text(self, rendered: RenderedPrompt, vocab: Vocabulary, *,
                          model: str | None = None) -> AsyncIterator[str]:
        """Async twin of :meth:`DraftClient.stream_text`."""
        stream = await _adrive(self._core.open_stream(rendered, vocab, model),
                               self._openai.chat.completions.create)
        try:
            async for chunk in stream:
                for delta in _deltas(chunk):
                    yield delta
        except openai.OpenAIError as exc:
            raise map_openai_error(exc, secret=self.config.api_key) from exc
        finally:
            await stream.close()

    async def close(self) -> None:
        await self._openai.close()

    async def __aenter__(self) -> AsyncDraftClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

