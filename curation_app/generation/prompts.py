"""Prompt templates as files: load one by name, render it into chat messages for a preset.

Templates live in the top-level ``prompts/`` folder (bundled into the wheel). Each is a Jinja2
file with a ``user`` block and an optional ``system`` block; each block becomes one chat message.
A template's version is a short hash of its text, so a draft's provenance says exactly which
wording produced it, and editing the file changes the version without anyone bumping it.

Templates never carry label lists of their own: strategy names, codes, definitions and role display
names come from the project's :class:`~curation_app.presets.Vocabulary` at render time.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from curation_app.domain import Dialogue, Role
from curation_app.errors import CurationError, InvalidInputError, NotFoundError
from curation_app.presets import Vocabulary
from curation_app.resources import resource_path

TEMPLATE_SUFFIX = ".j2"
DEFAULT_TURNS = 10
_BLOCK_ROLES = ("system", "user")
# Names a caller's ``extra`` variables may not shadow: they are what the templates rely on.
_RESERVED = frozenset(
    {"topic", "emotion", "turns", "seeds", "roles", "strategies", "strategy_names",
     "multi_strategy", "language", "topic_label", "preset"}
)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    source: str
    path: Path | None = None

    @property
    def ref(self) -> str:
        """``name@version``, the form stored in a draft's provenance."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class RenderedPrompt:
    """Chat messages ready to send, with what they were made from (for provenance)."""

    template_name: str
    template_version: str
    messages: list[dict[str, str]]
    topic: str | None = None
    emotion: str | None = None
    turns: int | None = None
    seed_ids: tuple[str, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)


def template_version(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def load_template(name: str, *, folder: str | Path | None = None) -> PromptTemplate:
    """Read the template ``name`` (``peconv_draft`` or ``peconv_draft.j2``) from ``prompts/``.

    ``folder`` overrides where to look (a project's own prompts). Read fresh on every call, so
    an edited file is picked up with its new version.
    """
    filename = name if name.endswith(TEMPLATE_SUFFIX) else name + TEMPLATE_SUFFIX
    path = Path(folder) / filename if folder is not None else resource_path("prompts", filename)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"prompt template {filename!r} does not exist ({path})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"prompt template {path} is not UTF-8 text") from exc
    return PromptTemplate(
        name=filename.removesuffix(TEMPLATE_SUFFIX),
        version=template_version(source),
        source=source,
        path=path,
    )


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,  # plain text for a model, not HTML
)


def _compile(template: PromptTemplate) -> jinja2.Template:
    return _compile_source(template.name, template.source)


@functools.lru_cache(maxsize=64)
def _compile_source(name: str, source: str) -> jinja2.Template:
    # Compiling costs ~20 ms and a batch renders the same template hundreds of times; keyed on
    # the text itself, an edited file still compiles afresh.
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidInputError(
            f"prompt template {name}: syntax error on line {exc.lineno}: {exc.message}"
        ) from exc


def render_blocks(template: PromptTemplate, variables: Mapping[str, Any]) -> dict[str, str]:
    """Every top-level block of ``template`` rendered with ``variables``, stripped."""
    compiled = _compile(template)
    out: dict[str, str] = {}
    for name, block in compiled.blocks.items():
        try:
            text = "".join(block(compiled.new_context(dict(variables))))
        except jinja2.UndefinedError as exc:
            raise InvalidInputError(
                f"prompt template {template.name}, block {name}: {exc.message}"
            ) from exc
        out[name] = text.strip()
    return out


def vocabulary_context(vocab: Vocabulary) -> dict[str, Any]:
    """What a template may know about a preset: roles, strategies, language."""
    lang = vocab.language
    return {
        "preset": vocab.preset,
        "language": lang,
        "topic_label": vocab.topic_label,
        "multi_strategy": vocab.multi_strategy,
        "roles": {
            str(role): {"key": str(role), "name": vocab.role_name(role),
                        "display": vocab.role_display(role)}
            for role in Role
            if role in vocab.roles
        },
        "strategies": [
            # ``definition`` in the project's language (Chinese for PECONV); the canonical
            # English one stays available as ``definition_en``.
            {"name": s.name, "code": s.code, "definition": s.definition_in(lang),
             "definition_en": s.definition, "label": s.label(lang)}
            for s in vocab.strategies
        ],
        "strategy_names": list(vocab.strategy_names),
    }


def _export_text(seed: Dialogue, vocab: Vocabulary) -> str | None:
    """The seed as the project's export format writes it (ExTES: scene, description and
    content), so the model sees the examples in the very shape the dataset is published in."""
    from curation_app import formats  # late: formats imports generation-free modules only

    try:
        record = formats.export_record(seed, vocab.export_format, vocab)
    except CurationError:
        return None
    return json.dumps(record, ensure_ascii=False, indent=1)


def _seed_context(seed: Dialogue, vocab: Vocabulary) -> dict[str, Any]:
    lang = vocab.language
    labels = {s.name: s.label(lang) for s in vocab.strategies}
    return {
        "record": _export_text(seed, vocab),
        "id": seed.external_id or (str(seed.id) if seed.id is not None else None),
        "topic": seed.topic,
        "emotion": seed.emotion,
        "description": seed.description,
        "turns": [
            {
                "role": str(t.role),
                "speaker": vocab.role_display(t.role),
                "text": t.text,
                "strategies": list(t.strategies),
                "strategy_labels": [labels.get(s, s) for s in t.strategies],
            }
            for t in seed.turns
        ],
    }


def render(
    template: PromptTemplate,
    vocab: Vocabulary,
    *,
    topic: str,
    emotion: str | None = None,
    turns: int | None = None,
    seeds: Sequence[Dialogue] = (),
    extra: Mapping[str, Any] | None = None,
) -> RenderedPrompt:
    """Render ``template`` into chat messages for one draft.

    ``turns`` is the target number of utterances (both speakers counted; default: the preset's
    ``generation.turns``, else 10); ``seeds`` are example dialogues shown in the prompt;
    ``extra`` adds variables of a project's own templates.
    """
    if turns is None:
        turns = int(vocab.generation.get("turns", DEFAULT_TURNS))
    if turns < 2:
        raise InvalidInputError(f"turns must be at least 2, got {turns}")
    clash = _RESERVED & set(extra or {})
    if clash:
        raise InvalidInputError(f"extra prompt variables may not redefine {sorted(clash)}")
    seed_contexts = [_seed_context(s, vocab) for s in seeds]
    variables: dict[str, Any] = {
        "situation_hint": None, "child_grade": None, "target_chars": None,
        **vocabulary_context(vocab),
        **(extra or {}),
        "topic": topic,
        "emotion": emotion,
        "emotion_label": vocab.emotion_label(emotion) if emotion else None,
        "turns": turns,
        "seeds": seed_contexts,
    }
    blocks = render_blocks(template, variables)
    if "user" not in blocks:
        raise InvalidInputError(f"prompt template {template.name} has no 'user' block")
    messages = [
        {"role": role, "content": blocks[role]}
        for role in _BLOCK_ROLES
        if blocks.get(role)
    ]
    return RenderedPrompt(
        template_name=template.name,
        template_version=template.version,
        messages=messages,
        topic=topic,
        emotion=emotion,
        turns=turns,
        seed_ids=tuple(s["id"] for s in seed_contexts if s["id"] is not None),
        variables=dict(extra or {}),
    )
