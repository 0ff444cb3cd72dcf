"""Dataset statistics as pandas tables, laid out like the ExTES paper's tables and figures.

::

    corpus_stats(dialogues, ...)  -> CorpusStats: overview (table 3), topics (table 1),
                                     emotions, strategies (table 2), phases (figure 2),
                                     transitions (table 5)
    change_stats(pairs)           -> ChangeStats: how much people changed the machine drafts

Everything here is pure: canonical dialogues in, tables out; the services read the database
and the release files. Definitions (they decide the figures, so they are written down):

* utterance length: words (whitespace-separated) for English, characters (spaces excepted)
  for Chinese and Japanese;
* strategy counts: every tag counts once, so a PECONV turn tagged with two strategies counts
  for both; shares are of all tags;
* phases (ExTES figure 2): in a dialogue of N utterances the k-th (k from 1) lies at k/N; the
  four phases are (0, 1/4], (1/4, 1/2], (1/2, 3/4], (3/4, 1]; a phase's shares are of the
  strategy tags of supporter turns in it;
* transitions (ExTES table 5): per dialogue, the supporter turns' strategies in order (turns
  without one skipped, several on one turn joined with "+"), adjacent repeats merged; an
  n-hop transition is n consecutive strategies of that sequence; its share (per mille) is of
  all n-hop windows of the corpus.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rapidfuzz.distance import Levenshtein

from curation_app.domain import Dialogue, Role, Turn

PHASES = ("0-25%", "25-50%", "50-75%", "75-100%")
HOPS = (3, 4, 5)


def cjk(language: str) -> bool:
    return language.startswith(("zh", "ja"))


def utterance_length(text: str, language: str) -> int:
    """Words for English, characters (spaces not counted) for Chinese."""
    if cjk(language):
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())


def phase_of(k: int, n: int) -> int:
    """The phase (0-3) of the k-th of n utterances (k from 1): k/N in (i/4, (i+1)/4]."""
    return min(3, max(0, -(-4 * k // n) - 1))


def merged_sequence(turns: Sequence[Turn]) -> list[str]:
    """The supporter's strategy labels in order, adjacent repeats merged."""
    out: list[str] = []
    for t in turns:
        if t.role != Role.SUPPORTER or not t.strategies:
            continue
        label = "+".join(t.strategies)
        if not out or out[-1] != label:
            out.append(label)
    return out


def _share_table(counts: Counter[Any], key: str, order: Sequence[str] = ()) -> pd.DataFrame:
    """count and share (percent) per label; labels of ``order`` first (zeros included), then
    the rest by count."""
    total = sum(counts.values())
    labels = list(order) + sorted((k for k in counts if k not in set(order)),
                                  key=lambda k: (-counts[k], str(k)))
    frame = pd.DataFrame({key: labels, "count": [int(counts.get(k, 0)) for k in labels]})
    frame["share"] = (frame["count"] / total * 100).round(2) if total else 0.0
    return frame


@dataclass
class CorpusStats:
    overview: pd.DataFrame      # one row per figure: name, value
    topics: pd.DataFrame        # topic, count, share
    emotions: pd.DataFrame      # emotion, count, share
    strategies: pd.DataFrame    # strategy, count, share
    phases: pd.DataFrame        # strategy x phase shares (percent)
    transitions: pd.DataFrame   # hops, rank, transition, count, per_mille
    lengths: pd.DataFrame       # role, utterances, mean/median/max length
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return frame.to_dict(orient="records")
        return {"figures": self.figures, "topics": rows(self.topics),
                "emotions": rows(self.emotions), "strategies": rows(self.strategies),
                "phases": rows(self.phases.reset_index()),
                "transitions": rows(self.transitions), "lengths": rows(self.lengths)}


def _median(hist: Counter[int], size: int) -> float:
    """The median of the values a histogram counts (the mean of the two middle ones when
    ``size`` is even), as pandas gives it."""
    if not size:
        return 0.0
    want = (size - 1) // 2, size // 2
    found: list[int] = []
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        while len(found) < 2 and seen > want[len(found)]:
            found.append(value)
        if len(found) == 2:
            break
    return (found[0] + found[1]) / 2


class CorpusCounter:
    """The counts behind :func:`corpus_stats`, fed one dialogue at a time so a reader can
    stream a project of any size through it: what it keeps is bounded by the vocabulary (and
    the distinct utterance lengths), never by the number of dialogues."""

    def __init__(self, language: str):
        self.language = language
        self.cjk = cjk(language)
        self.topics: Counter[str] = Counter()
        self.emotions: Counter[str] = Counter()
        self.strategies: Counter[str] = Counter()
        self.phases: list[Counter[str]] = [Counter() for _ in PHASES]
        self.hops: dict[int, Counter[tuple[str, ...]]] = {n: Counter() for n in HOPS}
        # utterance length -> how many utterances have it, per role (exact mean and median)
        self.lengths: dict[str, Counter[int]] = {"seeker": Counter(), "supporter": Counter()}
        self.dialogues = 0

    def add(self, topic: str | None, emotion: str | None,
            turns: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        """One dialogue: ``turns`` as (role, text, strategies), role as stored ("seeker",
        "supporter")."""
        self.dialogues += 1
        self.topics[topic or "(none)"] += 1
        self.emotions[emotion or "(none)"] += 1
        n = len(turns)
        seq: list[str] = []
        supporter = str(Role.SUPPORTER)
        for k, (role, text, tags) in enumerate(turns, start=1):
            size = (sum(1 for ch in text if not ch.isspace()) if self.cjk
                    else len(text.split()))
            self.lengths[role][size] += 1
            if role == supporter and tags:
                self.strategies.update(tags)
                self.phases[min(3, max(0, -(-4 * k // n) - 1))].update(tags)
                label = "+".join(tags)
                if not seq or seq[-1] != label:
                    seq.append(label)
        for hops, counter in self.hops.items():
            for i in range(len(seq) - hops + 1):
                counter[tuple(seq[i:i + hops])] += 1

    def add_dialogue(self, d: Dialogue) -> None:
        self.add(d.topic, d.emotion, [(str(t.role), t.text, t.strategies) for t in d.turns])

    def result(self, *, strategies: Sequence[str] = (), topics: Sequence[str] = (),
               role_names: dict[str, str] | None = None, top: int = 5) -> CorpusStats:
        names = role_names or {}
        length_rows = []
        utterances = 0
        total_length = 0
        for role in ("seeker", "supporter"):
            hist = self.lengths[role]
            size = sum(hist.values())
            total = sum(v * c for v, c in hist.items())
            utterances += size
            total_length += total
            length_rows.append({
                "role": names.get(role, role), "utterances": size,
                "mean_length": round(total / size, 2) if size else 0.0,
                "median_length": _median(hist, size),
                "max_length": max(hist) if size else 0})
        n_dialogues = self.dialogues
        unit = "characters" if self.cjk else "words"
        strategy_counts = self.strategies
        figures = {
            "dialogues": n_dialogues,
            "utterances": utterances,
            "seeker_utterances": sum(self.lengths["seeker"].values()),
            "supporter_utterances": sum(self.lengths["supporter"].values()),
            "utterances_per_dialogue": round(utterances / n_dialogues, 2) if n_dialogues else 0.0,
            "mean_utterance_length": (round(total_length / utterances, 2) if utterances
                                      else 0.0),
            "length_unit": unit,
            "strategies_used": sum(1 for v in strategy_counts.values() if v),
            "topics_used": sum(1 for k, v in self.topics.items() if v and k != "(none)"),
            "strategy_tags": sum(strategy_counts.values()),
        }
        overview = pd.DataFrame({"figure": list(figures),
                                 "value": [str(v) for v in figures.values()]})

        strategy_table = _share_table(strategy_counts, "strategy", strategies)
        order = list(strategy_table["strategy"])
        phase_frame = pd.DataFrame(
            {PHASES[i]: [self.phases[i].get(s, 0) for s in order] for i in range(4)},
            index=order)
        totals = phase_frame.sum(axis=0).replace(0, 1)
        phase_frame = (phase_frame / totals * 100).round(2)
        phase_frame.index.name = "strategy"

        trans_rows = []
        for hops, counter in self.hops.items():
            total = sum(counter.values())
            ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            for rank, (seq, count) in enumerate(ranked, start=1):
                trans_rows.append({"hops": hops, "rank": rank, "transition": " -> ".join(seq),
                                   "count": count,
                                   "per_mille": round(count / total * 1000, 2) if total else 0.0})
        transitions = pd.DataFrame(trans_rows,
                                   columns=["hops", "rank", "transition", "count", "per_mille"])
        return CorpusStats(
            overview=overview, topics=_share_table(self.topics, "topic",
                                                   [t for t in topics if t in self.topics]),
            emotions=_share_table(self.emotions, "emotion"), strategies=strategy_table,
            phases=phase_frame, transitions=transitions, lengths=pd.DataFrame(length_rows),
            figures=figures)


def corpus_stats(dialogues: Iterable[Dialogue], *, language: str,
                 strategies: Sequence[str] = (), topics: Sequence[str] = (),
                 role_names: dict[str, str] | None = None, top: int = 5) -> CorpusStats:
    """The statistics of a corpus. ``strategies`` and ``topics`` (the project's vocabulary,
    read from its preset) fix the order of the tables and list unused labels with zero."""
    counter = CorpusCounter(language)
    for d in dialogues:
        counter.add_dialogue(d)
    return counter.result(strategies=strategies, topics=topics, role_names=role_names, top=top)


# ---- how much people changed the drafts ------------------------------------------------------
@dataclass
class ChangeStats:
    dialogues: int
    edited: int
    turns_before: int
    turns_changed: int
    turns_added: int
    turns_removed: int
    strategy_changes: int
    edit_distances: list[int] = field(default_factory=list, repr=False)

    @property
    def edited_share(self) -> float:
        return self.edited / self.dialogues * 100 if self.dialogues else 0.0

    @property
    def turns_changed_share(self) -> float:
        return self.turns_changed / self.turns_before * 100 if self.turns_before else 0.0

    def to_json(self) -> dict[str, Any]:
        dist = pd.Series(self.edit_distances, dtype="float64")
        return {
            "dialogues": self.dialogues, "edited": self.edited,
            "edited_share": round(self.edited_share, 2),
            "turns_in_drafts": self.turns_before, "turns_changed": self.turns_changed,
            "turns_changed_share": round(self.turns_changed_share, 2),
            "turns_added": self.turns_added, "turns_removed": self.turns_removed,
            "strategy_tags_changed": self.strategy_changes,
            "edit_distance_mean": round(float(dist.mean()), 2) if dist.size else 0.0,
            "edit_distance_median": float(dist.median()) if dist.size else 0.0,
        }

    def add_unchanged(self, turns: int) -> None:
        """A dialogue known to be as drafted (no human revision), of ``turns`` turns."""
        self.dialogues += 1
        self.turns_before += turns

    def add_pair(self, draft: Sequence[Turn], final: Sequence[Turn]) -> None:
        """Compare one machine draft (revision 0) with the final turns; see
        :func:`change_stats`."""
        self.dialogues += 1
        self.turns_before += len(draft)
        changed_here = False
        matcher = difflib.SequenceMatcher(a=[_key(t) for t in draft],
                                          b=[_key(t) for t in final], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for a, b in zip(draft[i1:i2], final[j1:j2], strict=True):
                    if list(a.strategies) != list(b.strategies):
                        self.strategy_changes += 1
                        changed_here = True
                continue
            changed_here = True
            paired = min(i2 - i1, j2 - j1)
            for a, b in zip(draft[i1:i1 + paired], final[j1:j1 + paired], strict=True):
                self.turns_changed += 1
                self.edit_distances.append(Levenshtein.distance(a.text, b.text))
                if list(a.strategies) != list(b.strategies):
                    self.strategy_changes += 1
            self.turns_removed += (i2 - i1) - paired
            self.turns_added += (j2 - j1) - paired
        if changed_here:
            self.edited += 1

    def table(self) -> pd.DataFrame:
        data = self.to_json()
        return pd.DataFrame({"figure": list(data), "value": [str(v) for v in data.values()]})


def _key(t: Turn) -> tuple[str, str]:
    return (str(t.role), t.text)


def change_stats(pairs: Iterable[tuple[Sequence[Turn], Sequence[Turn]]], *,
                 unchanged: Iterable[Sequence[Turn]] = ()) -> ChangeStats:
    """Compare each machine draft (revision 0) with the final turns. Turns are aligned with
    difflib over (role, text), so one inserted turn does not make every later turn "changed";
    a replaced block pairs turns in order, the surplus counts as added or removed. The edit
    distance (Levenshtein, characters) is per changed turn; a strategy change is an aligned
    supporter turn whose tags differ. ``unchanged``: the turns of dialogues known to be as
    drafted (no human revision), counted without comparing."""
    out = ChangeStats(0, 0, 0, 0, 0, 0, 0)
    for turns in unchanged:
        out.add_unchanged(len(turns))
    for draft, final in pairs:
        out.add_pair(draft, final)
    return out


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    if index:
        frame = frame.reset_index()
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)
