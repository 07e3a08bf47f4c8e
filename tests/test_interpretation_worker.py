"""The interpretation worker against the real NATS JetStream and PostgreSQL: a policy published by the
catalog yields its task within seconds and ``interpretation.task.created`` is relayed; a policy event
without text is dead-lettered with its reason, never silently dropped (issue 5, "Bad input")."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import nats
from conftest import migrate
from gongkai_interpretation import worker
from gongkai_interpretation.models import InterpretationTask
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_shared.contracts.catalog import POLICY_PUBLISHED_V1, PolicyPublishedV1
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import Namespace, ensure_stream, new_envelope
from gongkai_shared.events.deadletter import list_dead_letters
from sqlalchemy import select

BODY = "第一条　为了规范城乡居民临时救助，根据《社会救助暂行办法》，制定本办法。\n第二条　本办法自2026年7月1日起施行。"


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_policy_through_nats_makes_a_task_and_a_policy_without_text_is_dead_lettered(
    nc: nats.NATS, namespace: str
) -> None:
    url = await asyncio.to_thread(migrate, "interpretation")
    settings = InterpretationSettings(consumer_backoff_seconds=[0.2], deadline_sweep_seconds=3600)
    ns = Namespace(namespace)
    js = nc.jetstream()
    await ensure_stream(js, ns, "catalog")
    await ensure_stream(js, ns, "interpretation")
    created = await js.subscribe(ns.subject("interpretation.task.created"), stream=ns.stream("interpretation"))
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.main(settings, stop))
    try:
        good = PolicyPublishedV1(
            item_id=uuid.uuid4(),
            title="示范市临时救助办法",
            kind="normative_document",
            organization_id=uuid.uuid4(),
            body=BODY,
            published_on=dt.date(2026, 4, 30),
        )
        empty = good.model_copy(update={"item_id": uuid.uuid4(), "body": ""})
        for policy in (empty, good):
            envelope = new_envelope(POLICY_PUBLISHED_V1, policy)
            await js.publish(
                ns.subject(envelope.subject),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )

        async def task_exists() -> bool:
            async with maker() as session:
                return (
                    await session.scalar(
                        select(InterpretationTask).where(InterpretationTask.policy_item_id == good.item_id)
                    )
                    is not None
                )

        await eventually(task_exists, what="the interpretation task")
        # Other tests of this run may have left task.created rows in the outbox: the relay sends them too.
        announced: dict = {}
        while announced.get("data", {}).get("policy_item_id") != str(good.item_id):
            announced = json.loads((await created.next_msg(timeout=15)).data)
        assert announced["data"]["due_on"] == "2026-05-08"  # 3 working days after, 劳动节 skipped

        async def dead_lettered() -> bool:
            letters = await list_dead_letters(js, ns, consumer="interpretation-policy-published")
            return any(json.loads(x.data)["data"]["item_id"] == str(empty.item_id) for x in letters)

        await eventually(dead_lettered, what="the dead letter of the policy without text")
        [letter] = [
            x
            for x in await list_dead_letters(js, ns, consumer="interpretation-policy-published")
            if json.loads(x.data)["data"]["item_id"] == str(empty.item_id)
        ]
        assert "PermanentError" in letter.error and "body" in letter.error
        assert letter.deliveries == 1, "a permanent error is not retried"
        async with maker() as session:
            none = await session.scalar(
                select(InterpretationTask).where(InterpretationTask.policy_item_id == empty.item_id)
            )
        assert none is None
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=15)
        await created.unsubscribe()
        await engine.dispose()
