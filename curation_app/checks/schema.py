"""Format check: each dialogue against the JSON Schema of its project's export format.

The dialogue is turned into the record the project's writer would produce
(:func:`curation_app.formats.export_record`) and validated with the schema from
:func:`curation_app.formats.schema_for`, through :class:`~curation_app.formats.validation.
RecordValidator`: the compiled checker answers "valid" for almost every record in microseconds,
and only a failing record is explained by ``jsonschema``, so every finding carries jsonschema's
verdict and the exact JSON path (``dialog[3].annotation.strategy``).
"""

from __future__ import annotations

import re
from collections import OrderedDict

from curation_app import formats
from curation_app.checks.findings import CheckConfig, Finding
from curation_app.domain import Dialogue
from curation_app.errors import ExportError
from curation_app.formats.validation import RecordValidator, format_path
from curation_app.presets import Vocabulary

RULE = "format.schema"
# The key under which each format lists the turns: its next path part is the turn index.
_TURN_KEYS = frozenset({"dialog", "content", "turns"})
_FIELD_TURN = re.compile(r"(?:dialog|content|turns)\[(\d+)\]")
_CACHE: OrderedDict[tuple[object, ...], RecordValidator] = OrderedDict()
_CACHE_SIZE = 32


def validator_for(fmt: str, vocab: Vocabulary) -> RecordValidator:
    """The compiled validator of ``fmt`` for this vocabulary, built once per distinct set of
    labels (schema_for only uses the strategies, their multiplicity and the speaker names)."""
    roles = tuple(sorted((str(role), info.name, tuple(sorted(info.display.items())))
                         for role, info in vocab.roles.items()))
    key = (fmt, vocab.strategy_names, vocab.multi_strategy, vocab.language, roles)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = RecordValidator(formats.schema_for(fmt, vocab))
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return found


def check_format(dialogue: Dialogue, vocab: Vocabulary, config: CheckConfig,
                 validator: RecordValidator | None = None, fmt: str | None = None,
                 ) -> list[Finding]:
    """Findings for every place ``dialogue`` does not fit its export format's schema."""
    if not config.enabled(RULE):
        return []
    fmt = fmt or vocab.export_format
    validator = validator or validator_for(fmt, vocab)
    try:
        record = formats.export_record(dialogue, fmt, vocab)
    except ExportError as exc:
        found = _FIELD_TURN.search(str(exc))
        turn = int(found.group(1)) if found else None
        path = found.group(0) if found else ""
        return [config.finding(RULE, dialogue.id, turn, path,
                               f"cannot be written as {fmt}: {str(exc).split(': ', 1)[-1]}")]
    if validator.is_valid(record):
        return []
    out = []
    for parts, message in validator.problems(record):
        turn = (parts[1] if len(parts) > 1 and parts[0] in _TURN_KEYS
                and isinstance(parts[1], int) else None)
        path = format_path(parts)
        out.append(config.finding(RULE, dialogue.id, turn, path,
                                  f"{fmt} schema, {path or 'the record'}: {message}"))
    return out

