"""The engine's connection pool: stale connections are caught without a ping on every request.

``gongkai_shared.db.create_engine`` pings a pooled connection only when it sat idle for
``idle_ping_seconds`` (SQLAlchemy's ``pool_pre_ping`` costs three round trips on every checkout with
asyncpg). These tests kill the pooled connection's backend with ``pg_terminate_backend`` (what a
PostgreSQL restart does to every connection) and check what the next user of the pool sees.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from conftest import migrate
from gongkai_shared.db import create_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.asyncio


async def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(url: str, pid: int) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # until the backend is gone
            if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                return
            await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def test_an_idle_connection_killed_under_the_pool_is_replaced_before_the_request_uses_it() -> None:
    url = await asyncio.to_thread(migrate, "catalog")
    engine = create_engine(url, idle_ping_seconds=0.2, pool_size=1, max_overflow=0)
    try:
        pid = await _backend_pid(engine)
        await _terminate(url, pid)
        await asyncio.sleep(0.3)  # idle longer than idle_ping_seconds: the checkout pings, sees it dead
        async with engine.connect() as conn:
            new_pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert new_pid != pid
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_pinged_and_a_dead_one_costs_one_error_then_recovers() -> None:
    url = await asyncio.to_thread(migrate, "catalog")
    engine = create_engine(url, idle_ping_seconds=60.0, pool_size=1, max_overflow=0)
    try:
        pid = await _backend_pid(engine)
        # In steady use (returned less than idle_ping_seconds ago): handed out without a ping, so the
        # first statement meets the dead connection …
        await _terminate(url, pid)
        with pytest.raises(DBAPIError) as caught:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert caught.value.connection_invalidated
        # … and SQLAlchemy recycled the pool: the next request gets a new connection.
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await engine.dispose()


async def test_only_a_connection_that_sat_idle_is_pinged() -> None:
    url = await asyncio.to_thread(migrate, "catalog")
    engine = create_engine(url, idle_ping_seconds=0.3, pool_size=1, max_overflow=0)
    dialect = engine.sync_engine.dialect
    original = dialect.do_ping
    pings = 0

    def counting_ping(dbapi_connection):  # type: ignore[no-untyped-def]
        nonlocal pings
        pings += 1
        return original(dbapi_connection)

    dialect.do_ping = counting_ping  # type: ignore[method-assign]
    try:
        for _ in range(5):  # a new connection, then the same one in steady use: no ping
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert pings == 0
        await asyncio.sleep(0.4)
        async with engine.connect() as conn:  # idle longer than idle_ping_seconds: one ping
            await conn.execute(text("SELECT 1"))
        assert pings == 1
    finally:
        await engine.dispose()
