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


def corpus_stats(dialogues: Iterable[Dialogue], *, language: str,
                 strategies: Sequence[str] = (), topics: Sequence[str] = (),
                 role_names: dict[str, str] | None = None, top: int = 5) -> CorpusStats:
    """The statistics of a corpus. ``strategies`` and ``topics`` (the project's vocabulary,
    read from its preset) fix the order of the tables and list unused labels with zero."""
    topic_counts: Counter[str] = Counter()
    emotion_counts: Counter[str] = Counter()
    strategy_counts: Counter[str] = Counter()
    phase_counts: list[Counter[str]] = [Counter() for _ in PHASES]
    hop_counts: dict[int, Counter[tuple[str, ...]]] = {n: Counter() for n in HOPS}
    lengths: dict[str, list[int]] = {"seeker": [], "supporter": []}
    n_dialogues = 0
    for d in dialogues:
        n_dialogues += 1
        topic_counts[d.topic or "(none)"] += 1
        emotion_counts[d.emotion or "(none)"] += 1
        n = len(d.turns)
        for k, turn in enumerate(d.turns, start=1):
            lengths[str(turn.role)].append(utterance_length(turn.text, language))
            if turn.role == Role.SUPPORTER and turn.strategies:
                strategy_counts.update(turn.strategies)
                phase_counts[phase_of(k, n)].update(turn.strategies)
        seq = merged_sequence(d.turns)
        for hops, counter in hop_counts.items():
            for i in range(len(seq) - hops + 1):
                counter[tuple(seq[i:i + hops])] += 1

    names = role_names or {}
    length_rows = []
    all_lengths: list[int] = []
    for role in ("seeker", "supporter"):
        values = pd.Series(lengths[role], dtype="float64")
        all_lengths += lengths[role]
        length_rows.append({"role": names.get(role, role), "utterances": int(values.size),
                            "mean_length": round(float(values.mean()), 2) if values.size else 0.0,
                            "median_length": float(values.median()) if values.size else 0.0,
                            "max_length": int(values.max()) if values.size else 0})
    utterances = len(all_lengths)
    unit = "characters" if cjk(language) else "words"
    figures = {
        "dialogues": n_dialogues,
        "utterances": utterances,
        "seeker_utterances": len(lengths["seeker"]),
        "supporter_utterances": len(lengths["supporter"]),
        "utterances_per_dialogue": round(utterances / n_dialogues, 2) if n_dialogues else 0.0,
        "mean_utterance_length": (round(sum(all_lengths) / utterances, 2) if utterances
                                  else 0.0),
        "length_unit": unit,
        "strategies_used": sum(1 for v in strategy_counts.values() if v),
        "topics_used": sum(1 for k, v in topic_counts.items() if v and k != "(none)"),
        "strategy_tags": sum(strategy_counts.values()),
    }
    overview = pd.DataFrame({"figure": list(figures), "value": [str(v) for v in figures.values()]})

    strategy_table = _share_table(strategy_counts, "strategy", strategies)
    order = list(strategy_table["strategy"])
    phase_frame = pd.DataFrame(
        {PHASES[i]: [phase_counts[i].get(s, 0) for s in order] for i in range(4)}, index=order)
    totals = phase_frame.sum(axis=0).replace(0, 1)
    phase_frame = (phase_frame / totals * 100).round(2)
    phase_frame.index.name = "strategy"

    trans_rows = []
    for hops, counter in hop_counts.items():
        total = sum(counter.values())
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        for rank, (seq, count) in enumerate(ranked, start=1):
            trans_rows.append({"hops": hops, "rank": rank, "transition": " -> ".join(seq),
                               "count": count,
                               "per_mille": round(count / total * 1000, 2) if total else 0.0})
    transitions = pd.DataFrame(trans_rows,
                               columns=["hops", "rank", "transition", "count", "per_mille"])
    return CorpusStats(
        overview=overview, topics=_share_table(topic_counts, "topic",
                                               [t for t in topics if t in topic_counts]),
        emotions=_share_table(emotion_counts, "emotion"), strategies=strategy_table,
        phases=phase_frame, transitions=transitions, lengths=pd.DataFrame(length_rows),
        figures=figures)


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
        out.dialogues += 1
        out.turns_before += len(turns)
    for draft, final in pairs:
        out.dialogues += 1
        out.turns_before += len(draft)
        changed_here = False
        matcher = difflib.SequenceMatcher(a=[_key(t) for t in draft],
                                          b=[_key(t) for t in final], autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for a, b in zip(draft[i1:i2], final[j1:j2], strict=True):
                    if list(a.strategies) != list(b.strategies):
                        out.strategy_changes += 1
                        changed_here = True
                continue
            changed_here = True
            paired = min(i2 - i1, j2 - j1)
            for a, b in zip(draft[i1:i1 + paired], final[j1:j1 + paired], strict=True):
                out.turns_changed += 1
                out.edit_distances.append(Levenshtein.distance(a.text, b.text))
                if list(a.strategies) != list(b.strategies):
                    out.strategy_changes += 1
            out.turns_removed += (i2 - i1) - paired
            out.turns_added += (j2 - j1) - paired
        if changed_here:
            out.edited += 1
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
