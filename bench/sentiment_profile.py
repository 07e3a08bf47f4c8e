"""Where a batch of posts spends its time in the sentiment service's ingestion (issue 6), in process.

Run: ``.venv/bin/python bench/sentiment_profile.py [--posts 10000] [--batch 500] [--top 30]``

A scratch database (``gkbench_<hex>_sentiment`` on ``DATABASE_URL``, dropped at the end) receives the
posts of bench/sentiment.py's sustained phase through ``service.ingest`` in batches (no HTTP), each in its
own transaction. Prints, per batch, wall and CPU (``time.process_time``) seconds, SQL statements and
their time; then a cProfile of one batch in the middle of the run (warm caches, a populated window) and
the statements of that batch grouped by their first words. The request's JSON → pydantic step
(``BatchIn.model_validate_json``) and the answer's serialisation are timed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import re
import secrets
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "services" / "sentiment"))

import sentiment as bench  # noqa: E402


def _shape(statement: str) -> str:
    s = re.sub(r"\s+", " ", statement).strip()
    return s[:90]


async def run(args: argparse.Namespace) -> None:
    from gongkai_sentiment import service, state
    from gongkai_sentiment.classifier import load_model
    from gongkai_sentiment.schemas import BatchIn, IngestOut
    from gongkai_sentiment.settings import SentimentSettings
    from gongkai_shared.db import create_engine, make_sessionmaker
    from gongkai_shared.migrations import upgrade
    from gongkai_shared.settings import service_database_url
    from sqlalchemy import event
    from sqlalchemy.engine import make_url

    admin = os.environ["DATABASE_URL"]
    db_name = f"gkbench_{secrets.token_hex(4)}_sentiment"
    url = service_database_url(admin, db_name)
    await asyncio.to_thread(upgrade, "gongkai_sentiment", url)
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    settings = SentimentSettings(jwt_secret="profile-" + "x" * 40, database_url=url)
    model = load_model()
    _ = model.compiled, model.topic_compiled
    state.freeze_startup_objects()  # as the API and worker do at start

    stats: dict[str, list[float]] = defaultdict(list)
    starts: dict[int, float] = {}

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        starts[id(context)] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        n = len(params) if executemany and isinstance(params, list | tuple) else 1
        stats[_shape(statement) + (f"  [executemany {n}]" if executemany else "")].append(
            time.perf_counter() - starts.pop(id(context), time.perf_counter())
        )

    # Statements sent on the asyncpg connection directly (COPY, executemany) are timed too.
    import asyncpg

    def timed(name: str) -> Any:
        original = getattr(asyncpg.Connection, name)

        async def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return await original(self, *a, **kw)
            finally:
                what = a[0] if a and isinstance(a[0], str) else kw.get("table_name", "")
                rows = (
                    kw.get("records") if name == "copy_records_to_table" else (a[1] if name == "executemany" else None)
                )
                n = f"  [{name} {len(rows)}]" if rows is not None else f"  [{name}]"
                stats[_shape(str(what)) + n].append(time.perf_counter() - t)

        setattr(asyncpg.Connection, name, wrapper)

    for name in ("copy_records_to_table", "executemany", "fetch", "execute"):
        timed(name)
    gc_seconds = [0.0]
    gc_by_generation = [0.0, 0.0, 0.0]
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            spent = time.perf_counter() - gc_started[0]
            gc_seconds[0] += spent
            gc_by_generation[info["generation"]] += spent

    import gc

    gc.callbacks.append(on_gc)

    rng = random.Random(bench.SEED)
    warm = bench.matter_posts(rng, 4, 25, "warm")
    posts = bench.matter_posts(rng, max(1, args.posts // 50), 50, "sustained")[: args.posts]
    batches = [posts[i : i + args.batch] for i in range(0, len(posts), args.batch)]
    profile_at = len(batches) // 2
    try:
        for b in [warm]:
            async with maker() as session, session.begin():
                await service.ingest(session, BatchIn.model_validate({"posts": b}).posts, settings=settings)
        total_wall = total_cpu = 0.0
        sql_profiled: dict[str, list[float]] = {}
        profiler = cProfile.Profile()
        parse_cpu = 0.0
        client = None
        if args.asgi:
            import httpx
            from gongkai_sentiment.app import create_app
            from gongkai_shared.auth import Principal, Role, TokenSigner

            app = create_app(settings)
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sentiment.test")
            token = TokenSigner(settings.jwt_secret.get_secret_value()).issue(
                Principal(subject="profile", name="profile", roles=frozenset({Role.office}))
            )
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for k, b in enumerate(batches):
            body = json.dumps({"posts": b}, ensure_ascii=False).encode()
            stats.clear()
            w, c = time.perf_counter(), time.process_time()
            if k == profile_at:
                profiler.enable()
            if client is not None:
                resp = await client.post("/posts/batch", content=body, headers=headers)
                assert resp.status_code == 200, resp.text
                result = IngestOut.model_validate_json(resp.content)
                result.stored = resp.json()["stored"]
            else:
                p0 = time.process_time()
                data = BatchIn.model_validate_json(body)
                parse_cpu += time.process_time() - p0
                async with maker() as session, session.begin():
                    result = await service.ingest(session, data.posts, settings=settings)
                IngestOut.model_validate(result, from_attributes=True).model_dump_json()
            if k == profile_at:
                profiler.disable()
                sql_profiled = dict(stats)
            w, c = time.perf_counter() - w, time.process_time() - c
            total_wall += w
            total_cpu += c
            n_sql = sum(len(v) for v in stats.values())
            t_sql = sum(sum(v) for v in stats.values())
            if args.verbose or k in (0, profile_at, len(batches) - 1):
                print(
                    f"batch {k:3}: {len(b)} posts, wall {w * 1000:7.1f} ms, cpu {c * 1000:7.1f} ms, "
                    f"{n_sql} statements {t_sql * 1000:6.1f} ms, stored {result.stored}, dup {result.near_duplicates}, "
                    f"events {len(result.event_ids)}, alerts {len(result.alerts)}"
                )
        n = len(posts)
        import asyncpg as _apg

        probe = await _apg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            pids = [
                r["pid"]
                for r in await probe.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db_name
                )
            ]
        finally:
            await probe.close()
        pg_cpu = sum(bench.cpu_seconds(pid) for pid in pids)
        print(f"PostgreSQL backends of this run: {len(pids)}, {pg_cpu:.2f} CPU s → {pg_cpu * 1e6 / n:.0f} µs/post")
        print(
            f"\n{n} posts in {len(batches)} batches: wall {total_wall:.2f} s → {n / total_wall:,.0f} posts/s; "
            f"cpu {total_cpu:.2f} s → {n / total_cpu:,.0f} posts/cpu-s; "
            f"JSON → pydantic {parse_cpu * 1000 / n:.3f} ms/post; garbage collector {gc_seconds[0]:.2f} s "
            f"(by generation {', '.join(f'{x:.2f}' for x in gc_by_generation)}; "
            f"{len(gc.get_objects())} objects tracked)"
        )
        phases = service.INGEST_CPU
        print(
            "CPU of ingestion by phase, µs/post: "
            + ", ".join(f"{k} {v * 1e6 / n:.0f}" for k, v in phases.items())
            + f"; total {sum(phases.values()) * 1e6 / n:.0f}"
        )
        print(f"\nSQL of batch {profile_at} (statements grouped by shape):")
        for shape, times in sorted(sql_profiled.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {len(times):5} × {sum(times) * 1000:7.1f} ms  {shape}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(f"\ncProfile of batch {profile_at} (cumulative):")
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(f"\ncProfile of batch {profile_at} (own time):")
        print(out.getvalue())
    finally:
        await engine.dispose()
        import asyncpg
        from sqlalchemy.engine import make_url

        conn = await asyncpg.connect(
            make_url(admin).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--asgi", action="store_true", help="send the batches through the API's ASGI app (FastAPI, no network)"
    )
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
