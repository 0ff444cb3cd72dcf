"""Every exception class the openai SDK exports maps to one of ours, in one function."""

from __future__ import annotations

import inspect

import httpx2
import openai
import pytest
from openai import _exceptions as openai_exceptions
from openai.types.chat import ChatCompletion

from curation_app.errors import (
    GenerationError,
    GenerationTimeoutError,
    ModelOutputError,
    ModelServerError,
    RateLimitedError,
)
from curation_app.generation import map_openai_error, redact
from tests.generation.conftest import SECRET_KEY

# SDK classes for which the generic GenerationError is the honest answer.
GENERIC_OK = {"OpenAIError", "APIError", "_AmbiguousModuleClientUsageError"}


def _sdk_exception_classes() -> list[type[BaseException]]:
    found = {}
    for module in (openai, openai_exceptions):
        for name, value in list(vars(module).items()):
            if inspect.isclass(value) and issubclass(value, openai.OpenAIError):
                found[name] = value
    return [found[name] for name in sorted(found)]


def _request() -> httpx2.Request:
    return httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions",
                          headers={"Authorization": f"Bearer {SECRET_KEY}"})


def _response(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers or {}, request=_request())


def _completion() -> ChatCompletion:
    return ChatCompletion.model_construct(id="c", choices=[], created=0, model="m",
                                          object="chat.completion", usage=None)


def _status_for(cls: type[BaseException]) -> int:
    default = getattr(cls, "status_code", None)
    return default if isinstance(default, int) else 500


def _instance(cls: type[BaseException]) -> BaseException:
    """One instance of an SDK exception class, whatever its constructor wants."""
    body = {"message": f"Incorrect API key provided: {SECRET_KEY}", "type": "x", "code": None}
    if issubclass(cls, openai.APIStatusError):
        response = _response(_status_for(cls), {"retry-after": "2"})
        if cls is openai.OAuthError:
            return cls(response=response, body=body)
        return cls("status error", response=response, body=body)
    if issubclass(cls, openai.APIResponseValidationError):
        return cls(_response(200), body)
    if cls is openai.APITimeoutError:
        return cls(request=_request())
    if issubclass(cls, openai.APIConnectionError):
        return cls(request=_request())
    if issubclass(cls, openai.APIError):
        return cls("api error", _request(), body=body)
    if issubclass(cls, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
        return cls(completion=_completion())
    if cls is openai.WebSocketConnectionClosedError:
        return cls("closed", unsent_messages=[])
    if cls.__name__ == "_AmbiguousModuleClientUsageError":
        return cls.__new__(cls)
    if cls.__init__ is Exception.__init__:  # type: ignore[misc]
        return cls("boom")
    if "message" in inspect.signature(cls).parameters:
        return cls("boom")
    pytest.fail(f"no recipe to build {cls.__name__}{inspect.signature(cls)}: add one")


@pytest.mark.parametrize("cls", _sdk_exception_classes(), ids=lambda c: c.__name__)
def test_every_sdk_exception_maps_to_one_of_ours(cls: type[BaseException]) -> None:
    mapped = map_openai_error(_instance(cls), secret=SECRET_KEY)
    assert isinstance(mapped, GenerationError)
    if cls.__name__ not in GENERIC_OK:
        assert type(mapped) is not GenerationError, f"{cls.__name__} falls to the generic case"
    assert SECRET_KEY not in str(mapped)


def test_the_sdk_still_exports_the_classes_we_expect() -> None:
    names = {c.__name__ for c in _sdk_exception_classes()}
    assert {"APITimeoutError", "RateLimitError", "InternalServerError", "BadRequestError",
            "AuthenticationError", "APIConnectionError"} <= names


@pytest.mark.parametrize(
    ("exc", "ours", "retryable"),
    [
        (openai.APITimeoutError(request=_request()), GenerationTimeoutError, True),
        (openai.APIConnectionError(request=_request()), ModelServerError, True),
        (openai.RateLimitError("x", response=_response(429), body={}), RateLimitedError, True),
        (openai.InternalServerError("x", response=_response(503), body={}),
         ModelServerError, True),
        (openai.AuthenticationError("x", response=_response(401), body={}),
         ModelServerError, False),
        (openai.NotFoundError("x", response=_response(404), body={}), ModelServerError, False),
        (openai.BadRequestError("x", response=_response(400), body={}), ModelServerError, False),
        (openai.APIStatusError("x", response=_response(408), body={}),
         GenerationTimeoutError, True),
        (openai.LengthFinishReasonError(completion=_completion()), ModelOutputError, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_retryable_is_decided_by_the_kind_of_failure(
    exc: BaseException, ours: type[GenerationError], retryable: bool,
) -> None:
    mapped = map_openai_error(exc)
    assert type(mapped) is ours
    assert mapped.retryable is retryable


def test_retry_after_is_read_from_seconds_and_milliseconds_headers() -> None:
    seconds = openai.RateLimitError("x", response=_response(429, {"retry-after": "3"}), body={})
    millis = openai.RateLimitError("x", response=_response(429, {"retry-after-ms": "250"}),
                                   body={})
    assert map_openai_error(seconds).retry_after == 3
    assert map_openai_error(millis).retry_after == 0.25


def test_redact_hides_the_given_secret_and_anything_key_shaped() -> None:
    text = f"key {SECRET_KEY} and sk-proj-abcdefghijklmnop"
    cleaned = redact(text, SECRET_KEY)
    assert SECRET_KEY not in cleaned and "abcdefghijklmnop" not in cleaned
    assert "[redacted]" in cleaned
