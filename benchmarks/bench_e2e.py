"""End to end: the commands a lead runs, as subprocesses, over a real database.

Writes an ExTES-like English file (18 turns of about 26 words, a strategy on every AI turn, the
preset's scenarios, about 5% planted near-duplicates; the corpus of ``bench_dedup.py``), then
times, each as its own process exactly as a user types it:

    curation import FILE --format extes --project bench
    curation check --project bench --only format,lint
    curation check --project bench                    (all four)
    curation export --project bench --format extes -o OUT
    curation dedup FILE --format extes --json         (precision/recall against the planted pairs)

For each: wall time, CPU time (user + system) and peak resident memory of that process (its own
rusage, through GNU ``time``: see ``measure``), and throughput. Each path is compared with a
baseline run the same way in the same run: for import, the floor of any import (``json.load``
and one ``executemany`` of the raw records into SQLite); for format + lint, plain ``jsonschema``
validating the same records against the same schema; for the full check, ``jsonschema`` plus
datasketch MinHashLSH; for export, ``pandas.read_sql`` of the dialogues plus
``DataFrame.to_json``; for dedup, datasketch MinHashLSH with the same shingles, bands and
confirmation (bench_dedup.py). Where a baseline would take minutes it runs on a sample and is
scaled linearly; the output says so.

Run:
    .venv/bin/python benchmarks/bench_e2e.py                        # 10k dialogues, SQLite
    .venv/bin/python benchmarks/bench_e2e.py --size 2000 --postgres  # SQLite and PostgreSQL
    .venv/bin/python benchmarks/bench_e2e.py --grow 10000,50000,100000 --no-baselines
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_dedup import build, precision_recall  # noqa: E402

from curation_app.presets import load_preset  # noqa: E402

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
PG_URL = os.environ.get("CURATION_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Run:
    """One process: what it cost and what it printed."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    rc: int
    out: str
    err: str


def measure(cmd: Sequence[str], env: dict[str, str], workdir: Path) -> Run:
    """Run ``cmd``; its own peak RSS and CPU, nothing else counted.

    Through GNU time where it is installed: a child forked from this process starts with this
    process's resident size as its peak (Linux carries it across fork and exec), and this
    process holds the corpus it wrote, so ``wait4`` of a direct child would report at least
    that. ``time`` is a small process, so what it reports is the command's own."""
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    usage_path = workdir / "rusage.txt"
    wrapped = ([GNU_TIME, "-f", "%U %S %M", "-o", str(usage_path), *cmd] if GNU_TIME
               else list(cmd))
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, env=env, stdout=out, stderr=err, cwd=workdir)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if GNU_TIME and usage_path.exists() and proc.returncode == 0:
        user, system, peak_kb = usage_path.read_text().split()[-3:]
        cpu, peak_mb = float(user) + float(system), int(peak_kb) / 1024
    else:
        cpu, peak_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    return Run(wall, cpu, peak_mb, proc.returncode, out_path.read_text(), err_path.read_text())


def curation(*args: str) -> list[str]:
    return [sys.executable, "-m", "curation_app", *args]


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


# ---- the corpus ------------------------------------------------------------------------------
def write_corpus(n: int, path: Path) -> set[tuple[int, int]]:
    """An ExTES file of ``n`` dialogues; returns the planted duplicate pairs (record indices)."""
    corpus = build(n, "en")
    vocab = load_preset("extes")
    strategies, topics = vocab.strategy_names, vocab.topics
    records = []
    for i, turns in enumerate(corpus.dialogues):
        content = []
        for t, text in enumerate(turns):
            if t % 2:
                content.append({"AI Strategy": strategies[(i + t) % len(strategies)],
                                "AI": text})
            else:
                content.append({"User": text})
        records.append({"scene": topics[i % len(topics)],
                        "description": f"Someone reaches out about {topics[i % len(topics)]}.",
                        "content": content})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False)
    return corpus.pairs


# ---- baselines (each its own process, measured like the commands) -----------------------------
IMPORT_FLOOR = """
import json, sqlite3, sys
records = json.load(open(sys.argv[1], encoding="utf-8"))
db = sqlite3.connect(sys.argv[2])
db.execute("create table raw (id integer primary key, scene text, body text)")
db.executemany("insert into raw (scene, body) values (?, ?)",
               [(r.get("scene"), json.dumps(r, ensure_ascii=False)) for r in records])
db.commit()
"""

JSONSCHEMA = """
import json, sys, time
from jsonschema import Draft202012Validator
from curation_app import formats
from curation_app.presets import load_preset
records = json.load(open(sys.argv[1], encoding="utf-8"))
sample = records[:int(sys.argv[2])]
validator = Draft202012Validator(formats.schema_for("extes", load_preset("extes")))
start = time.perf_counter()
valid = sum(validator.is_valid(r) for r in sample)
print(json.dumps({"seconds": time.perf_counter() - start, "n": len(sample), "valid": valid}))
"""

PANDAS_EXPORT = """
import sys
import pandas as pd
from sqlalchemy import create_engine
engine = create_engine(sys.argv[1])
frame = pd.read_sql("select id, topic, description, turns from dialogues", engine)
frame.to_json(sys.argv[2], orient="records", force_ascii=False)
"""

DATASKETCH = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
from bench_dedup import run_datasketch
from curation_app.checks.dedup import DedupParams
from curation_app.checks.text import char_table
records = json.load(open(sys.argv[1], encoding="utf-8"))[:int(sys.argv[2])]
dialogues = [[next(iter(v for k, v in turn.items() if k != "AI Strategy"))
              for turn in r["content"]] for r in records]
char_table()
seconds = run_datasketch(dialogues, 0.85, DedupParams(), "en")
print(json.dumps({"seconds": seconds, "n": len(dialogues)}))
"""


@dataclass
class Baseline:
    label: str
    wall_s: float  # scaled to the full size where sampled
    cpu_s: float
    peak_mb: float
    note: str = ""


def sampled(run: Run, n: int, label: str) -> Baseline:
    """A baseline that timed its own core on a sample: scale that part, keep the rest."""
    figures = json.loads(run.out.strip().splitlines()[-1])
    scale = n / figures["n"]
    core = figures["seconds"]
    wall = run.wall_s - core + core * scale
    cpu = run.cpu_s - core + core * scale  # the core is single-threaded CPU work
    note = f"measured on {figures['n']}, scaled x{scale:g}" if scale != 1 else ""
    return Baseline(label, wall, cpu, run.peak_mb, note)


# ---- one size, one database ------------------------------------------------------------------
@dataclass
class Row:
    path: str
    run: Run
    n: int
    baseline: Baseline | None = None
    extra: str = ""


def check_ok(run: Run, what: str) -> None:
    if run.rc != 0:
        raise SystemExit(f"{what} failed (exit {run.rc}):\n{run.err[-3000:]}")


def one_size(n: int, url: str, workdir: Path, baselines: bool,
             baseline_sample: int) -> list[Row]:
    env = {**os.environ, "CURATION_DATABASE_URL": url,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # Python caches compiled modules unless told not to; a sandbox that sets this would make
    # every command recompile the package (about half a second) where no user's install does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    corpus = workdir / f"extes_{n}.json"
    if not corpus.exists():
        t0 = time.perf_counter()
        pairs = write_corpus(n, corpus)
        (workdir / f"pairs_{n}.json").write_text(json.dumps(sorted(pairs)))
        print(f"  wrote {corpus.name} ({corpus.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
    pairs = {tuple(p) for p in json.loads((workdir / f"pairs_{n}.json").read_text())}
    check_ok(measure(curation("init"), env, workdir), "curation init")
    check_ok(measure(curation("projects", "create", "bench", "--preset", "extes"), env, workdir),
             "projects create")
    rows: list[Row] = []
    out = workdir / "export.json"
    out.unlink(missing_ok=True)
    steps = [
        ("curation import", curation("import", str(corpus), "--format", "extes",
                                     "--project", "bench")),
        ("curation check --only format,lint", curation("check", "--project", "bench",
                                                       "--only", "format,lint")),
        ("curation check (all four)", curation("check", "--project", "bench")),
        ("curation export --format extes", curation("export", "--project", "bench",
                                                    "--format", "extes", "-o", str(out))),
        ("curation dedup FILE", curation("dedup", str(corpus), "--format", "extes", "--json")),
    ]
    for label, cmd in steps:
        run = measure(cmd, env, workdir)
        check_ok(run, label)
        extra = ""
        if label.startswith("curation dedup"):
            clusters = json.loads(run.out)["clusters"]
            found = set()
            for c in clusters:
                if c["level"] != "dialogue":
                    continue
                ids = sorted(int(re.match(r"record (\d+)", m["record"]).group(1))
                             for m in c["members"])
                found |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
            p, r = precision_recall(found, pairs)
            extra = f"precision {p:.4f}, recall {r:.4f}"
        rows.append(Row(label, run, n, extra=extra))
        print(f"  {label}: {run.wall_s:.2f}s wall, {run.cpu_s:.2f}s CPU, "
              f"{run.peak_mb:.0f} MB peak {extra}", flush=True)
    if not baselines:
        return rows
    sample = str(min(n, baseline_sample))
    floor = workdir / "floor.db"
    floor.unlink(missing_ok=True)
    run = measure(python(IMPORT_FLOOR, str(corpus), str(floor)), env, workdir)
    check_ok(run, "import floor")
    rows[0].baseline = Baseline("json.load + executemany into SQLite", run.wall_s, run.cpu_s,
                                run.peak_mb)
    run = measure(python(JSONSCHEMA, str(corpus), sample), env, workdir)
    check_ok(run, "jsonschema baseline")
    schema = sampled(run, n, "jsonschema Draft202012Validator")
    rows[1].baseline = schema
    run = measure(python(DATASKETCH, str(corpus), sample, str(HERE)), env, workdir)
    check_ok(run, "datasketch baseline")
    sketch = sampled(run, n, "datasketch MinHashLSH")
    rows[4].baseline = sketch
    rows[2].baseline = Baseline("jsonschema + datasketch", schema.wall_s + sketch.wall_s,
                                schema.cpu_s + sketch.cpu_s, max(schema.peak_mb, sketch.peak_mb),
                                "; ".join(x for x in (schema.note, sketch.note) if x))
    pandas_out = workdir / "pandas.json"
    run = measure(python(PANDAS_EXPORT, url, str(pandas_out)), env, workdir)
    check_ok(run, "pandas baseline")
    rows[3].baseline = Baseline("pandas.read_sql + DataFrame.to_json", run.wall_s,
                                run.cpu_s, run.peak_mb)
    for row in rows:
        b = row.baseline
        assert b is not None
        print(f"  baseline for {row.path}: {b.label} {b.wall_s:.2f}s wall, {b.cpu_s:.2f}s CPU, "
              f"{b.peak_mb:.0f} MB"
              + (f" ({b.note})" if b.note else ""), flush=True)
    return rows


def table(rows: list[Row], backend: str) -> None:
    print(f"\n| path ({backend}, {rows[0].n:,} dialogues) | wall s | CPU s | peak MB | "
          "dialogues/s | baseline (same run) | baseline wall s / CPU s | baseline peak MB | "
          "ratio wall / CPU |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for r in rows:
        b = r.baseline
        base = (f"{b.label}{' (' + b.note + ')' if b.note else ''} | {b.wall_s:.1f} / "
                f"{b.cpu_s:.1f} | {b.peak_mb:.0f} | {b.wall_s / r.run.wall_s:.2f}x / "
                f"{b.cpu_s / r.run.cpu_s:.2f}x" if b else "— | — | — | —")
        name = r.path + (f" ({r.extra})" if r.extra else "")
        print(f"| {name} | {r.run.wall_s:.1f} | {r.run.cpu_s:.1f} | {r.run.peak_mb:.0f} | "
              f"{r.n / r.run.wall_s:,.0f} | {base} |")
    print("ratio = baseline time / command time (above 1: the command is faster); on a loaded "
          "machine read the CPU ratio.")


# ---- databases -------------------------------------------------------------------------------
class Postgres:
    """A scratch database on the server at CURATION_TEST_PG_URL, dropped afterwards."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"curation_bench_{uuid.uuid4().hex[:8]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(
            hide_password=False)

    def __enter__(self) -> str:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run_backend(backend: str, n: int, workdir: Path, args: argparse.Namespace,
                baselines: bool) -> list[Row]:
    print(f"\n== {backend}, {n:,} dialogues", flush=True)
    if backend == "sqlite":
        db = workdir / f"bench_{n}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        try:
            return one_size(n, f"sqlite:///{db}", workdir, baselines, args.baseline_sample)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    with Postgres(args.pg_url) as url:
        return one_size(n, url, workdir, baselines, args.baseline_sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="dialogues (default 10000)")
    parser.add_argument("--grow", help="comma-separated sizes, e.g. 10000,50000,100000: print "
                        "how time and memory grow with the project")
    parser.add_argument("--postgres", action="store_true",
                        help="also run on PostgreSQL at $CURATION_TEST_PG_URL")
    parser.add_argument("--pg-url", default=PG_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    parser.add_argument("--baseline-sample", type=int, default=10_000,
                        help="records the jsonschema and datasketch baselines run on in full "
                        "(beyond: a sample, scaled)")
    parser.add_argument("--workdir", help="where files go (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.grow.split(",")] if args.grow else [args.size]
    if min(sizes) < 200:
        parser.error("sizes must be at least 200 (the corpus plants recycled sentences in "
                     "100 dialogues)")
    backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="curation_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; files in {workdir}")
    try:
        if args.grow:
            for backend in backends:
                grown = {n: run_backend(backend, n, workdir, args, not args.no_baselines)
                         for n in sizes}
                for n in sizes:
                    table(grown[n], backend)
                growth(grown, backend)
        else:
            for backend in backends:
                table(run_backend(backend, args.size, workdir, args, not args.no_baselines),
                      backend)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def growth(grown: dict[int, list[Row]], backend: str) -> None:
    sizes = sorted(grown)
    first = sizes[0]
    print(f"\n| path ({backend}) | "
          + " | ".join(f"{n:,}: wall s / CPU s / MB" for n in sizes)
          + f" | CPU x per size x (vs {first:,}) | memory x |")
    print("| --- |" + " ---: |" * (len(sizes) + 2))
    for i, row in enumerate(grown[first]):
        cells = [f"{r.wall_s:.1f} / {r.cpu_s:.1f} / {r.peak_mb:.0f}"
                 for r in (grown[n][i].run for n in sizes)]
        last = grown[sizes[-1]][i].run
        size_x = sizes[-1] / first
        print(f"| {row.path} | " + " | ".join(cells)
              + f" | {last.cpu_s / row.run.cpu_s / size_x:.2f} "
                f"| {last.peak_mb / row.run.peak_mb:.2f} |")
    print("CPU x per size x: 1.00 is linear, below is better (start-up is a fixed cost); "
          "memory x: 1.00 is flat.")


if __name__ == "__main__":
    main()
