"""Batch generation throughput against the local OpenAI-protocol stub with fixed latency.

    .venv/bin/python benchmarks/bench_generate.py [--drafts 200] [--concurrency 16] [--latency 0.3]

Prints the wall time of a full job (render, SDK call, validate, store in SQLite) and two ratios:
against the ideal (drafts / concurrency x latency, zero overhead) and against a baseline run in
the same process: bare ``AsyncOpenAI`` calls at the same concurrency that store nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai  # noqa: E402

from curation_app.generation import AsyncDraftClient, LLMConfig  # noqa: E402
from curation_app.services import generation  # noqa: E402
from curation_app.services.context import AppContext  # noqa: E402
from curation_app.services.permissions import Actor, UserRole  # noqa: E402
from curation_app.services.projects import create_project  # noqa: E402
from curation_app.store import migrate  # noqa: E402
from tests.openai_stub_server import OpenAIStub  # noqa: E402

LEAD = Actor("bench", UserRole.LEAD)


def _serve(latency: float, conn) -> None:  # type: ignore[no-untyped-def]
    # The stub runs in its own process, as a real server would, so that its threads do not
    # compete with the client for this process's GIL.
    with OpenAIStub(latency_s=latency) as stub:
        conn.send(stub.url)
        conn.recv()
        conn.send(stub.max_in_flight)


class RemoteStub:
    def __init__(self, latency: float):
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.Process(target=_serve, args=(latency, child), daemon=True)

    def __enter__(self) -> RemoteStub:
        self._proc.start()
        self.url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self.max_in_flight = self._conn.recv()
        self._proc.join(timeout=10)


async def bare_sdk(stub: RemoteStub, drafts: int, concurrency: int) -> float:
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=stub.url, max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(drafts)))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


async def full_job(ctx: AppContext, stub: RemoteStub, drafts: int, concurrency: int) -> float:
    job_id = generation.plan_job(ctx, LEAD, generation.JobRequest(
        project="bench", topics=["Job Loss or Career Setbacks"], n=drafts, concurrency=concurrency))
    config = LLMConfig(model="gpt-4o-mini", api_key="sk-bench", base_url=stub.url,
                       timeout_s=30)
    start = time.perf_counter()
    async with AsyncDraftClient(config) as client:
        job = await generation.run_job(ctx, LEAD, job_id, client)
    elapsed = time.perf_counter() - start
    assert job.succeeded == drafts, job
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()

    ideal = args.drafts / args.concurrency * args.latency
    with tempfile.TemporaryDirectory() as folder:
        ctx = AppContext.from_url(f"sqlite:///{Path(folder) / 'bench.db'}")
        migrate(ctx.engine)
        create_project(ctx.uow(), LEAD, "bench", "extes")
        with RemoteStub(args.latency) as stub:
            baseline = asyncio.run(bare_sdk(stub, args.drafts, args.concurrency))
            job = asyncio.run(full_job(ctx, stub, args.drafts, args.concurrency))
        peak = stub.max_in_flight
        ctx.close()
    print(f"{args.drafts} drafts, concurrency {args.concurrency}, "
          f"{args.latency * 1000:.0f} ms per call")
    print(f"ideal (drafts / concurrency x latency): {ideal:6.2f} s")
    print(f"bare AsyncOpenAI calls, nothing stored:  {baseline:6.2f} s  "
          f"ratio to ideal {baseline / ideal:.2f}")
    print(f"full job (render, call, validate, store): {job:6.2f} s  "
          f"ratio to ideal {job / ideal:.2f}, to bare SDK {job / baseline:.2f}")
    print(f"peak requests in flight at the server: {peak}")


if __name__ == "__main__":
    main()
