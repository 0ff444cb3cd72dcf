"""Many annotators at once: sign in, open, edit, save in a loop, while a lead runs the checks
and an export; against PostgreSQL or SQLite, through the services the app calls.

Each simulated annotator signs in (password, throttling and audit included), then repeatedly
opens one of its two assigned dialogues, appends a sentence to a turn and saves. Two reviewers
edit random dialogues at the same time, so some saves meet a newer version (a conflict,
reported, never overwritten). Meanwhile a lead runs ``run_checks`` and ``export_file``. At the
end every accepted save must be in its dialogue's history, with its number and text.

The baseline is one annotator saving alone on the same database in the same run; the ratio is
the crowd's saves/s over that. Peak memory is this process's (the database server's is not).

Run: ``.venv/bin/python benchmarks/bench_load.py --url postgresql+psycopg://... --annotators 20``
     ``.venv/bin/python benchmarks/bench_load.py --annotators 5`` (a new SQLite file)
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from curation_app.domain import Dialogue, Role, Source, Turn
from curation_app.errors import ConflictError
from curation_app.services import checks, editing, transfer, users, workflow
from curation_app.services.context import AppContext
from curation_app.services.projects import create_project
from curation_app.services.setup import SYSTEM_ACTOR
from curation_app.store import migrate

PASSWORD = "a long load-test password"


def seed(ctx: AppContext, annotators: int) -> dict[str, list[int]]:
    create_project(ctx.uow(), SYSTEM_ACTOR, "load", "extes")
    for i in range(annotators):
        users.add_user(ctx, SYSTEM_ACTOR, f"ann{i:02d}", "annotator", PASSWORD)
    for i in range(2):
        users.add_user(ctx, SYSTEM_ACTOR, f"rev{i}", "reviewer", PASSWORD)
    users.add_user(ctx, SYSTEM_ACTOR, "lead", "lead", PASSWORD)
    own: dict[str, list[int]] = {}
    with ctx.uow() as uow:
        project = uow.repo.get_project("load")
        for i in range(annotators + 1):
            name = f"ann{i:02d}" if i < annotators else "solo"
            own[name] = uow.repo.add_dialogues(project, [Dialogue(
                turns=[Turn(Role.SEEKER, "I can't sleep before exams."),
                       Turn(Role.SUPPORTER, "That sounds exhausting.", ["Reflective Statements"])],
                topic="Academic Pressure", source=Source.GENERATED,
                assignee=name if i < annotators else None) for _ in range(2)], author="model")
        uow.commit()
    return own


def annotate(ctx, actor, ids, rng, stop, latencies, accepted, conflicts, lock) -> None:
    n = 0
    while not stop.is_set():
        did = rng.choice(ids)
        current = editing.get_dialogue(ctx.uow(), actor, did)
        turns = list(current.turns)
        text = f"{actor.name} #{n}"
        turns[1] = Turn(Role.SUPPORTER, f"{turns[1].text} {text}", turns[1].strategies)
        started = time.perf_counter()
        try:
            saved = editing.save_revision(ctx.uow(), actor, did, current.version, turns)
        except ConflictError:
            with lock:
                conflicts.append(did)
        else:
            with lock:
                latencies.append(time.perf_counter() - started)
                accepted.append((did, saved.revision, turns[1].text))
        n += 1


def run(ctx: AppContext, workers: list[tuple], seconds: float, lead_busy: bool) -> dict:
    stop = threading.Event()
    latencies: list[float] = []
    accepted: list[tuple[int, int, str]] = []
    conflicts: list[int] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=annotate, args=(ctx, actor, ids, random.Random(i), stop,
                                                       latencies, accepted, conflicts, lock))
               for i, (actor, ids) in enumerate(workers)]
    lead_runs = {"checks": 0, "exports": 0}

    def lead_work() -> None:
        lead = users.authenticate(ctx, "lead", PASSWORD)
        out = Path(tempfile.mkdtemp()) / "export.jsonl"
        while not stop.is_set():
            checks.run_checks(ctx, lead, "load", "format,lint,safety,privacy")
            lead_runs["checks"] += 1
            transfer.export_file(ctx.uow(), lead, "load", "jsonl", out, overwrite=True)
            lead_runs["exports"] += 1

    if lead_busy:
        threads.append(threading.Thread(target=lead_work))
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": sorted(latencies), "accepted": accepted,
            "conflicts": conflicts, "lead": lead_runs}


def verify(ctx: AppContext, accepted: list[tuple[int, int, str]]) -> int:
    """How many accepted saves are missing from the history (must be 0)."""
    lead = users.get_actor(ctx, "lead")
    missing = 0
    by_dialogue: dict[int, dict[int, str]] = {}
    for did in {a[0] for a in accepted}:
        by_dialogue[did] = {r.number: r.turns[1].text
                            for r in editing.history(ctx.uow(), lead, did)}
    for did, number, text in accepted:
        if by_dialogue[did].get(number) != text:
            missing += 1
    return missing


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'load.db'}"
    ctx = AppContext.from_url(url)
    migrate(ctx.engine)
    tracemalloc.start()
    own = seed(ctx, args.annotators)
    workflow.take_next(ctx, users.authenticate(ctx, "rev0", PASSWORD), "load")  # warm up

    solo = users.get_actor(ctx, "lead")
    base = run(ctx, [(solo, own["solo"])], args.seconds / 2, lead_busy=False)
    base_rate = len(base["accepted"]) / base["elapsed"]

    crowd = [(users.authenticate(ctx, f"ann{i:02d}", PASSWORD, address=f"10.0.0.{i}"),
              own[f"ann{i:02d}"]) for i in range(args.annotators)]
    everything = [d for ids in own.values() for d in ids]
    crowd += [(users.authenticate(ctx, f"rev{i}", PASSWORD), everything) for i in range(2)]
    load = run(ctx, crowd, args.seconds, lead_busy=True)
    rate = len(load["accepted"]) / load["elapsed"]
    missing = verify(ctx, load["accepted"] + base["accepted"])
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    kind = ctx.engine.dialect.name
    print(f"{kind}, {args.annotators} annotators + 2 reviewers + a lead running checks and "
          f"exports, {load['elapsed']:.1f} s")
    print(f"  saves accepted: {len(load['accepted'])} ({rate:.1f}/s); conflicts reported: "
          f"{len(load['conflicts'])}; lead: {load['lead']['checks']} check runs, "
          f"{load['lead']['exports']} exports")
    print(f"  save latency p50 {pct(load['latencies'], 0.5):.1f} ms, "
          f"p95 {pct(load['latencies'], 0.95):.1f} ms")
    print(f"  baseline (one annotator alone, same run): {base_rate:.1f} saves/s, p50 "
          f"{pct(base['latencies'], 0.5):.1f} ms; ratio {rate / base_rate:.2f}x")
    print(f"  accepted saves missing from the history: {missing}")
    print(f"  peak memory (this process): {peak:.1f} MiB")
    ctx.close()
    if missing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
