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
from collections.abc import Callable
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


def native_lines(ordered: dict[str, list[Dialogue]], vocab: Vocabulary) -> dict[str, list[str]]:
    """Each dialogue in the preset's format, validated against the format's schema with the
    project's labels, as one line of JSON. (``formats.dumps`` indents every level, which
    takes Python's slow encoder; one record per line keeps the C encoder and stays
    readable.)"""
    fmt = vocab.export_format
    validator = RecordValidator(formats.schema_for(fmt, vocab))
    out: dict[str, list[str]] = {}
    for split, dialogues in ordered.items():
        lines = []
        for position, dialogue in enumerate(dialogues):
            record = formats.export_record(dialogue, fmt, vocab, position)
            problems = validator.problems(record)
            if problems:
                parts, message = problems[0]
                raise ExportError(f"cannot write dialogue {dialogue.id} as {fmt}: field "
                                  f"{format_path(parts) or '(record)'}: {message}")
            try:
                lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
            except ValueError as exc:
                raise ExportError(f"cannot write dialogue {dialogue.id} as {fmt}: it holds "
                                  "NaN or Infinity, which JSON cannot represent") from exc
        out[split] = lines
    return out


def _array(lines: list[str]) -> str:
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def write_release(target: Path, dialogues: dict[int, Dialogue], split_ids: dict[str, list[int]],
                  vocab: Vocabulary, prompt: str, *, card: Callable[[str], str],
                  manifest: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Write the release at ``target`` (which must not exist). ``manifest`` holds the keys
    the caller knows; ``files`` is added here. Returns the manifest written."""
    report = progress or (lambda stage: None)
    refuse_existing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(target.parent)
    tmp = target.parent / f".{target.name}.building-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        ordered = {s: [dialogues[i] for i in split_ids[s]] for s in SPLITS}

        report("native")
        lines = native_lines(ordered, vocab)
        for split in SPLITS:
            _write_text(tmp / "native" / f"{split}.json", _array(lines[split]))
        _write_text(tmp / "native" / "all.json",
                    _array([line for s in SPLITS for line in lines[s]]))

        report("chat")
        records = {s: [chat_record(d, prompt) for d in ordered[s]] for s in SPLITS}
        for split in SPLITS:
            _write_text(tmp / "chat" / f"{split}.jsonl",
                        "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                for r in records[split]))

        report("parquet")
        (tmp / "data").mkdir()
        for split in SPLITS:
            table = pa.Table.from_pylist(records[split], schema=PARQUET_SCHEMA)
            pq.write_table(table, tmp / "data" / f"{split}.parquet")

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

