"""The formats' JSON Schemas: loading, filling from a vocabulary, and fast validation.

The schema files in ``schemas/`` are structural: ``$defs/strategy`` (and ``$defs/role`` where a
format names speakers) accept any string. :func:`fill` turns one into the schema of a project by
writing the vocabulary's names into those placeholders, so the labels live in one place only.

Validation runs on every record read or written, possibly 100k of them, and ``jsonschema`` spends
about a millisecond on one ESConv dialogue. So each schema is compiled once into the source of
one plain Python function (:func:`compile_checker`, covering only the keywords our schemas use)
that answers "valid or not" about two hundred times faster; only a record that fails is handed
to ``jsonschema`` to find out where and why, which keeps the messages exactly jsonschema's
verdicts. The two are tested to agree.
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


# Each JSON type as a Python expression over the value's variable, written in for {v}.
_TYPE_TESTS: dict[str, str] = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "null": "{v} is None",
    "boolean": "isinstance({v}, bool)",
    "integer": "_is_integer({v})",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
}
# The keywords that apply only to values of one type (and pass any other value).
_APPLIES_TO = {"properties": "object", "required": "object", "additionalProperties": "object",
               "items": "array", "minItems": "array", "maxItems": "array",
               "minLength": "string"}
# Keywords whose test is one expression over the value (no loop, no nested schema): written by
# _SourceCompiler._test for statements and conditions alike.
_SIMPLE = frozenset({"type", "enum", "const", "required", "minItems", "maxItems", "minLength"})
_MAX_DEPTH = 16  # Python refuses more than 20 nested blocks in one function; stay well under


class _SourceCompiler:
    """Writes a schema (the subset of draft 2020-12 our files use) as the source of one Python
    function, then compiles it.

    The checker runs over every node of every record read, checked or written (2M turns at
    100k dialogues): a closure per keyword cost a Python call per node and keyword, while a
    generated function tests a whole record in straight-line code with loops, as
    fastjsonschema does. ``$ref`` targets are written in place (a recursive one becomes a
    function of its own), and a schema used as a condition (``if``, ``anyOf``, ``oneOf``,
    ``not``) becomes one expression when it can, a helper function otherwise.
    """

    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.names: dict[str, Any] = {"_is_integer": _is_integer}
        self.functions: list[str] = []
        self.ref_functions: dict[str, str] = {}
        self.inlining: list[str] = []
        self.count = 0

    # -- naming ------------------------------------------------------------------------------
    def _fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _constant(self, value: Any) -> str:
        name = self._fresh("_k")
        self.names[name] = value
        return name

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        target: Any = self.root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target

    # -- whole functions ---------------------------------------------------------------------
    def build(self) -> Check:
        entry = self._function(self.root)
        source = "\n\n".join(self.functions)
        namespace = dict(self.names)
        exec(compile(source, "<schema checker>", "exec"), namespace)  # noqa: S102 - our own text
        check = namespace[entry]
        check.source = source  # type: ignore[attr-defined]  # for a reader debugging a verdict
        return check

    def _function(self, schema: Any, name: str | None = None) -> str:
        name = name or self._fresh("_f")
        saved, self.inlining = self.inlining, []
        body = self._statements(schema, "v", 1, None)
        self.inlining = saved
        self.functions.append("\n".join([f"def {name}(v):", *body, "    return True"]))
        return name

    def _ref_function(self, ref: str) -> str:
        if ref not in self.ref_functions:
            self.ref_functions[ref] = name = self._fresh("_r")
            self._function(self._resolve(ref), name)
        return self.ref_functions[ref]

    # -- statements: each returns False from the function when the value fails -----------------
    def _statements(self, schema: Any, v: str, depth: int, known: str | None) -> list[str]:
        pad = "    " * depth
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False"]
        if depth > _MAX_DEPTH:  # too deep to nest further: continue in a function of its own
            return [f"{pad}if not {self._function(schema)}({v}):", f"{pad}    return False"]
        for key in schema:
            if key not in _ANNOTATIONS and key not in ("then", "else") and key not in _SIMPLE \
                    and not hasattr(self, "_kw_" + key.lstrip("$")):
                raise ValueError(f"schema keyword {key!r} is not supported by the fast checker")
        lines: list[str] = []
        types = schema.get("type")
        if isinstance(types, str):
            # test the type first: the keywords after it then need no guard of their own
            lines += self._fail_unless(self._type_expr(types, v), pad)
            known = types
        # group the keywords that apply to one type under one guard
        by_guard: dict[str | None, list[str]] = {}
        for key, value in schema.items():
            if key in _ANNOTATIONS or key in ("then", "else") or \
                    (key == "type" and isinstance(value, str)):
                continue
            by_guard.setdefault(_APPLIES_TO.get(key), []).append(key)
        for guard, keys in by_guard.items():
            if guard is None or guard == known:
                for key in keys:
                    lines += self._keyword(key, schema, v, depth, known)
            else:
                inner: list[str] = []
                for key in keys:
                    inner += self._keyword(key, schema, v, depth + 1, guard)
                if inner:
                    lines += [f"{pad}if {self._type_expr(guard, v)}:", *inner]
        return lines

    def _keyword(self, key: str, schema: dict, v: str, depth: int,
                 known: str | None) -> list[str]:
        if key in _SIMPLE:
            if key == "required" and not schema[key]:
                return []
            return self._fail_unless(self._test(key, schema[key], v, known), "    " * depth)
        return getattr(self, "_kw_" + key.lstrip("$"))(schema[key], schema, v, depth, known)

    def _test(self, key: str, value: Any, v: str, known: str | None = None) -> str:
        """The test of one keyword of ``_SIMPLE`` over ``v``, as an expression. A keyword of
        ``_APPLIES_TO`` is tested as if ``v`` were of its type (the caller guards it);
        ``known``: the type ``v`` is already known to have."""
        if key == "type":
            return " or ".join(self._type_expr(t, v)
                               for t in ([value] if isinstance(value, str) else value))
        if key in ("enum", "const"):
            allowed = value if key == "enum" else [value]
            if not all(isinstance(x, str) for x in allowed):
                raise ValueError("only enums of strings are supported by the fast checker")
            member = f"{v} in {self._constant(frozenset(allowed))}"
            # the isinstance test first: a list or dict is unhashable, and 1 == 1.0 in Python
            return member if known == "string" else f"isinstance({v}, str) and {member}"
        if key == "required":
            return " and ".join(f"{n!r} in {v}" for n in value) or "True"
        return f"len({v}) {'<=' if key == 'maxItems' else '>='} {int(value)}"

    @staticmethod
    def _fail_unless(expr: str, pad: str) -> list[str]:
        return [f"{pad}if not ({expr}):", f"{pad}    return False"]

    @staticmethod
    def _type_expr(name: str, v: str) -> str:
        return _TYPE_TESTS[name].format(v=v)

    def _kw_properties(self, value: dict[str, Any], _schema: dict, v: str, depth: int,
                       _known: str | None) -> list[str]:
        pad, lines = "    " * depth, []
        for name, sub in value.items():
            inner = self._statements(sub, (x := self._fresh("x")), depth + 1, None)
            if inner:
                lines += [f"{pad}if {name!r} in {v}:", f"{pad}    {x} = {v}[{name!r}]", *inner]
        return lines

    def _kw_additionalProperties(self, value: Any, schema: dict, v: str, depth: int,
                                 _known: str | None) -> list[str]:
        if "patternProperties" in schema:
            raise ValueError("patternProperties is not supported by the fast checker")
        pad, known = "    " * depth, self._constant(frozenset(schema.get("properties", {})))
        k, x = self._fresh("k"), self._fresh("x")
        inner = self._statements(value, x, depth + 2, None)
        if not inner:
            return []
        return [f"{pad}for {k}, {x} in {v}.items():", f"{pad}    if {k} not in {known}:", *inner]

    def _kw_items(self, value: Any, _schema: dict, v: str, depth: int,
                  _known: str | None) -> list[str]:
        x = self._fresh("x")
        inner = self._statements(value, x, depth + 1, None)
        return [f"{'    ' * depth}for {x} in {v}:", *inner] if inner else []

    def _kw_ref(self, ref: str, _schema: dict, v: str, depth: int,
                known: str | None) -> list[str]:
        if ref in self.ref_functions or ref in self.inlining:
            return self._fail_unless(f"{self._ref_function(ref)}({v})", "    " * depth)
        self.inlining.append(ref)
        try:
            return self._statements(self._resolve(ref), v, depth, known)
        finally:
            self.inlining.pop()

    def _kw_allOf(self, value: list[Any], _schema: dict, v: str, depth: int,
                  known: str | None) -> list[str]:
        return [line for sub in value for line in self._statements(sub, v, depth, known)]

    def _kw_anyOf(self, value: list[Any], _schema: dict, v: str, depth: int,
                  _known: str | None) -> list[str]:
        expr = " or ".join(f"({self._predicate(s, v)})" for s in value) or "False"
        return self._fail_unless(expr, "    " * depth)

    def _kw_oneOf(self, value: list[Any], _schema: dict, v: str, depth: int,
                  _known: str | None) -> list[str]:
        expr = " + ".join(f"bool({self._predicate(s, v)})" for s in value) or "0"
        return self._fail_unless(f"({expr}) == 1", "    " * depth)

    def _kw_not(self, value: Any, _schema: dict, v: str, depth: int,
                _known: str | None) -> list[str]:
        return self._fail_unless(f"not ({self._predicate(value, v)})", "    " * depth)

    def _kw_if(self, value: Any, schema: dict, v: str, depth: int,
               known: str | None) -> list[str]:
        pad = "    " * depth
        then = self._statements(schema.get("then", True), v, depth + 1, known)
        other = self._statements(schema.get("else", True), v, depth + 1, known)
        if not then and not other:
            return []
        return [f"{pad}if {self._predicate(value, v)}:", *(then or [f"{pad}    pass"]),
                f"{pad}else:", *(other or [f"{pad}    pass"])]

    # -- a subschema as one boolean expression -----------------------------------------------
    def _predicate(self, schema: Any, v: str) -> str:
        expr = self._expression(schema, v, ())
        return expr if expr is not None else f"{self._function(schema)}({v})"

    def _expression(self, schema: Any, v: str, refs: tuple[str, ...]) -> str | None:
        """``schema`` as one expression over ``v``, or None where it needs statements."""
        if schema is True or schema is False:
            return str(schema)
        keys = [k for k in schema if k not in _ANNOTATIONS]
        if any(k not in _SIMPLE and k != "$ref" for k in keys):
            return None
        parts: list[str] = []
        for key in keys:
            value = schema[key]
            if key == "$ref":
                if value in refs:
                    return None
                part = self._expression(self._resolve(value), v, (*refs, value))
                if part is None:
                    return None
            elif key in _APPLIES_TO:
                part = (f"not {self._type_expr(_APPLIES_TO[key], v)} or "
                        f"({self._test(key, value, v)})")
            else:
                part = self._test(key, value, v)
            parts.append(f"({part})")
        return " and ".join(parts) or "True"


def compile_checker(schema: dict[str, Any]) -> Check:
    """A predicate equivalent to ``Draft202012Validator(schema).is_valid`` for our schemas."""
    return _SourceCompiler(schema).build()


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
