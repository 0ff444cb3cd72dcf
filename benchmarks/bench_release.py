"""A release and `curation stats` of an ExTES-sized project, built from a real database.

Fills a fresh SQLite database (or the one at --db-url) with an ExTES-like project: 11,000
approved English dialogues of 18 turns of about 26 words (about 200k utterances), a strategy
on every AI turn, scenarios from the preset; the first 20 are seeds, 1% are machine drafts
prompted with one of them (seed families), one in a hundred was edited by an annotator, and one
in 500 is a near-duplicate of the one before. Then, on that database:

1. ``curation release`` in a child process (the user's path: selection from the database, the
   checks, the near-duplicate search over the selection, splits, every writer, card, manifest,
   rename), its wall time and peak memory (the child's maximum resident set size);
2. the same build in this process through the service, for the time of each stage;
3. the baseline, measured in the same run: the writers alone through Hugging Face ``datasets``
   (``Dataset.from_list`` per split, ``to_parquet`` and ``to_json``) on the same chat records;
4. ``curation stats --project … --json`` in a child process.

Run: ``.venv/bin/python benchmarks/bench_release.py [--size 11000]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_dedup import EnglishText

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.presets import load_preset
from curation_app.release.splits import SPLITS
from curation_app.services import projects as project_services
from curation_app.services import release as release_services
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.store import migrate

LEAD = Actor("bench", UserRole.LEAD)
ROOT = Path(__file__).resolve().parents[1]


def fill(ctx: AppContext, project: str, n: int, seed: int = 11) -> None:
    vocab = load_preset("extes")
    rng = random.Random(seed)
    gen = EnglishText(np.random.default_rng(seed))
    texts = gen.turns(n * 18)
    project_services.create_project(ctx.uow(), LEAD, project, "extes")
    strategies = vocab.strategy_names
    batch: list[Dialogue] = []
    seeds: list[int] = []

    def flush() -> list[int]:
        with ctx.uow() as uow:
            ids = uow.repo.add_dialogues(uow.repo.get_project(project), batch, author="import")
            uow.commit()
        batch.clear()
        return ids

    for i in range(n):
        turns = [Turn(Role.SUPPORTER if t % 2 else Role.SEEKER, texts[i * 18 + t],
                      [rng.choice(strategies)] if t % 2 else []) for t in range(18)]
        if i % 500 == 7:  # a near-duplicate of the previous dialogue: one turn rewritten
            turns = [Turn(t.role, t.text, list(t.strategies)) for t in batch[-1].turns]
            turns[4] = Turn(Role.SEEKER, texts[(i * 18 + 4) % len(texts)])
        generated = i % 100 == 3 and bool(seeds)
        batch.append(Dialogue(
            turns=turns, language="en", topic=rng.choice(vocab.topics), status=Status.APPROVED,
            source=Source.GENERATED if generated else Source.IMPORTED,
            is_seed=i < 20, seed_round=0 if i < 20 else None,
            provenance={"model": "gpt-4o-mini", "template": "extes_selfchat@1",
                        "seed_ids": [rng.choice(seeds)], "cost_usd": 0.0004,
                        "usage": {"prompt_tokens": 900, "completion_tokens": 700}}
            if generated else {}))
        if len(batch) == 1000:
            ids = flush()
            if not seeds:
                seeds = ids[:20]
    if batch:
        flush()
    # One in a hundred drafts rewritten by an annotator (ExTES: under 10% needed edits).
    with ctx.uow() as uow:
        record = uow.repo.get_project(project)
        for d in uow.repo.list_dialogues(record)[3::100]:
            turns = list(d.turns)
            turns[1] = Turn(Role.SUPPORTER, turns[1].text + " I am here with you.",
                            list(turns[1].strategies))
            uow.repo.save_content(d.id, d.version, turns, topic=d.topic, emotion=d.emotion,
                                  description=d.description, author="annotator1")
        uow.commit()


def child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run the CLI in a child; (seconds, its peak RSS in MiB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "curation_app", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"curation {' '.join(args)} failed:\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far (KiB on Linux).
    return seconds, max(peak, before) / 1024, done.stdout


def datasets_baseline(folder: Path, out: Path) -> float:
    """The writers alone through `datasets`, on the chat records of the release."""
    from datasets import Dataset  # noqa: PLC0415 - only the benchmark needs it
    from datasets.utils.logging import disable_progress_bar  # noqa: PLC0415

    disable_progress_bar()

    records = {s: [json.loads(line) for line in
                   (folder / "chat" / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
               for s in SPLITS}
    start = time.perf_counter()
    for split, rows in records.items():
        ds = Dataset.from_list(rows)
        ds.to_parquet(str(out / f"{split}.parquet"))
        ds.to_json(str(out / f"{split}.jsonl"), force_ascii=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=11000, help="dialogues (default 11000)")
    parser.add_argument("--db-url", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_release_"))
    url = args.db_url or f"sqlite:///{work / 'curation.db'}"
    ctx = AppContext.from_url(url)
    migrate(ctx.engine)
    project = f"extes-bench-{args.size}"
    start = time.perf_counter()
    fill(ctx, project, args.size)
    print(f"project {project}: {args.size} approved dialogues ({args.size * 18} utterances) "
          f"in {url.split(':')[0]}, filled in {time.perf_counter() - start:.1f}s")

    env = {**os.environ, "CURATION_DATABASE_URL": url, "CURATION_USER": "bench",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    seconds, peak, stdout = child(["release", "--project", project, "--version", "1.0.0",
                                   "--out", str(work / "exports")], env)
    print(f"curation release (child process): {seconds:.2f}s wall, peak RSS {peak:.0f} MiB")
    print(f"  {stdout.strip()}")

    summary = release_services.build_release(ctx, LEAD, project, "1.0.1", out=work / "exports")
    total = sum(summary.seconds.values())
    print(f"the same build in-process: {total:.2f}s; per stage: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in summary.seconds.items()))
    ours = sum(summary.seconds[k] for k in ("native", "chat", "parquet"))

    folder = work / "exports" / project / "1.0.0"
    base_out = work / "baseline"
    base_out.mkdir()
    base = datasets_baseline(folder, base_out)
    # The builder writes the native, chat and parquet files in one pass over each split,
    # reading its dialogues back from the database in batches: its stages are one figure.
    print(f"baseline, datasets writers alone (from_list + to_parquet + to_json per split): "
          f"{base:.2f}s; our writers, reading the dialogues back and writing the native "
          f"(validated), chat and parquet files, {ours:.2f}s")

    seconds, peak, stdout = child(["stats", "--project", project, "--json"], env)
    figures = json.loads(stdout)["figures"]
    print(f"curation stats --json (child process): {seconds:.2f}s wall, peak RSS {peak:.0f} MiB "
          f"({figures['dialogues']} dialogues, {figures['utterances']} utterances)")
    ctx.close()


if __name__ == "__main__":
    main()
