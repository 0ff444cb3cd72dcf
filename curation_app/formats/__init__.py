"""Readers and writers of the external formats, all through the canonical :class:`Dialogue`.

::

    read_file / read_bytes   file -> ReadResult(records, refused, warnings, total)
    write_file / dumps       dialogues -> file / text, every record validated first
    export_record            one dialogue as a writer would write it (not validated)
    schema_for               the JSON Schema of one record, with a project's labels filled in

One module per format holds its reader and writer together (``peconv``, ``extes``, ``esconv``,
``jsonl``); their docstrings say what each normalises (with a warning) and what it refuses.
A file that cannot be read at all raises :class:`InvalidInputError` with one line; a record that
cannot be taken is listed in ``refused`` with its index and field, and the rest are still read,
so the import service can decide between all-or-nothing and ``--skip-invalid``.

Hostile text (:mod:`curation_app.textsafety`), the same for every format and both databases:
a NUL (U+0000) or a lone surrogate in any string or key refuses the record, naming the field
(no replacement is made); a topic, emotion, external id or language longer than its column
refuses the record; a key repeated within one object keeps the last value, as JSON parsers do,
with a warning naming the record and the object; a file over ``CURATION_MAX_IMPORT_BYTES``
(default 256 MiB) is refused before it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from curation_app.domain import Dialogue
from curation_app.errors import ExportError, InvalidInputError, RecordProblem
from curation_app.formats import esconv, extes, jsonl, peconv
from curation_app.formats.base import (
    Lookups,
    ParsedRecord,
    ReadResult,
    RecordContext,
    UnknownLabel,
    atomic_writer,
    decode,
    dialogue_label,
    json_lines,
    json_type,
    parse_json,
    show,
)
from curation_app.formats.validation import (
    RecordValidator,
    fill,
    format_path,
    structural_schema,
    structural_validator,
)
from curation_app.presets import Vocabulary
from curation_app.textsafety import (
    bad_text_in,
    duplicate_keys_in,
    label_problem,
    may_hold_bad_text,
    pairs_hook,
    size_problem,
)

__all__ = [
    "FORMAT_NAMES",
    "ParsedRecord",
    "ReadResult",
    "UnknownLabel",
    "dumps",
    "export_record",
    "read_bytes",
    "read_file",
    "schema_for",
    "write_file",
]

FORMAT_NAMES: tuple[str, ...] = ("peconv", "extes", "esconv", "jsonl")
_ADAPTERS: dict[str, ModuleType] = {"peconv": peconv, "extes": extes, "esconv": esconv,
                                    "jsonl": jsonl}


def _adapter(fmt: str) -> ModuleType:
    try:
        return _ADAPTERS[fmt]
    except (KeyError, TypeError):
        raise InvalidInputError(
            f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}"
        ) from None


def schema_for(fmt: str, vocab: Vocabulary) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one record of ``fmt`` for a project's vocabulary:
    strategy names (and speaker names, where the format has them) as enums."""
    adapter = _adapter(fmt)
    return fill(structural_schema(fmt), strategies=vocab.strategy_names,
                multi_strategy=vocab.multi_strategy, roles=adapter.role_names(vocab))


def export_record(dialogue: Dialogue, fmt: str, vocab: Vocabulary,
                  position: int = 0) -> dict[str, Any]:
    """``dialogue`` as the writer of ``fmt`` would write it, before validation (the checks
    validate it themselves). Raises :class:`ExportError` for what the format cannot hold at
    all, such as a strategy on an ExTES user turn."""
    return _adapter(fmt).write_record(dialogue, vocab, position)


# ---- reading ---------------------------------------------------------------------------------
def read_file(path: str | Path, fmt: str, vocab: Vocabulary) -> ReadResult:
    """Read a file of format ``fmt``; see :func:`read_bytes`."""
    _adapter(fmt)
    path = Path(path)
    try:
        # The size is checked before reading: a 2 GB file must not be read whole to refuse it.
        too_big = size_problem(path.stat().st_size, str(path)) if path.is_file() else None
        if too_big:
            raise InvalidInputError(too_big)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{path} does not exist") from exc
    except IsADirectoryError as exc:
        raise InvalidInputError(f"{path} is a folder, not a file") from exc
    except OSError as exc:
        raise InvalidInputError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    return read_bytes(data, fmt, vocab, source=str(path))


def read_bytes(data: bytes, fmt: str, vocab: Vocabulary, *, source: str = "<input>") -> ReadResult:
    """Parse ``data`` into dialogues, record by record.

    Raises :class:`InvalidInputError` only when the file as a whole cannot be read (not UTF-8,
    not JSON, truncated, empty, wrong top level). Problems of single records are returned.
    """
    adapter = _adapter(fmt)
    too_big = size_problem(len(data), source)
    if too_big:
        raise InvalidInputError(too_big)
    text = decode(data, source)
    scan_text = may_hold_bad_text(text)
    repeated: dict[int, list[str]] = {}  # id of a parsed object -> keys it repeated
    hook = pairs_hook(repeated)
    items: list[tuple[int, Any]] = []
    refused: list[RecordProblem] = []
    if adapter.CONTAINER == "lines":
        if text.lstrip().startswith("["):
            raise InvalidInputError(
                f"{source} starts with '[': it looks like a JSON array, not JSON Lines "
                f"(one object per line); choose format peconv, extes or esconv for arrays"
            )
        lines = json_lines(text)
        total = len(lines)
        for index, line in lines:
            value, problem = _parse_line(line, hook)
            if problem is None:
                items.append((index, value))
            else:
                refused.append(RecordProblem(index, "", problem, f"line {index + 1}"))
    else:
        document = parse_json(text, source, object_pairs_hook=hook)
        if not isinstance(document, list):
            raise InvalidInputError(
                f"{source}: top level must be a list of dialogues, got {json_type(document)}"
            )
        items = list(enumerate(document))
        total = len(items)

    validator = structural_validator(fmt)
    lookups = Lookups(vocab)
    records: list[ParsedRecord] = []
    warnings: list[RecordProblem] = []
    for index, raw in items:
        ctx = RecordContext(index, lookups)
        if fmt == "jsonl":
            ctx.record_id = f"line {index + 1}"
        if not isinstance(raw, dict):
            # Every format's record is an object: refused here once, for all the readers.
            ctx.refuse("", f"expected a dialogue object, got {show(raw, 30)}")
            refused.extend(ctx.problems)
            continue
        if scan_text:
            for parts, message in bad_text_in(raw):
                ctx.refuse(format_path(parts), message)
            if ctx.refused:  # not handed to the reader: its messages would quote the text
                refused.extend(ctx.problems)
                continue
        if repeated:
            for parts, keys in duplicate_keys_in(raw, repeated):
                names = ", ".join(show(k) for k in keys)
                ctx.warn(format_path(parts), f"key {names} given more than once in one object; "
                                             "the last value was kept")
        try:
            dialogue = adapter.read_record(raw, ctx, validator)
        except RecursionError:
            ctx.refuse("", "nested too deeply to read")
            dialogue = None
        if dialogue is not None:
            _check_lengths(dialogue, fmt, ctx)
        if dialogue is None or ctx.refused:
            refused.extend(ctx.problems)
        else:
            warnings.extend(ctx.warnings)
            records.append(ParsedRecord(index, dialogue, ctx.unknown, ctx.record_id))
    refused.sort(key=lambda p: p.index)
    return ReadResult(records=records, refused=refused, warnings=warnings, total=total)


# Where each format keeps the canonical fields whose columns have a length (messages name the
# field as the file spells it).
_SOURCE_FIELDS = {"peconv": {"external_id": "dialog_id"}}


def _check_lengths(dialogue: Dialogue, fmt: str, ctx: RecordContext) -> None:
    """Refuse values longer than their database columns (topic and emotion are checked as
    labels already)."""
    for name in ("external_id", "language"):
        value = getattr(dialogue, name)
        if isinstance(value, str):
            problem = label_problem(name, value)
            if problem:
                ctx.refuse(_SOURCE_FIELDS.get(fmt, {}).get(name, name), f"{name} {problem}")


def _parse_line(line: str, hook: Any = None) -> tuple[Any, str | None]:
    """One JSON Lines line -> (value, None), or (None, why it is not JSON)."""
    try:
        return json.loads(line, object_pairs_hook=hook), None
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(line.rstrip()):
            return None, f"not valid JSON: the line ends early (column {exc.colno}: {exc.msg})"
        return None, f"not valid JSON: column {exc.colno}: {exc.msg}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply to read"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"


# ---- writing ---------------------------------------------------------------------------------
# Records are rendered and written one at a time, so an export's memory does not grow with the
# project. The bytes are exactly those of ``json.dumps(records, ensure_ascii=False,
# allow_nan=False, indent=2) + "\n"`` for the array formats and of one compact ``json.dumps``
# per line for JSON Lines (tests/formats/test_streamed_export.py holds the writer to that).
_ORJSON_INDENT = orjson.OPT_INDENT_2


def _free_of_floats(dialogue: Dialogue, fmt: str) -> bool:
    """Whether the writer's record for ``dialogue`` can hold no float.

    orjson writes strings, integers, lists and objects exactly as ``json.dumps`` does (same
    escapes, same key order, same indentation), but floats differently (``0.00003`` for
    ``3e-05``) and NaN as ``null`` where ``json`` refuses it. The writers take floats only from
    the free-form parts of a dialogue: its format metadata, and for ``jsonl`` its provenance
    (costs, temperature). Everything else in a record is a column's text, an id, or a turn's
    text and strategies, which the schema has checked to be strings by then."""
    if dialogue.metadata or (fmt == "jsonl" and dialogue.provenance):
        return False
    for turn in dialogue.turns:  # noqa: SIM110 - a loop: this runs once per record
        if turn.metadata:
            return False
    return True


def _encode(record: dict[str, Any], lines: bool, fast: bool) -> bytes:
    """One record as the stdlib ``json`` writes it (see above); raises ValueError for NaN or
    Infinity and UnicodeEncodeError for a lone surrogate."""
    if fast:
        try:
            return orjson.dumps(record) if lines else orjson.dumps(record, option=_ORJSON_INDENT)
        except TypeError:  # an integer past 64 bits, a lone surrogate, a non-string key
            pass
    if lines:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    else:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False, indent=2)
    return text.encode("utf-8")


class _Renderer:
    """The chunks of bytes of one export, record by record; ``count`` is how many were
    rendered once :meth:`chunks` is exhausted."""

    def __init__(self, fmt: str, vocab: Vocabulary):
        self.fmt = fmt
        self.vocab = vocab
        self.adapter = _adapter(fmt)
        self.count = 0

    def chunks(self, dialogues: Iterable[Dialogue]) -> Iterator[bytes]:
        fmt, vocab, adapter = self.fmt, self.vocab, self.adapter
        lines = adapter.CONTAINER == "lines"
        validator = RecordValidator(schema_for(fmt, vocab))  # compiled once for the whole file
        # A record JSON cannot hold stops the writing, but every record is still validated,
        # so that a record that does not fit the format is reported first, as when the whole
        # file was validated before it was encoded.
        unwritable: ExportError | None = None
        for position, dialogue in enumerate(dialogues):
            record = adapter.write_record(dialogue, vocab, position)
            problems = validator.problems(record)
            if problems:
                parts, message = problems[0]
                more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
                raise ExportError(
                    f"cannot export {dialogue_label(dialogue, position)} as {fmt}: "
                    f"field {format_path(parts) or '(record)'}: {message}{more}"
                )
            self.count += 1
            if unwritable is not None:
                continue
            try:
                data = _encode(record, lines, _free_of_floats(dialogue, fmt))
            except UnicodeEncodeError as exc:
                unwritable = ExportError(
                    f"cannot export record {position} as {fmt}: it holds a lone surrogate "
                    f"(\\u{ord(exc.object[exc.start]):04x}), which UTF-8 cannot represent")
                unwritable.__cause__ = exc
                continue
            except ValueError as exc:  # NaN or Infinity somewhere in metadata
                unwritable = ExportError(
                    f"cannot export record {position} as {fmt}: it holds NaN or Infinity, "
                    "which JSON cannot represent")
                unwritable.__cause__ = exc
                continue
            if lines:
                yield data + b"\n"
            else:
                # json.dumps(records, indent=2) writes each record one level in
                yield (b"[\n  " if position == 0 else b",\n  ") + data.replace(b"\n", b"\n  ")
        if unwritable is not None:
            raise unwritable
        if not lines:
            yield b"\n]\n" if self.count else b"[]\n"


def dumps(dialogues: Iterable[Dialogue], fmt: str, vocab: Vocabulary) -> str:
    """The text :func:`write_file` writes. Raises :class:`ExportError` naming the first record
    and field that does not fit the format or the vocabulary."""
    return b"".join(_Renderer(fmt, vocab).chunks(dialogues)).decode("utf-8")


def write_file(dialogues: Iterable[Dialogue], fmt: str, vocab: Vocabulary, path: str | Path, *,
               overwrite: bool = False) -> int:
    """Write ``dialogues`` to ``path`` atomically; returns how many were written.

    Records are validated and written one by one to a temporary file beside ``path``, which is
    renamed into place only once every record was written: a refused export (a record that
    does not fit the format, whichever its place) leaves neither ``path`` nor the temporary
    file behind, and an existing file is replaced only with ``overwrite=True``.
    """
    renderer = _Renderer(fmt, vocab)  # an unknown format is refused before the disk is touched
    path = Path(path)
    if path.exists() and not overwrite and not path.is_dir():
        raise ExportError(f"{path} exists; pass --overwrite to replace it")
    with atomic_writer(path, overwrite=overwrite) as handle:
        for chunk in renderer.chunks(dialogues):
            handle.write(chunk)
    return renderer.count
