"""The release builder reads its selection in batches and writes parquet in row groups: a
project larger than one batch releases exactly as the whole list in memory would (the way
the builder worked before it streamed), here with batches of a few dialogues."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation_app import formats
from curation_app.checks import CheckConfig, dedup_findings
from curation_app.domain import Source, Status
from curation_app.errors import ReleaseBlockedError
from curation_app.release import selection, writer
from curation_app.release.records import PARQUET_SCHEMA, chat_record, system_prompt
from curation_app.release.splits import SPLITS, assign_splits
from curation_app.services import checks as check_services
from curation_app.services import release as release_services
from curation_app.services.context import AppContext
from curation_app.stats import change_stats, corpus_stats
from curation_app.store.release_queries import ReleaseQueries
from tests.conftest import LEAD
from tests.release.conftest import Corpus, near_twin


def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release_services, "BATCH", 7)
    monkeypatch.setattr(writer, "ROW_GROUP", 10)


def test_a_release_read_in_batches_is_the_release_read_at_once(
        ctx: AppContext, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    whole = release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path)
    small_batches(monkeypatch)
    batched = release_services.build_release(ctx, LEAD, corpus.project, "1.0.1", out=tmp_path)
    a, b = whole.path, batched.path
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.startswith(("native/", "chat/")):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    for split in SPLITS:
        path = f"data/{split}.parquet"
        old, new = pq.read_table(a / path), pq.read_table(b / path)
        assert new.equals(old) and new.schema.equals(old.schema, check_metadata=True)
    assert pq.ParquetFile(b / "data/train.parquet").num_row_groups > 1  # several groups written
    assert pq.ParquetFile(a / "data/train.parquet").num_row_groups == 1

    def masked(manifest: dict) -> dict:
        out = {k: v for k, v in manifest.items() if k not in ("created_at", "version")}
        out["files"] = {k: v for k, v in manifest["files"].items()
                        if not k.startswith("data/") and k != "README.md"}
        return out

    assert masked(batched.manifest) == masked(whole.manifest)

    def card(path: Path) -> str:  # the config name holds the version and the parquet digest
        text = (path / "README.md").read_text(encoding="utf-8")
        return re.sub(r"config_name: \S+", "", text).replace("1.0.1", "1.0.0")

    assert card(b) == card(a)


def test_the_streamed_build_matches_the_selection_held_whole(
        ctx: AppContext, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(release_services, "BATCH", 5)
    summary = release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path)
    manifest = summary.manifest

    # The reference: the whole selection as dialogues, as the builder held it before.
    with ctx.uow() as uow:
        record = uow.repo.get_project(corpus.project)
        picked = selection.pick_members(
            ReleaseQueries(uow.repo.session).stream_dialogues(record, [Status.APPROVED]))
        chosen = picked.dialogues
        by_id = {d.id: d for d in chosen}
        drafts = ReleaseQueries(uow.repo.session).drafts(list(by_id))
    # the adjudicated copy ships in its original's place: the selection is not in id order
    assert [d.id for d in chosen] != sorted(by_id)
    vocab = record.vocabulary
    config = CheckConfig.resolve(vocab.checks, record.settings)
    _, result = dedup_findings(chosen, config, vocab.language, turns=False)
    clusters = [[chosen[m.item].id for m in c.members] for c in result.clusters
                if c.level == "dialogue"]
    assert clusters
    families = {d.id: [int(s) for s in d.provenance.get("seed_ids") or []] for d in chosen
                if d.provenance.get("seed_ids")}
    split = assign_splits({d.id: d.topic for d in chosen}, ratios=(0.8, 0.1, 0.1), seed=0,
                          clusters=clusters, families=families)
    assert {s: [int(i) for i in manifest["splits"][s]["ids"]] for s in SPLITS} == split.ids
    assert manifest["selection"]["overlap_copies_left_out"] == picked.copies_left_out
    assert manifest["checks"]["near_duplicate_clusters"] == len(clusters)
    stats = corpus_stats(chosen, language=vocab.language, strategies=vocab.strategy_names,
                         topics=vocab.topics,
                         role_names={str(r): vocab.role_display(r) for r in vocab.roles})
    assert manifest["statistics"] == stats.figures
    changes = change_stats(((drafts[i], by_id[i].turns) for i in by_id if i in drafts),
                           unchanged=(d.turns for i, d in by_id.items() if i not in drafts))
    assert manifest["human_changes"] == changes.to_json()
    generated = [d for d in chosen if d.source == Source.GENERATED]
    assert manifest["models"] == {"gpt-test": len(generated)}
    assert manifest["costs"]["usd"] == round(sum(d.provenance["cost_usd"] for d in generated), 6)
    prompt = system_prompt(vocab, record.settings)
    every = []
    for s in SPLITS:
        lines = (summary.path / "chat" / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()
        assert lines == [json.dumps(chat_record(by_id[i], prompt), ensure_ascii=False)
                         for i in split.ids[s]]
        native = [json.dumps(formats.export_record(by_id[i], vocab.export_format, vocab, k),
                             ensure_ascii=False) for k, i in enumerate(split.ids[s])]
        every += native
        assert (summary.path / "native" / f"{s}.json").read_text(encoding="utf-8") == (
            "[\n" + ",\n".join(native) + "\n]\n")
    assert (summary.path / "native" / "all.json").read_text(encoding="utf-8") == (
        "[\n" + ",\n".join(every) + "\n]\n")


def test_empty_splits_are_written_as_before(ctx: AppContext, corpus: Corpus, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch):
    small_batches(monkeypatch)
    summary = release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path,
                                             ratios=(1.0, 0.0, 0.0))
    assert summary.counts["validation"] == summary.counts["test"] == 0
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pylist([], schema=PARQUET_SCHEMA), empty)
    for s in ("validation", "test"):
        assert (summary.path / "native" / f"{s}.json").read_text(encoding="utf-8") == "[]\n"
        assert (summary.path / "chat" / f"{s}.jsonl").read_bytes() == b""
        assert (summary.path / "data" / f"{s}.parquet").read_bytes() == empty.read_bytes()


def test_a_release_refused_in_batches_lists_the_findings_of_the_whole_list(
        ctx: AppContext, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The adjudicated copy (shipped in its original's place, early in the selection though
    # its id is the largest) made a near-twin of a seed: the cluster's number and the order
    # of its members follow the selection's order, not the ids'.
    copy = corpus.adjudicated[max(corpus.adjudicated)]
    seed = min(corpus.families)
    with ctx.uow() as uow:
        twin = near_twin(uow.repo.get_dialogue(seed))
        stored = uow.repo.get_dialogue(copy)
        uow.repo.save_content(copy, stored.version, twin.turns, topic=stored.topic,
                              emotion=stored.emotion, description=stored.description,
                              author="annotator2")
        uow.commit()
    check_services.configure_checks(ctx, LEAD, corpus.project,
                                    rules={"dedup.near": {"severity": "error"}})
    with pytest.raises(ReleaseBlockedError) as whole:
        release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path)
    monkeypatch.setattr(release_services, "BATCH", 4)
    with pytest.raises(ReleaseBlockedError) as batched:
        release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path)
    assert str(batched.value) == str(whole.value)
    assert batched.value.findings == whole.value.findings
    with ctx.uow() as uow:
        record = uow.repo.get_project(corpus.project)
        chosen = selection.pick_members(
            ReleaseQueries(uow.repo.session).stream_dialogues(record, [Status.APPROVED]))
    config = CheckConfig.resolve(record.vocabulary.checks, record.settings)
    found, _ = dedup_findings(chosen.dialogues, config, "en", turns=False)
    assert batched.value.findings == [f for f in found if f.severity == "error"]
    assert any(f.dialogue_id == copy and f"seed dialogue {seed}" in f.message
               for f in batched.value.findings)


def test_a_build_failing_half_way_through_its_batches_leaves_nothing(
        ctx: AppContext, corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    small_batches(monkeypatch)
    calls = []

    def failing(dialogue, prompt):  # noqa: ANN001, ANN202 - a stand-in for chat_record
        calls.append(dialogue.id)
        if len(calls) == 30:  # the fifth batch of train, parquet row groups already written
            raise RuntimeError("disk gone")
        return chat_record(dialogue, prompt)

    monkeypatch.setattr(writer, "chat_record", failing)
    with pytest.raises(RuntimeError, match="disk gone"):
        release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path)
    assert list((tmp_path / corpus.project).iterdir()) == []


def test_a_dialogue_changed_while_the_release_is_built_refuses_it_and_leaves_nothing(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    # The builder reads its selection more than once (checks and figures, then the files):
    # an edit in between would ship text nothing checked, so the build stops before the
    # release appears and names the dialogue.
    from curation_app.domain import Turn
    from curation_app.errors import SelectionChangedError

    edited = corpus.approved[3]

    def edit_during(stage: str, number: int, total: int) -> None:
        if stage != "native":
            return
        with ctx.uow() as uow:
            current = uow.repo.get_dialogue(edited)
            uow.repo.save_content(edited, current.version,
                                  [*current.turns, Turn(current.turns[0].role, "one more")],
                                  topic=current.topic, emotion=current.emotion,
                                  description=current.description, author="annotator")
            uow.commit()

    with pytest.raises(SelectionChangedError) as caught:
        release_services.build_release(ctx, LEAD, corpus.project, "1.0.0", out=tmp_path / "out",
                                       on_progress=edit_during)
    assert caught.value.dialogue_ids == [edited]
    assert f"changed while it was built ({edited})" in str(caught.value)
    # no release, no leftovers
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))
    # built again, it ships the edited text
    again = release_services.build_release(ctx, LEAD, corpus.project, "1.0.0",
                                           out=tmp_path / "out")
    assert again.path.exists()
