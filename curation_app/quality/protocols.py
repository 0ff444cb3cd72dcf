"""Rating protocols as data: which aspects are rated, on which integer scale, defined how.

The two papers' protocols live in ``curation_app/presets/protocols.json`` beside the project
presets (one source for the UI, the judge prompt, the CLI and exports): ExTES rates five aspects
0–3 (table 4), PANDA five aspects 1–10 (figure 1). A project may define its own protocols in its
settings (``settings["quality"]["protocols"][name]``, same shape); a campaign stores a copy of
the protocol it was started with, so a later edit does not change what its ratings meant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from curation_app.errors import InvalidInputError, NotFoundError

PROTOCOLS_FILE = Path(__file__).resolve().parents[1] / "presets" / "protocols.json"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Aspect:
    name: str
    label: dict[str, str]
    definition: dict[str, str]

    def shown(self, language: str) -> str:
        return self.label.get(language) or self.label.get("en") or self.name

    def explained(self, language: str) -> str:
        return self.definition.get(language) or self.definition.get("en") or ""


@dataclass(frozen=True)
class Protocol:
    name: str
    title: dict[str, str]
    minimum: int
    maximum: int
    aspects: tuple[Aspect, ...]
    source: str = ""
    # The paper's published figures, to report ours beside: ``mean`` and ``kappa`` per aspect
    # (ExTES table 4), or ``overall`` as [model, score] pairs in the paper's order (PANDA
    # figure 1; a list because PostgreSQL's JSONB does not keep the keys of an object in order).
    reference: dict[str, Any] = field(default_factory=dict)

    @property
    def aspect_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.aspects)

    @property
    def scale(self) -> list[int]:
        return list(range(self.minimum, self.maximum + 1))

    def shown(self, language: str) -> str:
        return self.title.get(language) or self.title.get("en") or self.name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": dict(self.title), "source": self.source,
                "min": self.minimum, "max": self.maximum, "reference": dict(self.reference),
                "aspects": [{"name": a.name, "label": dict(a.label),
                             "definition": dict(a.definition)} for a in self.aspects]}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Protocol:
        """Read and check one protocol; a fault names the protocol and the field."""
        where = f"protocol {name!r}"
        if not _NAME.match(name):
            raise InvalidInputError(f"{where}: a name is lower-case letters, digits and _")
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{where}: must be an object")
        lo, hi = data.get("min"), data.get("max")
        if not isinstance(lo, int) or not isinstance(hi, int) or isinstance(lo, bool) \
                or isinstance(hi, bool):
            raise InvalidInputError(f"{where}, field min/max: must be whole numbers")
        if not lo < hi or hi - lo > 100:
            raise InvalidInputError(f"{where}, field min/max: need min < max and at most "
                                    "101 points on the scale")
        aspects = data.get("aspects")
        if not isinstance(aspects, list) or not aspects:
            raise InvalidInputError(f"{where}, field aspects: name at least one aspect")
        out: list[Aspect] = []
        for i, raw in enumerate(aspects):
            if isinstance(raw, str):
                raw = {"name": raw}
            aname = raw.get("name") if isinstance(raw, Mapping) else None
            if not isinstance(aname, str) or not _NAME.match(aname):
                raise InvalidInputError(f"{where}, aspects[{i}].name: lower-case letters, "
                                        "digits and _, starting with a letter")
            label = _texts(raw.get("label"), aname.replace("_", " ").capitalize())
            out.append(Aspect(aname, label, _texts(raw.get("definition"), "")))
        names = [a.name for a in out]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"{where}, field aspects: an aspect is named twice")
        reference = data.get("reference") or {}
        if not isinstance(reference, Mapping):
            raise InvalidInputError(f"{where}, field reference: must be an object")
        return cls(name=name, title=_texts(data.get("title"), name), minimum=lo, maximum=hi,
                   aspects=tuple(out), source=str(data.get("source") or ""),
                   reference=dict(reference))


def _texts(value: Any, default: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"en": value}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {"en": default}


@lru_cache(maxsize=1)
def builtin_protocols() -> dict[str, Protocol]:
    data = json.loads(PROTOCOLS_FILE.read_text(encoding="utf-8"))
    return {name: Protocol.from_dict(name, spec) for name, spec in data.items()}


def project_protocols(settings: Mapping[str, Any]) -> dict[str, Protocol]:
    """The built-in protocols and the project's own (which may not reuse a built-in name)."""
    found = dict(builtin_protocols())
    custom = ((settings.get("quality") or {}).get("protocols") or {})
    for name, spec in custom.items():
        found[name] = Protocol.from_dict(name, spec)
    return found


def get_protocol(name: str, settings: Mapping[str, Any] | None = None) -> Protocol:
    known = project_protocols(settings or {})
    if name not in known:
        raise NotFoundError(f"no rating protocol named {name!r}; choose one of "
                            f"{', '.join(sorted(known))}")
    return known[name]
