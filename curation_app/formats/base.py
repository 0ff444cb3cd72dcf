"""Plumbing the format adapters share: results, per-record bookkeeping, decoding, atomic writes.

Each adapter module (``peconv``, ``extes``, ``esconv``, ``jsonl``) turns one raw record into a
:class:`~curation_app.domain.Dialogue` and back. Reading follows the same three steps in each:

1. normalise the known irregularities of the format, warning about each one;
2. validate the normalised record against the format's structural schema; anything wrong there
   refuses the record, with the field's path *in the source file*;
3. convert, mapping labels onto the project's vocabulary (exact, case-insensitive, alias), which
   warns when a spelling was fixed and reports an :class:`UnknownLabel` when nothing matched.

What a format cannot hold in the canonical fields is kept under ``metadata[<format name>]`` of the
dialogue or turn, and only that format's writer puts it back. Namespacing keeps one format's
extras (ESConv survey scores, a PECONV integer id) out of another format's export.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from curation_app.domain import Dialogue, Role
from curation_app.errors import ExportError, InvalidInputError, RecordProblem
from curation_app.formats.validation import (
    PathParts,
    RecordValidator,
    format_path,
    kind_of,
    show,
)
from curation_app.presets import LabelKind, LabelMatch, Vocabulary, load_preset
from curation_app.textsafety import label_problem


@dataclass
class UnknownLabel:
    """A label the project's vocabulary lacks, even after alias and case normalisation."""

    kind: LabelKind
    label: str
    field: str  # where it is in the source record, e.g. dialog[3].annotation.strategy


@dataclass
class ParsedRecord:
    index: int  # 0-based position in the file (line number - 1 for JSON Lines)
    dialogue: Dialogue
    unknown_labels: list[UnknownLabel] = field(default_factory=list)
    record_id: str | None = None  # how messages name the record, e.g. "dialog_id 13"


@dataclass
class ReadResult:
    records: list[ParsedRecord]
    refused: list[RecordProblem]  # structure errors: these records cannot be taken
    warnings: list[RecordProblem]  # normalisations applied to records that were taken
    total: int  # records in the file


class Lookups:
    """Label and speaker look-ups for one read, cached.

    ``Vocabulary.match``/``role_for`` fold every known name on each call; a file repeats the same
    few spellings across 100k turns, so each distinct spelling is looked up once.
    """

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self._natives: dict[str, Vocabulary] = {}
        self._roles: dict[tuple[str, str], Role | None] = {}
        self._labels: dict[tuple[str, str], LabelMatch] = {}
        self.plain_strategies = _PlainStrategies(self)

    def native(self, fmt: str) -> Vocabulary:
        """The bundled preset of a file format: the names that format itself uses."""
        if fmt not in self._natives:
            self._natives[fmt] = load_preset(fmt)
        return self._natives[fmt]

    def role(self, speaker: str, fmt: str) -> Role | None:
        """The project's names and aliases first, then the names native to the file's format,
        so a PECONV file's 孩子 is understood whatever the project calls its roles."""
        key = (speaker, fmt)
        if key not in self._roles:
            self._roles[key] = self.vocab.role_for(speaker) or self.native(fmt).role_for(speaker)
        return self._roles[key]

    def match(self, kind: LabelKind, raw: str) -> LabelMatch:
        key = (kind, raw)
        if key not in self._labels:
            self._labels[key] = self.vocab.match(kind, raw)
        return self._labels[key]


class _PlainStrategies(dict[str, bool]):
    """strategy as written -> whether it is the vocabulary's own spelling, which reading takes
    as it is without a word (no alias, no casing fixed, not blank)."""

    def __init__(self, lookups: Lookups):
        super().__init__()
        self._lookups = lookups

    def __missing__(self, raw: str) -> bool:
        match = self._lookups.match("strategy", raw)
        plain = (bool(raw.strip()) and label_problem("strategy", raw) is None
                 and match.label == raw and not match.normalised)
        self[raw] = plain
        return plain


class RecordContext:
    """What reading one record finds: warnings, refusals and unknown labels, all located."""

    def __init__(self, index: int, lookups: Lookups):
        self.index = index
        self.lookups = lookups
        self.vocab = lookups.vocab
        self.record_id: str | None = None
        self.warnings: list[RecordProblem] = []
        self.problems: list[RecordProblem] = []
        self.unknown: list[UnknownLabel] = []

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(RecordProblem(self.index, where, message, self.record_id))

    def refuse(self, where: str, message: str) -> None:
        self.problems.append(RecordProblem(self.index, where, message, self.record_id))

    @property
    def refused(self) -> bool:
        return bool(self.problems)

    def check(self, record: Any, validator: RecordValidator,
              source_path: Callable[[PathParts], PathParts] | None = None) -> bool:
        """Validate ``record``; refuse it with every problem found. ``source_path`` maps a
        normalised path back to where the thing is in the source file."""
        for parts, message in validator.problems(record):
            if source_path is not None:
                parts = source_path(parts)
            self.refuse(format_path(parts), message)
        return not self.refused

    def optional_text(self, record: dict[str, Any], key: str) -> None:
        """NaN/Infinity where a text may be missing (a pandas habit) -> None, with a warning."""
        value = record.get(key)
        if is_nonfinite(value):
            record[key] = None
            self.warn(key, f"{kind_of(value)} is not valid JSON; read as missing")

    def label(self, kind: LabelKind, value: str | None, where: str) -> str | None:
        """The canonical spelling of a label; unknown ones are kept as written and reported."""
        if value is None:
            return None
        if not value.strip():
            self.warn(where, f"empty {kind} read as missing")
            return None
        too_long = label_problem(kind, value)
        if too_long:
            self.refuse(where, f"{kind} {too_long}")
            return None
        match = self.lookups.match(kind, value)
        if match.label is None:
            self.unknown.append(UnknownLabel(kind, value, where))
            return value
        if match.normalised:
            self.warn(where, f"{kind} {show(value)} read as {show(match.label)}")
        return match.label

    def strategies(self, raw: list[tuple[str, str]], where: str) -> list[str]:
        """Map (name, field) pairs onto the vocabulary; refuse several on a single-strategy
        project. Repeats of one strategy on a turn are dropped with a warning."""
        out: list[str] = []
        for value, at in raw:
            name = self.label("strategy", value, at)
            if name is None:
                continue
            if name in out:
                self.warn(at, f"strategy {show(name)} given twice on one turn; kept once")
                continue
            out.append(name)
        if len(out) > 1 and not self.vocab.multi_strategy:
            self.refuse(where, f"{len(out)} strategies on one turn "
                               f"({', '.join(show(s) for s in out)}); this project allows one")
        return out

    def scrubbed(self, value: Any, where: PathParts) -> Any:
        """``value`` with NaN/Infinity replaced by null (JSON cannot hold them), each warned."""
        if is_nonfinite(value):
            self.warn(format_path(where), f"{kind_of(value)} is not valid JSON; read as null")
            return None
        if isinstance(value, dict):
            return {k: self.scrubbed(v, (*where, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrubbed(v, (*where, i)) for i, v in enumerate(value)]
        return value


class SpeakerAliases:
    """Counts speakers written other than the way the writer writes them, to warn once per
    record and spelling rather than once per turn (a whole file usually shares one alias)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], list[Any]] = {}

    def note(self, raw: str, written: str, where: str) -> None:
        if raw != written:
            entry = self._seen.setdefault((raw, written), [where, 0])
            entry[1] += 1

    def report(self, ctx: RecordContext) -> None:
        for (raw, written), (where, count) in self._seen.items():
            turns = "1 turn" if count == 1 else f"{count} turns"
            ctx.warn(where, f"speaker {show(raw)} read as {show(written)} ({turns})")


def fold(key: str) -> str:
    """Comparison key for names written loosely: case and runs of space, ``_``, ``-`` ignored."""
    return re.sub(r"[\s_\-]+", " ", key.strip()).casefold()


def is_nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def namespace(metadata: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The part of a metadata dict that belongs to ``fmt`` (empty if absent or malformed)."""
    value = metadata.get(fmt) if isinstance(metadata, dict) else None
    return value if isinstance(value, dict) else {}


def with_namespace(fmt: str, extras: dict[str, Any]) -> dict[str, Any]:
    return {fmt: extras} if extras else {}


def dialogue_label(dialogue: Dialogue, position: int) -> str:
    """How a dialogue being exported is named in an error."""
    name = f"dialogue {dialogue.id}" if dialogue.id is not None else f"record {position}"
    if dialogue.external_id is not None:
        name += f" (external id {dialogue.external_id})"
    return name



# ---- writing straight from stored dialogues (each format's ``stored_writer``) ----------------
def text_or_none(*values: Any) -> bool:
    """Every value a string or None: a stored column a record may copy as it is."""
    return all(value is None or type(value) is str for value in values)


def plain_stored_turns(turns: Any, known: frozenset[str], most: int | None, *,
                       seeker_strategies: bool = True) -> bool:
    """Whether every stored turn (the ``turns`` column as decoded; a non-empty list) is
    plain: an object with a string text, the role "seeker" or "supporter", no metadata, and
    no strategies or a list of at most ``most`` (None: any number) of the ``known`` ones,
    none on a seeker's turn unless ``seeker_strategies``. The one shape check behind the
    formats' ``stored_writer``: the turns it takes make a record valid by construction, and
    the writer reads them as they are (no copy a turn: this runs on every turn of an
    export)."""
    if type(turns) is not list or not turns:
        return False
    for turn in turns:
        if type(turn) is not dict:
            return False
        text, strategies, role = turn.get("text"), turn.get("strategies"), turn.get("role")
        if (type(text) is not str or turn.get("metadata")
                or (role != "supporter" and (role != "seeker"
                                             or (strategies and not seeker_strategies)))):
            return False
        if not strategies:
            continue
        if type(strategies) is not list or (most is not None and len(strategies) > most):
            return False
        if len(strategies) == 1:  # the common case, without a generator a turn
            name = strategies[0]
            if type(name) is not str or name not in known:
                return False
        elif not all(type(name) is str and name in known for name in strategies):
            return False
    return True

# ---- reading files ---------------------------------------------------------------------------
def decode(data: bytes, source: str) -> str:
    """UTF-8 text of a file (a BOM is allowed), or one clear line saying why not."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInputError(f"{source} is UTF-16 text, not UTF-8; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{source} is not UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    if not text.strip():
        raise InvalidInputError(f"{source} is empty")
    return text


def parse_json(text: str, source: str, *, what: str = "",
               object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """``json.loads`` with its failures turned into one line naming the place."""
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()):
            raise InvalidInputError(
                f"{source}{what} ends early: the JSON is truncated ({where})"
            ) from exc
        hint = ""
        if exc.msg == "Extra data":
            hint = " (more than one JSON value: is it JSON Lines? use format jsonl)"
        raise InvalidInputError(
            f"{source}{what} is not valid JSON: {where}: {exc.msg}{hint}"
        ) from exc
    except RecursionError as exc:
        raise InvalidInputError(f"{source}{what} is nested too deeply to read") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python will convert
        raise InvalidInputError(f"{source}{what} is not valid JSON: {exc}") from exc


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def json_lines(text: str) -> list[tuple[int, str]]:
    """(0-based line index, line) for each non-blank line. Splits on ``\\n`` only, since
    ``ensure_ascii=False`` output may hold U+2028 inside strings, which ``splitlines`` breaks."""
    out = []
    for number, line in enumerate(text.split("\n")):
        line = line.rstrip("\r")
        if line.strip():
            out.append((number, line))
    return out


# ---- writing files ---------------------------------------------------------------------------
def write_atomic(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (see
    :func:`atomic_writer`)."""
    with atomic_writer(path, overwrite=overwrite) as handle:
        handle.write(text.encode("utf-8"))


@contextmanager
def atomic_writer(path: Path, *, overwrite: bool) -> Iterator[_Sink]:
    """A writer of bytes to a temporary file beside ``path``, moved onto ``path`` when the block
    ends without an error.

    Readers never see a half-written file, a crash leaves the old file intact, and without
    ``overwrite`` an existing file is never replaced, even one that appears while we write
    (``os.link`` refuses an existing target, where ``os.replace`` would clobber it). An error
    raised inside the block (a record refused half-way through a streamed export) removes the
    temporary file, and any folder created for it, and propagates.
    """
    exists = f"{path} exists; pass --overwrite to replace it"
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name to export to")
    if path.exists() and not overwrite:
        raise ExportError(exists)
    folder = path.parent
    created = [f for f in (folder, *folder.parents) if not f.exists()]
    tmp = temp_beside(path)
    done = False
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            handle = os.fdopen(fd, "wb", buffering=1 << 20)
        except OSError as exc:
            raise ExportError(f"could not write {path}: {exc.strerror or exc}") from exc
        with handle:
            # What the block raises propagates as it is (a refused record, a dropped database
            # connection); only the writes to the file are reported as such.
            yield _Sink(handle, path)
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                raise ExportError(f"could not write {path}: {exc.strerror or exc}") from exc
        try:
            if overwrite:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError as exc:
                    raise ExportError(exists) from exc
                except OSError:  # a file system without hard links: check, then rename
                    if path.exists():
                        raise ExportError(exists) from None
                    os.replace(tmp, path)
        except OSError as exc:
            raise ExportError(f"could not write {path}: {exc.strerror or exc}") from exc
        done = True
    finally:
        if tmp.exists():
            tmp.unlink()
        if not done:
            for made in created:  # innermost first; one that is not empty stays
                try:
                    made.rmdir()
                except OSError:
                    break


class _Sink:
    """The temporary file's handle as :func:`atomic_writer` yields it: a failed write (a full
    disk) is an :class:`ExportError` naming the target."""

    def __init__(self, handle: BinaryIO, path: Path):
        self._handle = handle
        self._path = path

    def write(self, data: bytes) -> None:
        try:
            self._handle.write(data)
        except OSError as exc:
            raise ExportError(f"could not write {self._path}: {exc.strerror or exc}") from exc


def temp_beside(path: Path) -> Path:
    """A temporary file next to ``path``, named after this process so that one left behind by
    a killed writer can be recognised and removed (:func:`remove_stale_temps`)."""
    return path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temporary files of writes to ``path`` whose process is gone (killed
    mid-write); those of live writers stay. Returns what was removed."""
    removed = []
    prefix = f".{path.name}."
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        name = sibling.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_part = name[len(prefix):-len(".tmp")].split("-", 1)[0]
        if not pid_part.isdigit() or _alive(int(pid_part)):
            continue
        try:
            sibling.unlink()
            removed.append(sibling)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


_SPLIT = re.compile(r"\s*[、,，/;；|]\s*")


def split_joined(value: str) -> list[str]:
    """``"认可、共情"`` -> ``["认可", "共情"]`` (PECONV strategy lists written as one string)."""
    return [part for part in _SPLIT.split(value.strip()) if part]
