"""Drafts from a language model: prompt templates, the draft schema, the OpenAI client, cost.

The batch-job half (queues, concurrency limits, budget caps, storing results) builds on these.
"""

from curation_app.generation.client import (
    AsyncDraftClient,
    DraftClient,
    DraftResult,
    LLMConfig,
    StructuredMode,
    map_openai_error,
    redact,
)
from curation_app.generation.draft_schema import (
    draft_json_schema,
    extract_json_object,
    parse_draft,
)
from curation_app.generation.pricing import PriceTable
from curation_app.generation.prompts import (
    PromptTemplate,
    RenderedPrompt,
    load_template,
    render,
)

__all__ = [
    "AsyncDraftClient",
    "DraftClient",
    "DraftResult",
    "LLMConfig",
    "PriceTable",
    "PromptTemplate",
    "RenderedPrompt",
    "StructuredMode",
    "draft_json_schema",
    "extract_json_object",
    "load_template",
    "map_openai_error",
    "parse_draft",
    "redact",
    "render",
]
