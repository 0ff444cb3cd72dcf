"""Label maps: read another dataset's labels as a project's own (`import --map-strategies`).

ExTES seeded its corpus partly from ESConv, whose 8 strategies are not ExTES's 16. A label map is
an editable JSON file saying which source label becomes which project label::

    {"name": "esconv-to-extes",
     "strategies": {"Question": "Clarification", ...},
     "topics": {"job crisis": "Job Loss or Career Setbacks", ...},   (optional)
     "emotions": "drop" | {"anxiety": "...", ...}}                    (optional)

The bundled ``esconv-to-extes`` map (``curation_app/presets/esconv_to_extes.json``) may be named
instead of a path. Every mapped turn is recorded in the dialogue's provenance (``label_map``), so
nobody later mistakes a mapped label for one a person chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from curation_app.domain import Dialogue, Turn
from curation_app.errors import InvalidInputError
from curation_app.presets import Vocabulary

BUNDLED_MAPS = {"esconv-to-extes": "esconv_to_extes.json"}


@dataclass(frozen=True)
class LabelMap:
    name: str
    strategies: dict[str, str]
    topics: dict[str, str] = field(default_factory=dict)
    emotions: dict[str, str] = field(default_factory=dict)
    drop_emotions: bool = False

    @classmethod
    def load(cls, path_or_name: str | Path, vocab: Vocabulary) -> LabelMap:
        """Read a map file (or a bundled map by name) and check its targets against ``vocab``."""
        text, source = _read(path_or_name)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"label map {source} is not valid JSON "
                                    f"(line {exc.lineno}: {exc.msg})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("strategies"), dict):
            raise InvalidInputError(f"label map {source}: needs an object with a "
                                    "'strategies' object of source name -> project name")
        emotions = data.get("emotions", {})
        if emotions not in ("drop", None) and not isinstance(emotions, dict):
            raise InvalidInputError(f"label map {source}, field emotions: 'drop' or an object")
        out = cls(
            name=str(data.get("name") or Path(str(path_or_name)).stem),
            strategies=_pairs(data["strategies"], source, "strategies"),
            topics=_pairs(data.get("topics") or {}, source, "topics"),
            emotions=_pairs(emotions if isinstance(emotions, dict) else {}, source, "emotions"),
            drop_emotions=emotions == "drop",
        )
        for kind, pairs in (("strategy", out.strategies), ("topic", out.topics),
                            ("emotion", out.emotions)):
            known = set(vocab.labels(kind))  # type: ignore[arg-type]
            for src, dst in pairs.items():
                if dst not in known:
                    raise InvalidInputError(
                        f"label map {source}, {kind} {src!r}: target {dst!r} is not in the "
                        f"project's vocabulary")
        return out

    def reading_vocabulary(self, vocab: Vocabulary) -> Vocabulary:
        """``vocab`` with the source labels added, so a reader keeps them exactly as written."""
        vocab = vocab.extended("strategy", list(self.strategies))
        vocab = vocab.extended("topic", list(self.topics))
        return vocab.extended("emotion", list(self.emotions))

    def apply(self, dialogue: Dialogue) -> Dialogue:
        """The dialogue with its labels mapped; what was mapped goes into its provenance."""
        record: dict[str, Any] = {"map": self.name, "turns": []}
        turns: list[Turn] = []
        for i, turn in enumerate(dialogue.turns):
            mapped = [self.strategies.get(s, s) for s in turn.strategies]
            mapped = list(dict.fromkeys(mapped))
            if mapped != turn.strategies:
                record["turns"].append({"turn": i, "from": list(turn.strategies), "to": mapped})
                turn = replace(turn, strategies=mapped)
            turns.append(turn)
        topic, emotion = dialogue.topic, dialogue.emotion
        if topic in self.topics:
            record["topic"] = {"from": topic, "to": self.topics[topic]}
            topic = self.topics[topic]
        if emotion is not None and (self.drop_emotions or emotion in self.emotions):
            record["emotion"] = {"from": emotion, "to": self.emotions.get(emotion)}
            emotion = self.emotions.get(emotion)
        provenance = {**dialogue.provenance, "label_map": record}
        return replace(dialogue, turns=turns, topic=topic, emotion=emotion,
                       provenance=provenance)


def _read(path_or_name: str | Path) -> tuple[str, str]:
    name = str(path_or_name)
    if name in BUNDLED_MAPS:
        folder = resources.files("curation_app.presets")
        return folder.joinpath(BUNDLED_MAPS[name]).read_text(encoding="utf-8"), name
    try:
        return Path(name).read_text(encoding="utf-8"), name
    except FileNotFoundError as exc:
        raise InvalidInputError(f"label map {name} does not exist (a file, or one of "
                                f"{', '.join(BUNDLED_MAPS)})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"label map {name} is not UTF-8 text") from exc


def _pairs(value: Any, source: str, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInputError(f"label map {source}, field {key}: an object is needed")
    for src, dst in value.items():
        if not isinstance(dst, str) or not dst.strip():
            raise InvalidInputError(f"label map {source}, {key}[{src!r}]: the target must be "
                                    "a non-empty string")
    return {str(k): str(v) for k, v in value.items() if not str(k).startswith("_")}
