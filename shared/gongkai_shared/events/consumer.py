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
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import nats.errors
import sqlalchemy.exc
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


_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset, no route: the server or the network is away
    TimeoutError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection in time
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.ConnectionDoesNotExistError,  # closed in the middle of a statement
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says that something the handler needs is away (the database above all), rather
    than that the event cannot be handled: an outage is waited out, never dead-lettered."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain: SQLAlchemy's error → the driver's → the socket's
        if seen is None:
            return False
        if isinstance(seen, _OUTAGE_ERRORS):
            return True
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


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


class _Puller:
    """Keeps pull requests open so that messages flow to this worker as they are published.

    ``fetch()`` of nats-py asks for messages only when called: a message published while the
    previous batch is being handled waits for that batch, then for the round trip of the next
    request (measured in bench/events.py at 1,000 events/s: p50 ~9 ms, p99 ~35 ms between the
    relay's publish and the fetch returning it). Here requests for ``batch`` messages each are
    renewed before their credits run out, the server delivers into the subscription's queue
    while a batch is being handled, and the next batch is whatever is queued when the last one
    is done: no round trip between batches, and one wait per batch instead of one timer per
    message. Every delivered message still waits for its ack (``max_ack_pending`` bounds them).
    """

    def __init__(self, sub: JetStreamContext.PullSubscription, batch: int, expires: float) -> None:
        self._sub = sub
        self._nc = sub._nc
        self._queue: asyncio.Queue[Msg] = sub._sub._pending_queue
        self._batch = batch
        self._expires = expires
        #: Open pull requests, oldest first: [time it lapses, credits left].
        self._open: deque[list[float]] = deque()
        self._reconnects = self._nc.stats.get("reconnects", 0)

    def _credits(self) -> int:
        now = time.monotonic()
        reconnects = self._nc.stats.get("reconnects", 0)
        if reconnects != self._reconnects:
            # The server forgot the requests of the old connection.
            self._reconnects = reconnects
            self._open.clear()
        while self._open and self._open[0][0] < now:
            self._open.popleft()  # lapsed (its 408 may be lost)
        return int(sum(r[1] for r in self._open))

    async def _renew(self) -> None:
        if self._credits() >= self._batch // 2:
            return
        request = {"batch": self._batch, "expires": int(self._expires * 1e9)}
        await self._nc.publish(self._sub._nms, json.dumps(request).encode(), self._sub._deliver)
        # A little before the server's own expiry, so that a lapsed request is never counted.
        self._open.append([time.monotonic() + self._expires - 0.2, float(self._batch)])

    def _accept(self, msg: Msg, out: list[Msg]) -> None:
        self._sub._sub._pending_size -= len(msg.data)
        if msg.headers and msg.headers.get("Status") and not msg.data:
            # 408 (a request expired), 409 (limits, leadership change…): that request is over.
            if self._open:
                self._open.popleft()
            return
        # Counted against the newest request with credits left. The server may serve its open requests
        # in any order (round robin, oldest first); counting against the newest leaves the credits in
        # these books on the requests that lapse first, so a lapse can only remove more credits here
        # than at the server: the count never exceeds what the server holds.
        for request in reversed(self._open):
            if request[1] > 0:
                request[1] -= 1
                break
        out.append(msg)

    async def take(self, limit: int, timeout: float, stop: asyncio.Event) -> list[Msg]:
        await self._renew()
        out: list[Msg] = []
        deadline = time.monotonic() + timeout
        while True:
            while len(out) < limit and not self._queue.empty():
                self._accept(self._queue.get_nowait(), out)
            if out or stop.is_set():
                await self._renew()
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                # Nothing for a whole wait. Either nothing was published, or the server holds fewer
                # credits than these books say (seen in bench/events.py: no request waiting at the
                # server while 129 credits were counted here, and messages stuck until the books let
                # the request lapse, 5 s later). Forget the books: the next call asks again, so a stall
                # lasts at most one wait, at the cost of one small request per idle wait.
                self._open.clear()
                raise TimeoutError
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((getter, stopper), timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                self._accept(getter.result(), out)
            await self._renew()


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
    #: Most messages handled in one transaction, and the size of each pull request.
    fetch_batch: int = 256
    #: How long one wait for messages lasts before the loop looks at ``stop`` again.
    fetch_timeout: float = 1.0
    #: Lifetime of one pull request on the server (it is renewed before its credits run out).
    pull_expires: float = 5.0
    #: After a batch hit an outage (:func:`is_outage`), wait this long before the next, doubling up to the max.
    outage_pause: float = 1.0
    outage_pause_max: float = 30.0
    _outage: bool = False
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
        puller: _Puller | None = None
        outages = 0
        try:
            while not stop.is_set():
                try:
                    if sub is None:
                        sub = await self.subscribe(handler)
                        puller = _Puller(sub, self.fetch_batch, self.pull_expires)
                    assert puller is not None
                    msgs = await self.next_batch(puller, stop)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception as exc:  # NATS away or restarting: keep trying
                    log.info("consumer_fetch_retry", consumer=handler.name, error=f"{type(exc).__name__}: {exc}"[:200])
                    if sub is not None:
                        # A forgotten subscription keeps its inbox: messages the server still sends
                        # there would sit unread (unacked) until ack_wait instead of being redelivered.
                        with contextlib.suppress(Exception):
                            await sub.unsubscribe()
                    sub = puller = None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
                    continue
                if msgs:
                    self._outage = False
                    await self.process_batch(handler, msgs)
                    if self._outage:
                        # The database (or another server the handler needs) is away: wait before the
                        # next batch, longer while it stays away (up to outage_pause_max).
                        outages += 1
                        pause = min(self.outage_pause * 2 ** (outages - 1), self.outage_pause_max)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=pause)
                    else:
                        outages = 0
        finally:
            # Stopping: messages delivered but not handled are not acked; JetStream redelivers them
            # after ack_wait (to this worker's successor), so nothing is lost.
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def next_batch(self, puller: _Puller, stop: asyncio.Event) -> list[Msg]:
        """The messages delivered so far (at most ``fetch_batch``), waiting up to ``fetch_timeout``
        for the first; returns early when ``stop`` is set."""
        return await puller.take(self.fetch_batch, self.fetch_timeout, stop)

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
        """Retry later with backoff, or file a dead letter when no retry is left or can help.

        An outage (the database away, a connection lost: :func:`is_outage`) is no fault of the event:
        it is retried for as long as the outage lasts, never dead-lettered, and the runner pauses
        before its next batch instead of running every waiting event into the same wall."""
        delivered = msg.metadata.num_delivered or 1
        backoff = handler.backoff or self.backoff
        reason = f"{type(exc).__name__}: {exc}"
        if is_outage(exc):
            self._outage = True
            delay = backoff[min(delivered - 1, len(backoff) - 1)]
            log.warning(
                "consumer_outage", consumer=handler.name, event_id=str(envelope.id), delivered=delivered,
                delay=delay, error=reason[:300],
            )  # fmt: skip
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)
            return
        max_deliver = handler.max_deliver or self.max_deliver
        permanent = isinstance(exc, PermanentError | ValidationError)
        if permanent or delivered >= max_deliver:
            log.error("consumer_dead_letter", consumer=handler.name, event_id=str(envelope.id), error=reason[:300])
            await self._dead_letter(handler, msg, envelope, reason, delivered)
            return
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
