"""The gateway's worker: the outbox relay (``gateway.calendar.updated``, ``gateway.webhook.paused``),
the catalog's organizations, webhook deliveries (queued from every producer's stream and sent by
the dispatcher), and sweeps that forget old counters and old delivery logs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from gongkai_shared.db import create_engine
from gongkai_shared.events import Envelope, Handler
from gongkai_shared.events.streams import PRODUCERS
from gongkai_shared.service import Sweep, run_worker
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from gongkai_gateway import service, webhooks
from gongkai_gateway.delivery import Dispatcher
from gongkai_gateway.models import event_tables
from gongkai_gateway.settings import GatewaySettings

__all__ = ["handlers", "main"]


def _ingester(on_queued: Callable[[], None] | None) -> Callable[[AsyncSession, Sequence[Envelope]], Any]:
    async def ingest(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        if await webhooks.ingest(session, envelopes) and on_queued is not None:
            # Wake the dispatcher once the deliveries are committed, instead of at its next poll.
            event.listen(session.sync_session, "after_commit", lambda _s: on_queued(), once=True)

    return ingest


def handlers(on_queued: Callable[[], None] | None = None) -> list[Handler]:
    """One durable consumer per producer stream for webhooks (every subject: a subscription made
    later matches from then on), and the catalog's organizations. ``on_queued`` is called after a
    batch that queued deliveries has committed."""
    ingest = _ingester(on_queued)
    out = [Handler(name="gateway-organizations", subject="catalog.organization.*", handle=service.store_organization)]
    out += [Handler(name=f"gateway-webhooks-{p}", subject=f"{p}.>", handle_batch=ingest) for p in PRODUCERS]
    return out


def sweeps(settings: GatewaySettings) -> list[Sweep]:
    async def forget_counters(session: AsyncSession) -> None:
        await session.execute(text("DELETE FROM rate_counters WHERE window_start < now() - interval '1 day'"))
        await session.execute(text("DELETE FROM sign_in_failures WHERE last_failure_at < now() - interval '1 day'"))
        await session.execute(text("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"))

    async def forget_deliveries(session: AsyncSession) -> None:
        await session.execute(
            text(
                "DELETE FROM webhook_deliveries WHERE status <> 'pending'"
                " AND created_at < now() - make_interval(days => :days)"
            ),
            {"days": settings.webhook_log_retention_days},
        )

    return [
        Sweep(name="gateway-counters", every_seconds=600, run=forget_counters),
        Sweep(name="gateway-delivery-log", every_seconds=3600, run=forget_deliveries),
    ]


async def main(settings: GatewaySettings | None = None, stop: asyncio.Event | None = None) -> None:
    settings = settings or GatewaySettings()
    stop = stop or asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    dispatchers: list[Dispatcher] = []

    def wake() -> None:
        for d in dispatchers:
            d.wake()

    async def start_dispatcher(ctx: dict[str, Any]) -> None:
        dispatcher = Dispatcher(settings, ctx["sessionmaker"])
        dispatchers.append(dispatcher)
        tasks.append(asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher"))

    # Our engine, disposed only after the dispatcher finished its last round.
    engine = create_engine(settings.database_url, pool_pre_ping=False, pool_recycle=300)
    try:
        await run_worker(
            settings=settings,
            tables=event_tables,
            handlers=handlers(wake),
            sweeps=sweeps(settings),
            stop=stop,
            engine=engine,
            on_ready=start_dispatcher,
        )
    finally:
        stop.set()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, timeout=settings.webhook_timeout_seconds + 5)
        await engine.dispose()
