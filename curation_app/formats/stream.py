"""Records of a file, read in bounded memory: a JSON array element by element, JSON Lines line
by line.

The readers used to decode and parse a whole file at once, so a 350 MB ExTES file cost gigabytes
before the first record was checked. Here the bytes are read in chunks, decoded incrementally,
and each array element is parsed on its own (``JSONDecoder.raw_decode`` finds where it ends); only
the current chunk and the records of the batch being handled are held.

Every verdict of the whole-file reader is kept: the same messages for a file that is not UTF-8
(with the byte offset), truncated, empty or not an array (a file that does not start with ``[``
is handed to the whole-file parser, size limit permitting, so its message stays word for word);
a syntax error inside the array now also names the record it is in. A key repeated within one
object is still found: parsing without a hook and counting is cheap, so a record is re-parsed
with :func:`~curation_app.textsafety.pairs_hook` only when its text holds more ``"key":`` places
than its objects hold keys.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from curation_app.errors import InvalidInputError
from curation_app.formats.base import json_type, parse_json
from curation_app.textsafety import may_hold_bad_text, pairs_hook

CHUNK = 4 * 1024 * 1024  # bytes read at a time
_WS = re.compile(r"[ \t\n\r]*")
# Every key in JSON text is a string closed by '"' and followed by ':' (whitespace between);
# a match inside a string value ('\":') only makes the count larger, never smaller.
_KEY_END = re.compile(r'"[ \t\n\r]*:')
# Escapes that could write '"' or ':' (or anything ASCII) in a way the count above cannot see.
_ASCII_ESCAPE = re.compile(r"\\u00", re.IGNORECASE)
_SPACED = re.compile(r'"[ \t\n\r]')  # a quote then whitespace: a key may be spaced out


@dataclass
class RawRecord:
    index: int  # 0-based position in the array, or line number - 1 for JSON Lines
    value: Any  # the parsed value (None when ``problem`` is set)
    # id() of an object of ``value`` -> the keys it repeated; valid while ``value`` lives
    repeated: dict[int, list[str]] | None = None
    problem: str | None = None  # a JSON Lines line that is not JSON: why
    suspect: bool = False  # its text may hold a NUL or a lone surrogate (escaped)


class _Text:
    """Incremental UTF-8 text of a binary handle, with the file's byte offset for errors."""

    def __init__(self, handle: IO[bytes], source: str):
        self.handle = handle
        self.source = source
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.offset = 0  # bytes consumed so far
        self.eof = False
        self.first = True

    def read(self, size: int | None = None) -> str:
        data = self.handle.read(CHUNK if size is None else size)
        if self.first:
            self.first = False
            if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise InvalidInputError(
                    f"{self.source} is UTF-16 text, not UTF-8; save it as UTF-8")
        if not data:
            self.eof = True
        pending = self.decoder.getstate()[0]
        try:
            text = self.decoder.decode(data, final=self.eof)
        except UnicodeDecodeError as exc:
            joined = pending + data
            at = self.offset - len(pending) + exc.start
            raise InvalidInputError(
                f"{self.source} is not UTF-8 text (bad byte 0x{joined[exc.start]:02x} at "
                f"offset {at})"
            ) from exc
        self.offset += len(data)
        return text


def _maybe_repeats(text: str, start: int, end: int, value: Any, escapes: bool) -> bool:
    """False when the record text ``text[start:end]`` certainly repeats no key in one object.
    ``escapes``: the text holds a ``\\u`` escape."""
    if type(value) is not dict and type(value) is not list:
        return False
    if escapes and _ASCII_ESCAPE.search(text, start, end):
        return True
    written = text.count('":', start, end)
    if _SPACED.search(text, start, end):
        written = len(_KEY_END.findall(text, start, end))  # rare: pretty-printed files
    if written == 0:
        return False
    try:
        # orjson writes keys as '"key":' and a quote inside a string as '\"', so this counts
        # the keys kept plus the same '":' places inside strings that the text holds.
        kept = orjson.dumps(value).count(b'":')
    except (orjson.JSONEncodeError, TypeError):  # a huge integer, deep nesting
        return True
    return written != kept


def _newlines(text: str, end: int) -> int:
    """``text.count("\\n", 0, end)``; a file written on one line (``json.dump``'s default)
    has none, and looking for one (memchr) is ten times cheaper than counting."""
    return text.count("\n", 0, end) if text.find("\n", 0, end) >= 0 else 0


def array_records(handle: IO[bytes], source: str, *, keys: bool = True
                  ) -> Iterator[RawRecord]:
    """The elements of the JSON array in ``handle``, one at a time. ``keys=False`` skips
    looking for repeated keys (a reader that ignores warnings)."""
    reader = _Text(handle, source)
    buf = ""
    while not reader.eof:
        buf += reader.read()
        if buf.strip():
            break
    if not buf.strip():
        raise InvalidInputError(f"{source} is empty")
    pos = _WS.match(buf).end()
    if buf[pos] != "[":
        # Not an array: the whole-file parser words what it is (an object, JSON Lines, junk).
        while not reader.eof:
            buf += reader.read(-1)
        document = parse_json(buf, source, object_pairs_hook=pairs_hook({}))
        raise InvalidInputError(
            f"{source}: top level must be a list of dialogues, got {json_type(document)}")
    decoder = json.JSONDecoder()
    lines_before = 0  # newlines in the text already dropped from buf (for error positions)
    pos += 1
    index = 0
    expect_value = True  # after '[' or ','
    first = True
    # Where the next "\\u" escape of buf starts at or after pos (-1: none in buf, -2: not
    # known): looked for once per buffer, not once per record, in a file without escapes.
    escape_at = -2
    while True:
        pos = _WS.match(buf, pos).end()
        if pos >= len(buf) and not reader.eof:
            lines_before += _newlines(buf, pos)
            buf = buf[pos:] + reader.read()
            pos = 0
            escape_at = -2
            continue
        if pos >= len(buf):
            _fail(buf, pos, lines_before, source, "Expecting value" if expect_value
                  else "Expecting ',' delimiter", index, truncated=True)
        char = buf[pos]
        if not expect_value:
            if char == "]":
                pos += 1
                break
            if char != ",":
                _fail(buf, pos, lines_before, source, "Expecting ',' delimiter", None)
            pos += 1
            expect_value = True
            continue
        if char == "]" and first:
            pos += 1
            break
        size = CHUNK
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(buf) - 16 or exc.msg.startswith("Unterminated")
                if near_end and not reader.eof:
                    buf += reader.read(size)
                    escape_at = -2
                    size *= 2  # a very long record: fewer, larger re-reads
                    continue
                truncated = (exc.msg.startswith("Unterminated string")
                             or exc.pos >= len(buf.rstrip()))
                _fail(buf, exc.pos, lines_before, source, exc.msg, index, truncated)
            except RecursionError as exc:
                raise InvalidInputError(f"{source} is nested too deeply to read") from exc
            if end >= len(buf) and not reader.eof:
                buf += reader.read(size)  # a number cut at the chunk's end: read on
                escape_at = -2
                size *= 2
                continue
            break
        repeated: dict[int, list[str]] | None = None
        if escape_at != -1 and escape_at < pos:
            escape_at = buf.find("\\u", pos)
        escapes = 0 <= escape_at <= end - 2
        if keys and _maybe_repeats(buf, pos, end, value, escapes):
            found: dict[int, list[str]] = {}
            value = json.loads(buf[pos:end], object_pairs_hook=pairs_hook(found))
            repeated = found or None
        yield RawRecord(index, value, repeated, None,
                        escapes and may_hold_bad_text(buf[pos:end]))
        index += 1
        first = False
        expect_value = False
        pos = end
        if pos > CHUNK:  # drop what was read; keep the buffer to about a chunk
            lines_before += _newlines(buf, pos)
            buf = buf[pos:]
            pos = 0
            escape_at = -2
    # Only whitespace may follow the array.
    while True:
        pos = _WS.match(buf, pos).end()
        if pos < len(buf):
            _fail(buf, pos, lines_before, source, "Extra data", None)
        if reader.eof:
            return
        lines_before += _newlines(buf, len(buf))
        buf = reader.read()
        pos = 0


def _fail(buf: str, pos: int, lines_before: int, source: str, msg: str, index: int | None,
          truncated: bool = False) -> None:
    line = lines_before + buf.count("\n", 0, pos) + 1
    column = pos - buf.rfind("\n", 0, pos)
    where = f"line {line} column {column}"
    if truncated:
        record = f", in record {index}" if index is not None else ""
        raise InvalidInputError(f"{source} ends early: the JSON is truncated ({where}{record})")
    hint = (" (more than one JSON value: is it JSON Lines? use format jsonl)"
            if msg == "Extra data" else "")
    record = f" (in record {index})" if index is not None else ""
    raise InvalidInputError(f"{source} is not valid JSON: {where}: {msg}{hint}{record}")


def line_records(handle: IO[bytes], source: str) -> Iterator[RawRecord]:
    """The non-blank lines of a JSON Lines file, each parsed (or with why it is not JSON).
    Lines are split on ``\\n`` only (``ensure_ascii=False`` output may hold U+2028)."""
    offset = 0
    seen_text = False
    for number, raw in enumerate(handle):
        if number == 0:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise InvalidInputError(f"{source} is UTF-16 text, not UTF-8; save it as UTF-8")
            if raw.startswith(codecs.BOM_UTF8):
                offset += len(codecs.BOM_UTF8)
                raw = raw[len(codecs.BOM_UTF8):]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"{source} is not UTF-8 text (bad byte 0x{raw[exc.start]:02x} at offset "
                f"{offset + exc.start})"
            ) from exc
        offset += len(raw)
        if line.endswith("\n"):
            line = line[:-1]
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if not seen_text:
            seen_text = True
            if line.lstrip().startswith("["):
                raise InvalidInputError(
                    f"{source} starts with '[': it looks like a JSON array, not JSON Lines "
                    f"(one object per line); choose format peconv, extes or esconv for arrays"
                )
        found: dict[int, list[str]] = {}
        value, problem = parse_line(line, pairs_hook(found))
        yield RawRecord(number, value, found or None, problem, may_hold_bad_text(line))
    if not seen_text:
        raise InvalidInputError(f"{source} is empty")


def parse_line(line: str, hook: Any = None) -> tuple[Any, str | None]:
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
