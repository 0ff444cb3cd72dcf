"""Readers and writers of the external formats, all through the canonical :class:`Dialogue`.

::

    read_file / read_bytes   file -> ReadResult(records, refused, warnings, total)
    stream_file              file -> batches of ReadBatch, in bounded memory (``formats.stream``)
    read_turn_texts          file -> turn texts and roles only (``curation dedup FILE``)
    write_file / dumps       dialogues -> file / text, every record validated first
                             (write_file of stored dialogues: what a format's
                             ``stored_writer`` takes is valid by construction)
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

import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import orjson

from curation_app.domain import Dialogue, Role
from curation_app.errors import ExportError, InvalidInputError, RecordProblem
from curation_app.formats import esconv, extes, jsonl, peconv, stream
from curation_app.formats.base import (
    Lookups,
    ParsedRecord,
    ReadResult,
    RecordContext,
    UnknownLabel,
    atomic_writer,
    dialogue_label,
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
    size_problem,
)

__all__ = [
    "FORMAT_NAMES",
    "ParsedRecord",
    "ReadBatch",
    "ReadResult",
    "RecordStream",
    "UnknownLabel",
    "dumps",
    "export_record",
    "read_bytes",
    "read_file",
    "read_turn_texts",
    "schema_for",
    "stream_file",
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
BATCH = 1000  # records handed on at a time: bounds the memory of a read, whatever the file


@dataclass
class ReadBatch:
    """What reading a run of consecutive records found (see :class:`ReadResult`)."""

    records: list[ParsedRecord]
    refused: list[RecordProblem]
    warnings: list[RecordProblem]


class RecordStream:
    """A file's records, read and checked in batches of ``batch_size``; ``total`` (records in
    the file) is known once the batches are exhausted.

    Raises :class:`InvalidInputError` while iterating when the file as a whole cannot be read
    (not UTF-8, not JSON, truncated, empty, wrong top level), possibly after some batches.
    """

    def __init__(self, opener: Callable[[], IO[bytes]], fmt: str, vocab: Vocabulary,
                 source: str, batch_size: int | None = None):
        self._opener = opener
        self._adapter = _adapter(fmt)
        self.fmt = fmt
        self.vocab = vocab
        self.source = source
        self.batch_size = batch_size or BATCH
        self.total = 0

    def __iter__(self) -> Iterator[ReadBatch]:
        adapter, fmt = self._adapter, self.fmt
        validator = structural_validator(fmt)
        lookups = Lookups(self.vocab)
        with self._opener() as handle:
            raws = (stream.line_records(handle, self.source) if adapter.CONTAINER == "lines"
                    else stream.array_records(handle, self.source))
            batch = ReadBatch([], [], [])
            count = 0
            for raw in raws:
                count += 1
                _read_one(raw, fmt, adapter, validator, lookups, batch)
                if count % self.batch_size == 0:
                    self.total = count
                    batch.refused.sort(key=lambda p: p.index)
                    yield batch
                    batch = ReadBatch([], [], [])
            self.total = count
            batch.refused.sort(key=lambda p: p.index)
            yield batch


def stream_file(path: str | Path, fmt: str, vocab: Vocabulary, *,
                batch_size: int | None = None) -> RecordStream:
    """The records of ``path`` in batches (see :class:`RecordStream`); the size limit and the
    file's existence are checked here, before anything is read."""
    _adapter(fmt)
    path = Path(path)
    try:
        # The size is checked before reading: a 2 GB file must not be read to refuse it.
        too_big = size_problem(path.stat().st_size, str(path)) if path.is_file() else None
    except OSError as exc:
        raise _open_problem(path, exc) from exc
    if too_big:
        raise InvalidInputError(too_big)

    def opener() -> IO[bytes]:
        try:
            return open(path, "rb")  # noqa: SIM115 (closed by RecordStream)
        except OSError as exc:
            raise _open_problem(path, exc) from exc

    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder, not a file")
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist")
    return RecordStream(_Reading(opener, path), fmt, vocab, str(path), batch_size)


class _Reading:
    """Opens the file and turns a read error in the middle into one line."""

    def __init__(self, opener: Callable[[], IO[bytes]], path: Path):
        self._opener = opener
        self._path = path

    def __call__(self) -> Any:
        return _Guarded(self._opener(), self._path)


class _Guarded:
    def __init__(self, handle: IO[bytes], path: Path):
        self._handle = handle
        self._path = path

    def read(self, size: int = -1) -> bytes:
        try:
            return self._handle.read(size)
        except OSError as exc:
            raise _open_problem(self._path, exc) from exc

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._handle
        except OSError as exc:
            raise _open_problem(self._path, exc) from exc

    def __enter__(self) -> _Guarded:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _open_problem(path: Path, exc: OSError) -> InvalidInputError:
    if isinstance(exc, FileNotFoundError):
        return InvalidInputError(f"{path} does not exist")
    if isinstance(exc, IsADirectoryError):
        return InvalidInputError(f"{path} is a folder, not a file")
    return InvalidInputError(f"{path} cannot be read: {exc.strerror or exc}")


def _collect(records: RecordStream) -> ReadResult:
    out = ReadResult(records=[], refused=[], warnings=[], total=0)
    for batch in records:
        out.records.extend(batch.records)
        out.refused.extend(batch.refused)
        out.warnings.extend(batch.warnings)
    out.total = records.total
    return out


def read_file(path: str | Path, fmt: str, vocab: Vocabulary) -> ReadResult:
    """Read a file of format ``fmt`` whole; see :func:`read_bytes` (and :func:`stream_file`
    to read a large file in bounded memory)."""
    return _collect(stream_file(path, fmt, vocab))


def read_bytes(data: bytes, fmt: str, vocab: Vocabulary, *, source: str = "<input>") -> ReadResult:
    """Parse ``data`` into dialogues, record by record.

    Raises :class:`InvalidInputError` only when the file as a whole cannot be read (not UTF-8,
    not JSON, truncated, empty, wrong top level). Problems of single records are returned.
    """
    _adapter(fmt)
    too_big = size_problem(len(data), source)
    if too_big:
        raise InvalidInputError(too_big)
    return _collect(RecordStream(lambda: io.BytesIO(data), fmt, vocab, source))


@dataclass
class TurnTexts:
    """What the near-duplicate search needs of one record that reading would take."""

    index: int
    record_id: str | None
    language: str
    texts: list[str]
    supporter: list[bool]  # per turn: spoken by the supporter


@dataclass
class TextsResult:
    records: list[TurnTexts]
    refused: set[int]  # indices of records reading would refuse
    total: int


def read_turn_texts(path: str | Path, fmt: str, vocab: Vocabulary) -> TextsResult:
    """The turn texts and roles of the records of ``path`` that :func:`read_file` would take,
    and the indices of those it would refuse: the same records, read leaner. ExTES records
    written as the writer writes them skip building dialogues; any other record (and every
    other format) is read in full, so what is taken, refused or reported is unchanged."""
    out = TextsResult([], set(), 0)
    out.records.extend(iter_turn_texts(path, fmt, vocab, out))
    return out


def iter_turn_texts(path: str | Path, fmt: str, vocab: Vocabulary,
                    out: TextsResult) -> Iterator[TurnTexts]:
    """:func:`read_turn_texts` a record at a time, for a caller that keeps them its own way:
    yields the records reading would take, and counts every record into ``out.total`` and
    the refused ones into ``out.refused`` (``out.records`` is left alone)."""
    records = stream_file(path, fmt, vocab)
    adapter = _adapter(fmt)
    validator = structural_validator(fmt)
    lookups = Lookups(vocab)
    with records._opener() as handle:
        raws = (stream.line_records(handle, records.source) if adapter.CONTAINER == "lines"
                else stream.array_records(handle, records.source, keys=False))
        for raw in raws:
            out.total += 1
            if fmt == "extes" and type(raw.value) is dict and not raw.suspect:
                plain = extes.plain_texts(raw.value)
                if plain is not None:
                    yield TurnTexts(raw.index, None, vocab.language, *plain)
                    continue
            batch = ReadBatch([], [], [])
            _read_one(raw, fmt, adapter, validator, lookups, batch)
            out.refused.update(p.index for p in batch.refused)
            for parsed in batch.records:
                d = parsed.dialogue
                yield TurnTexts(
                    parsed.index, parsed.record_id, d.language or vocab.language,
                    [t.text for t in d.turns], [t.role == Role.SUPPORTER for t in d.turns])


def _read_one(raw: stream.RawRecord, fmt: str, adapter: ModuleType,
              validator: RecordValidator, lookups: Lookups, out: ReadBatch) -> None:
    """Check and convert one record, adding it (or its refusal) to ``out``."""
    index = raw.index
    if raw.problem is not None:
        out.refused.append(RecordProblem(index, "", raw.problem, f"line {index + 1}"))
        return
    value = raw.value
    ctx = RecordContext(index, lookups)
    if fmt == "jsonl":
        ctx.record_id = f"line {index + 1}"
    if not isinstance(value, dict):
        # Every format's record is an object: refused here once, for all the readers.
        ctx.refuse("", f"expected a dialogue object, got {show(value, 30)}")
        out.refused.extend(ctx.problems)
        return
    if raw.suspect:
        for parts, message in bad_text_in(value):
            ctx.refuse(format_path(parts), message)
        if ctx.refused:  # not handed to the reader: its messages would quote the text
            out.refused.extend(ctx.problems)
            return
    if raw.repeated:
        for parts, keys in duplicate_keys_in(value, raw.repeated):
            names = ", ".join(show(k) for k in keys)
            ctx.warn(format_path(parts), f"key {names} given more than once in one object; "
                                         "the last value was kept")
    try:
        dialogue = adapter.read_record(value, ctx, validator)
    except RecursionError:
        ctx.refuse("", "nested too deeply to read")
        dialogue = None
    if dialogue is not None:
        _check_lengths(dialogue, fmt, ctx)
    if dialogue is None or ctx.refused:
        out.refused.extend(ctx.problems)
    else:
        out.warnings.extend(ctx.warnings)
        out.records.append(ParsedRecord(index, dialogue, ctx.unknown, ctx.record_id))


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


_parse_line = stream.parse_line  # kept for callers of the old name


# ---- writing ---------------------------------------------------------------------------------
# Records are rendered and written one at a time, so an export's memory does not grow with the
# project. The bytes are exactly those of ``json.dumps(records, ensure_ascii=False,
# allow_nan=False, indent=2) + "\n"`` for the array formats and of one compact ``json.dumps``
# per line for JSON Lines (tests/formats/test_streamed_export.py holds the writer to that).
_ORJSON_INDENT = orjson.OPT_INDENT_2
_ENCODE_PAGE = 100  # records of an array file per orjson call (more saves little, holds more)


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
        self._unwritable: ExportError | None = None  # see _one
        self._started = False  # whether a record was written (the next one needs a comma)

    def chunks(self, dialogues: Iterable[Any],
               to_dialogue: Callable[[Any], Dialogue] | None = None) -> Iterator[bytes]:
        """The file's bytes. ``dialogues`` are :class:`Dialogue` objects, or, with
        ``to_dialogue``, stored dialogues (``StoredDialogue``): those the format's
        ``stored_writer`` takes become records directly, valid by construction (neither a
        ``Dialogue`` is built nor the schema checked); any other goes through
        ``to_dialogue`` and the general path, so every error is worded as before."""
        fmt, vocab, adapter = self.fmt, self.vocab, self.adapter
        lines = adapter.CONTAINER == "lines"
        validator = RecordValidator(schema_for(fmt, vocab))  # compiled once for the whole file
        direct = adapter.stored_writer(vocab) if to_dialogue is not None else None
        jsonl = fmt == "jsonl"
        # A record JSON cannot hold stops the writing, but every record is still validated,
        # so that a record that does not fit the format is reported first, as when the whole
        # file was validated before it was encoded.
        self._unwritable = None
        self._started = False
        # Records of an array file that orjson writes as json does, encoded a page at a time:
        # one call instead of one a record, and a list's items come out one level in already.
        pending: list[tuple[int, dict[str, Any]]] = []
        for position, item in enumerate(dialogues):
            record = direct(item, position) if direct is not None else None
            if record is not None:
                # direct records carry no metadata (jsonl's may carry provenance and
                # dialogue metadata): see _free_of_floats
                fast = not (jsonl and (item.provenance or item.metadata))
            else:
                dialogue = item if to_dialogue is None else to_dialogue(item)
                record = adapter.write_record(dialogue, vocab, position)
                problems = validator.problems(record)
                if problems:
                    parts, message = problems[0]
                    more = (f" (and {len(problems) - 1} more problems)" if len(problems) > 1
                            else "")
                    raise ExportError(
                        f"cannot export {dialogue_label(dialogue, position)} as {fmt}: "
                        f"field {format_path(parts) or '(record)'}: {message}{more}"
                    )
                fast = _free_of_floats(dialogue, fmt)
            self.count += 1
            if self._unwritable is not None:
                continue
            if fast and not lines:
                pending.append((position, record))
                if len(pending) >= _ENCODE_PAGE:
                    yield from self._page(pending)
                continue
            yield from self._page(pending)  # the records before this one first
            if self._unwritable is not None:  # one of them could not be written
                continue
            data = self._one(position, record, lines, fast)
            if data is not None:
                yield data
        yield from self._page(pending)
        if self._unwritable is not None:
            raise self._unwritable
        if not lines:
            yield b"\n]\n" if self.count else b"[]\n"

    def _page(self, pending: list[tuple[int, dict[str, Any]]]) -> Iterator[bytes]:
        """The float-free records of an array file in ``pending`` (emptied), in one chunk;
        one at a time where orjson refuses one (a lone surrogate: see :func:`_encode`)."""
        if not pending or self._unwritable is not None:
            pending.clear()
            return
        try:
            body = orjson.dumps([record for _, record in pending], option=_ORJSON_INDENT)
        except TypeError:
            body = None
        if body is not None:
            # "[\n  {...},\n  {...}\n]": the items as json.dumps(records, indent=2) writes them
            yield (b",\n" if self._started else b"[\n") + body[2:-2]
            self._started = True
        else:
            for position, record in pending:
                data = self._one(position, record, False, True)
                if data is None:
                    break
                yield data
        pending.clear()

    def _one(self, position: int, record: dict[str, Any], lines: bool,
             fast: bool) -> bytes | None:
        """One record's bytes as the file holds them, or None when JSON cannot hold it (then
        :attr:`_unwritable` says why and nothing more is encoded)."""
        fmt = self.fmt
        try:
            data = _encode(record, lines, fast)
        except UnicodeEncodeError as exc:
            self._unwritable = ExportError(
                f"cannot export record {position} as {fmt}: it holds a lone surrogate "
                f"(\\u{ord(exc.object[exc.start]):04x}), which UTF-8 cannot represent")
            self._unwritable.__cause__ = exc
            return None
        except ValueError as exc:  # NaN or Infinity somewhere in metadata
            self._unwritable = ExportError(
                f"cannot export record {position} as {fmt}: it holds NaN or Infinity, "
                "which JSON cannot represent")
            self._unwritable.__cause__ = exc
            return None
        if lines:
            return data + b"\n"
        # json.dumps(records, indent=2) writes each record one level in
        prefix = b",\n  " if self._started else b"[\n  "
        self._started = True
        return prefix + data.replace(b"\n", b"\n  ")


def dumps(dialogues: Iterable[Dialogue], fmt: str, vocab: Vocabulary) -> str:
    """The text :func:`write_file` writes. Raises :class:`ExportError` naming the first record
    and field that does not fit the format or the vocabulary."""
    return b"".join(_Renderer(fmt, vocab).chunks(dialogues)).decode("utf-8")


def write_file(dialogues: Iterable[Any], fmt: str, vocab: Vocabulary, path: str | Path, *,
               overwrite: bool = False,
               to_dialogue: Callable[[Any], Dialogue] | None = None) -> int:
    """Write ``dialogues`` to ``path`` atomically; returns how many were written.

    Records are validated and written one by one to a temporary file beside ``path``, which is
    renamed into place only once every record was written: a refused export (a record that
    does not fit the format, whichever its place) leaves neither ``path`` nor the temporary
    file behind, and an existing file is replaced only with ``overwrite=True``. With
    ``to_dialogue``, ``dialogues`` are stored dialogues (see :meth:`_Renderer.chunks`).
    """
    renderer = _Renderer(fmt, vocab)  # an unknown format is refused before the disk is touched
    path = Path(path)
    if path.exists() and not overwrite and not path.is_dir():
        raise ExportError(f"{path} exists; pass --overwrite to replace it")
    with atomic_writer(path, overwrite=overwrite) as handle:
        for chunk in renderer.chunks(dialogues, to_dialogue):
            handle.write(chunk)
    return renderer.count
