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
from curation_app.checks.dedup import Cluster, DuplicateSearch
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


# Records sketched at a time: the search's numpy work per batch stays small.
_BATCH = 5000


class _PackedTexts:
    """The turn texts of the records read, held compactly until the search asks for them.

    A record's texts as one string, joined by NUL, and its supporter flags as bytes: at 100k
    dialogues, 1.8M separate strings and their lists cost a few hundred MB more than the
    texts themselves, and the search tokenises a batch of joined texts as they are. A NUL in
    a text (JSON allows it) is held as a space, which is what the tokeniser makes of it.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.supporter: list[bytes] = []

    def append(self, texts: list[str], supporter: list[bool]) -> None:
        joined = "\x00".join(texts)
        if "\x00" in joined and joined.count("\x00") != len(texts) - 1:
            joined = "\x00".join(t.replace("\x00", " ") for t in texts)
        self.texts.append(joined)
        self.supporter.append(bytes(supporter))

    def __len__(self) -> int:
        return len(self.texts)

    def texts_of(self, indices: list[int]) -> list[list[str]]:
        return [self.texts[i].split("\x00") if self.supporter[i] else [] for i in indices]


def dedup_file(path: str | Path, fmt: str, threshold: float | None = None) -> FileDuplicates:
    """Exact and near-duplicate dialogues and recycled supporter turns in a file. The file is
    read with the format's preset vocabulary; unknown labels do not matter here, unreadable
    records are skipped and counted."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise InvalidInputError(f"--threshold must be in (0, 1], not {threshold}")
    vocab = load_preset(fmt if fmt in PRESET_NAMES else "esconv")
    started = time.perf_counter()
    read = formats.TextsResult([], set(), 0)
    held = _PackedTexts()
    languages: Counter[str] = Counter()
    labels: list[str] = []
    for record in formats.iter_turn_texts(path, fmt, vocab, read):
        held.append(record.texts, record.supporter)
        languages[record.language] += 1
        labels.append(f"record {record.index}"
                      + (f" ({record.record_id})" if record.record_id else ""))
    # the language (which sets the shingle sizes) is the file's most common one: known only
    # once the whole file is read, so the sketching starts after the reading
    language = languages.most_common(1)[0][0] if languages else vocab.language
    search = DuplicateSearch(threshold=threshold, language=language)
    for start in range(0, len(held), _BATCH):
        search.add_joined(held.texts[start:start + _BATCH], held.supporter[start:start + _BATCH])
    found = search.result(held.texts_of)
    return FileDuplicates(path=Path(path), fmt=fmt, records=len(held),
                          refused=len(read.refused), clusters=found.clusters, labels=labels,
                          threshold=threshold, seconds=time.perf_counter() - started)
