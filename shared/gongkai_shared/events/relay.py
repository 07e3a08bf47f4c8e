"""The outbox relay: publishes committed event rows to JetStream and marks them sent.

Guarantees (architecture.md, "Publishing"):
- at least once: a row is marked only after JetStream acknowledged it; a crash between publish and
  mark leaves it unmarked and it is published again;
- no duplicate effect: every publish carries ``Nats-Msg-Id`` = event id, so JetStream drops the
  second copy inside the stream's duplicate window, and every consumer's inbox drops it after that;
- order: one relay per database publishes at a time (a session-level advisory lock held on the
  relay's own connection), rows in ``seq`` order, and only the acknowledged prefix of a batch is
  marked;
- latency: the relay sleeps on PostgreSQL LISTEN, woken by the outbox's insert trigger, with a
  polling fallback (``relay_poll_seconds``) for a lost notification or a lost listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import asyncpg
import structlog
from nats.js import JetStreamContext
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gongkai_shared.events.streams import Namespace
from gongkai_shared.events.tables import EventTables, outbox_channel

__all__ = ["OutboxRelay", "OutboxRow"]


class OutboxRow(NamedTuple):
    """An outbox row as the relay reads it: the envelope as the JSON text that is sent."""

    seq: int
    id: uuid.UUID
    subject: str
    body: str


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
        self._ack_sub: Any = None
        self._dsn = make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._con: asyncpg.Connection | None = None
        self._running = False
        name = tables.outbox.name
        # Only the holder of this session-level advisory lock publishes (one relay per database, so
        # order per producer holds with several worker replicas). It is held for as long as the
        # relay's own connection lives: no BEGIN/COMMIT round trips per drain, and a relay that dies
        # or loses its connection frees it for a standby at once.
        self._sql_lock = "SELECT pg_try_advisory_lock($1)"
        # One round trip marks the rows the previous drain published and reads the next batch (the
        # UPDATE in the WITH runs whatever the SELECT reads; the SELECT sees the snapshot before it,
        # so it leaves out the rows just marked by their seq).
        self._sql_mark_and_select = (
            f"WITH marked AS (UPDATE {name} SET published_at = now() WHERE seq = ANY($1::bigint[])) "
            f"SELECT seq, id, subject, envelope::text FROM {name} "
            "WHERE published_at IS NULL AND seq <> ALL($1::bigint[]) ORDER BY seq LIMIT $2"
        )
        self._sql_mark = f"UPDATE {name} SET published_at = now() WHERE seq = ANY($1::bigint[])"
        self._sql_failed = f"UPDATE {name} SET attempts = attempts + 1, last_error = $2 WHERE seq = $1"
        #: Rows JetStream acknowledged that are not marked yet: the next drain marks them in the
        #: statement that reads its batch (a crash before that publishes them again; the stream's
        #: duplicate window and every inbox drop the copy).
        self._unmarked: list[int] = []
        self._locked = False
        self._ack_inbox = ""
        self._round = 0
        self._waiting: tuple[int, list[asyncio.Future[str | None]]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set."""
        listener = asyncio.create_task(self._listen(stop), name=f"{self.service}-outbox-listen")

        async def wake_on_stop() -> None:
            await stop.wait()
            self._wake.set()

        # ``stop`` also wakes the relay, so that each idle wait is one wait on one event.
        stopper = asyncio.create_task(wake_on_stop(), name=f"{self.service}-outbox-stop")
        failures = 0
        self._running = True
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
                if published >= self.batch_size or self._unmarked:
                    continue  # more is waiting, or the last batch is still to be marked
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        finally:
            stopper.cancel()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
            if self._ack_sub is not None:
                with contextlib.suppress(Exception):
                    await self._ack_sub.unsubscribe()
                self._ack_sub = None
            self._running = False
            if self._con is not None:
                with contextlib.suppress(Exception):
                    if self._unmarked and not self._con.is_closed():
                        await self._con.execute(self._sql_mark, self._unmarked)
                    await self._con.close(timeout=2)
                self._con = None
                self._locked = False
                self._unmarked = []

    async def drain_once(self) -> int:
        """Publish one batch of unpublished rows; return how many JetStream acknowledged.

        In a running relay (``run``) the acknowledged rows are marked by the next drain's read; a
        one-off call (tests, tools) marks them before it returns and keeps no connection."""
        if self._running:
            if self._con is None or self._con.is_closed():
                self._con, self._locked, self._unmarked = await self._connect(), False, []
            try:
                return await self._drain(self._con)
            except Exception:
                if self._con is not None and self._con.is_closed():
                    self._con, self._locked, self._unmarked = None, False, []
                raise
        con = await self._connect()  # a one-off call: no connection kept
        self._locked, self._unmarked = False, []
        try:
            n = await self._drain(con)
            if self._unmarked:
                await con.execute(self._sql_mark, self._unmarked)
            return n
        finally:
            self._locked, self._unmarked = False, []
            await con.close()

    async def _connect(self) -> asyncpg.Connection:
        # The relay writes only marks, and a mark lost in a crash costs a second publish that the
        # stream's duplicate window and every inbox drop: its commits need not wait for the WAL
        # flush (synchronous_commit off affects this connection only; the events themselves were
        # committed durably by the service's own transaction).
        return await asyncpg.connect(
            self._dsn, server_settings={"synchronous_commit": "off", "application_name": f"{self.service}-relay"}
        )

    async def _drain(self, con: asyncpg.Connection) -> int:
        # The relay talks to PostgreSQL through asyncpg directly, on one connection of its own with
        # prepared statements: measured in bench/events.py, the ORM layer's per-statement overhead
        # was most of a small drain's time, and the relay's latency is the pipeline's latency. A
        # drain at steady load is one statement (mark the last batch, read this one) and one
        # pipelined round of publishes.
        if not self._locked:
            self._locked = bool(await con.fetchval(self._sql_lock, self._lock_key))
            if not self._locked:
                return 0  # another relay replica publishes this database's outbox
        # The envelope is read as text and sent as it is (decoding the JSONB and encoding it again
        # cost about a fifth of the relay's CPU).
        marking, self._unmarked = self._unmarked, []
        try:
            fetched = await con.fetch(self._sql_mark_and_select, marking, self.batch_size)
        except Exception:
            self._unmarked = marking  # not marked: try again (or publish again after a crash)
            raise
        rows = [OutboxRow(*r) for r in fetched]
        if not rows:
            return 0
        # A row the server can never take (over its max payload) is known before sending: send only
        # the rows before it, so nothing overtakes it in the stream.
        nc = self.js._nc
        limit = nc.max_payload if nc.is_connected else 0
        bodies: list[bytes] = []
        for row in rows:
            body = row.body.encode()
            if limit and len(body) > limit:
                break
            bodies.append(body)
        results = await self._publish_batch(rows[: len(bodies)], bodies)
        if len(bodies) < len(rows) and all(r is None for r in results):
            size = len(rows[len(bodies)].body.encode())
            results.append(f"MaxPayloadError: event of {size} bytes exceeds {limit}")
        acked: list[int] = []
        error: str | None = None
        failed_seq = 0
        for row, failure in zip(rows, results, strict=False):
            if failure is not None:
                error, failed_seq = failure, row.seq
                break  # keep order: only the acknowledged prefix is marked
            acked.append(row.seq)
        if self.after_publish is not None:
            await self.after_publish(rows)
        if error is not None:
            # The unhappy path marks at once and records why the next row failed.
            if acked:
                await con.execute(self._sql_mark, acked)
            await con.execute(self._sql_failed, failed_seq, error[:500])
            log.warning("relay_publish_incomplete", published=len(acked), batch=len(rows), error=error[:300])
        else:
            self._unmarked = acked
        return len(acked)

    async def _publish_batch(self, rows: Sequence[Any], bodies: Sequence[bytes]) -> list[str | None]:
        """Publish ``rows`` in order as JetStream publishes; per row, None when acknowledged, else why not.

        Every message goes out at once (pipelined, in ``seq`` order on the wire) with its own reply
        subject under one long-lived inbox subscription, and all acknowledgements are awaited under
        one deadline. This replaces one ``js.publish`` request per row (a future, a timer and a task
        each: measured ~1.8k rows/s awaited one by one, ~4-5k/s gathered) and avoids
        ``js.publish_async``, whose slots leak when a send fails. While NATS is disconnected
        nothing is sent (nats-py would buffer it), so an outage costs one failed attempt per round.
        """
        if not rows:
            return []
        nc = self.js._nc
        if not nc.is_connected:
            return ["ConnectionError: NATS is not connected"]
        if self._ack_sub is None:
            self._ack_inbox = nc.new_inbox()
            self._ack_sub = await nc.subscribe(f"{self._ack_inbox}.>", cb=self._on_ack)
        self._round += 1
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[str | None]] = [loop.create_future() for _ in rows]
        self._waiting = (self._round, futures)
        sent = 0
        try:
            for k, (row, body) in enumerate(zip(rows, bodies, strict=True)):
                try:
                    await nc.publish(
                        self.ns.subject(row.subject),
                        body,
                        reply=f"{self._ack_inbox}.{self._round}.{k}",
                        headers={"Nats-Msg-Id": str(row.id)},
                    )
                except Exception as exc:  # buffer full, connection lost mid-batch, …
                    results_tail = f"{type(exc).__name__}: {exc}"
                    break
                sent += 1
            else:
                results_tail = None
            if sent:
                await asyncio.wait(futures[:sent], timeout=self.publish_timeout)
            late = f"TimeoutError: no acknowledgement in {self.publish_timeout}s"
            results = [fut.result() if fut.done() else late for fut in futures[:sent]]
            if results_tail is not None:
                results.append(results_tail)
            return results
        finally:
            self._waiting = None

    async def _on_ack(self, msg: Any) -> None:
        """A JetStream acknowledgement (or a no-responders status) for one message of the current round."""
        waiting = self._waiting
        try:
            round_, k = (int(x) for x in msg.subject.rsplit(".", 2)[1:])
        except ValueError:
            return
        if waiting is None or waiting[0] != round_ or k >= len(waiting[1]) or waiting[1][k].done():
            return  # a late answer from a round that already gave up: that row is sent again
        status = (msg.headers or {}).get("Status")
        if status and not msg.data:
            failure: str | None = f"NoRespondersError: no stream takes this subject (status {status})"
        else:
            try:
                answer = json.loads(msg.data)
            except ValueError:
                answer = {"error": {"description": f"unreadable acknowledgement {msg.data[:80]!r}"}}
            error = answer.get("error") if isinstance(answer, dict) else {"description": "unexpected answer"}
            failure = None if not error else f"APIError: {error.get('description', error)}"
        waiting[1][k].set_result(failure)

    async def _listen(self, stop: asyncio.Event) -> None:
        """Keep a LISTEN connection open; reconnect when it drops (polling covers the gap)."""
        url = self._dsn
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
