"""Fixtures for generation tests: a real OpenAI-speaking HTTP server and fast client settings."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from curation_app.domain import Dialogue, Role, Turn
from curation_app.generation import LLMConfig, PriceTable, load_template, render
from curation_app.generation.prompts import RenderedPrompt
from curation_app.presets import Vocabulary, load_preset
from tests.openai_stub_server import OpenAIStub

# Looks like a real key so that a leak would also trip the key-shaped redaction pattern.
SECRET_KEY = "sk-test-5f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f"
PRICES = PriceTable.from_dict({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A running stub server; script it with ``openai_stub.script(rate_limit(1), ok())``."""
    with OpenAIStub() as stub:
        yield stub


def fast_config(stub: OpenAIStub, **overrides: object) -> LLMConfig:
    """Settings that keep retry tests short: 0.5 s timeout, millisecond backoff."""
    settings: dict[str, object] = {
        "model": "gpt-4o-mini", "api_key": SECRET_KEY, "base_url": stub.url,
        "timeout_s": 0.5, "max_retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
    }
    settings.update(overrides)
    return LLMConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
def peconv() -> Vocabulary:
    return load_preset("peconv")


@pytest.fixture
def extes() -> Vocabulary:
    return load_preset("extes")


def extes_seed(external_id: str = "seed-1") -> Dialogue:
    return Dialogue(
        turns=[
            Turn(Role.SEEKER, "My manager keeps piling work on me and I can't say no."),
            Turn(Role.SUPPORTER, "It sounds like you're carrying far more than your share.",
                 ["Reflective Statements"]),
            Turn(Role.SEEKER, "Exactly, and I'm exhausted every evening."),
            Turn(Role.SUPPORTER, "Feeling drained after weeks like that is completely natural.",
                 ["Emotional Validation"]),
        ],
        topic="Work-related Stress and Burnout",
        description="The user is overloaded at work and struggles to set limits.",
        external_id=external_id,
    )


@pytest.fixture
def peconv_prompt(peconv: Vocabulary) -> RenderedPrompt:
    return render(load_template("peconv_draft"), peconv, topic="考试没考好", emotion="sad",
                  turns=8)


@pytest.fixture
def extes_prompt(extes: Vocabulary) -> RenderedPrompt:
    return render(load_template("extes_selfchat"), extes, topic="Burnout",
                  seeds=[extes_seed("seed-1"), extes_seed("seed-2")])
