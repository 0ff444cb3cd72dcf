"""A real HTTP server speaking enough of the OpenAI chat-completions API for tests and benchmarks.

The ``openai`` SDK talks to it over TCP exactly as it would to the real service, so the client's
request building, response parsing, error classes, timeouts and streaming are all exercised.

Usage::

    with OpenAIStub() as stub:
        stub.script(rate_limit(retry_after=1), ok())   # what the next requests get
        client = DraftClient(LLMConfig(model="gpt-4o-mini", api_key="sk-test", base_url=stub.url))
        ...
        assert len(stub.chat_requests) == 2

With an empty script every request gets ``ok``: a valid draft built from the JSON Schema found in
the request (``response_format`` or, failing that, a schema quoted in the messages), so it fits
whatever preset the client asked for. Chinese prompts get Chinese text.

``POST /v1/moderations`` answers like OpenAI's moderation endpoint, flagging a text when it holds
one of a few trigger phrases per category (:data:`MODERATION_TRIGGERS`); it does not use the
chat script, and ``moderation_error`` makes it fail with that HTTP status instead.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# ---- behaviours ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """What the stub does with one chat request. Build them with the functions below."""

    kind: str
    retry_after: float | None = None
    seconds: float = 0.0
    status: int = 500
    variant: str = ""
    content: str | None = None
    finish_reason: str = "stop"


def ok() -> Behaviour:
    """A valid draft for the requested schema."""
    return Behaviour("ok")


def rate_limit(retry_after: float | None = 1.0, *, code: str | None = None) -> Behaviour:
    """429 with a ``Retry-After`` header (seconds) unless ``retry_after`` is None."""
    return Behaviour("rate_limit", retry_after=retry_after, variant=code or "")


def server_error(status: int = 500) -> Behaviour:
    return Behaviour("server_error", status=status)


def stall(seconds: float) -> Behaviour:
    """Say nothing for ``seconds`` (past the client's timeout), then answer ok if still there."""
    return Behaviour("stall", seconds=seconds)


def invalid_json() -> Behaviour:
    """A reply that is not JSON and holds no JSON object either."""
    return Behaviour("invalid_json")


def schema_violation(variant: str = "wrong_enum") -> Behaviour:
    """Valid JSON off the schema: ``wrong_enum`` (unknown strategy) or ``missing_field``."""
    if variant not in ("wrong_enum", "missing_field"):
        raise ValueError(f"unknown schema_violation variant {variant!r}")
    return Behaviour("schema_violation", variant=variant)


def truncated() -> Behaviour:
    """The draft cut off mid-JSON with ``finish_reason: "length"``."""
    return Behaviour("truncated", finish_reason="length")


def reject_json_schema() -> Behaviour:
    """A 400 like OpenAI's for an unsupported ``response_format`` (if json_schema was asked)."""
    return Behaviour("reject_json_schema")


def plain_text() -> Behaviour:
    """A valid draft wrapped in prose and a code fence."""
    return Behaviour("plain_text")


def auth_error() -> Behaviour:
    """401 whose message echoes the whole key it received, to prove the client redacts it."""
    return Behaviour("auth_error", status=401)


def reply(content: str, finish_reason: str = "stop") -> Behaviour:
    """Exactly this assistant message."""
    return Behaviour("reply", content=content, finish_reason=finish_reason)


# ---- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. ``headers`` are lower-cased and never include Authorization."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float  # time.monotonic()
    behaviour: str
    had_auth: bool

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    @property
    def response_format_type(self) -> str | None:
        return _format_type(self.body)


# ---- canned content --------------------------------------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_SEEKER = [
    "I've had a rough week and I can't stop thinking about it.",
    "It's just that everything piled up at once and I froze.",
    "I guess I'm scared it will happen again next time.",
    "That actually helps a bit. Maybe I could try that tomorrow.",
    "Thanks, I feel calmer now.",
]
_EN_SUPPORTER = [
    "That sounds really hard. Do you want to tell me what happened?",
    "Anyone would feel overwhelmed with that much at once; it makes sense you froze.",
    "What if we broke it into one small step you could take first?",
    "That sounds like a good plan, and you can adjust it as you go.",
    "I'm glad. You handled a tough moment with a lot of honesty.",
]
_ZH_SEEKER = [
    "妈妈，我今天特别难过，考试没考好。",
    "我明明复习了很久，可还是错了好多题。",
    "我怕老师和同学觉得我很笨。",
    "嗯，那我们明天一起看看错题吧。",
    "谢谢妈妈，我现在好多了。",
]
_ZH_SUPPORTER = [
    "听起来你真的很难过，愿意和妈妈说说发生了什么吗？",
    "复习了那么久却没考好，换成谁都会觉得委屈。",
    "你担心别人的看法，这种感觉妈妈也有过。",
    "好主意，我们一起找找哪里没弄懂，下次就更有把握了。",
    "妈妈一直在你身边，你已经很努力了。",
]


def _iter_json_objects(text: str) -> Iterable[dict[str, Any]]:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            yield value
        start = text.find("{", end)


def find_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The draft schema the client asked for: from response_format, else quoted in a message."""
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        return rf.get("json_schema", {}).get("schema")
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str) and '"properties"' in content:
            for obj in _iter_json_objects(content):
                if "turns" in (obj.get("properties") or {}):
                    return obj
    return None


def _strategy_enum(schema: dict[str, Any] | None) -> list[str]:
    try:
        turn = schema["properties"]["turns"]["items"]  # type: ignore[index]
        return list(turn["properties"]["strategies"]["items"]["enum"])
    except (KeyError, TypeError):
        return ["Others"]


def _tokens(text: str) -> int:
    """Tokens as a pessimistic real tokenizer might count them: 2 per CJK character, 1 per
    other non-ASCII character, 1 per 3 ASCII characters."""
    cjk = len(_CJK.findall(text))
    other = sum(1 for ch in text if ord(ch) > 127) - cjk
    ascii_chars = len(text) - cjk - other
    return 2 * cjk + other + -(-ascii_chars // 3)


def make_draft(body: dict[str, Any], turns: int = 6) -> dict[str, Any]:
    """A valid draft for the request: schema-conforming, seeker first, one strategy per reply."""
    strategies = _strategy_enum(find_schema(body))
    text = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
    chinese = bool(_CJK.search(text))
    seekers, supporters = (_ZH_SEEKER, _ZH_SUPPORTER) if chinese else (_EN_SEEKER, _EN_SUPPORTER)
    out = []
    for i in range(turns):
        n = i // 2
        if i % 2 == 0:
            out.append({"role": "seeker", "text": seekers[n % len(seekers)], "strategies": []})
        else:
            out.append({"role": "supporter", "text": supporters[n % len(supporters)],
                        "strategies": [strategies[n % len(strategies)]]})
    description = ("孩子考试没考好，回家后向妈妈倾诉。" if chinese
                   else "The user had an overwhelming week and reaches out for support.")
    return {"description": description, "turns": out}


def _format_type(body: Any) -> str | None:
    rf = body.get("response_format") if isinstance(body, dict) else None
    return rf.get("type") if isinstance(rf, dict) else None


# ---- judgements (the quality judge) ---------------------------------------------------------


def find_judge_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The judge's score schema (an object with ``scores``), from response_format or quoted in
    a message; None for any other request."""
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        schema = rf.get("json_schema", {}).get("schema") or {}
        return schema if "scores" in (schema.get("properties") or {}) else None
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str) and '"scores"' in content and '"properties"' in content:
            for obj in _iter_json_objects(content):
                if "scores" in (obj.get("properties") or {}):
                    return obj
    return None


def make_judgement(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A valid judgement: each aspect gets a point of its scale chosen from the conversation's
    text (the same text always gets the same scores, different texts differ)."""
    text = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
    aspects = schema["properties"]["scores"]["properties"]
    scores = {}
    for name, spec in aspects.items():
        scale = spec.get("enum") or [1, 2, 3]
        digest = sum(ord(c) * (i + 1) for i, c in enumerate(name + text[-400:]))
        scores[name] = scale[digest % len(scale)]
    return {"scores": scores, "reason": "Stub judgement: the scores follow from the text."}


# ---- moderation ------------------------------------------------------------------------------

MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)
# A text is flagged in a category when it contains one of these (case-insensitively).
MODERATION_TRIGGERS: dict[str, tuple[str, ...]] = {
    "self-harm": ("kill myself", "end my life", "自杀", "不想活"),
    "violence": ("kill him", "hurt them", "打死他"),
    "harassment": ("you idiot", "蠢货"),
}


def moderation_result(text: str) -> dict[str, Any]:
    lowered = text.lower()
    flags = {c: any(t in lowered for t in MODERATION_TRIGGERS.get(c, ()))
             for c in MODERATION_CATEGORIES}
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": {c: 0.97 if on else 0.001 for c, on in flags.items()},
        "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
    }


# ---- the server ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.stub._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.stub._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up shutdown
    request_queue_size = 256  # the default backlog of 5 refuses bursts of concurrent clients
    allow_reuse_address = True

    def __init__(self, stub: OpenAIStub):
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Handler)


class OpenAIStub:
    """A scripted OpenAI chat-completions server on 127.0.0.1 and a random port.

    ``latency_s`` delays every answer (benchmarks); ``turns`` sets the length of canned drafts;
    ``api_key``, if given, is required (401 otherwise); ``reject_formats`` lists response_format
    types refused on every request (a server without structured outputs).
    """

    def __init__(self, *, latency_s: float = 0.0, turns: int = 6, api_key: str | None = None,
                 reject_formats: Iterable[str] = (), model: str | None = None):
        self.latency_s = latency_s
        self.turns = turns
        self.api_key = api_key
        self.reject_formats = set(reject_formats)
        self.model = model  # echoed model name; None echoes the request's
        self.moderation_error: int | None = None  # an HTTP status every moderation gets
        # Budget tests: draws each canned draft's length from this (min, max) range of turns,
        # counts tokens as a real tokenizer may (a CJK character as 2 tokens, an ASCII one as
        # 1/3), the schema counted as input, and honours max_completion_tokens ("length").
        self.random_turns: tuple[int, int] | None = None
        self.realistic_usage = False
        self._rng = random.Random(0)
        # Answer ``stream: true`` with one plain JSON completion, as several OpenAI-compatible
        # servers do.
        self.ignore_stream = False
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counter = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # The Batch API (``/v1/files``, ``/v1/batches``); see :meth:`_batch_api`.
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_mode = "completed"  # or "expired" (only batch_expire_after lines ran)
        self.batch_expire_after = 0
        self.batch_polls_in_progress = 0  # retrievals answered "in_progress" before the end
        self.batch_error: int | None = None  # an HTTP status every Batch API request gets

    # -- lifecycle --
    def start(self) -> OpenAIStub:
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="openai-stub")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the stub is not running"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL to give the SDK (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection --
    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next chat requests, in order; afterwards requests get ok."""
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.max_in_flight = 0

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def batch_lines(self) -> list[dict[str, Any]]:
        """Every request line of every batch created so far."""
        with self._lock:
            return [line for b in self.batches.values() for line in b["_lines"]]

    @property
    def moderation_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/moderations")]

    @property
    def pending(self) -> int:
        """Scripted behaviours not yet used."""
        with self._lock:
            return len(self._queue)

    # -- handling --
    def _handle(self, h: _Handler) -> None:
        if h.path.split("?")[0].startswith(("/v1/files", "/v1/batches")):
            return self._batch_api(h)
        received = time.monotonic()
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        auth = h.headers.get("Authorization") or ""
        is_chat = h.command == "POST" and h.path.rstrip("/").endswith("/chat/completions")
        is_moderation = h.command == "POST" and h.path.rstrip("/").endswith("/moderations")
        with self._lock:
            self._counter += 1
            n = self._counter
            fmt = _format_type(body)
            if is_moderation:
                behaviour = Behaviour("moderation")
            elif not is_chat:
                behaviour = None
            elif fmt is not None and fmt in self.reject_formats:
                # A server property, not a scripted answer: the script waits for a request
                # this server accepts.
                behaviour = Behaviour("reject_format")
            else:
                behaviour = self._queue.popleft() if self._queue else ok()
            self._requests.append(RecordedRequest(
                method=h.command, path=h.path,
                headers={k.lower(): v for k, v in h.headers.items()
                         if k.lower() not in ("authorization", "api-key")},
                body=body, received_at=received,
                behaviour=behaviour.kind if behaviour else "not_found", had_auth=bool(auth),
            ))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            self._respond(h, n, behaviour, body if isinstance(body, dict) else {}, auth)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.close_connection = True  # the client gave up (timeout); nothing to answer
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, h: _Handler, n: int, behaviour: Behaviour | None, body: dict[str, Any],
                 auth: str) -> None:
        rid = f"req_stub_{n:06d}"
        if behaviour is None:
            return self._error(h, rid, 404, f"Unknown request URL: {h.command} {h.path}",
                               "invalid_request_error", code="unknown_url")
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            behaviour = auth_error()
        kind = behaviour.kind
        if kind == "moderation":
            return self._moderate(h, rid, n, body)
        fmt = _format_type(body)
        if kind == "reject_format" or (kind == "reject_json_schema" and fmt == "json_schema"):
            return self._error(
                h, rid, 400,
                f"Invalid parameter: 'response_format' of type '{fmt}' is not supported with "
                "this model.",
                "invalid_request_error", param="response_format",
            )
        if kind == "rate_limit":
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = f"{behaviour.retry_after:g}"
            return self._error(h, rid, 429, "Rate limit reached for requests. Please try again.",
                               "requests", code=behaviour.variant or "rate_limit_exceeded",
                               headers=headers)
        if kind == "server_error":
            return self._error(h, rid, behaviour.status, "The server had an error while "
                               "processing your request. Sorry about that!", "server_error")
        if kind == "auth_error":
            key = auth.removeprefix("Bearer ")
            return self._error(h, rid, 401, f"Incorrect API key provided: {key}. You can find "
                               "your API key at https://platform.openai.com/account/api-keys.",
                               "invalid_request_error", code="invalid_api_key")
        if kind == "stall" and self._stopping.wait(behaviour.seconds):
            return None  # the stub is shutting down
        content, finish = self._capped(*self._content(behaviour, body), body)
        if body.get("stream") and not self.ignore_stream:
            return self._stream(h, rid, body, content, finish)
        return self._send_json(h, rid, 200, self._completion(n, body, content, finish))

    def _capped(self, content: str, finish: str, body: dict[str, Any]) -> tuple[str, str]:
        """With realistic usage, a reply longer than ``max_completion_tokens`` is cut off there
        (``finish_reason`` "length"), as a real server does."""
        cap = body.get("max_completion_tokens")
        if self.realistic_usage and cap is not None and _tokens(content) > cap:
            while content and _tokens(content) > cap:  # cut off where the cap runs out
                content = content[: max(0, len(content) - max(1, len(content) // 8))]
            finish = "length"
        return content, finish

    def _content(self, behaviour: Behaviour, body: dict[str, Any]) -> tuple[str, str]:
        judge = find_judge_schema(body)
        if judge is not None and behaviour.kind in ("ok", "stall"):
            return json.dumps(make_judgement(body, judge), ensure_ascii=False), "stop"
        turns = self.turns
        if self.random_turns is not None:
            with self._lock:
                turns = self._rng.randint(*self.random_turns)
        draft = make_draft(body, turns)
        text = json.dumps(draft, ensure_ascii=False)
        kind = behaviour.kind
        if kind == "reply":
            return behaviour.content or "", behaviour.finish_reason
        if kind == "invalid_json":
            return ('{"description": "unfinished", "turns": [{"role": "seeker", '
                    '"text": "hello",}, ]'), "stop"
        if kind == "schema_violation":
            if behaviour.variant == "missing_field":
                del draft["turns"][1]["text"]
            else:
                draft["turns"][1]["strategies"] = ["Hypnosis"]
            return json.dumps(draft, ensure_ascii=False), "stop"
        if kind == "truncated":
            return text[: len(text) // 2], "length"
        if kind == "plain_text":
            return (f"Sure! Here is the conversation you asked for:\n\n```json\n{text}\n```\n\n"
                    "Let me know if you would like any changes."), "stop"
        return text, "stop"

    def _moderate(self, h: _Handler, rid: str, n: int, body: dict[str, Any]) -> None:
        if self.moderation_error is not None:
            return self._error(h, rid, self.moderation_error, "The moderation service failed.",
                               "server_error")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self._error(h, rid, 400, "'input' must be a string or a list of strings",
                               "invalid_request_error", param="input")
        return self._send_json(h, rid, 200, {
            "id": f"modr-stub{n:06d}",
            "model": str(body.get("model") or "omni-moderation-latest"),
            "results": [moderation_result(t) for t in texts],
        })

    # -- wire formats --
    def _model(self, body: dict[str, Any]) -> str:
        return self.model or str(body.get("model") or "stub-model")

    def _usage(self, body: dict[str, Any], content: str) -> dict[str, int]:
        if self.realistic_usage:
            schema = (body.get("response_format") or {})
            prompt = sum(_tokens(str(m.get("content", ""))) + 4
                         for m in body.get("messages") or []) + _tokens(json.dumps(schema)) + 3
            completion = _tokens(content)
            return {"prompt_tokens": prompt, "completion_tokens": completion,
                    "total_tokens": prompt + completion}
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages") or []) // 4 + 1
        completion = len(content) // 4 + 1
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def _completion(self, n: int, body: dict[str, Any], content: str,
                    finish: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-stub{n:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._model(body),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }],
            "usage": self._usage(body, content),
            "system_fingerprint": "fp_stub",
        }

    def _send_json(self, h: _Handler, rid: str, status: int, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-request-id", rid)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h: _Handler, rid: str, status: int, message: str, type_: str, *,
               param: str | None = None, code: str | None = None,
               headers: dict[str, str] | None = None) -> None:
        payload = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self._send_json(h, rid, status, payload, headers)

    def _stream(self, h: _Handler, rid: str, body: dict[str, Any], content: str,
                finish: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("x-request-id", rid)
        h.end_headers()
        base = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self._model(body)}

        def send(data: str) -> None:
            event = f"data: {data}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))

        pieces = [content[i:i + 16] for i in range(0, len(content), 16)] or [""]
        for i, piece in enumerate(pieces):
            delta: dict[str, Any] = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            send(json.dumps({**base, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]},
                ensure_ascii=False))
        send(json.dumps({**base, "choices": [
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            send(json.dumps({**base, "choices": [], "usage": self._usage(body, content)}))
        send("[DONE]")
        h.wfile.write(b"0\r\n\r\n")

    # -- the Batch API (module notes below) --
    def _batch_api(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = h.path.split("?")[0].rstrip("/")
        with self._lock:
            self._counter += 1
            n = self._counter
            body: Any = None
            if raw and "json" in (h.headers.get("Content-Type") or ""):
                body = json.loads(raw)
            self._requests.append(RecordedRequest(
                method=h.command, path=h.path,
                headers={k.lower(): v for k, v in h.headers.items()
                         if k.lower() not in ("authorization", "api-key")},
                body=body, received_at=time.monotonic(), behaviour="batch_api",
                had_auth=bool(h.headers.get("Authorization"))))
        rid = f"req_stub_{n:06d}"
        parts = path.split("/")  # ["", "v1", "files"|"batches", id?, "content"?]
        if self.batch_error is not None:
            return self._error(h, rid, self.batch_error, "The Batch API failed.", "server_error")
        if h.command == "POST" and path == "/v1/files":
            form = _multipart(h.headers.get("Content-Type") or "", raw)
            filename, data = form.get("file", (None, b""))
            purpose = form.get("purpose", (None, b""))[1].decode()
            return self._send_json(h, rid, 200, self._add_file(data, filename or "upload.jsonl",
                                                               purpose))
        if h.command == "GET" and len(parts) >= 4 and parts[2] == "files":
            found = self.files.get(parts[3])
            if found is None:
                return self._error(h, rid, 404, f"No such File object: {parts[3]}",
                                   "invalid_request_error")
            if len(parts) == 5 and parts[4] == "content":
                data = found["_data"]
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(data)))
                h.send_header("x-request-id", rid)
                h.end_headers()
                h.wfile.write(data)
                return None
            return self._send_json(h, rid, 200, _public(found))
        if h.command == "POST" and path == "/v1/batches":
            source = self.files.get(str((body or {}).get("input_file_id")))
            if source is None:
                return self._error(h, rid, 400, "input_file_id is not a known file",
                                   "invalid_request_error", param="input_file_id")
            lines = [json.loads(x) for x in source["_data"].decode("utf-8").splitlines() if x]
            batch = {
                "id": f"batch_stub{n:06d}", "object": "batch", "endpoint": body.get("endpoint"),
                "input_file_id": source["id"], "completion_window": body.get("completion_window"),
                "status": "validating", "created_at": int(time.time()), "output_file_id": None,
                "error_file_id": None, "errors": None, "metadata": body.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_lines": lines, "_polls": 0,
            }
            with self._lock:
                self.batches[batch["id"]] = batch
            return self._send_json(h, rid, 200, _public(batch))
        if h.command == "GET" and len(parts) == 4 and parts[2] == "batches":
            batch = self.batches.get(parts[3])
            if batch is None:
                return self._error(h, rid, 404, f"No such batch: {parts[3]}",
                                   "invalid_request_error")
            self._advance_batch(batch)
            return self._send_json(h, rid, 200, _public(batch))
        return self._error(h, rid, 404, f"Unknown request URL: {h.command} {h.path}",
                           "invalid_request_error", code="unknown_url")

    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            record = {"id": f"file-stub{self._counter:06d}", "object": "file", "bytes": len(data),
                      "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                      "status": "processed", "_data": data}
            self.files[record["id"]] = record
        return _public(record)

    def _advance_batch(self, batch: dict[str, Any]) -> None:
        if batch["status"] not in ("validating", "in_progress"):
            return
        if batch["_polls"] < self.batch_polls_in_progress:
            batch["_polls"] += 1
            batch["status"] = "in_progress"
            return
        outputs, errors = [], []
        for i, line in enumerate(batch["_lines"]):
            custom_id, request = line.get("custom_id"), line.get("body") or {}
            if self.batch_mode == "expired" and i >= self.batch_expire_after:
                errors.append({"id": f"batch_req_{i}", "custom_id": custom_id, "response": None,
                               "error": {"code": "batch_expired", "message": "This request could "
                                         "not be executed before the completion window expired."}})
                continue
            with self._lock:
                self._counter += 1
                n = self._counter
                behaviour = self._queue.popleft() if self._queue else ok()
            rid = f"req_stub_{n:06d}"
            status = _HTTP_ERRORS.get(behaviour.kind)
            if status is not None:
                errors.append({"id": f"batch_req_{i}", "custom_id": custom_id, "error": None,
                               "response": {"status_code": status, "request_id": rid, "body": {
                                   "error": {"message": f"stub {behaviour.kind}",
                                             "type": "server_error", "param": None,
                                             "code": None}}}})
                continue
            content, finish = self._capped(*self._content(behaviour, request), request)
            outputs.append({"id": f"batch_req_{i}", "custom_id": custom_id, "error": None,
                            "response": {"status_code": 200, "request_id": rid,
                                         "body": self._completion(n, request, content, finish)}})

        def jsonl(rows: list[dict[str, Any]]) -> bytes:
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")

        if outputs:
            batch["output_file_id"] = self._add_file(jsonl(outputs), "output.jsonl",
                                                     "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self._add_file(jsonl(errors), "errors.jsonl",
                                                    "batch_output")["id"]
        batch["status"] = "expired" if self.batch_mode == "expired" else "completed"
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": len(outputs),
                                   "failed": len(errors)}


# ---- the Batch API ---------------------------------------------------------------------------
# ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}`` and ``/v1/files/{id}/content``;
# ``POST /v1/batches``, ``GET /v1/batches/{id}``. A batch stays ``in_progress`` for
# ``batch_polls_in_progress`` retrievals, then runs every line through the chat script (so
# ``stub.script(server_error(500), schema_violation())`` shapes its lines too): a line whose
# behaviour is an HTTP error goes to the error file with that status; the others get a
# completion in the output file. With ``batch_mode = "expired"`` only the first
# ``batch_expire_after`` lines run; the rest are reported as ``batch_expired`` in the error file.

_HTTP_ERRORS = {"rate_limit": 429, "server_error": 500, "auth_error": 401,
                "reject_json_schema": 400, "reject_format": 400}


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return {}
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in raw.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, body = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', headers)
        filename = re.search(r'filename="([^"]*)"', headers)
        if name:
            parts[name.group(1)] = (filename.group(1) if filename else None,
                                    body.removesuffix(b"\r\n"))
    return parts


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}
