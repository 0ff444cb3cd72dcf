"""The formats' JSON Schemas: loading, filling from a vocabulary, and fast validation.

The schema files in ``schemas/`` are structural: ``$defs/strategy`` (and ``$defs/role`` where a
format names speakers) accept any string. :func:`fill` turns one into the schema of a project by
writing the vocabulary's names into those placeholders, so the labels live in one place only.

Validation runs on every record read or written, possibly 100k of them, and ``jsonschema`` spends
about a millisecond on one ESConv dialogue. So each schema is compiled once into plain Python
checks (:func:`compile_checker`, covering only the keywords our schemas use) that answer "valid or
not" about ten times faster; only a record that fails is handed to ``jsonschema`` to find out
where and why, which keeps the messages exactly jsonschema's verdicts. The two are tested to agree.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from curation_app.errors import NotFoundError
from curation_app.resources import resource_path

SCHEMA_FILES: dict[str, str] = {
    "peconv": "peconv.schema.json",
    "extes": "extes.schema.json",
    "esconv": "esconv.schema.json",
    "jsonl": "canonical.schema.json",
}

PathParts = tuple[str | int, ...]
Check = Callable[[Any], bool]


# ---- loading and filling -------------------------------------------------------------------
@cache
def _load(fmt: str) -> dict[str, Any]:
    path = resource_path("schemas", SCHEMA_FILES[fmt])
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"schema file {path} is missing; the installation is incomplete"
        ) from exc


def structural_schema(fmt: str) -> dict[str, Any]:
    """The schema file of ``fmt`` as stored (placeholders accept any string); a fresh copy."""
    return copy.deepcopy(_load(fmt))


def fill(schema: dict[str, Any], *, strategies: Sequence[str], multi_strategy: bool,
         roles: Sequence[str] | None = None) -> dict[str, Any]:
    """A copy of ``schema`` with the vocabulary written into its ``$defs`` placeholders."""
    out = copy.deepcopy(schema)
    defs = out.get("$defs", {})
    if "strategy" in defs:
        defs["strategy"]["enum"] = list(strategies)
    if roles is not None and "role" in defs:
        defs["role"]["enum"] = list(roles)
    if not multi_strategy and "strategy_list" in defs:
        defs["strategy_list"]["maxItems"] = 1
    return out


# ---- the fast yes/no checker ---------------------------------------------------------------
_ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly",
})


def _is_integer(v: Any) -> bool:
    # JSON Schema counts 1.0 as an integer and a boolean as neither integer nor number.
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_TYPE_TESTS: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _always(_: Any) -> bool:
    return True


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(v: Any) -> bool:
        # explicit loops, not all(generator): this runs for every node of 100k records
        for c in checks:  # noqa: SIM110
            if not c(v):
                return False
        return True

    return check


class _Compiler:
    """Turns a schema (the subset of draft 2020-12 our files use) into one predicate."""

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return lambda _: False
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS or key in ("then", "else"):
                continue
            maker = getattr(self, "_kw_" + key.lstrip("$"), None)
            if maker is None:
                raise ValueError(f"schema keyword {key!r} is not supported by the fast checker")
            checks.append(maker(value, schema))
        return _all(checks)

    def _kw_ref(self, ref: str, _schema: dict) -> Check:
        if ref not in self.refs:
            if not ref.startswith("#/"):
                raise ValueError(f"only local $ref is supported, got {ref!r}")
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            cell: list[Check] = []
            self.refs[ref] = lambda v: cell[0](v)  # stands in while a recursive ref compiles
            cell.append(self.compile(target))
            self.refs[ref] = cell[0]
        return self.refs[ref]

    def _kw_type(self, value: str | list[str], _schema: dict) -> Check:
        tests = [_TYPE_TESTS[t] for t in ([value] if isinstance(value, str) else value)]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(t(v) for t in tests)

    def _kw_properties(self, value: dict[str, Any], _schema: dict) -> Check:
        props = [(name, self.compile(sub)) for name, sub in value.items()]

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name, c in props:  # noqa: SIM110 - as above, a loop is faster
                if name in v and not c(v[name]):
                    return False
            return True

        return check

    def _kw_required(self, value: list[str], _schema: dict) -> Check:
        names = tuple(value)
        return lambda v: not isinstance(v, dict) or all(n in v for n in names)

    def _kw_additionalProperties(self, value: Any, schema: dict) -> Check:
        if "patternProperties" in schema:
            raise ValueError("patternProperties is not supported by the fast checker")
        known = frozenset(schema.get("properties", {}))
        extra = self.compile(value)
        return lambda v: not isinstance(v, dict) or all(
            extra(item) for k, item in v.items() if k not in known
        )

    def _kw_items(self, value: Any, _schema: dict) -> Check:
        c = self.compile(value)
        return lambda v: not isinstance(v, list) or all(c(x) for x in v)

    def _kw_minItems(self, value: int, _schema: dict) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= value

    def _kw_maxItems(self, value: int, _schema: dict) -> Check:
        return lambda v: not isinstance(v, list) or len(v) <= value

    def _kw_minLength(self, value: int, _schema: dict) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= value

    def _kw_enum(self, value: list[Any], _schema: dict) -> Check:
        if not all(isinstance(x, str) for x in value):
            raise ValueError("only enums of strings are supported by the fast checker")
        allowed = frozenset(value)
        return lambda v: isinstance(v, str) and v in allowed

    def _kw_const(self, value: Any, schema: dict) -> Check:
        return self._kw_enum([value], schema)

    def _kw_anyOf(self, value: list[Any], _schema: dict) -> Check:
        subs = [self.compile(s) for s in value]
        return lambda v: any(c(v) for c in subs)

    def _kw_allOf(self, value: list[Any], _schema: dict) -> Check:
        return _all([self.compile(s) for s in value])

    def _kw_oneOf(self, value: list[Any], _schema: dict) -> Check:
        subs = [self.compile(s) for s in value]
        return lambda v: sum(1 for c in subs if c(v)) == 1

    def _kw_not(self, value: Any, _schema: dict) -> Check:
        c = self.compile(value)
        return lambda v: not c(v)

    def _kw_if(self, value: Any, schema: dict) -> Check:
        cond = self.compile(value)
        then = self.compile(schema.get("then", True))
        other = self.compile(schema.get("else", True))
        return lambda v: then(v) if cond(v) else other(v)


def compile_checker(schema: dict[str, Any]) -> Check:
    """A predicate equivalent to ``Draft202012Validator(schema).is_valid`` for our schemas."""
    return _Compiler(schema).compile(schema)


# ---- messages ------------------------------------------------------------------------------
_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "null": "null",
            "boolean": "a boolean", "integer": "an integer", "number": "a number"}


def kind_of(value: Any) -> str:
    """How a value reads in a message: ``a string``, ``null``, ``NaN`` ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show(value: Any, limit: int = 60) -> str:
    """A short quotation of a value for a message."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return f"'{text}'"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_one_of(instance: Any, allowed: Sequence[Any]) -> str:
    choices = ", ".join(show(a) for a in allowed) or "(none: the vocabulary is empty)"
    if isinstance(instance, str):
        return f"{show(instance)} is not one of: {choices}"
    return f"expected one of: {choices}; got {kind_of(instance)}"


def _describe(error: ValidationError) -> list[tuple[PathParts, str]]:
    path: PathParts = tuple(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        if not isinstance(instance, dict):
            return []
        return [(path + (name,), "is missing") for name in expected if name not in instance]
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_ARTICLE.get(n, n) for n in names)
        return [(path, f"expected {wanted}, got {kind_of(instance)}")]
    if keyword == "enum":
        return [(path, _not_one_of(instance, expected))]
    if keyword == "const":
        return [(path, _not_one_of(instance, [expected]))]
    if keyword == "minItems":
        if expected == 1:
            return [(path, "must not be empty")]
        return [(path, f"has {len(instance)} items; at least {expected} needed")]
    if keyword == "maxItems":
        return [(path, f"has {len(instance)} items; at most {expected} allowed")]
    if keyword in ("anyOf", "oneOf") and error.context:
        if all(e.validator in ("enum", "const") for e in error.context):
            allowed: list[Any] = []
            for e in error.context:
                values = e.validator_value if e.validator == "enum" else [e.validator_value]
                allowed.extend(x for x in values if x not in allowed)
            return [(path, _not_one_of(instance, allowed))]
        # A wrong type says more than "not the constant of the other branch".
        types = [e for e in error.context if e.validator == "type"]
        return _describe(types[0] if types else best_match(error.context))
    return [(path, error.message)]


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_path(parts: PathParts) -> str:
    """``("dialog", 3, "text")`` -> ``dialog[3].text``; other keys are quoted in brackets:
    ``content[2]["AI Strategy"]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out


class RecordValidator:
    """Validates records against one schema, compiled once."""

    def __init__(self, schema: dict[str, Any]):
        self._full = Draft202012Validator(schema)
        self._fast = compile_checker(schema)

    def is_valid(self, record: Any) -> bool:
        return self._fast(record)

    def problems(self, record: Any) -> list[tuple[PathParts, str]]:
        """Every (path, message) wrong with ``record``; empty when it is valid."""
        if self._fast(record):
            return []
        found: list[tuple[PathParts, str]] = []
        for error in self._full.iter_errors(record):
            for problem in _describe(error):
                if problem not in found:
                    found.append(problem)
        return found


@cache
def structural_validator(fmt: str) -> RecordValidator:
    """The reader's validator for ``fmt``: structure only, labels are checked separately."""
    return RecordValidator(_load(fmt))
