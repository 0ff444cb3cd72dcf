"""Server-side render time of each page, and of Save / Submit, on an ExTES-sized project.

Builds a SQLite project of ``--size`` ExTES-like dialogues (18 turns each, plus one of 120
turns) through the services (import, assignment to 20 annotators, some submitted, a check run
with its findings), then renders each page with Streamlit's AppTest (the page scripts, the
readers' caches cleared before every run so each run reads the database as a first visit
does) and times Save and Submit as a person makes them (type into a turn, click). Beside each,
the bare service calls that page makes, timed without Streamlit in the same run: the ratio is
the page's own overhead. Median and p95 over ``--runs`` runs, and the peak memory of this
process.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_pages.py [--size 11000] [--runs 20]``
(``--keep DIR`` builds once and reuses; ``--postgres URL`` builds in an empty PostgreSQL database).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation_app.domain import Dialogue, Role, Status, Turn  # noqa: E402
from curation_app.errors import BlockingFindingsError  # noqa: E402
from curation_app.presets import load_preset  # noqa: E402
from curation_app.services import checks, editing, projects, users, workflow  # noqa: E402
from curation_app.services.context import AppContext  # noqa: E402
from curation_app.services.permissions import Actor, UserRole  # noqa: E402
from curation_app.services.setup import SYSTEM_ACTOR, initialise  # noqa: E402

APP = ROOT / "curation_app" / "ui" / "app.py"
PROJECT = "extes-big"
ANNOTATORS = [f"ann{i:02d}" for i in range(20)]
LEAD = Actor("lea", UserRole.LEAD)
REVIEWABLE = (Status.DRAFT, Status.IN_PROGRESS, Status.RETURNED, Status.SUBMITTED)
REVIEWER = Actor("rita", UserRole.REVIEWER)
WORDS = ["feel", "stress", "work", "job", "friend", "family", "sleep", "tired", "help", "talk",
         "try", "week", "boss", "money", "plan", "worry", "really", "know", "think", "hard",
         "time", "day", "people", "want", "need", "better", "maybe", "just", "like", "sounds",
         "understand"]


def sentence(rng: random.Random, words: int = 26) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def dialogue(rng: random.Random, topics: tuple[str, ...], strategies: tuple[str, ...],
             turns: int = 18) -> Dialogue:
    out = []
    for t in range(turns):
        if t % 2:
            out.append(Turn(Role.SUPPORTER, sentence(rng), [rng.choice(strategies)]))
        else:
            out.append(Turn(Role.SEEKER, sentence(rng)))
    if rng.random() < 0.01:  # a few errors for the checks to find
        out[4] = Turn(Role.SEEKER, "  ")
    if rng.random() < 0.65:  # and many warnings (thousands, as ESConv gives)
        out[3] = Turn(Role.SEEKER, out[3].text)  # two seeker turns in a row
    return Dialogue(turns=out, language="en", topic=rng.choice(topics))


def build(ctx: AppContext, size: int) -> dict[str, Any]:
    """The project: ``size`` dialogues + one of 120 turns; 20 annotators with 40 each (a
    quarter submitted), a reviewer, a lead; one format + lint run."""
    rng = random.Random(8)
    vocab = load_preset("extes")
    strategies = vocab.strategy_names
    initialise(ctx)
    projects.create_project(ctx.uow(), SYSTEM_ACTOR, PROJECT, "extes")
    for name in ANNOTATORS:
        users.add_user(ctx, SYSTEM_ACTOR, name, "annotator", None)
    users.add_user(ctx, SYSTEM_ACTOR, "rita", "reviewer", None)
    users.add_user(ctx, SYSTEM_ACTOR, "lea", "lead", None)
    with ctx.uow() as uow:
        record = uow.repo.get_project(PROJECT)
        for start in range(0, size, 2000):
            uow.repo.add_dialogues(record, [dialogue(rng, vocab.topics, strategies)
                                            for _ in range(min(2000, size - start))], "model")
        (long_id,) = uow.repo.add_dialogues(
            record, [dialogue(rng, vocab.topics, strategies, turns=120)], "model")
        uow.commit()
    workflow.assign(ctx, LEAD, PROJECT, annotators=ANNOTATORS, count=40 * len(ANNOTATORS))
    workflow.assign(ctx, LEAD, PROJECT, annotators=[ANNOTATORS[0]], dialogue_ids=[long_id])
    for name in ANNOTATORS:
        who = Actor(name, UserRole.ANNOTATOR)
        for d in workflow.my_queue(ctx, who, PROJECT)[:10]:
            if any(not t.text.strip() for t in d.turns) or d.id == long_id:
                continue
            editing.save_revision(ctx.uow(), who, d.id, d.version, d.turns, seconds_spent=60)
            try:
                workflow.submit(ctx, who, d.id)
            except BlockingFindingsError:
                continue
    summary = checks.run_checks(ctx, LEAD, PROJECT, "format,lint")
    return {"long_id": long_id, "findings": summary.errors + summary.warnings}


def timed(fn: Callable[[], Any], runs: int, before: Callable[[], Any] | None = None
          ) -> list[float]:
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def peak_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(name: str, page: list[float], bare: list[float] | None) -> None:
    med, p95 = stats(page)
    if bare:
        bmed, bp95 = stats(bare)
        ratio = f"{med / bmed:6.1f}x" if bmed > 0 else "     -"
        print(f"{name:<34} {med * 1000:8.0f} {p95 * 1000:8.0f}   {bmed * 1000:8.1f} "
              f"{bp95 * 1000:8.1f}   {ratio}  {peak_mb():8.0f}", flush=True)
    else:
        print(f"{name:<34} {med * 1000:8.0f} {p95 * 1000:8.0f}  {peak_mb():8.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=11_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", nargs="*", help="page names to time (default: all)")
    parser.add_argument("--keep", type=Path,
                        help="build the project in this folder, or reuse the one built there")
    parser.add_argument("--postgres", metavar="URL",
                        help="an empty PostgreSQL database to build the project in (with --keep, "
                        "the same URL reuses it) instead of a SQLite file")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-pages-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = args.postgres or f"sqlite:///{folder / 'app.db'}"
    os.environ.update({"CURATION_DATABASE_URL": url, "CURATION_DATA_DIR": str(folder / "data"),
                       "CURATION_SECRET_KEY": "bench-secret"})
    reuse = (folder / "built.json").exists()
    ctx = AppContext.from_url(url)
    started = time.perf_counter()
    if reuse:
        built = json.loads((folder / "built.json").read_text())
    else:
        built = build(ctx, args.size)
        (folder / "built.json").write_text(json.dumps(built))
    print(f"{'reused' if reuse else 'built'} {args.size + 1} dialogues ({built['findings']} "
          f"findings) in {time.perf_counter() - started:.0f} s at {url}")

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from curation_app.ui import readers, state

    ann = Actor(ANNOTATORS[0], UserRole.ANNOTATOR)

    def app(actor: Actor, page: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state[state.AUTH_ACTOR] = actor
        at.session_state[state.AUTH_VIA] = "password"
        at.session_state[state.PROJECT] = PROJECT
        at.session_state[state.LANGUAGE] = "en"
        at.run()
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    def cold() -> None:
        st.cache_data.clear()

    def rerun(at: AppTest) -> Callable[[], None]:
        def go() -> None:
            at.run()
            assert not at.exception, [e.value for e in at.exception]
        return go

    def open_editor_on(actor: Actor, dialogue_id: int) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state[state.AUTH_ACTOR] = actor
        at.session_state[state.AUTH_VIA] = "password"
        at.session_state[state.PROJECT] = PROJECT
        at.session_state[state.LANGUAGE] = "en"
        at.session_state[state.EDITOR_DIALOGUE] = dialogue_id
        at.run()
        at.switch_page("views/editor.py")
        at.run()
        return at

    c = readers.context()
    first_open = workflow.my_queue(ctx, ann, PROJECT)[0].id
    first_review = workflow.dialogue_page(ctx, REVIEWER, PROJECT, (Status.SUBMITTED,),
                                          limit=1).items[0].id

    def common() -> None:  # what every page reads: the sidebar's projects, the project
        workflow.project_names(c)
        projects.get_project(c.uow(), PROJECT)

    def one_dialogue(who: Actor, dialogue_id: int) -> None:  # the editor's / review's reads
        editing.get_dialogue(c.uow(), who, dialogue_id)
        workflow.events(c, who, dialogue_id)
        editing.history(c.uow(), who, dialogue_id)
        checks.check_dialogue(c, dialogue_id)

    # The service calls each page makes, without Streamlit (same arguments as the page).
    bare: dict[str, Callable[[], Any]] = {
        "My queue (annotator)": lambda: (
            common(), workflow.dialogue_page(c, ann, PROJECT, workflow.OPEN_WORK, ann.name,
                                             limit=100)),
        "Editor (annotator)": lambda: (
            common(), workflow.dialogue_page(c, ann, PROJECT, workflow.OPEN_WORK, ann.name,
                                             limit=200), one_dialogue(ann, first_open)),
        "Editor (lead)": lambda: (
            common(), workflow.dialogue_page(c, LEAD, PROJECT, REVIEWABLE, None, limit=200),
            one_dialogue(LEAD, 1)),
        "Editor, 120 turns (annotator)": lambda: (
            common(), workflow.dialogue_page(c, ann, PROJECT, workflow.OPEN_WORK, ann.name,
                                             limit=200), one_dialogue(ann, built["long_id"])),
        "Review (reviewer)": lambda: (
            common(), workflow.dialogue_page(c, REVIEWER, PROJECT, (Status.SUBMITTED,),
                                             limit=200), one_dialogue(REVIEWER, first_review)),
        "Checks (lead)": lambda: (
            common(), checks.check_runs(c, PROJECT),
            checks.findings_page(c, LEAD, PROJECT, limit=200),
            checks.duplicate_clusters(c, LEAD, PROJECT, 20)),
        "Progress (lead)": lambda: (common(), projects.list_projects(c.uow()),
                                    workflow.progress(c, LEAD, PROJECT)),
    }
    pages: dict[str, Callable[[], AppTest]] = {
        "My queue (annotator)": lambda: app(ann, "queue"),
        "Editor (annotator)": lambda: app(ann, "editor"),
        "Editor (lead)": lambda: app(LEAD, "editor"),
        "Editor, 120 turns (annotator)": lambda: open_editor_on(ann, built["long_id"]),
        "Review (reviewer)": lambda: app(REVIEWER, "review"),
        "Checks (lead)": lambda: app(LEAD, "checks"),
        "Progress (lead)": lambda: app(LEAD, "progress"),
    }
    print(f"\n{'page (server side, ms)':<34} {'median':>8} {'p95':>8}   {'bare med':>8} "
          f"{'bare p95':>8}   page/bare  {'peak MB':>8}")
    for name, make in pages.items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        at = make()
        page_times = timed(rerun(at), args.runs, before=cold)
        bare_times = timed(bare[name], args.runs)
        row(name, page_times, bare_times)

    # Save and Submit as a person makes them: type into a turn, click.
    from tests.ui.conftest import box_named

    def save_runs(dialogue_id: int, uid: int, runs: int) -> tuple[list[float], list[float]]:
        at = open_editor_on(ann, dialogue_id)
        page_times, bare_times = [], []
        for n in range(runs):
            box_named(at, f"w:editor.{dialogue_id}.{uid}.text").input(f"Edit number {n}.")
            at.run()
            started = time.perf_counter()
            at.button(key="editor.save").click().run()
            page_times.append(time.perf_counter() - started)
            assert not at.exception, [e.value for e in at.exception]
            current = editing.get_dialogue(c.uow(), ann, dialogue_id)
            turns = list(current.turns)
            turns[uid] = Turn(turns[uid].role, f"Bare edit {n}.", turns[uid].strategies)
            started = time.perf_counter()
            editing.save_revision(c.uow(), ann, dialogue_id, current.version, turns)
            bare_times.append(time.perf_counter() - started)
        return page_times, bare_times

    if not args.only or any("save" in o.lower() for o in args.only):
        queue = [d for d in workflow.my_queue(ctx, ann, PROJECT)
                 if d.id != built["long_id"] and all(t.text.strip() for t in d.turns)]
        row("Save (annotator)", *save_runs(queue[0].id, 1, args.runs))
        row("Save, 120 turns (annotator)", *save_runs(built["long_id"], 1, args.runs))
        page_times, bare_times = [], []
        others = [d for d in workflow.my_queue(ctx, Actor(ANNOTATORS[1], UserRole.ANNOTATOR),
                                              PROJECT) if all(t.text.strip() for t in d.turns)]
        for n in range(min(args.runs, len(queue) - 1, len(others))):
            at = open_editor_on(ann, queue[n + 1].id)
            started = time.perf_counter()
            at.button(key="editor.submit").click().run()
            page_times.append(time.perf_counter() - started)
            assert not at.exception, [e.value for e in at.exception]
            who = Actor(ANNOTATORS[1], UserRole.ANNOTATOR)
            started = time.perf_counter()
            workflow.submit(c, who, others[n].id)
            bare_times.append(time.perf_counter() - started)
        if page_times:
            row("Submit (annotator)", page_times, bare_times)
        else:
            print("Submit (annotator): no open dialogues left to submit (build afresh)")

    print(f"\npeak memory of this process: {peak_mb():.0f} MB (the column: so far, after each "
          f"row); readers' caches cleared before "
          f"each page run (a first visit); bare = the same service calls without Streamlit")


if __name__ == "__main__":
    main()
