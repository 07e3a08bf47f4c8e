"""The outbox relay: publishes committed event rows to JetStream and marks them sent.

Guarantees (architecture.md, "Publishing"):
- at least once: a row is marked only after JetStream acknowledged it; a crash between publish and
  mark leaves it unmarked and it is published again;
- no duplicate effect: every publish carries ``Nats-Msg-Id`` = event id, so JetStream drops the
  second copy inside the stream's duplicate window, and every consumer's inbox drops it after that;
- order: one relay per database publishes at a time (a transaction-scoped advisory lock), rows in
  ``seq`` order, and only the acknowledged prefix of a batch is marked;
- latency: the relay sleeps on PostgreSQL LISTEN, woken by the outbox's insert trigger, with a
  polling fallback (``relay_poll_seconds``) for a lost notification or a lost listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gongkai_shared.events.streams import Namespace
from gongkai_shared.events.tables import EventTables, outbox_channel

__all__ = ["OutboxRelay"]

log = structlog.get_logger("gongkai.relay")


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        tables: EventTables,
        js: JetStreamContext,
        namespace: Namespace,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
        after_publish: Callable[[Sequence[Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.outbox = tables.outbox
        self.js = js
        self.ns = namespace
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        # Test hook: runs after JetStream acknowledged a batch and before the rows are marked.
        self.after_publish = after_publish
        self._lock_key = zlib.crc32(f"gongkai-relay-{service}".encode())
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set."""
        listener = asyncio.create_task(self._listen(stop), name=f"{self.service}-outbox-listen")
        failures = 0
        try:
            while not stop.is_set():
                # Cleared *before* reading the outbox: a NOTIFY that arrives while a batch is being
                # published must start another round, not be forgotten until the next poll.
                self._wake.clear()
                try:
                    published = await self.drain_once()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    log.warning("relay_failed", error=str(exc)[:300], error_class=type(exc).__name__, failures=failures)
                    published = 0
                    await _sleep_or_stop(stop, min(0.2 * 2**failures, 5.0))
                    continue
                if published >= self.batch_size:
                    continue  # more is waiting
                await _wait_any(stop, self._wake, timeout=self.poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def drain_once(self) -> int:
        """Publish one batch of unpublished rows; return how many were published and marked."""
        o = self.outbox
        async with self.engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(self._lock_key))):
                return 0  # another relay replica is publishing this database's outbox
            rows = (
                await conn.execute(
                    select(o.c.seq, o.c.id, o.c.subject, o.c.envelope)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            # The first row alone, then the rest pipelined: each js.publish is a request with its
            # own timeout (not publish_async: when its send fails — payload over the server's
            # limit, client buffer full during a long outage — nats-py keeps the half-registered
            # future and its slot forever, and enough failures jam the relay). Order on the wire
            # is seq order: after the first request has set up the reply subscription, each
            # publish queues its bytes before it first yields, and tasks start in list order.
            # The first row going alone also means that while NATS is away an attempt buffers
            # one message, not a whole batch. Measured (bench/events.py): ~1.8k rows/s one at a
            # time, ~4-5k/s pipelined.
            acked: list[int] = []
            error: str | None = None
            # A row the server can never take (over its max payload) is known before sending:
            # send only the rows before it, so nothing overtakes it in the stream.
            # Each body is serialized once (measured: serializing twice was ~10% of the relay's CPU).
            limit = self.js._nc.max_payload if self.js._nc.is_connected else 0
            bodies: list[bytes] = []
            for row in rows:
                body = _body(row)
                bodies.append(body)
                if limit and len(body) > limit:
                    break
            sendable = len(bodies) if not (limit and len(bodies[-1]) > limit) else len(bodies) - 1
            results: list[str | None] = []
            if sendable:
                results.append(await self._publish_one(rows[0], bodies[0]))
                if results[0] is None and sendable > 1:
                    rest = zip(rows[1:sendable], bodies[1:sendable], strict=True)
                    results += await asyncio.gather(*(self._publish_one(row, body) for row, body in rest))
            if sendable < len(rows) and all(r is None for r in results):
                results.append(f"MaxPayloadError: event of {len(bodies[sendable])} bytes exceeds {limit}")
            for row, failure in zip(rows, results, strict=False):
                if failure is not None:
                    error = failure
                    await conn.execute(
                        update(o).where(o.c.seq == row.seq).values(attempts=o.c.attempts + 1, last_error=error[:500])
                    )
                    break  # keep order: only the acknowledged prefix is marked
                acked.append(row.seq)
            if self.after_publish is not None:
                await self.after_publish(rows)
            if acked:
                await conn.execute(update(o).where(o.c.seq.in_(acked)).values(published_at=func.now()))
        if error is not None:
            log.warning("relay_publish_incomplete", published=len(acked), batch=len(rows), error=error[:300])
        return len(acked)

    async def _publish_one(self, row: Any, body: bytes) -> str | None:
        """Publish one outbox row (serialized as ``body``); None when JetStream acknowledged it, else why not."""
        try:
            await self.js.publish(
                self.ns.subject(row.subject), body, timeout=self.publish_timeout, headers={"Nats-Msg-Id": str(row.id)}
            )
        except Exception as exc:  # no ack in time, no stream, payload too big, …
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _listen(self, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection open; reconnect when it drops (polling covers the gap)."""
        url = make_url(self.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
        channel = outbox_channel(self.service)
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(url)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(channel, lambda *_a: self._wake.set())
                self._wake.set()  # rows may have been written while we were not listening
                await _wait_any(stop, lost, timeout=None)
            except Exception as exc:  # any failure: a listener that dies silently leaves only polling
                log.info("relay_listen_retry", error=f"{type(exc).__name__}: {exc}"[:200])
                await _sleep_or_stop(stop, 1.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)


def _body(row: Any) -> bytes:
    return json.dumps(row.envelope, ensure_ascii=False, separators=(",", ":")).encode()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(a: asyncio.Event, b: asyncio.Event, *, timeout: float | None) -> None:
    tasks = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
