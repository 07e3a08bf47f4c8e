"""Events that cannot be lost (architecture.md "Events"), proven against the real servers.

The outbox and inbox are the catalog database's own (built by its migrations, NOTIFY trigger
included). Every test has its own event namespace (its own streams, durables and dead letters) and
its own event type ``catalog.t<hex>.happened.v1``, so the counts below only ever see its events;
handler effects go to a table of the test's own, written in the handler's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from conftest import migrate
from gongkai_catalog.models import event_tables
from gongkai_dev.embedded import EmbeddedNats
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import (
    ConsumerRunner,
    Envelope,
    Handler,
    Namespace,
    OutboxRelay,
    emit,
    ensure_stream,
    new_envelope,
)
from gongkai_shared.events.consumer import PermanentError
from gongkai_shared.events.deadletter import DeadLetter, list_dead_letters, replay_dead_letters
from gongkai_shared.events.streams import DEADLETTER
from gongkai_shared.events.tables import outbox_channel
from gongkai_shared.logging import bind_request_id, current_request_id
from gongkai_shared.service import connect_nats
from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

pytestmark = pytest.mark.servers

OUTBOX = event_tables.outbox
INBOX = event_tables.inbox
PRODUCER = "catalog"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class ProcessKilled(Exception):
    """Stands for the relay process dying (after JetStream acknowledged, before the UPDATE)."""


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 20.0) -> float:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds. Returns the seconds waited."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@asynccontextmanager
async def running(*loops: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[asyncio.Event]:
    """Run relay/consumer loops in the background; stop them (and require that they stop) on exit."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop(stop)) for loop in loops]
    try:
        yield stop
    finally:
        stop.set()
        _, stuck = await asyncio.wait(tasks, timeout=15)
        for t in stuck:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert not stuck, f"did not stop when asked: {stuck}"
    for t in tasks:
        if (exc := t.exception()) is not None:
            raise exc


@dataclass(eq=False)
class Recorder:
    """A handler: writes one effect row per call in the handler's transaction, then maybe fails.

    ``fail_times``: how many first calls raise ``error`` (None: every call while ``error`` is set).
    """

    world: World
    name: str = ""  # set by World.handler
    error: Exception | None = None
    fail_times: int | None = None
    model: type[BaseModel] | None = None
    calls: list[float] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)

    async def __call__(self, session: AsyncSession, envelope: Envelope) -> None:
        self.calls.append(time.monotonic())
        self.request_ids.append(current_request_id())
        if self.model is not None:
            self.model.model_validate(envelope.data)  # consumers validate the contract
        await self.world.record_effect(session, self.name, envelope.id)
        if self.error is not None and (self.fail_times is None or len(self.calls) <= self.fail_times):
            raise self.error


@dataclass
class World:
    """One test's namespace, event type, database handles and effects table."""

    suffix: str
    ns: Namespace
    engine: AsyncEngine
    maker: async_sessionmaker[AsyncSession]

    @property
    def effects(self) -> str:
        return f"test_effects_{self.suffix}"

    @property
    def event_type(self) -> str:
        return f"{PRODUCER}.t{self.suffix}.happened.v1"

    @property
    def subject(self) -> str:
        return f"{PRODUCER}.t{self.suffix}.happened"

    @property
    def stream(self) -> str:
        return self.ns.stream(PRODUCER)

    async def record_effect(self, session: AsyncSession, consumer: str, event_id: uuid.UUID) -> None:
        await session.execute(
            text(f"INSERT INTO {self.effects} (consumer, event_id) VALUES (:c, :e)"), {"c": consumer, "e": event_id}
        )

    async def effects_of(self, consumer: str) -> Counter[uuid.UUID]:
        """How many effect rows each event has for ``consumer`` (committed rows only)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(f"SELECT event_id, count(*) FROM {self.effects} WHERE consumer = :c GROUP BY event_id"),
                {"c": consumer},
            )
            return Counter({r[0]: r[1] for r in rows})

    async def emit_events(self, n: int, *, data: dict[str, Any] | None = None) -> list[uuid.UUID]:
        async with self.maker() as session, session.begin():
            envs = [await emit(session, event_tables, self.event_type, data or {"n": i}) for i in range(n)]
        return [e.id for e in envs]

    async def outbox_rows(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(list(ids))))
            return {r.id: r for r in rows}

    async def unpublished(self, ids: Sequence[uuid.UUID] | None = None) -> int:
        q = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None))
        if ids is not None:
            q = q.where(OUTBOX.c.id.in_(list(ids)))
        async with self.engine.connect() as conn:
            return int(await conn.scalar(q) or 0)

    def relay(self, js: JetStreamContext, **kwargs: Any) -> OutboxRelay:
        return OutboxRelay(
            service=PRODUCER, engine=self.engine, tables=event_tables, js=js, namespace=self.ns, **kwargs
        )

    def runner(self, js: JetStreamContext, handlers: Sequence[Handler], **kwargs: Any) -> ConsumerRunner:
        kwargs.setdefault("fetch_timeout", 0.3)
        return ConsumerRunner(
            sessionmaker=self.maker, tables=event_tables, js=js, namespace=self.ns, handlers=handlers, **kwargs
        )

    def handler(self, name: str, recorder: Recorder, **kwargs: Any) -> Handler:
        recorder.name = name
        return Handler(name=name, subject=self.subject, handle=recorder, **kwargs)

    async def stream_events(self, js: JetStreamContext) -> list[tuple[str, str | None]]:
        """(Nats-Msg-Id, envelope id) of every message of this test's subject in its stream."""
        info = await js.stream_info(self.stream)
        out: list[tuple[str, str | None]] = []
        if info.state.messages == 0:
            return out
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(self.stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            if msg.subject != self.ns.subject(self.subject):
                continue  # an event of another test, left in the shared outbox
            try:
                event_id = json.loads(msg.data or b"").get("id")
            except ValueError:
                event_id = None
            out.append(((msg.headers or {}).get("Nats-Msg-Id", ""), event_id))
        return out

    async def inbox_has(self, consumer: str, event_id: uuid.UUID) -> bool:
        async with self.engine.connect() as conn:
            n = await conn.scalar(
                select(func.count())
                .select_from(INBOX)
                .where(INBOX.c.consumer == consumer, INBOX.c.event_id == event_id)
            )
            return n == 1


async def caught_up(js: JetStreamContext, world: World, durable: str) -> bool:
    """The durable consumer got every message of the stream and has none left unacknowledged."""
    info = await js.stream_info(world.stream)
    ci = await js.consumer_info(world.stream, durable)
    return ci.num_pending == 0 and ci.num_ack_pending == 0 and ci.delivered.stream_seq >= info.state.last_seq


async def deliver(runner: ConsumerRunner, handler: Handler, sub: Any, count: int, *, timeout: float = 10.0) -> None:
    """Fetch and process exactly ``count`` messages by hand (no background loop)."""
    done = 0
    deadline = time.monotonic() + timeout
    while done < count:
        try:
            msgs = await sub.fetch(count - done, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise AssertionError(f"only {done} of {count} messages delivered") from None
            continue
        for msg in msgs:
            await runner.process(handler, msg)
            done += 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_url() -> str:
    return migrate("catalog")


@pytest.fixture
async def world(catalog_url: str, unique: str) -> AsyncIterator[World]:
    engine = create_engine(catalog_url, pool_size=5)
    w = World(
        suffix=unique,
        ns=Namespace(f"{os.environ['GK_EVENT_NAMESPACE']}.{unique}"),
        engine=engine,
        maker=make_sessionmaker(engine),
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {w.effects} ("
                " n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " consumer text NOT NULL,"
                " event_id uuid NOT NULL)"
            )
        )
    try:
        yield w
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS {w.effects}"))
        await engine.dispose()


# --------------------------------------------------------------------------------------------
# 1. The event commits (or rolls back) with the state change
# --------------------------------------------------------------------------------------------


async def test_event_commits_and_rolls_back_with_the_state_change(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)

    lost_id: uuid.UUID | None = None
    with pytest.raises(RuntimeError, match="business rule"):
        async with world.maker() as session, session.begin():
            await world.record_effect(session, "state", uuid.uuid4())  # the state change
            lost_id = (await emit(session, event_tables, world.event_type, {"n": 1})).id
            raise RuntimeError("business rule broken after the event was emitted")
    assert lost_id is not None
    async with world.maker() as session, session.begin():
        await world.record_effect(session, "state", uuid.uuid4())
        kept = await emit(session, event_tables, world.event_type, {"n": 2})

    rows = await world.outbox_rows([lost_id, kept.id])
    assert set(rows) == {kept.id}, "a rolled-back event must not reach the outbox"
    assert rows[kept.id].subject == world.subject
    assert rows[kept.id].envelope["type"] == world.event_type
    assert sum((await world.effects_of("state")).values()) == 1

    assert await world.relay(js).drain_once() >= 1
    assert [event_id for _, event_id in await world.stream_events(js)] == [str(kept.id)]
    assert (await world.outbox_rows([kept.id]))[kept.id].published_at is not None
    assert await world.relay(js).drain_once() == 0  # nothing left, nothing published twice
    assert len(await world.stream_events(js)) == 1


# --------------------------------------------------------------------------------------------
# 2. A relay that dies between publish and mark: published again, deduplicated, one effect
# --------------------------------------------------------------------------------------------


async def test_relay_killed_between_publish_and_mark_duplicates_nothing(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    ids = await world.emit_events(5)

    async def die(rows: Sequence[Any]) -> None:
        assert {r.id for r in rows} >= set(ids)
        raise ProcessKilled

    with pytest.raises(ProcessKilled):
        await world.relay(js, after_publish=die).drain_once()
    assert await world.unpublished(ids) == 5, "the mark must roll back with the dead relay"
    first = await world.stream_events(js)
    assert sorted(e for _, e in first) == sorted(map(str, ids)), "JetStream had acknowledged them"
    assert all(msg_id == event_id for msg_id, event_id in first), "Nats-Msg-Id is the event id"

    assert await world.relay(js).drain_once() >= 5  # a fresh relay publishes them all again
    assert await world.unpublished(ids) == 0
    again = await world.stream_events(js)
    assert Counter(e for _, e in again) == Counter(map(str, ids)), "the stream holds each event exactly once"

    recorder = Recorder(world)
    handler = world.handler("effects", recorder)
    runner = world.runner(js, [handler])
    sub = await runner.subscribe(handler)
    await deliver(runner, handler, sub, 5)
    assert await world.effects_of("effects") == Counter(dict.fromkeys(ids, 1))

    # Beyond the duplicate window JetStream no longer recognises the copy: the inbox must.
    raw = await js.get_msg(world.stream, (await js.stream_info(world.stream)).state.first_seq)
    assert json.loads(raw.data or b"")["id"] == str(ids[0])
    await js.publish(world.ns.subject(world.subject), raw.data or b"", headers={"Nats-Msg-Id": f"{ids[0]}:late"})
    assert len(await world.stream_events(js)) == 6
    await deliver(runner, handler, sub, 1)
    assert await world.effects_of("effects") == Counter(dict.fromkeys(ids, 1))
    assert len(recorder.calls) == 5, "the inbox discards the late copy before the handler runs"
    assert await caught_up(js, world, "effects")


async def test_row_that_cannot_be_sent_is_recorded_and_holds_no_publish_slot(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    before = await world.emit_events(2)
    [poison] = await world.emit_events(1, data={"blob": "x" * (nc.max_payload + 1)})
    after = await world.emit_events(1)
    try:
        relay = world.relay(js)
        for _ in range(3):
            assert await relay.drain_once() >= 0  # no exception: the relay records and goes on
        rows = await world.outbox_rows([*before, poison, *after])
        assert all(rows[i].published_at is not None for i in before), "the rows before it are marked"
        assert rows[poison].published_at is None and rows[poison].attempts == 3
        assert "MaxPayload" in (rows[poison].last_error or "")
        assert rows[after[0]].published_at is None, "order: nothing after it goes first"
        assert js.publish_async_pending() == 0, "no publish slot left behind"
        assert Counter(e for _, e in await world.stream_events(js)) == Counter(map(str, before))
    finally:
        # The shared outbox must not keep a row that blocks every later relay of this run.
        async with world.engine.begin() as conn:
            await conn.execute(OUTBOX.delete().where(OUTBOX.c.id.in_([poison, *after])))


# --------------------------------------------------------------------------------------------
# 3. The same event delivered twice has one effect
# --------------------------------------------------------------------------------------------


async def test_same_event_delivered_twice_has_one_effect(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    [event_id] = await world.emit_events(1)
    await world.relay(js).drain_once()

    recorder = Recorder(world)
    handler = world.handler("once", recorder)
    runner = world.runner(js, [handler])
    sub = await runner.subscribe(handler)

    [msg] = await sub.fetch(1, timeout=5)
    # The effect commits, then the acknowledgement goes wrong: the server redelivers.
    msg.ack = msg.nak  # type: ignore[method-assign]
    await runner.process(handler, msg)
    assert await world.effects_of("once") == Counter({event_id: 1})

    [redelivered] = await sub.fetch(1, timeout=5)
    assert redelivered.metadata.num_delivered == 2
    await runner.process(handler, redelivered)
    await runner.process(handler, redelivered)  # and the very same message handed over twice
    assert await world.effects_of("once") == Counter({event_id: 1})
    assert len(recorder.calls) == 1
    assert await world.inbox_has("once", event_id)
    assert await caught_up(js, world, "once")


# --------------------------------------------------------------------------------------------
# 4. Failing handlers: retried with backoff, then dead-lettered, replayed by an operator
# --------------------------------------------------------------------------------------------


async def test_failing_handler_is_retried_with_backoff_until_it_succeeds(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    [event_id] = await world.emit_events(1)
    await world.relay(js).drain_once()

    flaky = Recorder(world, error=RuntimeError("database hiccup"), fail_times=2)
    handler = world.handler("flaky", flaky, max_deliver=3, backoff=[0.1, 0.3])
    async with running(world.runner(js, [handler]).run):
        await eventually(lambda: _has_effects(world, "flaky", 1), what="the third attempt succeeds")
        await eventually(lambda: caught_up(js, world, "flaky"), what="the message is acknowledged")

    assert await world.effects_of("flaky") == Counter({event_id: 1}), "failed attempts leave no effect"
    assert len(flaky.calls) == 3
    gaps = [b - a for a, b in zip(flaky.calls, flaky.calls[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.27, f"redeliveries must wait for the backoff: {gaps}"
    assert await list_dead_letters(js, world.ns) == []


async def test_database_outage_is_waited_out_never_dead_lettered(world: World, nc: nats.NATS) -> None:
    """The consumer's database away (connection refused) is no fault of the event: it is retried past
    max_deliver without a dead letter, and handled exactly once when the database is back."""
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    [event_id] = await world.emit_events(1)
    await world.relay(js).drain_once()

    recorder = Recorder(world)
    handler = world.handler("outage", recorder, max_deliver=2, backoff=[0.1])
    runner = world.runner(js, [handler], outage_pause=0.1, outage_pause_max=0.2)
    away = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere")  # nothing listens
    runner.sessionmaker = make_sessionmaker(away)

    async def deliveries() -> int:
        try:
            info = await js.consumer_info(world.stream, "outage")
        except nats.js.errors.NotFoundError:
            return 0  # the runner has not created its durable consumer yet
        return info.delivered.consumer_seq  # every delivery, redeliveries included

    try:
        async with running(runner.run):
            # Well past max_deliver (2): a plain handler failure would have been dead-lettered by now.
            await eventually(lambda: _at_least(deliveries, 5), what="several attempts during the outage")
            assert await list_dead_letters(js, world.ns) == [], "an outage must not file dead letters"
            assert recorder.calls == [] and await world.effects_of("outage") == Counter()
            runner.sessionmaker = world.maker  # the database is back
            await eventually(lambda: _has_effects(world, "outage", 1), what="handled once the database is back")
            await eventually(lambda: caught_up(js, world, "outage"), what="acknowledged")
    finally:
        await away.dispose()
    assert await world.effects_of("outage") == Counter({event_id: 1})
    assert await list_dead_letters(js, world.ns) == []


async def _at_least(value: Callable[[], Awaitable[int]], n: int) -> bool:
    return await value() >= n


async def _has_effects(world: World, consumer: str, n: int) -> bool:
    return sum((await world.effects_of(consumer)).values()) >= n


async def test_handler_that_keeps_failing_is_dead_lettered_then_replayed(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    [event_id] = await world.emit_events(1)
    await world.relay(js).drain_once()

    broken = Recorder(world, error=RuntimeError("索引服务不可用 index down"))
    good = Recorder(world)
    bad_handler = world.handler("bad", broken, max_deliver=3, backoff=[0.1, 0.2])
    good_handler = world.handler("good", good)

    async def letters() -> list[DeadLetter]:
        return await list_dead_letters(js, world.ns)

    async with running(world.runner(js, [bad_handler, good_handler]).run):
        await eventually(lambda: _count(letters, 1), what="a dead letter")
        [letter] = await letters()
        assert letter.consumer == "bad"
        assert letter.subject == world.subject
        assert letter.event_id == str(event_id)
        assert letter.deliveries == 3
        assert "RuntimeError" in letter.error and "索引服务不可用" in letter.error
        assert Envelope.model_validate_json(letter.data).id == event_id, "the letter carries the original event"
        raw = await js.get_msg(world.ns.stream(DEADLETTER), letter.seq)
        assert raw.subject == world.ns.subject(f"{DEADLETTER}.bad")
        assert len(broken.calls) == 3, "max_deliver bounds the deliveries"
        assert await world.effects_of("bad") == Counter()
        await eventually(lambda: _has_effects(world, "good", 1), what="the other consumer handles it")

        # The operator's view (CLI), as JSON lines.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gongkai_shared.events.deadletter",
            "list",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "GK_EVENT_NAMESPACE": world.ns.prefix},
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        [listed] = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        assert listed["consumer"] == "bad"
        assert listed["subject"] == world.subject
        assert listed["event_id"] == str(event_id)
        assert listed["deliveries"] == 3
        assert "索引服务不可用" in listed["error"]

        # Replayed while the handler is still broken: it fails again and must be filed again
        # (not dropped as a duplicate of the first letter, which would lose the event).
        assert [d.seq for d in await replay_dead_letters(js, world.ns, consumer="bad")] == [letter.seq]
        await eventually(
            lambda: _count(letters, 1, not_seq=letter.seq), what="the replayed event is dead-lettered again"
        )
        assert len(broken.calls) == 6
        [letter] = await letters()

        # Fixed, replayed: handled once; the letter is gone; "good" does not handle it again.
        broken.error = None
        assert [d.seq for d in await replay_dead_letters(js, world.ns)] == [letter.seq]
        await eventually(lambda: _has_effects(world, "bad", 1), what="the replayed event is handled")
        await eventually(lambda: caught_up(js, world, "bad"), what="bad acknowledges")
        await eventually(lambda: caught_up(js, world, "good"), what="good saw the replays too")
        assert await letters() == []

    assert await world.effects_of("bad") == Counter({event_id: 1})
    assert await world.effects_of("good") == Counter({event_id: 1})
    assert len(good.calls) == 1, "the inbox skipped both replays for the consumer that had handled it"
    assert len(broken.calls) == 7
    assert len(await world.stream_events(js)) == 3  # the original and two replays


async def _count(letters: Callable[[], Awaitable[list[DeadLetter]]], n: int, *, not_seq: int | None = None) -> bool:
    found = await letters()
    return len(found) == n and all(d.seq != not_seq for d in found)


class Payload(BaseModel):
    n: int


async def test_permanent_error_and_invalid_payload_are_dead_lettered_without_retries(
    world: World, nc: nats.NATS
) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    # Listing is read-only: before any consumer ran there is no dead-letter stream, and none appears.
    assert await list_dead_letters(js, world.ns) == []
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.stream_info(world.ns.stream(DEADLETTER))
    [event_id] = await world.emit_events(1, data={"n": "not a number"})
    await world.relay(js).drain_once()
    # And a message that is not an envelope at all.
    await js.publish(world.ns.subject(world.subject), b"{not json", headers={"Nats-Msg-Id": f"junk-{world.suffix}"})

    strict = Recorder(world, model=Payload)
    permanent = Recorder(world, error=PermanentError("contract broken"))
    handlers = [
        world.handler("strict", strict, max_deliver=5, backoff=[0.1]),
        world.handler("permanent", permanent, max_deliver=5, backoff=[0.1]),
    ]

    async def letters() -> list[DeadLetter]:
        return await list_dead_letters(js, world.ns)

    async with running(world.runner(js, handlers).run):
        await eventually(lambda: _count(letters, 4), what="four dead letters")
        await eventually(lambda: caught_up(js, world, "strict"), what="strict acknowledged")
        await eventually(lambda: caught_up(js, world, "permanent"), what="permanent acknowledged")

    found = await letters()
    assert all(d.deliveries == 1 for d in found), "no retries for what no retry can fix"
    by = {(d.consumer, d.event_id): d for d in found}
    assert set(by) == {("strict", str(event_id)), ("permanent", str(event_id)), ("strict", None), ("permanent", None)}
    assert by["strict", str(event_id)].error.startswith("ValidationError")
    assert by["permanent", str(event_id)].error == "PermanentError: contract broken"
    assert by["strict", None].error.startswith("invalid envelope")
    assert by["strict", None].data == b"{not json"
    assert len(strict.calls) == 1 and len(permanent.calls) == 1, "the junk never reaches a handler"
    assert await world.effects_of("strict") == Counter() and await world.effects_of("permanent") == Counter()
    assert not await world.inbox_has("strict", event_id), "the inbox row rolls back with the failure"


# --------------------------------------------------------------------------------------------
# 5. NATS stopped and restarted while events keep coming: nothing lost, nothing doubled
# --------------------------------------------------------------------------------------------

TOTAL = 300


async def test_nats_restart_mid_stream_loses_nothing(world: World, tmp_path: Path) -> None:
    # Its own server even when NATS_URL is set: this test stops it.
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), monitor_port=free_port())
    await asyncio.to_thread(server.start)
    relay_nc = consumer_nc = None
    try:
        relay_nc = await connect_nats(server.url, name="test-relay")
        consumer_nc = await connect_nats(server.url, name="test-consumer")
        relay_js, consumer_js = relay_nc.jetstream(), consumer_nc.jetstream()
        await ensure_stream(relay_js, world.ns, PRODUCER)
        relay = world.relay(relay_js, poll_seconds=0.2, publish_timeout=1.0, batch_size=50)
        recorder = Recorder(world)
        handler = world.handler("survivor", recorder)
        # A short ack_wait: deliveries lost with the server come back within the test's deadline.
        runner = world.runner(consumer_js, [handler], ack_wait=3.0)

        written: list[uuid.UUID] = []

        async def writer() -> None:
            i = 0
            while i < TOTAL:
                k = min(1 + i % 3, TOTAL - i)  # small transactions of 1-3 events
                async with world.maker() as session, session.begin():
                    envs = [await emit(session, event_tables, world.event_type, {"n": i + j}) for j in range(k)]
                written.extend(e.id for e in envs)
                i += k
                await asyncio.sleep(0.02)

        async def effects() -> int:
            return sum((await world.effects_of("survivor")).values())

        async with running(relay.run, runner.run):
            writing = asyncio.create_task(writer())
            try:
                await eventually(lambda: _ge(effects, 20), what="events flowing before the outage")
                await asyncio.to_thread(server.stop)
                down_at = len(written)
                await eventually(lambda: _ge(lambda: _len(written), down_at + 60), what="writes while NATS is down")
                backlog = await world.unpublished(written)
                assert backlog >= 60, f"the outbox must accumulate while NATS is down ({backlog})"
                await asyncio.to_thread(server.start)
                await writing
            finally:
                if not writing.done():
                    writing.cancel()
            assert len(written) == TOTAL

            async def all_done() -> bool:
                return await effects() >= TOTAL and await world.unpublished() == 0

            await eventually(all_done, what="one effect per event after the restart", timeout=60)
            await eventually(lambda: caught_up(consumer_js, world, "survivor"), what="no ack pending", timeout=30)

        per_event = await world.effects_of("survivor")
        assert set(per_event) == set(written), "no event missing, no stranger"
        assert [e for e, n in per_event.items() if n != 1] == [], "no effect duplicated"
        assert await world.unpublished(written) == 0
        in_stream = Counter(e for _, e in await world.stream_events(consumer_js))
        assert set(in_stream) == set(map(str, written))
        assert max(in_stream.values()) == 1, "JetStream deduplicated the republished events across the restart"
    finally:
        for client in (relay_nc, consumer_nc):
            if client is not None:
                await client.close()
        await asyncio.to_thread(server.stop)


async def _ge(value: Callable[[], Awaitable[int]], n: int) -> bool:
    return await value() >= n


async def _len(items: list[Any]) -> int:
    return len(items)


# --------------------------------------------------------------------------------------------
# 6. The relay wakes on NOTIFY, not on its poll
# --------------------------------------------------------------------------------------------


async def test_relay_wakes_on_notify_long_before_its_poll(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    relay = world.relay(js, poll_seconds=30)

    async def listening() -> bool:
        async with world.engine.connect() as conn:
            n = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query ILIKE 'LISTEN%' AND query LIKE :channel"
                ),
                {"channel": f"%{outbox_channel(PRODUCER)}%"},
            )
            return bool(n)

    async def published(event_id: uuid.UUID) -> bool:
        return await world.unpublished([event_id]) == 0

    async with running(relay.run):
        await eventually(listening, what="the relay listens", timeout=10)
        await asyncio.sleep(0.3)  # let the wake-up of the listener's own start pass: the relay idles

        [first] = await world.emit_events(1)
        waited = await eventually(lambda: published(first), what="published on NOTIFY", timeout=5)
        assert waited < 5 < relay.poll_seconds

        # An event committed while the relay is busy publishing another batch must not wait for
        # the poll either: its NOTIFY arrives mid-batch.
        late: list[uuid.UUID] = []

        async def commit_during_batch(rows: Sequence[Any]) -> None:
            if not late:
                late.extend(await world.emit_events(1))
                await asyncio.sleep(0.5)  # the notification reaches the listener while we publish

        relay.after_publish = commit_during_batch
        [trigger] = await world.emit_events(1)
        await eventually(lambda: published(trigger), what="the trigger event", timeout=5)
        assert late
        await eventually(lambda: published(late[0]), what="the event committed mid-batch", timeout=5)

    assert Counter(e for _, e in await world.stream_events(js)) == Counter(map(str, [first, trigger, late[0]]))


# --------------------------------------------------------------------------------------------
# 7. The envelope
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "catalog.policy.published",  # no version
        "catalog.policy.published.v",
        "catalog.policy.published.1",
        "catalog.policy.v1",  # no verb
        "Catalog.policy.published.v1",
        "",
    ],
)
def test_event_type_without_version_is_rejected(event_type: str) -> None:
    with pytest.raises(ValidationError):
        new_envelope(event_type, {"n": 1})


def test_envelope_fields() -> None:
    env = new_envelope("catalog.policy.published.v2", Payload(n=3))
    assert env.version == 2
    assert env.subject == "catalog.policy.published"
    assert env.source == "catalog"
    assert env.id.version == 7
    assert env.data == {"n": 3}
    assert env.correlation_id is None  # no request bound
    assert env.occurred_at.tzinfo is not None
    assert Envelope.model_validate_json(env.model_dump_json()) == env


async def test_correlation_id_carries_the_request_id(world: World, nc: nats.NATS) -> None:
    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    request_id = f"req-{world.suffix}"
    bind_request_id(request_id)
    try:
        async with world.maker() as session, session.begin():
            env = await emit(session, event_tables, world.event_type, {"n": 1})
    finally:
        bind_request_id(None)
    assert env.correlation_id == request_id
    assert (await world.outbox_rows([env.id]))[env.id].envelope["correlation_id"] == request_id

    await world.relay(js).drain_once()
    recorder = Recorder(world)
    handler = world.handler("correlated", recorder)
    runner = world.runner(js, [handler])
    await deliver(runner, handler, await runner.subscribe(handler), 1)
    assert recorder.request_ids == [request_id], "the handler runs with the event's request id bound"
    assert current_request_id() is None, "and it is unbound afterwards"


async def test_consumer_asks_again_when_its_pull_requests_are_gone_at_the_server(world: World, nc: nats.NATS) -> None:
    """The worker counts the credits of its open pull requests to know when to ask for more. If the
    server no longer holds what the count says (a request it dropped or expired early), messages would
    wait until the worker's own clock let the request lapse (5 s in production, seen in
    bench/events.py). After one wait without messages the worker forgets its count and asks again."""
    from gongkai_shared.events.consumer import _Puller

    js = nc.jetstream()
    await ensure_stream(js, world.ns, PRODUCER)
    runner = world.runner(js, [])
    sub = await runner.subscribe(world.handler("regain", Recorder(world)))
    puller = _Puller(sub, batch=8, expires=1.0)
    stop = asyncio.Event()
    try:
        # Books that count credits the server does not hold (no request was ever sent).
        puller._open.append([time.monotonic() + 100.0, 1000.0])
        await js.publish(world.ns.subject(world.subject), b'{"late": true}')
        started = time.monotonic()
        msgs: list[Any] = []
        while not msgs and time.monotonic() - started < 5.0:
            with contextlib.suppress(TimeoutError):
                msgs = await puller.take(8, 0.5, stop)
        assert msgs, "the message never came: the worker kept trusting credits the server did not hold"
        assert time.monotonic() - started < 2.0
        for msg in msgs:
            await msg.ack()
    finally:
        await sub.unsubscribe()
