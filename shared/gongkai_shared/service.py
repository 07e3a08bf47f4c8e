"""The FastAPI application and the worker of a service, built the same way for every service."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import nats
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from nats.aio.client import Client as NATS
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gongkai_shared.access import declare_access
from gongkai_shared.auth import TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.errors import PROBLEM_JSON, ServiceUnavailable, install_error_handlers
from gongkai_shared.events import ConsumerRunner, EventTables, Handler, Namespace, OutboxRelay, ensure_stream
from gongkai_shared.logging import RequestIdMiddleware, configure_logging
from gongkai_shared.settings import ServiceSettings

__all__ = ["Sweep", "connect_nats", "create_service_app", "database_problem", "run_event_loop", "run_worker"]

log = structlog.get_logger("gongkai.service")


def run_event_loop(main: Awaitable[Any]) -> Any:
    """Run a worker's coroutine on uvloop (as uvicorn runs the APIs), or asyncio's loop without it."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(main)  # type: ignore[arg-type]
    return uvloop.run(main)  # type: ignore[arg-type]


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    version: str = "0.1.0",
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
) -> FastAPI:
    """A service's API: problem+json errors, request ids, JSON logs, health and readiness."""
    configure_logging(service=settings.service, level=settings.log_level, json=bool(settings.log_json))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        if on_startup is not None:
            await on_startup(app)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.token_signer = TokenSigner(settings.jwt_secret.get_secret_value())
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    declare_access(app, settings.service)  # x-gongkai-access on every operation (who may call it; metadata only)
    return app


async def database_problem(engine: AsyncEngine, *, timeout: float = 2.0) -> str | None:
    """None when the database answers ``SELECT 1`` within ``timeout``; else what is wrong (Chinese)."""
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=timeout)
    except Exception as exc:  # any failure is "not ready"; the detail says which
        return f"数据库不可用：{type(exc).__name__}"
    return None


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="存活检查", operation_id="healthz")
    async def healthz(request: Request) -> dict[str, str]:
        return {"status": "ok", "service": request.app.state.settings.service}

    @router.get("/readyz", summary="就绪检查（数据库可用）", operation_id="readyz")
    async def readyz(request: Request) -> JSONResponse:
        problem = await database_problem(request.app.state.engine)
        if problem is not None:
            err = ServiceUnavailable(problem)
            return JSONResponse(err.to_problem(request), status_code=503, media_type=PROBLEM_JSON)
        return JSONResponse({"status": "ready", "service": request.app.state.settings.service})

    return router


async def connect_nats(url: str, *, name: str, stop: asyncio.Event | None = None) -> NATS:
    """Connect, retrying until the server answers; reconnect forever afterwards."""
    delay = 0.2
    while True:
        try:
            return await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                allow_reconnect=True,
            )
        except Exception as exc:
            if stop is not None and stop.is_set():
                raise
            log.info("nats_connect_retry", error=f"{type(exc).__name__}: {exc}"[:200], delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@dataclass(frozen=True)
class Sweep:
    """A periodic job (due soon, overdue, …), safe on several replicas: one runs it at a time."""

    name: str
    every_seconds: float
    run: Callable[[AsyncSession], Awaitable[None]]


async def _run_sweep(sweep: Sweep, maker: async_sessionmaker[AsyncSession], stop: asyncio.Event) -> None:
    key = zlib.crc32(f"gongkai-sweep-{sweep.name}".encode())
    while not stop.is_set():
        try:
            async with maker() as session, session.begin():
                if await session.scalar(select(func.pg_try_advisory_xact_lock(key))):
                    await sweep.run(session)
        except Exception as exc:
            log.warning("sweep_failed", sweep=sweep.name, error=f"{type(exc).__name__}: {exc}"[:300])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=sweep.every_seconds)


def outbox_purge_sweep(tables: EventTables, retention_days: int) -> Sweep:
    async def purge(session: AsyncSession) -> None:
        o = tables.outbox
        await session.execute(
            delete(o).where(o.c.published_at < func.now() - text(f"interval '{int(retention_days)} days'"))
        )

    return Sweep(name="outbox-purge", every_seconds=3600, run=purge)


async def run_worker(
    *,
    settings: ServiceSettings,
    tables: EventTables,
    handlers: Sequence[Handler] = (),
    sweeps: Sequence[Sweep] = (),
    stop: asyncio.Event | None = None,
    engine: AsyncEngine | None = None,
    on_ready: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """The worker: outbox relay, consumers and sweeps, until SIGTERM/SIGINT (or ``stop``)."""
    configure_logging(service=f"{settings.service}-worker", level=settings.log_level, json=bool(settings.log_json))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    own_engine = engine is None
    # No pre-ping: with asyncpg it costs three round trips per checkout (measured: +20-50% on the
    # consumer); a dead connection fails the transaction, which the relay and consumers retry.
    engine = engine or create_engine(settings.database_url, pool_pre_ping=False, pool_recycle=300)
    maker = make_sessionmaker(engine)
    ns = Namespace(settings.event_namespace or "")
    nc = await connect_nats(settings.nats_url, name=f"{settings.service}-worker", stop=stop)
    js = nc.jetstream()
    try:
        while True:
            try:
                await ensure_stream(js, ns, settings.service, duplicate_window=settings.stream_duplicate_window_seconds)
                break
            except Exception as exc:
                log.info("stream_setup_retry", error=str(exc)[:200])
                await asyncio.sleep(0.5)
        relay = OutboxRelay(
            service=settings.service,
            engine=engine,
            tables=tables,
            js=js,
            namespace=ns,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        consumers = ConsumerRunner(
            sessionmaker=maker,
            tables=tables,
            js=js,
            namespace=ns,
            handlers=handlers,
            max_deliver=settings.consumer_max_deliver,
            backoff=settings.consumer_backoff_seconds,
            ack_wait=settings.consumer_ack_wait_seconds,
            duplicate_window=settings.stream_duplicate_window_seconds,
        )
        all_sweeps = [*sweeps, outbox_purge_sweep(tables, settings.outbox_retention_days)]
        tasks = [
            asyncio.create_task(relay.run(stop), name="relay"),
            asyncio.create_task(consumers.run(stop), name="consumers"),
            *(asyncio.create_task(_run_sweep(s, maker, stop), name=f"sweep-{s.name}") for s in all_sweeps),
        ]
        log.info("worker_started", handlers=[h.name for h in handlers], sweeps=[s.name for s in all_sweeps])
        if on_ready is not None:
            await on_ready({"js": js, "nc": nc, "sessionmaker": maker})
        await stop.wait()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    finally:
        # close(), not drain(): drain waits on pull subscriptions' queues and may never finish;
        # nothing is lost by closing, since a message is acked only after its handler committed.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=5)
        if own_engine:
            await engine.dispose()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("worker_stopped")
