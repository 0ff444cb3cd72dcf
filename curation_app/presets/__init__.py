"""Project presets as data: the one source of truth for roles, topics, emotions and strategies.

A preset is a JSON file beside this module. Creating a project copies the preset's vocabulary into
the project, where a lead may extend it; schemas, readers, writers, prompts and the UI all ask the
project's :class:`Vocabulary`, never a copy of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from curation_app.domain import Role
from curation_app.errors import InvalidInputError, NotFoundError

LabelKind = Literal["topic", "emotion", "strategy"]
LABEL_KINDS: tuple[LabelKind, ...] = ("topic", "emotion", "strategy")
PRESET_NAMES: tuple[str, ...] = ("peconv", "extes", "esconv")


def _fold(label: str) -> str:
    """Comparison key for labels: case, surrounding space, inner runs of space/_/- ignored."""
    return re.sub(r"[\s_\-]+", " ", label.strip()).casefold()


@dataclass(frozen=True)
class Strategy:
    name: str
    code: str
    definition: str
    aliases: tuple[str, ...] = ()
    display: dict[str, str] = field(default_factory=dict)
    # The definition in other languages (a Chinese project shows its annotators and its model
    # the Chinese wording; exports keep the canonical English name).
    definitions: dict[str, str] = field(default_factory=dict)

    def label(self, language: str) -> str:
        return self.display.get(language, self.name)

    def definition_in(self, language: str) -> str:
        return self.definitions.get(language) or self.definition


@dataclass(frozen=True)
class RoleInfo:
    name: str
    display: dict[str, str]
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class LabelMatch:
    """The outcome of looking up a raw label: the canonical label, or None if unknown."""

    label: str | None
    normalised: bool = False  # True when raw differed from the canonical spelling


@dataclass(frozen=True)
class Vocabulary:
    """A project's labels. Immutable: extending returns a new vocabulary."""

    preset: str
    language: str
    export_format: str
    topic_label: str
    multi_strategy: bool
    roles: dict[Role, RoleInfo]
    topics: tuple[str, ...]
    emotions: tuple[str, ...]
    strategies: tuple[Strategy, ...]
    emotion_aliases: dict[str, str] = field(default_factory=dict)
    title: str = ""
    # How drafts are made: template name, whether each draft gets an emotion label, how many
    # seed dialogues go into a prompt, the target number of turns.
    generation: dict[str, Any] = field(default_factory=dict)
    # Defaults of the quality checks: turn and dialogue length bounds (min_turns, max_turns,
    # max_turn_chars). A project's settings may override them.
    checks: dict[str, Any] = field(default_factory=dict)
    # Published dialogue counts per topic (ExTES Table 1): default targets, scaled on request.
    paper_targets: dict[str, int] = field(default_factory=dict)
    # Optional sub-situations per topic (ExTES Appendix D) that the planner rotates through.
    topic_hints: dict[str, list[str]] = field(default_factory=dict)
    # Which emotions fit each topic (PECONV: "assigned topics and corresponding emotion
    # labels"); the planner never pairs a topic with an emotion outside its list.
    topic_emotions: dict[str, list[str]] = field(default_factory=dict)
    # Display names of emotions per language (the canonical name is what exports write).
    emotion_display: dict[str, dict[str, str]] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------
    @property
    def strategy_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.strategies)

    def labels(self, kind: LabelKind) -> tuple[str, ...]:
        if kind == "topic":
            return self.topics
        if kind == "emotion":
            return self.emotions
        return self.strategy_names

    def role_name(self, role: Role) -> str:
        """The role's name as written in this preset's own format (``孩子`` is display only)."""
        return self.roles[role].name

    def role_display(self, role: Role, language: str | None = None) -> str:
        info = self.roles[role]
        lang = language or self.language
        return info.display.get(lang) or info.display.get(self.language) or info.name

    def role_for(self, speaker: str) -> Role | None:
        key = _fold(speaker)
        for role, info in self.roles.items():
            names = (info.name, *info.display.values(), *info.aliases)
            if key in {_fold(n) for n in names}:
                return role
        return None

    def match(self, kind: LabelKind, raw: str) -> LabelMatch:
        """Find the canonical label for ``raw``: exact, then case/space-insensitive, then alias."""
        known = self.labels(kind)
        if raw in known:
            return LabelMatch(raw)
        key = _fold(raw)
        for label in known:
            if _fold(label) == key:
                return LabelMatch(label, normalised=True)
        aliases: dict[str, str] = {}
        if kind == "strategy":
            for s in self.strategies:
                for name in (*s.aliases, *s.display.values(), s.code):
                    aliases.setdefault(_fold(name), s.name)
        elif kind == "emotion":
            aliases = {_fold(k): v for k, v in self.emotion_aliases.items()}
        if key in aliases:
            return LabelMatch(aliases[key], normalised=True)
        return LabelMatch(None)

    def emotion_label(self, emotion: str, language: str | None = None) -> str:
        return self.emotion_display.get(emotion, {}).get(language or self.language, emotion)

    def emotions_for(self, topic: str | None) -> tuple[str, ...]:
        """The emotions a draft on ``topic`` may carry: its mapped list, else none known.

        A vocabulary with no topic -> emotions map at all (ESConv pairs any emotion with any
        problem type) allows every emotion; once a map exists, an unmapped topic allows none.
        """
        if topic is None:
            return ()
        if not self.topic_emotions:
            return self.emotions
        return tuple(e for e in self.topic_emotions.get(topic, ()) if e in self.emotions)

    def strategy(self, name: str) -> Strategy:
        for s in self.strategies:
            if s.name == name:
                return s
        raise NotFoundError(f"strategy {name!r} is not in this project's vocabulary")

    # ---- changes -------------------------------------------------------------------------
    def extended(self, kind: LabelKind, labels: list[str]) -> Vocabulary:
        """A copy with ``labels`` added (kept in the order given, duplicates ignored)."""
        existing = set(self.labels(kind))
        new = [label for label in dict.fromkeys(labels) if label not in existing]
        if not new:
            return self
        if kind == "topic":
            return replace(self, topics=self.topics + tuple(new))
        if kind == "emotion":
            return replace(self, emotions=self.emotions + tuple(new))
        added = tuple(Strategy(name=n, code=n[:3], definition="(added by a lead)") for n in new)
        return replace(self, strategies=self.strategies + added)

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "title": self.title,
            "language": self.language,
            "export_format": self.export_format,
            "topic_label": self.topic_label,
            "multi_strategy": self.multi_strategy,
            "roles": {
                str(role): {"name": i.name, "display": dict(i.display), "aliases": list(i.aliases)}
                for role, i in self.roles.items()
            },
            "topics": list(self.topics),
            "emotions": list(self.emotions),
            "emotion_aliases": dict(self.emotion_aliases),
            "generation": dict(self.generation),
            "checks": dict(self.checks),
            "strategies": [
                {"name": s.name, "code": s.code, "definition": s.definition,
                 "aliases": list(s.aliases), "display": dict(s.display),
                 **({"definitions": dict(s.definitions)} if s.definitions else {})}
                for s in self.strategies
            ],
            **({"paper_targets": dict(self.paper_targets)} if self.paper_targets else {}),
            **({"topic_hints": {k: list(v) for k, v in self.topic_hints.items()}}
               if self.topic_hints else {}),
            **({"topic_emotions": {k: list(v) for k, v in self.topic_emotions.items()}}
               if self.topic_emotions else {}),
            **({"emotion_display": {k: dict(v) for k, v in self.emotion_display.items()}}
               if self.emotion_display else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(
            preset=data["preset"],
            title=data.get("title", ""),
            language=data["language"],
            export_format=data["export_format"],
            topic_label=data.get("topic_label", "topic"),
            multi_strategy=bool(data.get("multi_strategy", False)),
            roles={
                Role(role): RoleInfo(
                    name=i["name"], display=dict(i.get("display", {})),
                    aliases=tuple(i.get("aliases", ())),
                )
                for role, i in data["roles"].items()
            },
            topics=tuple(data.get("topics", ())),
            emotions=tuple(data.get("emotions", ())),
            emotion_aliases=dict(data.get("emotion_aliases", {})),
            generation=dict(data.get("generation", {})),
            checks=dict(data.get("checks", {})),
            strategies=tuple(
                Strategy(
                    name=s["name"], code=s.get("code", ""), definition=s.get("definition", ""),
                    aliases=tuple(s.get("aliases", ())), display=dict(s.get("display", {})),
                    definitions=dict(s.get("definitions", {})),
                )
                for s in data.get("strategies", ())
            ),
            paper_targets={k: int(v) for k, v in data.get("paper_targets", {}).items()},
            topic_hints={k: list(v) for k, v in data.get("topic_hints", {}).items()},
            topic_emotions={k: list(v) for k, v in data.get("topic_emotions", {}).items()},
            emotion_display={k: dict(v) for k, v in data.get("emotion_display", {}).items()},
        )


def parse_topic_list(text: str) -> list[str]:
    """Topics from a topic-list file: one or more per line, separated by 、.

    Only 、 (the Chinese enumeration comma) separates: real topic lists hold ordinary commas
    inside a topic. Blank entries and repeats are dropped, first occurrence wins.
    """
    text = text.lstrip("\ufeff")
    topics = (part.strip() for line in text.splitlines() for part in line.split("、"))
    return list(dict.fromkeys(t for t in topics if t))


def read_topic_file(path: str | Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"topic list {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"topic list {path} is not UTF-8 text") from exc
    return parse_topic_list(text)


@cache
def _preset_data(name: str) -> dict[str, Any]:
    if name not in PRESET_NAMES:
        raise NotFoundError(f"no preset named {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    folder = resources.files(__package__)
    data = json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))
    data["preset"] = name
    if "topics_file" in data:
        data["topics"] = parse_topic_list(
            folder.joinpath(data.pop("topics_file")).read_text(encoding="utf-8")
        )
    return data


def load_preset(name: str) -> Vocabulary:
    """The vocabulary of a bundled preset (``peconv``, ``extes`` or ``esconv``)."""
    return Vocabulary.from_dict(_preset_data(name))


def preset_text(name: str, key: str) -> str | None:
    """A text field of a bundled preset that is not part of the vocabulary (such as
    ``system_prompt``, the first message of every chat record a release writes)."""
    value = _preset_data(name).get(key) if name in PRESET_NAMES else None
    return value if isinstance(value, str) else None
