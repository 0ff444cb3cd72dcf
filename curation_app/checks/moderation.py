"""The optional moderation endpoint: an OpenAI-compatible ``/moderations`` API, through the
``openai`` SDK, used in addition to the local safety screen.

Configured by environment, off unless asked for::

    CURATION_MODERATION=openai                 # turn it on
    CURATION_MODERATION_URL=http://host/v1     # default: OPENAI_BASE_URL, then OpenAI
    CURATION_MODERATION_API_KEY=...            # default: OPENAI_API_KEY
    CURATION_MODERATION_MODEL=...              # default: omni-moderation-latest

Texts go in batches; a flagged text becomes a ``safety.moderation`` finding whose category lists
the endpoint's flagged categories (``self-harm, violence``). A failing endpoint fails the check
run with our :class:`~curation_app.errors.GenerationError` (mapped in the one place that maps
openai's errors), because a run that silently skipped the screen would look clean.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from curation_app.checks.findings import CheckConfig, Finding
from curation_app.domain import Dialogue
from curation_app.errors import InvalidInputError, ModelServerError
from curation_app.presets import Vocabulary

if TYPE_CHECKING:
    import openai

DEFAULT_MODEL = "omni-moderation-latest"
RULE = "safety.moderation"


@dataclass(frozen=True)
class ModerationConfig:
    base_url: str | None
    api_key: str = field(repr=False)
    model: str = DEFAULT_MODEL
    batch_size: int = 32
    timeout_s: float = 60.0
    max_retries: int = 2  # the SDK's own retries of timeouts, 429 and 5xx

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ModerationConfig | None:
        """The configured endpoint, or None when ``CURATION_MODERATION`` is unset or ``off``."""
        env = os.environ if environ is None else environ
        mode = (env.get("CURATION_MODERATION") or "off").strip().lower()
        if mode in ("", "off", "none", "0", "false"):
            return None
        if mode != "openai":
            raise InvalidInputError(
                f"CURATION_MODERATION must be 'openai' or 'off', not {mode!r}")
        api_key = env.get("CURATION_MODERATION_API_KEY") or env.get("OPENAI_API_KEY") or ""
        if not api_key:
            raise InvalidInputError("CURATION_MODERATION=openai needs an API key: set "
                                    "CURATION_MODERATION_API_KEY or OPENAI_API_KEY")
        return cls(
            base_url=env.get("CURATION_MODERATION_URL") or env.get("OPENAI_BASE_URL") or None,
            api_key=api_key, model=env.get("CURATION_MODERATION_MODEL") or DEFAULT_MODEL)


class Moderator:
    """Sends texts to the moderation endpoint and reports what it flags."""

    def __init__(self, config: ModerationConfig):
        # The SDK (about a second to import) only when an endpoint is configured: `curation
        # check` without one must not pay for it.
        import openai

        self.config = config
        self._client: openai.OpenAI = openai.OpenAI(
            api_key=config.api_key, base_url=config.base_url, timeout=config.timeout_s,
            max_retries=config.max_retries)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Moderator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def flagged(self, texts: Sequence[str]) -> list[list[str]]:
        """For each text, the names of the categories the endpoint flagged (empty: clean)."""
        out: list[list[str]] = []
        size = self.config.batch_size
        for start in range(0, len(texts), size):
            batch = list(texts[start:start + size])
            import openai

            from curation_app.generation.client import map_openai_error

            try:
                response = self._client.moderations.create(model=self.config.model,
                                                            input=batch)
            except openai.OpenAIError as exc:
                raise map_openai_error(exc, secret=self.config.api_key) from exc
            for result in response.results:
                categories = result.categories.model_dump(by_alias=True)
                names = [name for name, on in categories.items() if on is True]
                out.append(sorted(names) if result.flagged or names else [])
        if len(out) != len(texts):
            raise ModelServerError(f"the moderation endpoint answered {len(texts)} texts with "
                                   f"{len(out)} results", retryable=False)
        return out

    def check(self, dialogues: Sequence[Dialogue], vocab: Vocabulary,
              config: CheckConfig) -> list[Finding]:
        if not config.enabled(RULE):
            return []
        spots = [(d, i) for d in dialogues for i, t in enumerate(d.turns) if t.text.strip()]
        results = self.flagged([d.turns[i].text for d, i in spots])
        out = []
        for (dialogue, i), names in zip(spots, results, strict=True):
            if names:
                who = vocab.role_display(dialogue.turns[i].role, "en")
                out.append(config.finding(
                    RULE, dialogue.id, i, f"turns[{i}].text",
                    f"{who} turn flagged by the moderation endpoint: {', '.join(names)}",
                    category=", ".join(names)))
        return out
