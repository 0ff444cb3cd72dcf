"""``curation dedup FILE``: duplicates in a file, outside any project, read lean.

The search needs only each record's turn texts and roles, so the file is read with
:func:`curation_app.formats.read_turn_texts` rather than into full dialogues; it takes and
refuses exactly the records the full reader does, so the verdicts are those of reading the file
whole (tests/formats/test_stream.py compares the two readers).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation_app import formats
from curation_app.checks.dedup import Cluster, find_duplicates
from curation_app.checks.findings import DEFAULT_THRESHOLD
from curation_app.errors import InvalidInputError
from curation_app.presets import PRESET_NAMES, load_preset
from curation_app.wording import plural


@dataclass
class FileDuplicates:
    path: Path
    fmt: str
    records: int
    refused: int
    clusters: list[Cluster]
    labels: list[str]  # how each read record is named: "record 3 (dialog_id 4)"
    threshold: float
    seconds: float

    def line(self) -> str:
        dialogue = [c for c in self.clusters if c.level == "dialogue"]
        turn = [c for c in self.clusters if c.level == "turn"]
        exact = sum(1 for c in dialogue if c.exact)
        in_clusters = len({i for c in dialogue for i in c.items})
        turns = sum(len(c.members) for c in turn)
        skipped = f" ({plural(self.refused, 'record')} unreadable, skipped)" if self.refused \
            else ""
        return (f"checked {self.records} dialogues in {self.path.name}{skipped}: "
                f"{exact} exact and {len(dialogue) - exact} near-duplicate clusters "
                f"({plural(in_clusters, 'dialogue')}), "
                f"{plural(len(turn), 'cluster')} of recycled supporter turns "
                f"({plural(turns, 'turn')})")

    def to_json(self) -> list[dict[str, Any]]:
        return [{"cluster": n, "level": c.level, "exact": c.exact, "score": c.score,
                 "members": [{"record": self.labels[m.item], "turn": m.turn, "score": m.score}
                             for m in c.members]}
                for n, c in enumerate(self.clusters, start=1)]


def dedup_file(path: str | Path, fmt: str, threshold: float | None = None) -> FileDuplicates:
    """Exact and near-duplicate dialogues and recycled supporter turns in a file. The file is
    read with the format's preset vocabulary; unknown labels do not matter here, unreadable
    records are skipped and counted."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise InvalidInputError(f"--threshold must be in (0, 1], not {threshold}")
    vocab = load_preset(fmt if fmt in PRESET_NAMES else "esconv")
    started = time.perf_counter()
    result = formats.read_turn_texts(path, fmt, vocab)
    languages = Counter(r.language for r in result.records)
    language = languages.most_common(1)[0][0] if languages else vocab.language
    found = find_duplicates([r.texts for r in result.records],
                            [r.supporter for r in result.records],
                            threshold=threshold, language=language)
    labels = [f"record {r.index}" + (f" ({r.record_id})" if r.record_id else "")
              for r in result.records]
    return FileDuplicates(path=Path(path), fmt=fmt, records=len(result.records),
                          refused=len(result.refused), clusters=found.clusters, labels=labels,
                          threshold=threshold, seconds=time.perf_counter() - started)
