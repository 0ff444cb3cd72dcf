"""Reading a release folder, exactly as ``docs/release-layout.md`` lays it out.

The training script trusts nothing it has not checked: ``manifest.json`` must say it is a
``curation-release`` of format version 1, every file it lists must have the size and SHA-256 it
claims, and every chat record must pass ``schemas/chat_messages.schema.json`` plus the layout's
own rules (system prompt first and equal to the manifest's, ``strategies`` on every assistant
message and on no other). A fault is reported once, naming the file, the record and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from curation_app.resources import resource_path
from curation_app.training.errors import ReleaseError

SPLITS: tuple[str, ...] = ("train", "validation", "test")
FORMAT = "curation-release"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str
    strategies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """One dialogue of a split, as the chat-messages JSONL holds it."""

    id: str
    language: str
    messages: tuple[Message, ...]
    topic: str | None = None
    emotion: str | None = None

    def as_chat(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True)
class Release:
    root: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    splits: dict[str, list[Record]] = field(default_factory=dict)

    @property
    def project(self) -> str:
        return str(self.manifest["project"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def language(self) -> str:
        return str(self.manifest["language"])

    @property
    def system_prompt(self) -> str:
        return str(self.manifest["system_prompt"])

    @property
    def strategies(self) -> list[str]:
        return [str(s) for s in self.manifest.get("strategies") or []]

    def summary(self) -> dict[str, Any]:
        """What an adapter records about the data it was trained on."""
        return {"path": str(self.root), "project": self.project, "version": self.version,
                "preset": self.manifest.get("preset"), "language": self.language,
                "manifest_sha256": self.manifest_sha256, "system_prompt": self.system_prompt,
                "strategies": self.strategies,
                "counts": {s: len(r) for s, r in self.splits.items()}}


@cache
def _validator() -> Draft202012Validator:
    path = resource_path("schemas", "chat_messages.schema.json")
    try:
        schema = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ReleaseError(f"the chat-messages schema is missing at {path}: {exc}") from exc
    return Draft202012Validator(schema)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(record)"


def _check_manifest(manifest: Any, where: Path) -> None:
    if not isinstance(manifest, dict):
        raise ReleaseError(f"{where}: the manifest must be a JSON object")
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ReleaseError(
            f"{where}: not a {FORMAT} of format_version {FORMAT_VERSION} (format="
            f"{manifest.get('format')!r}, format_version={manifest.get('format_version')!r})")
    for key in ("project", "version", "language", "system_prompt", "splits", "files"):
        if key not in manifest:
            raise ReleaseError(f"{where}: the manifest lacks the key {key!r}")
    if manifest["language"] not in ("zh", "en"):
        raise ReleaseError(f"{where}: manifest.language must be 'zh' or 'en', "
                           f"not {manifest['language']!r}")
    if not isinstance(manifest["files"], dict) or not isinstance(manifest["splits"], dict):
        raise ReleaseError(f"{where}: manifest.files and manifest.splits must be objects")


def _check_files(root: Path, files: dict[str, Any]) -> None:
    """Every listed file exists, inside the release, with the size and hash the manifest says."""
    for name, entry in files.items():
        where = f"manifest.files[{name!r}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ReleaseError(f"{root / 'manifest.json'}: {where} needs a sha256")
        path = (root / name).resolve()
        if root.resolve() not in path.parents:
            raise ReleaseError(f"{root / 'manifest.json'}: {where} points outside the release")
        if not path.is_file():
            raise ReleaseError(f"{root}: {name} is listed in the manifest but missing")
        size = entry.get("bytes")
        if size is not None and path.stat().st_size != size:
            raise ReleaseError(f"{root}: {name} has {path.stat().st_size} bytes, the manifest "
                               f"says {size}: the release was changed after it was built")
        if _sha256(path) != entry["sha256"].lower():
            raise ReleaseError(f"{root}: {name} does not match its sha256 in the manifest: the "
                               "release was changed after it was built")


def _records(path: Path, name: str, system_prompt: str) -> Iterator[Record]:
    validator = _validator()
    with path.open("r", encoding="utf-8") as fh:
        for index, line in enumerate(fh):
            if not line.strip():
                continue
            where = f"{name} record {index} (line {index + 1})"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ReleaseError(f"{where}: not JSON ({exc.msg})") from exc
            error = next(iter(sorted(validator.iter_errors(raw), key=lambda e: e.path)), None)
            if error is not None:
                raise ReleaseError(f"{where}, field {_json_path(error.absolute_path)}: "
                                   f"{error.message}")
            messages = raw["messages"]
            if messages[0]["role"] != "system":
                raise ReleaseError(f"{where}, field messages[0].role: the first message must "
                                   "be the system prompt")
            if messages[0]["content"] != system_prompt:
                raise ReleaseError(f"{where}, field messages[0].content: differs from the "
                                   "manifest's system_prompt")
            for i, m in enumerate(messages):
                if i and m["role"] == "system":
                    raise ReleaseError(f"{where}, field messages[{i}].role: only the first "
                                       "message may be the system prompt")
                if (m["role"] == "assistant") != ("strategies" in m):
                    raise ReleaseError(
                        f"{where}, field messages[{i}].strategies: present on every assistant "
                        "message and on no other")
            if not any(m["role"] == "assistant" for m in messages):
                raise ReleaseError(f"{where}, field messages: no assistant (supporter) turn")
            yield Record(
                id=raw["id"], language=raw["language"], topic=raw.get("topic"),
                emotion=raw.get("emotion"),
                messages=tuple(Message(m["role"], m["content"], tuple(m.get("strategies", ())))
                               for m in messages))


def load_release(root: str | Path, splits: tuple[str, ...] = SPLITS) -> Release:
    """The release at ``root`` with the ``splits`` asked for, all checked; nothing else is read."""
    root = Path(root)
    manifest_path = root / "manifest.json"
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"{root}: no readable manifest.json ({exc.strerror or exc}); is this "
                           "a release folder (exports/<project>/<version>)?") from exc
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"{manifest_path}: not JSON ({exc})") from exc
    _check_manifest(manifest, manifest_path)
    _check_files(root, manifest["files"])
    release = Release(root, manifest, hashlib.sha256(raw).hexdigest())
    for split in splits:
        name = f"chat/{split}.jsonl"
        if name not in manifest["files"]:
            raise ReleaseError(f"{manifest_path}: manifest.files lacks {name}")
        records = list(_records(root / name, name, release.system_prompt))
        expected = (manifest["splits"].get(split) or {}).get("count")
        if expected is not None and expected != len(records):
            raise ReleaseError(f"{name}: {len(records)} records, manifest.splits.{split}.count "
                               f"says {expected}")
        release.splits[split] = records
    return release
