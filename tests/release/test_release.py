"""Releases built from a real database (SQLite and PostgreSQL): round trip, splits, safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.checks import Finding
from curation_app.domain import Role, Status, Turn
from curation_app.errors import (
    AlreadyExistsError,
    InvalidInputError,
    PermissionDeniedError,
    ReleaseBlockedError,
)
from curation_app.presets import load_preset
from curation_app.release.splits import SPLITS
from curation_app.release.verify import iter_chat, read_chat
from curation_app.services import checks as check_services
from curation_app.services import release as release_services
from curation_app.services.context import AppContext
from curation_app.store.release_queries import ReleaseQueries
from tests.conftest import ANNOTATOR, LEAD, REPO_ROOT
from tests.release.conftest import Corpus, build_corpus

CHAT_SCHEMA = json.loads((REPO_ROOT / "schemas" / "chat_messages.schema.json").read_text())


def build(ctx: AppContext, corpus: Corpus, out: Path, version: str = "1.0.0", **kw):
    return release_services.build_release(ctx, LEAD, corpus.project, version, out=out, **kw)


def test_release_round_trips_every_file(ctx: AppContext, corpus: Corpus, tmp_path: Path):
    summary = build(ctx, corpus, tmp_path)
    folder = tmp_path / corpus.project / "1.0.0"
    assert summary.path == folder
    manifest = json.loads((folder / "manifest.json").read_text())
    # Approved originals, except the one whose adjudicated copy ships instead.
    expected = (set(corpus.approved) - set(corpus.adjudicated)) | set(corpus.adjudicated.values())
    shipped = [int(i) for s in SPLITS for i in manifest["splits"][s]["ids"]]
    assert sorted(shipped) == sorted(expected)
    assert len(shipped) == len(set(shipped))

    vocab = load_preset("extes")
    validator = Draft202012Validator(CHAT_SCHEMA)
    with ctx.uow() as uow:
        stored = {i: uow.repo.get_dialogue(i) for i in shipped}
    for split in SPLITS:
        ids = manifest["splits"][split]["ids"]
        assert manifest["splits"][split]["count"] == len(ids)
        rows = read_chat(folder / "chat" / f"{split}.jsonl")
        assert [r["id"] for r in rows] == ids
        for row in rows:
            assert not list(validator.iter_errors(row))
            d = stored[int(row["id"])]
            assert row["messages"][0] == {"role": "system", "content": manifest["system_prompt"]}
            body = row["messages"][1:]
            assert [m["content"] for m in body] == [t.text for t in d.turns]
            for m, t in zip(body, d.turns, strict=True):
                assert m["role"] == ("assistant" if t.role == Role.SUPPORTER else "user")
                assert ("strategies" in m) == (t.role == Role.SUPPORTER)
                if "strategies" in m:
                    assert m["strategies"] == t.strategies
        table = pq.read_table(folder / "data" / f"{split}.parquet").to_pylist()
        assert [r["id"] for r in table] == ids
        assert [[m["content"] for m in r["messages"]] for r in table] == \
            [[m["content"] for m in r["messages"]] for r in rows]
        native = formats.read_file(folder / "native" / f"{split}.json", "extes", vocab)
        assert not native.refused
        assert [[t.text for t in p.dialogue.turns] for p in native.records] == \
            [[t.text for t in stored[int(i)].turns] for i in ids]
    everything = formats.read_file(folder / "native" / "all.json", "extes", vocab)
    assert len(everything.records) == len(shipped)
    # Every file but the manifest is listed with its hash, and verify agrees.
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    assert release_services.verify_release(folder).ok
    # The card's YAML header and curation figures.
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "path: data/train.parquet" in card
    assert "gpt-test (6)" in card and "extes_selfchat@1" in card
    assert manifest["models"] == {"gpt-test": 6}
    assert manifest["human_changes"]["edited"] == 1
    assert manifest["people"]["annotators"] == 1


def test_dialogues_are_read_without_their_prompts(ctx: AppContext, corpus: Corpus):
    with ctx.uow() as uow:
        queries = ReleaseQueries(uow.repo.session)
        record = uow.repo.get_project(corpus.project)
        drafts = {d.id: d for d in queries.stream_dialogues(record, batch=7)
                  if d.provenance}
        slim = {d.id: d for d in queries.stream_dialogues(record, provenance=False)}
        stored = uow.repo.get_dialogue(next(iter(drafts)))
    assert set(drafts) == {i for ids in corpus.families.values() for i in ids}
    assert "prompt" in stored.provenance
    for d in drafts.values():
        assert "prompt" not in d.provenance and d.provenance["seed_ids"]
    assert all(not d.provenance for d in slim.values()) and set(drafts) <= set(slim)


def test_load_dataset_reads_the_folder_with_no_other_argument(ctx: AppContext, corpus: Corpus,
                                                             tmp_path: Path):
    datasets = pytest.importorskip("datasets", reason="datasets is in the dev and train extras")
    build(ctx, corpus, tmp_path)
    folder = tmp_path / corpus.project / "1.0.0"
    manifest = json.loads((folder / "manifest.json").read_text())
    loaded = datasets.load_dataset(str(folder))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert loaded[split].num_rows == manifest["splits"][split]["count"]
        assert loaded[split]["id"] == manifest["splits"][split]["ids"]
    chat = datasets.load_dataset("json", data_files={"test": str(folder / "chat/test.jsonl")})
    assert chat["test"].num_rows == manifest["splits"]["test"]["count"]


def test_two_projects_released_as_the_same_version_each_load_their_own_rows(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    # datasets caches a local folder under its name (here both "1.0.0") and its config name:
    # with one shared config name the second load returned the first release's rows.
    datasets = pytest.importorskip("datasets", reason="datasets is in the dev and train extras")
    other = build_corpus(ctx, "extes-other", per_topic=5, topics=3, seed=3)
    loaded = {}
    for project in (corpus, other):
        build(ctx, project, tmp_path)
        folder = tmp_path / project.project / "1.0.0"
        manifest = json.loads((folder / "manifest.json").read_text())
        loaded[project.project] = datasets.load_dataset(str(folder))
        for split in SPLITS:
            assert loaded[project.project][split]["id"] == manifest["splits"][split]["ids"]
    assert (loaded[corpus.project]["train"].num_rows
            != loaded[other.project]["train"].num_rows)


def test_splits_are_deterministic_and_keep_twins_and_families_together(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    a = build(ctx, corpus, tmp_path, "1.0.0", seed=3).manifest["splits"]
    b = build(ctx, corpus, tmp_path, "1.0.1", seed=3).manifest["splits"]
    c = build(ctx, corpus, tmp_path, "1.0.2", seed=4).manifest["splits"]
    assert a == b
    assert a != c  # another seed, another (still valid) split
    for splits in (a, c):
        where = {int(i): s for s in SPLITS for i in splits[s]["ids"]}
        for x, y in corpus.twins:
            assert where[x] == where[y], f"near twins {x} and {y} are split"
        for seed_id, drafts in corpus.families.items():
            assert {where[d] for d in drafts} == {where[seed_id]}
        assert all(splits[s]["count"] > 0 for s in SPLITS)


def _audited(ctx: AppContext, action: str) -> list:
    with ctx.uow() as uow:
        return [e for e in uow.security.events(action=action) if e.action == action]


def test_a_version_is_written_once(ctx: AppContext, corpus: Corpus, tmp_path: Path):
    build(ctx, corpus, tmp_path)
    (built,) = _audited(ctx, "release")  # who built which version, in the audit log
    assert built.target == str(tmp_path / corpus.project / "1.0.0")
    assert built.detail["version"] == "1.0.0" and sum(built.detail["counts"].values()) > 0
    before = (tmp_path / corpus.project / "1.0.0" / "manifest.json").read_bytes()
    with pytest.raises(AlreadyExistsError, match="already exists"):
        build(ctx, corpus, tmp_path)
    assert (tmp_path / corpus.project / "1.0.0" / "manifest.json").read_bytes() == before


def test_an_error_finding_blocks_the_release_and_writes_nothing(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    with ctx.uow() as uow:
        d = uow.repo.get_dialogue(corpus.approved[4])
        turns = list(d.turns)
        turns[2] = Turn(Role.SEEKER, "   ")
        uow.repo.save_content(d.id, d.version, turns, topic=d.topic, emotion=d.emotion,
                              description=d.description, author="annotator1")
        uow.commit()
    with pytest.raises(ReleaseBlockedError) as info:
        build(ctx, corpus, tmp_path)
    assert f"dialogue {corpus.approved[4]} turn 3: lint.empty_turn" in str(info.value)
    assert "(lint.empty_turn in 1 dialogue)" in str(info.value)
    (refused,) = _audited(ctx, "release.refused")
    assert refused.detail["rules"] == ["lint.empty_turn"] and not _audited(ctx, "release")
    assert not (tmp_path / corpus.project).exists() or \
        not any((tmp_path / corpus.project).iterdir())


def test_any_stored_error_finding_blocks_and_severities_follow_the_rules(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    # A fresh check run: the build trusts it instead of running the checks again, so a
    # finding stored by any check (here one a newer privacy check might write) blocks.
    check_services.run_checks(ctx, LEAD, corpus.project, only="format,lint,safety")
    target = corpus.approved[8]
    with ctx.uow() as uow:
        record = uow.repo.get_project(corpus.project)
        run_id = uow.checks.start_run(record, "lead", ["privacy"])
        uow.checks.replace_findings(record, run_id, ["privacy"], [Finding(
            "privacy.phone_number", "error", target, 3, "turns[3].text",
            "a phone number")])
        uow.checks.finish_run(run_id, {})
        uow.commit()
    blocked = f"dialogue {target} turn 4: privacy.phone_number"
    with pytest.raises(ReleaseBlockedError, match=blocked):
        build(ctx, corpus, tmp_path)
    with ctx.uow() as uow:
        record = uow.repo.get_project(corpus.project)
        uow.checks.replace_findings(record, run_id, ["privacy"], [])
        uow.commit()
    # A rule a lead made an error blocks too: the planted near-twins.
    check_services.configure_checks(ctx, LEAD, corpus.project,
                                    rules={"dedup.near": {"severity": "error"}})
    with pytest.raises(ReleaseBlockedError, match="dedup.near") as info:
        build(ctx, corpus, tmp_path)
    assert {f.dialogue_id for f in info.value.findings} == {i for pair in corpus.twins
                                                             for i in pair}
    check_services.configure_checks(ctx, LEAD, corpus.project,
                                    rules={"dedup.near": {"severity": "warning"}})
    assert build(ctx, corpus, tmp_path).counts["train"] > 0


def test_discarded_and_statuses_and_roles_are_refused(ctx: AppContext, corpus: Corpus,
                                                      tmp_path: Path):
    with pytest.raises(InvalidInputError, match="discarded"):
        build(ctx, corpus, tmp_path, statuses=["discarded"])
    with pytest.raises(PermissionDeniedError):
        release_services.build_release(ctx, ANNOTATOR, corpus.project, "1.0.0", out=tmp_path)
    with pytest.raises(InvalidInputError, match="X.Y.Z"):
        build(ctx, corpus, tmp_path, version="latest")
    with pytest.raises(InvalidInputError, match="sum to 1"):
        build(ctx, corpus, tmp_path, ratios="0.8,0.3,0.1")
    # Including drafts takes the unreviewed ones, still never discarded ones or copies.
    summary = build(ctx, corpus, tmp_path, statuses=["approved", "draft"])
    shipped = {int(i) for s in SPLITS for i in summary.manifest["splits"][s]["ids"]}
    assert set(corpus.drafts_unreviewed) <= shipped
    assert not shipped & set(corpus.discarded)
    assert corpus.copies[0] not in shipped and corpus.copies[1] in shipped


def test_diff_lists_added_removed_and_changed(ctx: AppContext, corpus: Corpus, tmp_path: Path):
    build(ctx, corpus, tmp_path, "1.0.0")
    with ctx.uow() as uow:
        changed = uow.repo.get_dialogue(corpus.approved[6])
        turns = list(changed.turns)
        turns[0] = Turn(Role.SEEKER, "I feel lost since the move and cannot sleep at night.")
        uow.repo.save_content(changed.id, changed.version, turns, topic=changed.topic,
                              emotion=changed.emotion, description=changed.description,
                              author="annotator1")
        uow.repo.set_status(corpus.approved[7], Status.DISCARDED)
        uow.repo.set_status(corpus.drafts_unreviewed[0], Status.APPROVED)
        uow.commit()
    build(ctx, corpus, tmp_path, "1.1.0")
    result = release_services.diff_releases(tmp_path / corpus.project / "1.0.0",
                                            tmp_path / corpus.project / "1.1.0")
    assert result.added == [str(corpus.drafts_unreviewed[0])]
    assert result.removed == [str(corpus.approved[7])]
    assert str(corpus.approved[6]) in result.changed


def test_verify_finds_a_changed_file(ctx: AppContext, corpus: Corpus, tmp_path: Path):
    build(ctx, corpus, tmp_path)
    folder = tmp_path / corpus.project / "1.0.0"
    target = folder / "chat" / "train.jsonl"
    target.chmod(0o644)
    target.write_text(target.read_text().replace("I feel", "I felt", 1))
    (folder / "native" / "extra.json").write_text("[]")
    (folder / "data" / "test.parquet").unlink()
    result = release_services.verify_release(folder)
    assert not result.ok
    assert "chat/train.jsonl: sha256 differs from the manifest (file changed)" in result.problems
    assert "native/extra.json: not listed in the manifest" in result.problems
    assert "data/test.parquet: listed in the manifest but missing" in result.problems


def test_verify_names_a_broken_file_record_by_record_instead_of_failing(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    # verify reads the files a record at a time: a file cut short or a line that is not
    # JSON is a problem listed with where it is, not a traceback
    build(ctx, corpus, tmp_path)
    folder = tmp_path / corpus.project / "1.0.0"
    native = folder / "native" / "validation.json"
    chat = folder / "chat" / "test.jsonl"
    for path in (native, chat):
        path.chmod(0o644)
    native.write_bytes(native.read_bytes()[:-40])
    lines = chat.read_bytes().splitlines(keepends=True)
    chat.write_bytes(lines[0] + b"{not json\n" + b"".join(lines[1:]))
    problems = release_services.verify_release(folder).problems
    assert any(p.startswith("native/validation.json: validation.json ends early: the JSON is "
                            "truncated") for p in problems), problems
    assert any(p.startswith("chat/test.jsonl record 1: not valid JSON") for p in problems)


def test_verify_reads_a_text_holding_a_line_separator_as_one_record(
        ctx: AppContext, corpus: Corpus, tmp_path: Path):
    # U+2028 is written raw by ensure_ascii=False; lines end at \n only
    build(ctx, corpus, tmp_path)
    folder = tmp_path / corpus.project / "1.0.0"
    rows = list(iter_chat(folder / "chat" / "train.jsonl"))
    assert rows and all(isinstance(r, dict) for r in rows)
    path = tmp_path / "sep.jsonl"
    path.write_text('{"id": "1", "t": "a\u2028b"}\n\n{"id": "2"}\n', encoding="utf-8")
    assert [r["id"] for r in iter_chat(path)] == ["1", "2"]


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from curation_app.services import release
from curation_app.services.context import AppContext
from curation_app.store.release_queries import ReleaseQueries
from tests.conftest import LEAD
url, project, out, marker = sys.argv[1:5]
ctx = AppContext.from_url(url)
def progress(stage, number, total):
    if stage == "parquet":
        Path(marker).write_text("writing")
        time.sleep(120)
release.build_release(ctx, LEAD, project, "1.0.0", out=out, on_progress=progress)
"""


def test_a_killed_build_leaves_no_release(ctx: AppContext, corpus: Corpus, db_url: str,
                                          tmp_path: Path):
    out = tmp_path / "exports"
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, db_url, corpus.project,
                             str(out), str(marker)], cwd=REPO_ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the build ended before it was killed"
            assert time.monotonic() < deadline, "the build never reached the parquet stage"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    parent = out / corpus.project
    assert not (parent / "1.0.0").exists()
    assert release_services.list_releases(corpus.project, out) == []
    leftovers = [p.name for p in parent.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".1.0.0.building-")
    # The next build removes the dead build's folder and writes the release.
    build(ctx, corpus, out)
    assert [p.name for p in parent.iterdir()] == ["1.0.0"]
    assert release_services.verify_release(parent / "1.0.0").ok


def test_overlap_copies_never_ship_twice(ctx: AppContext, tmp_path: Path):
    corpus = build_corpus(ctx, name="overlap", per_topic=6, topics=2)
    summary = build(ctx, corpus, tmp_path)
    shipped = {int(i) for s in SPLITS for i in summary.manifest["splits"][s]["ids"]}
    original_1, original_2 = (c for c in corpus.approved[1:3])
    assert original_1 in shipped and corpus.copies[0] not in shipped
    assert original_2 not in shipped and corpus.copies[1] in shipped
    assert summary.manifest["selection"]["overlap_copies_left_out"] == \
        [corpus.copies[0], original_2]
