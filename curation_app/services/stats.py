"""Statistics of a project (from the database) or of a release (from its files).

For a project the corpus is what a release would take now: the approved dialogues, one per
overlap group. The human-change figures compare each with its machine draft (revision 0);
progress compares the non-discarded originals per topic with the project's targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.presets import Vocabulary, load_preset
from curation_app.release import selection
from curation_app.release.splits import SPLITS
from curation_app.release.verify import iter_chat, read_manifest
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, require
from curation_app.stats import ChangeStats, CorpusCounter, CorpusStats, corpus_stats
from curation_app.store.release_queries import ReleaseQueries, stored_turns


@dataclass
class ProjectStats:
    name: str
    source: str  # "project" or the release folder
    corpus: CorpusStats
    changes: ChangeStats | None
    progress: pd.DataFrame  # topic, target, have, missing
    splits: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, **self.corpus.to_json(),
                "human_changes": self.changes.to_json() if self.changes else None,
                "progress": self.progress.to_dict(orient="records"), "splits": self.splits}


def _stats(dialogues: list[Dialogue], vocab: Vocabulary) -> CorpusStats:
    return corpus_stats(dialogues, language=vocab.language, strategies=vocab.strategy_names,
                        topics=vocab.topics,
                        role_names={str(r): vocab.role_display(r) for r in vocab.roles})


def project_stats(ctx: AppContext, actor: Actor, project: str,
                  statuses: tuple[Status, ...] = (Status.APPROVED,)) -> ProjectStats:
    require(actor, "stats.read", project=project)
    changes = ChangeStats(0, 0, 0, 0, 0, 0, 0)
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        vocab = record.vocabulary
        counter = CorpusCounter(language=vocab.language)
        queries = ReleaseQueries(uow.repo.session)
        # Only the overlap groups need deciding; every other dialogue is its own pick. So
        # the corpus streams through in batches and memory stays flat as the project grows.
        left_out = set(selection.pick_members(
            queries.overlap_members(record, statuses)).copies_left_out)
        for rows in queries.stream_turn_batches(record, statuses, skip=left_out):
            drafts = queries.drafts([row[0] for row in rows])
            for dialogue_id, topic, emotion, stored in rows:
                turns = [(t["role"], t["text"], t.get("strategies") or []) for t in stored]
                counter.add(topic, emotion, turns)
                draft = drafts.get(dialogue_id)
                if draft is None:
                    changes.add_unchanged(len(turns))
                else:
                    changes.add_pair(draft, stored_turns(stored))
        # (topic, target, have) as services.generation.target_progress gives it, read here
        # so statistics do not import the generation stack (the OpenAI SDK) to count.
        have = uow.repo.topic_counts(record)
    targets = record.settings.get("targets", {})
    progress = pd.DataFrame(
        [{"topic": t, "target": n, "have": have.get(t, 0), "missing": max(0, n - have.get(t, 0))}
         for t, n in targets.items()], columns=["topic", "target", "have", "missing"])
    corpus = counter.result(strategies=vocab.strategy_names, topics=vocab.topics,
                            role_names={str(r): vocab.role_display(r) for r in vocab.roles})
    return ProjectStats(name=project, source="project", corpus=corpus, changes=changes,
                        progress=progress)


def _from_chat(record: dict[str, Any]) -> Dialogue:
    turns = [Turn(Role.SUPPORTER if m["role"] == "assistant" else Role.SEEKER, m["content"],
                  list(m.get("strategies") or []))
             for m in record["messages"] if m["role"] != "system"]
    return Dialogue(turns=turns, language=record.get("language") or "en",
                    topic=record.get("topic"), emotion=record.get("emotion"),
                    id=int(record["id"]) if str(record["id"]).isdigit() else None)


def release_stats(folder: str | Path) -> ProjectStats:
    """Statistics of a release, read from its chat files; the table order comes from the
    preset the manifest names, with the manifest's strategy list."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    vocab = load_preset(manifest["preset"])
    counter = CorpusCounter(manifest.get("language") or vocab.language)
    counts = {}
    for split in SPLITS:  # a record at a time: memory stays flat whatever the release's size
        counts[split] = 0
        for row in iter_chat(folder / "chat" / f"{split}.jsonl"):
            counter.add_dialogue(_from_chat(row))
            counts[split] += 1
    corpus = counter.result(strategies=manifest.get("strategies") or vocab.strategy_names,
                            topics=vocab.topics,
                            role_names={str(r): vocab.role_display(r) for r in vocab.roles})
    return ProjectStats(name=f"{manifest['project']} {manifest['version']}",
                        source=str(folder), corpus=corpus, changes=None,
                        progress=pd.DataFrame(columns=["topic", "target", "have", "missing"]),
                        splits=counts)
