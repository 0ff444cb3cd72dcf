"""The LLM judge: one conversation in, per-aspect scores and a short reason out.

It goes through the project's generation client: the same configuration (:class:`LLMConfig`),
the same retries with backoff, ``Retry-After`` handling, structured-output fallback, error
mapping and cost accounting (:mod:`curation_app.generation.client`). Only the schema, the prompt
and the reading of the reply are the judge's own. A reply that is not JSON, lacks an aspect or
scores outside the protocol's scale is shown to the model once with what is wrong; if the
second reply is no better the item fails, and its raw text is kept, never its scores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from curation_app.errors import BudgetReachedError, GenerationError, ModelOutputError
from curation_app.generation.client import (
    AsyncDraftClient,
    DraftClient,
    DraftCore,
    Tally,
    _adrive,
    _drive,
    _Protocol,
)
from curation_app.generation.draft_schema import extract_json_object
from curation_app.generation.prompts import load_template, render_blocks
from curation_app.quality.protocols import Protocol

JUDGE_TEMPLATE = "judge"
SCHEMA_NAME = "quality_scores"
REASON_LIMIT = 2000


def judge_json_schema(protocol: Protocol) -> dict[str, Any]:
    """Scores for every aspect (an enum of the scale's points, which strict mode accepts) and a
    reason."""
    scale = protocol.scale
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "object",
                "properties": {a: {"type": "integer", "enum": scale}
                               for a in protocol.aspect_names},
                "required": list(protocol.aspect_names),
                "additionalProperties": False,
            },
            "reason": {"type": "string"},
        },
        "required": ["scores", "reason"],
        "additionalProperties": False,
    }


def parse_judgement(text: str, protocol: Protocol) -> tuple[dict[str, int], str]:
    """(scores, reason) from a reply, or ModelOutputError naming the field at fault."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = extract_json_object(text)
        except ValueError as exc:
            raise ModelOutputError("the reply is not JSON", field="(top level)") from exc
    if not isinstance(data, Mapping):
        raise ModelOutputError("the reply is not a JSON object", field="(top level)")
    scores = data.get("scores")
    if not isinstance(scores, Mapping):
        raise ModelOutputError("the reply has no \"scores\" object", field="scores")
    out: dict[str, int] = {}
    for aspect in protocol.aspect_names:
        where = f"scores.{aspect}"
        if aspect not in scores:
            raise ModelOutputError(f"{where} is missing", field=where)
        value = scores[aspect]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelOutputError(f"{where} must be a whole number, not {value!r}", field=where)
        if not protocol.minimum <= value <= protocol.maximum:
            raise ModelOutputError(f"{where} is {value}, outside the scale "
                                   f"{protocol.minimum}-{protocol.maximum}", field=where)
        out[aspect] = value
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ModelOutputError("the reply has no \"reason\" text", field="reason")
    return out, reason.strip()[:REASON_LIMIT]


@dataclass(frozen=True)
class JudgeResult:
    scores: dict[str, int] | None
    reason: str | None
    raw_text: str | None
    error: GenerationError | None
    usage: dict[str, int]
    request_id: str | None
    model: str
    attempts: int
    repaired: bool
    cost_usd: float | None
    earlier_raw_texts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.scores is not None

    @property
    def error_text(self) -> str | None:
        return None if self.error is None else f"{type(self.error).__name__}: {self.error}"


def judge_messages(protocol: Protocol, content: Mapping[str, Any],
                   speakers: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The chat messages that ask for a judgement of one rating item's ``content``."""
    names = {"seeker": "Seeker", "supporter": "Supporter", **(speakers or {})}
    turns = [{"speaker": names.get(t["role"], t["role"]), "text": t["text"],
              "focus": bool(t.get("focus"))} for t in content.get("turns", [])]
    blocks = render_blocks(load_template(JUDGE_TEMPLATE), {
        "protocol": {"min": protocol.minimum, "max": protocol.maximum,
                     "aspects": [{"name": a.name, "label": a.shown("en"),
                                  "definition": a.explained("en")} for a in protocol.aspects]},
        "turns": turns, "description": content.get("description") or "",
        "language": content.get("language") or "en"})
    return [{"role": "system", "content": blocks["system"]},
            {"role": "user", "content": blocks["user"]}]


# The most output tokens one judgement request may take when the client sets no cap of its own.
JUDGE_MAX_TOKENS = 1024


def judge_max_tokens(config: Any) -> int:
    """The output cap a judge request is sent with (the client's own, or the judge default)."""
    return int(getattr(config, "max_tokens", None) or JUDGE_MAX_TOKENS)


def prompt_version() -> str:
    return load_template(JUDGE_TEMPLATE).ref


class _JudgeCore(DraftCore):
    """The draft core's request, retry and fallback decisions, reading judgements instead."""

    def judge(self, messages: list[dict[str, str]], protocol: Protocol,
              model: str | None, gate: Any = None) -> _Protocol[JudgeResult]:
        """``gate``: a run's budget, asked before every request (the judgement and its repair
        alike; see :class:`~curation_app.generation.client.CallOptions`). A refusal ends the
        judgement with a BudgetReachedError, ``attempts`` saying how many calls were sent."""
        schema = judge_json_schema(protocol)
        tally = Tally()
        replies: list[str] = []
        repaired = False
        while True:
            mode = self.mode
            kwargs = self.request(messages, schema, mode, model)
            # A judgement is short: cap its output so the budget's worst case is a real bound.
            kwargs.setdefault("max_completion_tokens", JUDGE_MAX_TOKENS)
            if mode == "json_schema":
                kwargs["extra_body"]["response_format"]["json_schema"]["name"] = SCHEMA_NAME
            try:
                completion = yield from self.call(kwargs, tally, gate)
            except BudgetReachedError as error:
                return self._result(tally, model, replies, repaired, error=error)
            except GenerationError as error:
                if self.step_down(mode, error):
                    continue
                tally.request_id = error.request_id or tally.request_id
                return self._result(tally, model, replies, repaired, error=error)
            tally.add(completion)
            raw, error, repairable = self._read(completion)
            replies.append(raw)
            if error is None:
                try:
                    scores, reason = parse_judgement(raw, protocol)
                except ModelOutputError as exc:
                    error, repairable = exc, True
                else:
                    return self._result(tally, model, replies, repaired, scores=scores,
                                        reason=reason)
            if repaired or not repairable:
                return self._result(tally, model, replies, repaired, error=error)
            repaired = True
            messages = [*messages, {"role": "assistant", "content": raw},
                        self.repair_message(error)]

    @staticmethod
    def _read(completion: Any) -> tuple[str, ModelOutputError | None, bool]:
        choices = getattr(completion, "choices", None) or []
        if not choices:
            return "", ModelOutputError("the reply had no choices"), False
        choice = choices[0]
        raw = choice.message.content or ""
        if choice.finish_reason == "length":
            return raw, ModelOutputError("the reply was cut off at max_tokens"), True
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            return raw, ModelOutputError(f"the model refused: {refusal}"), False
        if not raw.strip():
            return raw, ModelOutputError("the reply was empty"), True
        return raw, None, False

    def _result(self, tally: Tally, model: str | None, replies: list[str], repaired: bool, *,
                scores: dict[str, int] | None = None, reason: str | None = None,
                error: GenerationError | None = None) -> JudgeResult:
        used, usage, cost = self.priced(tally, model)
        if error is not None:  # the SDK error behind ours holds the request, and so the key
            error.__cause__ = error.__context__ = error.__traceback__ = None
        return JudgeResult(scores=scores, reason=reason,
                           raw_text=replies[-1] if replies else None, error=error, usage=usage,
                           request_id=tally.request_id, model=used, attempts=tally.attempts,
                           repaired=repaired, cost_usd=cost,
                           earlier_raw_texts=tuple(replies[:-1]))


class JudgeClient(DraftClient):
    """Judgements, synchronously (one item from the UI or a script)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._core = _JudgeCore(self.config, self._core.prices, self._core._rng)

    def judge(self, messages: list[dict[str, str]], protocol: Protocol, *,
              model: str | None = None, gate: Any = None) -> JudgeResult:
        """One judgement; never raises for model or server trouble."""
        assert isinstance(self._core, _JudgeCore)
        return _drive(self._core.judge(messages, protocol, model, gate),
                      self._openai.chat.completions.create)


class AsyncJudgeClient(AsyncDraftClient):
    """Judgements with asyncio (judge runs score many items at once)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._core = _JudgeCore(self.config, self._core.prices, self._core._rng)

    async def judge(self, messages: list[dict[str, str]], protocol: Protocol, *,
                    model: str | None = None, gate: Any = None) -> JudgeResult:
        assert isinstance(self._core, _JudgeCore)
        return await _adrive(self._core.judge(messages, protocol, model, gate),
                             self._openai.chat.completions.create)
