"""Writing a release folder atomically: every file into a temporary folder beside the target,
hashes into ``manifest.json``, then one rename. A version that exists is never written again.

A build killed half way leaves only its temporary folder (``.<version>.building-<pid>-…``),
never a release; the next build in the same place removes such folders whose process is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curation_app import formats
from curation_app.domain import Dialogue
from curation_app.errors import AlreadyExistsError, ExportError, InvalidInputError
from curation_app.formats.validation import RecordValidator, format_path
from curation_app.presets import Vocabulary
from curation_app.release.records import PARQUET_SCHEMA, chat_record
from curation_app.release.splits import SPLITS

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
Progress = Callable[[str], None]


def check_version(version: str) -> str:
    if not VERSION_RE.match(version or ""):
        raise InvalidInputError(f"--version {version!r} must look like X.Y.Z (e.g. 1.0.0)")
    return version


def folder_name(project: str) -> str:
    """The project's folder under exports/: its name, with anything but letters, digits,
    '.', '_' and '-' replaced, so a name never escapes the folder."""
    safe = re.sub(r"[^\w.\-]+", "-", project, flags=re.UNICODE).strip(".-")
    return safe or "project"


def target_dir(out: str | Path, project: str, version: str) -> Path:
    return Path(out) / folder_name(project) / check_version(version)


def refuse_existing(target: Path) -> None:
    if target.exists():
        raise AlreadyExistsError(
            f"release {target} already exists; a version is written once (choose a new "
            "--version)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_builds(parent: Path) -> list[Path]:
    """Temporary folders of builds whose process no longer runs (killed, crashed)."""
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = re.match(r"^\..+\.building-(\d+)-[0-9a-f]+$", entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


# Rows of a parquet row group: the records of a group are held as an Arrow table (about the
# size of their text) until it is written, so memory stays bounded at any release size. A
# split of at most this many rows is one row group, byte for byte what ``pq.write_table``
# writes for the whole split.
ROW_GROUP = 10_000

Reader = Callable[[Sequence[int]], Iterable[list[Dialogue]]]


class _NativeLines:
    """Each dialogue in the preset's format, validated against the format's schema with the
    project's labels, as one line of JSON. (``formats.dumps`` indents every level, which
    takes Python's slow encoder; one record per line keeps the C encoder and stays
    readable.)"""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.fmt = vocab.export_format
        self.validator = RecordValidator(formats.schema_for(self.fmt, vocab))

    def line(self, dialogue: Dialogue, position: int) -> str:
        fmt = self.fmt
        record = formats.export_record(dialogue, fmt, self.vocab, position)
        problems = self.validator.problems(record)
        if problems:
            parts, message = problems[0]
            raise ExportError(f"cannot write dialogue {dialogue.id} as {fmt}: field "
                              f"{format_path(parts) or '(record)'}: {message}")
        try:
            return json.dumps(record, ensure_ascii=False, allow_nan=False)
        except ValueError as exc:
            raise ExportError(f"cannot write dialogue {dialogue.id} as {fmt}: it holds "
                              "NaN or Infinity, which JSON cannot represent") from exc


class _JsonArray:
    """A JSON array written one line at a time, as ``"[\n" + ",\n".join(lines) +
    "\n]\n"`` (``"[]\n"`` when empty) would write it whole."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("w", encoding="utf-8", newline="\n")
        self.empty = True

    def add(self, line: str) -> None:
        self.fh.write(("[\n" if self.empty else ",\n") + line)
        self.empty = False

    def close(self) -> None:
        self.fh.write("[]\n" if self.empty else "\n]\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


class _ParquetRows:
    """A split's parquet file written a row group at a time (see ``ROW_GROUP``)."""

    def __init__(self, path: Path):
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.rows = 0

    def add(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.pending.append(pa.Table.from_pylist(records, schema=PARQUET_SCHEMA))
            self.rows += len(records)
        if self.rows >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        # One contiguous chunk per column, as Table.from_pylist over the whole group gives:
        # the pages written do not depend on where the read batches ended.
        table = pa.concat_tables(self.pending).combine_chunks()
        self.pending, self.rows = [], 0
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, PARQUET_SCHEMA)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.pending:
            self._flush()
        if self.writer is None:  # an empty split: the file pq.write_table writes for it
            pq.write_table(pa.Table.from_pylist([], schema=PARQUET_SCHEMA), self.path)
        else:
            self.writer.close()

    def abandon(self) -> None:
        """Close the file of a build that failed (closing twice does nothing)."""
        if self.writer is not None:
            self.writer.close()


def write_release(target: Path, read: Reader, split_ids: dict[str, list[int]],
                  vocab: Vocabulary, prompt: str, *, card: Callable[[str], str],
                  manifest: dict[str, Any], progress: Progress | None = None,
                  before_rename: Callable[[], None] | None = None) -> dict[str, Any]:
    """Write the release at ``target`` (which must not exist). ``read(ids)`` yields the
    dialogues of ``ids`` in that order, a batch at a time; each split is read once and its
    native, chat and parquet files are written as its batches come, so memory does not grow
    with the release (the "chat" and "parquet" stages are reported as those files are
    closed). ``manifest`` holds the keys the caller knows; ``files`` is added here.
    ``before_rename`` runs when every file is written, before the release appears: what it
    raises leaves nothing behind. Returns the manifest written."""
    report = progress or (lambda stage: None)
    refuse_existing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(target.parent)
    tmp = target.parent / f".{target.name}.building-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        # A build that fails half way closes what it opened before the folder goes.
        with contextlib.ExitStack() as opened:
            report("native")
            (tmp / "data").mkdir()
            (tmp / "chat").mkdir()
            native = _NativeLines(vocab)
            every = _JsonArray(tmp / "native" / "all.json")
            opened.callback(every.fh.close)
            chats: list[Any] = []
            tables: list[_ParquetRows] = []
            for split in SPLITS:
                lines = _JsonArray(tmp / "native" / f"{split}.json")
                opened.callback(lines.fh.close)
                chat = opened.enter_context((tmp / "chat" / f"{split}.jsonl").open(
                    "w", encoding="utf-8", newline="\n"))
                chats.append(chat)
                rows = _ParquetRows(tmp / "data" / f"{split}.parquet")
                opened.callback(rows.abandon)
                tables.append(rows)
                position = 0
                for batch in read(split_ids[split]):
                    records = []
                    for dialogue in batch:
                        line = native.line(dialogue, position)
                        position += 1
                        lines.add(line)
                        every.add(line)
                        record = chat_record(dialogue, prompt)
                        chat.write(json.dumps(record, ensure_ascii=False) + "\n")
                        records.append(record)
                    rows.add(records)
                lines.close()
            every.close()

            report("chat")
            for chat in chats:
                chat.flush()
                os.fsync(chat.fileno())
                chat.close()

            report("parquet")
            for rows in tables:
                rows.close()

        report("card")
        data = hashlib.sha256()
        for split in SPLITS:
            data.update(sha256_file(tmp / "data" / f"{split}.parquet").encode())
        _write_text(tmp / "README.md", card(data.hexdigest()))

        report("manifest")
        files = {}
        for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
            rel = path.relative_to(tmp).as_posix()
            files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        written = {**manifest, "files": files}
        _write_text(tmp / "manifest.json",
                    json.dumps(written, ensure_ascii=False, indent=2) + "\n")
        for path in tmp.rglob("*"):
            if path.is_file():
                path.chmod(0o444)  # immutable: a release's files are read-only

        report("rename")
        if before_rename is not None:
            before_rename()
        refuse_existing(target)
        os.rename(tmp, target)
        with contextlib.suppress(OSError):  # make the rename itself durable where we can
            fd = os.open(target.parent, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def list_releases(out: str | Path, project: str) -> list[Path]:
    """The release folders of ``project`` under ``out``, oldest version first."""
    parent = Path(out) / folder_name(project)
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir()
             if p.is_dir() and VERSION_RE.match(p.name) and (p / "manifest.json").exists()]
    return sorted(found, key=lambda p: tuple(int(x) for x in p.name.split(".")))

