"""Consumers: durable pull consumers, an inbox for idempotency, ack after commit, bounded
redelivery with backoff, then a dead letter.

A handler is ``async def handle(session, envelope)``. It runs inside a transaction that first
records ``(consumer, event id)`` in the inbox with ``INSERT … ON CONFLICT DO NOTHING RETURNING``;
when the row already exists the event was handled before and the handler is skipped. The handler's
effects, the events it emits (outbox) and the inbox row commit together, and only then is the
message acknowledged: a crash before the ack redelivers, and the inbox discards the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gongkai_shared.events.envelope import Envelope
from gongkai_shared.events.streams import DEADLETTER, Namespace, ensure_stream
from gongkai_shared.events.tables import EventTables
from gongkai_shared.logging import bind_request_id

__all__ = ["BatchHandlerFunc", "ConsumerRunner", "Handler", "HandlerFunc", "PermanentError"]

log = structlog.get_logger("gongkai.consumer")

HandlerFunc = Callable[[AsyncSession, Envelope], Awaitable[None]]
BatchHandlerFunc = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


class PermanentError(Exception):
    """A failure that no retry can fix (a payload that breaks the contract): dead-letter at once."""


@dataclass(frozen=True)
class Handler:
    #: Durable consumer name, unique per (service, purpose): ``interpretation-policy-published``.
    name: str
    #: The contract subject it consumes, without namespace: ``catalog.policy.published``.
    subject: str
    #: ``handle(session, envelope)``: one event at a time (the runner still commits a batch at once).
    handle: HandlerFunc | None = None
    max_deliver: int | None = None
    backoff: Sequence[float] | None = None
    #: ``handle_batch(session, envelopes)``: all new events of a fetched batch in one call, for handlers
    #: that can write them in one statement (measured in bench/events.py: per-event ORM inserts were
    #: the consumer's largest cost). Given instead of ``handle``. When it raises, the batch is rolled
    #: back and handled again one event per call and transaction, so retries and dead letters stay
    #: per event; an event of a failing batch may thus be seen twice, never committed twice.
    handle_batch: BatchHandlerFunc | None = None

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.handle_batch is None):
            raise TypeError(f"handler {self.name}: give exactly one of handle and handle_batch")

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        if self.handle_batch is not None:
            await self.handle_batch(session, envelopes)
            return
        assert self.handle is not None
        for envelope in envelopes:
            bind_request_id(envelope.correlation_id)
            await self.handle(session, envelope)


@dataclass
class ConsumerRunner:
    sessionmaker: async_sessionmaker[AsyncSession]
    tables: EventTables
    js: JetStreamContext
    namespace: Namespace
    handlers: Sequence[Handler]
    max_deliver: int = 5
    backoff: Sequence[float] = (1.0, 5.0, 30.0, 120.0)
    ack_wait: float = 60.0
    duplicate_window: float = 600.0
    fetch_batch: int = 256
    fetch_timeout: float = 1.0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._run_one(h, stop), name=f"consumer-{h.name}") for h in self.handlers]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def subscribe(self, handler: Handler) -> JetStreamContext.PullSubscription:
        producer = handler.subject.split(".", 1)[0]
        stream = await ensure_stream(self.js, self.namespace, producer, duplicate_window=self.duplicate_window)
        await ensure_stream(self.js, self.namespace, DEADLETTER, duplicate_window=self.duplicate_window)
        subject = self.namespace.subject(handler.subject)
        config = ConsumerConfig(
            durable_name=handler.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # bounded by us (dead letter), not silently by the server
            filter_subject=subject,
            max_ack_pending=1000,
        )
        return await self.js.pull_subscribe(subject, durable=handler.name, stream=stream, config=config)

    async def _run_one(self, handler: Handler, stop: asyncio.Event) -> None:
        sub = None
        # The next batch is fetched while the current one is handled and committed (one pull
        # subscription, one fetch at a time; batches are still handled strictly one after the
        # other, in delivery order). Measured (bench/events.py, relay and consumer in separate
        # processes, 2 CPUs): ~1,170 → ~1,330 events/s with fetch_batch 64, ~1,500 with 256.
        pending: asyncio.Task[list[Msg]] | None = None
        try:
            while True:
                try:
                    if sub is None:
                        if stop.is_set():
                            return
                        sub = await self.subscribe(handler)
                    if pending is None:
                        if stop.is_set():
                            return
                        pending = asyncio.ensure_future(sub.fetch(self.fetch_batch, timeout=self.fetch_timeout))
                    try:
                        msgs = await pending
                    finally:
                        pending = None
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception as exc:  # NATS away or restarting: keep trying
                    log.info("consumer_fetch_retry", consumer=handler.name, error=f"{type(exc).__name__}: {exc}"[:200])
                    if sub is not None:
                        # A forgotten subscription keeps its inbox: messages the server still sends
                        # there would sit unread (unacked) until ack_wait instead of being redelivered.
                        with contextlib.suppress(Exception):
                            await sub.unsubscribe()
                    sub = None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
                    continue
                if not stop.is_set():
                    pending = asyncio.ensure_future(sub.fetch(self.fetch_batch, timeout=self.fetch_timeout))
                await self.process_batch(handler, msgs)
        finally:
            if pending is not None:
                # Stopping: a batch fetched but not handled is not acked; JetStream redelivers it
                # after ack_wait (to this worker's successor), so nothing is lost.
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    async def process_batch(self, handler: Handler, msgs: Sequence[Msg]) -> None:
        """Handle a fetched batch in one transaction: one inbox insert, the handlers, one commit.

        Measured on this machine (bench/events.py): a transaction per message caps a consumer at
        ~200-350 events/s; one per batch reaches ~1,100/s. If any handler in the batch fails, the
        whole transaction rolls back and the batch is handled again one message at a time, so
        retries, backoff and dead letters stay per message and no effect is applied twice.
        """
        if len(msgs) == 1:
            await self.process(handler, msgs[0])
            return
        parsed: list[tuple[Msg, Envelope]] = []
        for msg in msgs:
            try:
                parsed.append((msg, Envelope.model_validate_json(msg.data)))
            except ValidationError:
                await self.process(handler, msg)  # files the dead letter
        if not parsed:
            return
        failed: int | None = None  # index in ``parsed`` of the per-event handler that raised
        try:
            async with self.sessionmaker() as session, session.begin():
                new_ids = set(await self._record_in_inbox(session, handler, [e for _, e in parsed]))
                fresh: list[tuple[int, Envelope]] = []
                for i, (_, envelope) in enumerate(parsed):
                    if envelope.id in new_ids:
                        new_ids.discard(envelope.id)  # the same event twice in one batch: once
                        fresh.append((i, envelope))
                if handler.handle_batch is not None:
                    if fresh:
                        await handler.handle_batch(session, [e for _, e in fresh])
                else:
                    assert handler.handle is not None
                    for i, envelope in fresh:
                        bind_request_id(envelope.correlation_id)
                        failed = i
                        await handler.handle(session, envelope)
                        failed = None
        except Exception as exc:
            # Everything rolled back. The message whose handler raised gets its retry or dead
            # letter now (its handler is not called twice for one delivery); the others are
            # handled again one by one.
            log.info("consumer_batch_fallback", consumer=handler.name, size=len(parsed), error=str(exc)[:200])
            for i, (msg, envelope) in enumerate(parsed):
                if i == failed:
                    await self._on_failure(handler, msg, envelope, exc)
                else:
                    await self.process(handler, msg)
            return
        finally:
            bind_request_id(None)
        for msg, _ in parsed:
            with contextlib.suppress(Exception):  # a lost ack means a redelivery that the inbox discards
                await msg.ack()

    async def process(self, handler: Handler, msg: Msg) -> None:
        """Handle one message in its own transaction (the inbox row and the handler's effects)."""
        delivered = msg.metadata.num_delivered or 1
        try:
            envelope = Envelope.model_validate_json(msg.data)
        except ValidationError as exc:
            await self._dead_letter(handler, msg, None, f"invalid envelope: {exc}", delivered)
            return
        bind_request_id(envelope.correlation_id)
        try:
            async with self.sessionmaker() as session, session.begin():
                if await self._record_in_inbox(session, handler, [envelope]):
                    await handler(session, [envelope])
        except Exception as exc:
            await self._on_failure(handler, msg, envelope, exc)
            return
        finally:
            bind_request_id(None)
        with contextlib.suppress(Exception):  # a lost ack means a redelivery that the inbox discards
            await msg.ack()

    async def _record_in_inbox(
        self, session: AsyncSession, handler: Handler, envelopes: Sequence[Envelope]
    ) -> list[uuid.UUID]:
        """Insert the inbox rows in one statement; return the ids seen for the first time."""
        result = await session.execute(
            self._inbox_insert,
            {
                "consumer": handler.name,
                "ids": [e.id for e in envelopes],
                "subjects": [e.subject for e in envelopes],
            },
        )
        return list(result.scalars())

    @functools.cached_property
    def _inbox_insert(self) -> TextClause:
        # One array parameter per column (unnest) instead of SQLAlchemy's multi-row VALUES: one
        # statement text whatever the batch size, so PostgreSQL and asyncpg prepare it once.
        inbox = self.tables.inbox
        return text(
            f"INSERT INTO {inbox.name} (consumer, event_id, subject) "
            "SELECT :consumer, e, s FROM unnest(CAST(:ids AS uuid[]), CAST(:subjects AS text[])) AS t(e, s) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )

    async def _on_failure(self, handler: Handler, msg: Msg, envelope: Envelope, exc: Exception) -> None:
        """Retry later with backoff, or file a dead letter when no retry is left or can help."""
        delivered = msg.metadata.num_delivered or 1
        max_deliver = handler.max_deliver or self.max_deliver
        permanent = isinstance(exc, PermanentError | ValidationError)
        reason = f"{type(exc).__name__}: {exc}"
        if permanent or delivered >= max_deliver:
            log.error("consumer_dead_letter", consumer=handler.name, event_id=str(envelope.id), error=reason[:300])
            await self._dead_letter(handler, msg, envelope, reason, delivered)
            return
        backoff = handler.backoff or self.backoff
        delay = backoff[min(delivered - 1, len(backoff) - 1)]
        log.warning(
            "consumer_retry",
            consumer=handler.name,
            event_id=str(envelope.id),
            delivered=delivered,
            delay=delay,
            error=reason[:300],
        )
        with contextlib.suppress(Exception):
            await msg.nak(delay=delay)

    async def _dead_letter(
        self, handler: Handler, msg: Msg, envelope: Envelope | None, reason: str, delivered: int
    ) -> None:
        original = self.namespace.strip(msg.subject)
        seq = msg.metadata.sequence.stream
        key = str(envelope.id) if envelope else "invalid"
        headers = {
            # Dedup: a crash between this publish and the ack must not file the letter twice, so the
            # id is stable across redeliveries of this stream message. It includes the stream
            # sequence because a replayed event is a new stream message: if it fails again, its
            # letter must be filed again, not dropped as a duplicate of the first one (and then
            # acked, which would lose the event).
            "Nats-Msg-Id": f"dl:{handler.name}:{key}:{seq}",
            "Gk-Consumer": handler.name,
            "Gk-Subject": original,
            "Gk-Deliveries": str(delivered),
            "Gk-Error": json.dumps(reason[:800]),  # ASCII-safe
        }
        try:
            await self.js.publish(self.namespace.subject(f"{DEADLETTER}.{handler.name}"), msg.data, headers=headers)
        except Exception as exc:
            # Could not file it: leave the message unacked so it comes back later.
            log.error("dead_letter_publish_failed", consumer=handler.name, error=str(exc)[:200])
            with contextlib.suppress(Exception):
                await msg.nak(delay=30)
            return
        with contextlib.suppress(Exception):
            await msg.ack()
