"""Re-checking a release folder (hashes, schemas, split ids) and comparing two releases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curation_app.errors import InvalidInputError
from curation_app.formats import stream
from curation_app.formats.validation import RecordValidator, format_path, structural_validator
from curation_app.release.splits import SPLITS
from curation_app.release.writer import sha256_file
from curation_app.resources import resource_path

REQUIRED_KEYS = ("format", "format_version", "project", "version", "preset", "language",
                 "system_prompt", "strategies", "splits", "files")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise InvalidInputError(f"{folder} is not a release: it has no manifest.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != "curation-release":
        raise InvalidInputError(f"{path} is not a curation-release manifest")
    return data


def chat_validator() -> RecordValidator:
    schema = json.loads(resource_path("schemas", "chat_messages.schema.json")
                        .read_text(encoding="utf-8"))
    return RecordValidator(schema)


def iter_chat(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a chat JSON Lines file, a line at a time (a release of 100k dialogues
    is read in flat memory). Lines end at ``\\n`` only: a text may hold U+2028."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_chat(path: Path) -> list[dict[str, Any]]:
    return list(iter_chat(path))


def _native_records(path: Path) -> Iterator[Any]:
    """The elements of a native release file (a JSON array), one at a time."""
    with path.open("rb") as handle:
        for raw in stream.array_records(handle, path.name, keys=False):
            yield raw.value


@dataclass
class VerifyResult:
    folder: Path
    files: int
    records: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in self.records.items())
        if self.ok:
            return f"{self.folder}: OK ({self.files} files, sha256 and schemas match; {counts})"
        return f"{self.folder}: {len(self.problems)} problems"


def verify(folder: str | Path) -> VerifyResult:
    """Every hash, every chat record against schemas/chat_messages.schema.json, the native
    files against their format's schema, and the ids per split in every file."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = [f"manifest.json lacks key {k!r}" for k in REQUIRED_KEYS if k not in manifest]
    files = manifest.get("files") or {}
    for rel, entry in sorted(files.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest (file changed)")
    listed = set(files) | {"manifest.json"}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in listed:
            problems.append(f"{rel}: not listed in the manifest")

    validator = chat_validator()
    records: dict[str, int] = {}
    splits = manifest.get("splits") or {}
    native_fmt = manifest.get("native_format")
    native = structural_validator(native_fmt) if native_fmt else None
    for split in SPLITS:
        expected = [str(i) for i in (splits.get(split) or {}).get("ids", [])]
        chat_path = folder / "chat" / f"{split}.jsonl"
        if chat_path.is_file():
            ids: list[Any] = []
            try:
                for index, record in enumerate(iter_chat(chat_path)):
                    for parts, message in validator.problems(record)[:1]:
                        problems.append(f"chat/{split}.jsonl record {index}: field "
                                        f"{format_path(parts) or '(record)'}: {message}")
                    ids.append(record.get("id") if isinstance(record, dict) else None)
            except ValueError as exc:  # not JSON, or not UTF-8
                problems.append(f"chat/{split}.jsonl record {len(ids)}: not valid JSON ({exc})")
            if ids != expected:
                problems.append(f"chat/{split}.jsonl: ids differ from the manifest's {split}")
            records[split] = len(ids)
        parquet_path = folder / "data" / f"{split}.parquet"
        if parquet_path.is_file():
            ids = pq.read_table(parquet_path, columns=["id"]).column("id").to_pylist()
            if ids != expected:
                problems.append(f"data/{split}.parquet: ids differ from the manifest's {split}")
        native_path = folder / "native" / f"{split}.json"
        if native is not None and native_path.is_file():
            count = 0
            try:
                for index, item in enumerate(_native_records(native_path)):
                    count += 1
                    for parts, message in native.problems(item)[:1]:
                        problems.append(f"native/{split}.json record {index}: field "
                                        f"{format_path(parts) or '(record)'}: {message}")
            except InvalidInputError as exc:
                problems.append(f"native/{split}.json: {exc}")
            else:
                if count != len(expected):
                    problems.append(f"native/{split}.json: {count} records, manifest says "
                                    f"{len(expected)}")
        if (splits.get(split) or {}).get("count") != len(expected):
            problems.append(f"manifest: {split} count differs from its ids")
    return VerifyResult(folder=folder, files=len(files), records=records, problems=problems)


@dataclass
class ReleaseDiff:
    a: str
    b: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    moved: list[str]
    unchanged: int

    def line(self) -> str:
        return (f"{self.a} -> {self.b}: {len(self.added)} added, {len(self.removed)} removed, "
                f"{len(self.changed)} changed, {len(self.moved)} moved between splits, "
                f"{self.unchanged} unchanged")

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "added": self.added, "removed": self.removed,
                "changed": self.changed, "moved": self.moved, "unchanged": self.unchanged}


def _content(folder: Path) -> dict[str, tuple[str, str]]:
    """id -> (split, hash of the record's content)."""
    out = {}
    for split in SPLITS:
        path = folder / "chat" / f"{split}.jsonl"
        if not path.is_file():
            continue
        for record in iter_chat(path):
            body = json.dumps({k: v for k, v in record.items() if k != "id"},
                              sort_keys=True, ensure_ascii=False)
            out[str(record["id"])] = (split, hashlib.sha256(body.encode()).hexdigest())
    return out


def diff(a: str | Path, b: str | Path) -> ReleaseDiff:
    """Dialogues (by id) added, removed and changed between release ``a`` and ``b``."""
    ma, mb = read_manifest(a), read_manifest(b)
    if ma.get("project") != mb.get("project"):
        raise InvalidInputError(f"{a} is of project {ma.get('project')!r}, {b} of "
                                f"{mb.get('project')!r}: their ids are not comparable")
    ca, cb = _content(Path(a)), _content(Path(b))

    def key(i: str) -> tuple[int, str]:
        return (int(i) if i.isdigit() else 0, i)

    common = set(ca) & set(cb)
    changed = sorted((i for i in common if ca[i][1] != cb[i][1]), key=key)
    moved = sorted((i for i in common if ca[i][0] != cb[i][0]), key=key)
    return ReleaseDiff(
        a=f"{ma['project']} {ma['version']}", b=f"{mb['project']} {mb['version']}",
        added=sorted(set(cb) - set(ca), key=key), removed=sorted(set(ca) - set(cb), key=key),
        changed=changed, moved=moved, unchanged=len(common) - len(changed))
