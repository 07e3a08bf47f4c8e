"""Supplementary interpretations (补充解读, issue 5 point 6) against the real PostgreSQL and NATS JetStream,
through the interpretation worker's consumers and sweep.

A public-opinion event about a policy (``sentiment.event.escalated``, or ``sentiment.event.detected`` already
at the level) opens ONE supplementary task per (policy, opinion event) for the policy's drafting department
and its 第一解读人 (谁起草、谁解读, domain.md §4), due in HOURS after the escalation: domain.md §5 and
国办发〔2016〕61号《关于在政务公开工作中进一步做好政务舆情回应的通知》: a response within 48 hours; for
重大/特别重大 opinion a press conference within 24 hours (also 国办发〔2016〕80号). Redeliveries and further
escalations never open a second task (a higher level may bring the deadline forward); an event about a
policy this service does not hold yet waits for it. The supplementary interpretation goes through the
regular workflow; the catalog publishes it as a second 政策解读 item of the policy; figures count a policy
once (its regular interpretation) and supplementary tasks on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest
from conftest import migrate
from gongkai_catalog import service as catalog_service
from gongkai_interpretation import worker
from gongkai_interpretation.app import create_app
from gongkai_interpretation.models import InterpretationTask, PendingSupplementary, TaskEvent, event_tables
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.contracts.catalog import (
    ORGANIZATION_CREATED_V1,
    POLICY_PUBLISHED_V1,
    OrganizationV1,
    PolicyPublishedV1,
)
from gongkai_shared.contracts.sentiment import EVENT_DETECTED_V1, EVENT_ESCALATED_V1, OpinionEventV1
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import Envelope, Namespace, ensure_stream, new_envelope
from gongkai_shared.events.deadletter import list_dead_letters
from gongkai_shared.timeutil import CHINA, china_date_of, china_today
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_catalog_support import client, db, draft, org_with_actors, outbox_events, publish_through_review, settings

__all__ = ["client", "db", "settings"]  # the catalog's fixtures

BODY = (
    "示范市城乡居民临时救助办法\n第一条　为了规范城乡居民临时救助，根据《社会救助暂行办法》，制定本办法。\n"
    "第二条　本办法适用于本市行政区域内遭遇突发困难的城乡居民。\n第三条　临时救助标准为每人每月800元。\n"
    "第四条　本办法自2026年7月1日起施行。"
)
#: The interpretation in the drafter's own words (passes the quality check without an override).
GOOD_TEXT = """一、为什么出台？
群众遇到突发困难时求助渠道不够畅通，依据国家社会救助的相关规定，市里出台了这个办法，目的是让困难群众更快得到帮助。
二、目标任务：力争让符合条件的困难群众都能及时得到救助。
三、主要内容：办法主要包括救助对象、救助标准、办理程序三个方面。
四、哪些人可以申请？本市城乡居民遇到火灾、车祸、大病等突发状况的，都在适用范围内。
五、标准：生活补助每人每月800元，街道审核3个工作日内完成。
六、注意事项：弄虚作假骗取救助的，要退回资金。
七、关键词：“临时救助”是指家里突然遇到难处时政府给的应急帮扶。
八、惠民举措：困难家庭还能得到免费的心理疏导服务。
九、网传“外地户口不能申请”的说法不准确：没有本市户口的务工人员也可以就近求助。"""

ESCALATED = "sentiment.event.escalated"
CONSUMERS = ("interpretation-opinion-escalated", "interpretation-opinion-detected")


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


@dataclass
class Bus:
    """The interpretation worker running against this run's JetStream namespace, its database and its API."""

    js: Any
    ns: Namespace
    maker: async_sessionmaker[AsyncSession]
    api: httpx.AsyncClient
    signer: TokenSigner

    async def send(self, envelope: Envelope, *, msg_id: str | None = None) -> Envelope:
        await self.js.publish(
            self.ns.subject(envelope.subject),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or str(envelope.id)},
        )
        return envelope

    async def processed(self, *envelopes: Envelope) -> None:
        """Wait until the worker's consumers recorded every envelope in their inbox (handled and committed)."""
        inbox = event_tables.inbox
        wanted = {e.id for e in envelopes}

        async def done() -> bool:
            async with self.maker() as session:
                seen = set((await session.scalars(select(inbox.c.event_id).where(inbox.c.event_id.in_(wanted)))).all())
            return seen == wanted

        await eventually(done, what=f"the worker handling {len(wanted)} events")

    async def tasks(self, policy_id: uuid.UUID, **where: Any) -> list[InterpretationTask]:
        t = InterpretationTask
        async with self.maker() as session:
            stmt = select(t).where(t.policy_item_id == policy_id, *(getattr(t, k) == v for k, v in where.items()))
            return list((await session.scalars(stmt.order_by(t.created_at))).all())

    async def outbox(self, event_type: str, **match: str) -> list[dict]:
        o = event_tables.outbox
        async with self.maker() as session:
            rows = (await session.execute(select(o.c.envelope).where(o.c.envelope["type"].astext == event_type))).all()
        return [r[0]["data"] for r in rows if all(r[0]["data"].get(k) == v for k, v in match.items())]

    def auth(self, *roles: Role, department: uuid.UUID | None = None, name: str = "测试用户") -> dict[str, str]:
        principal = Principal(
            subject=f"u-{uuid.uuid4().hex[:6]}", name=name, roles=frozenset(roles), department_id=department
        )
        return {"Authorization": f"Bearer {self.signer.issue(principal)}"}


@pytest.fixture(scope="module")
async def bus() -> AsyncIterator[Bus]:
    url = await asyncio.to_thread(migrate, "interpretation")
    # The sweep runs every second, so an overdue supplementary task is announced while the test waits.
    settings_ = InterpretationSettings(consumer_backoff_seconds=[0.2], deadline_sweep_seconds=1)
    ns = Namespace(os.environ["GK_EVENT_NAMESPACE"])
    nc = await nats.connect(os.environ["NATS_URL"])
    js = nc.jetstream()
    for service in ("catalog", "sentiment", "interpretation"):
        await ensure_stream(js, ns, service)
    engine = create_engine(url)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.main(settings_, stop))
    app = create_app(InterpretationSettings())
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://interpretation.test") as api:
                yield Bus(js, ns, make_sessionmaker(engine), api, TokenSigner(os.environ["GK_JWT_SECRET"]))
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=15)
        await nc.close()
        await engine.dispose()


def policy_event(org: uuid.UUID, item_id: uuid.UUID | None = None) -> PolicyPublishedV1:
    return PolicyPublishedV1(
        item_id=item_id or uuid.uuid4(),
        title="示范市城乡居民临时救助办法",
        document_number=f"示范民发〔2026〕{uuid.uuid4().int % 1000}号",
        kind="normative_document",
        organization_id=org,
        body=BODY,
        published_on=china_today(),
    )


def opinion(
    policy_id: uuid.UUID | None, *, level: int, event_id: uuid.UUID | None = None, previous: int | None = None
) -> OpinionEventV1:
    now = dt.datetime.now(dt.UTC)
    return OpinionEventV1(
        event_id=event_id or uuid.uuid4(),
        title="网传临时救助新规“外地户口一律不能申请”",
        topic="社会救助",
        keywords=["临时救助", "外地户口", "新规"],
        policy_item_id=policy_id,
        post_count=40,
        repost_count=120,
        channel_counts={"weibo": 30, "hotline": 10},
        heat=[20.0, 40.0, 60.0, 85.0][level],
        trend="rising",
        risk_level=level,
        risk_level_label=["一般", "较大", "重大", "特别重大"][level],
        previous_risk_level=previous,
        must_respond=["misread_policy"],
        negative_share=0.7,
        first_seen_at=now - dt.timedelta(hours=3),
        last_seen_at=now,
    )


def escalated(event: OpinionEventV1, *, at: dt.datetime | None = None, kind: str = EVENT_ESCALATED_V1) -> Envelope:
    envelope = new_envelope(kind, event)
    return envelope if at is None else envelope.model_copy(update={"occurred_at": at})


async def published_policy(bus: Bus, *, head: str | None = "王局长") -> PolicyPublishedV1:
    """A policy the interpretation service holds (its regular task exists), with its department's head."""
    org = uuid.uuid4()
    sent = []
    if head:
        sent.append(
            await bus.send(
                new_envelope(
                    ORGANIZATION_CREATED_V1,
                    OrganizationV1(
                        organization_id=org,
                        name="示范市民政局",
                        type="department",
                        type_label="部门",
                        head_name=head,
                        head_title="局长",
                    ),
                )
            )
        )
    policy = policy_event(org)
    sent.append(await bus.send(new_envelope(POLICY_PUBLISHED_V1, policy)))
    await bus.processed(*sent)
    return policy


# --------------------------------------------------------------------------------------------
# One task per (policy, opinion event), due in hours
# --------------------------------------------------------------------------------------------


async def test_escalated_opinion_event_opens_one_supplementary_task_due_in_48_or_24_hours(bus: Bus) -> None:
    """61号: 48 hours for a 较大 event; 24 hours for 重大 (press conference within 24 hours, 61号/80号)."""
    created = await bus.js.subscribe(
        bus.ns.subject("interpretation.task.created"), stream=bus.ns.stream("interpretation")
    )
    try:
        policy = await published_policy(bus)
        larger = await bus.send(escalated(opinion(policy.item_id, level=1, previous=0)))
        major = await bus.send(escalated(opinion(policy.item_id, level=2, previous=1)))
        await bus.processed(larger, major)

        [regular] = await bus.tasks(policy.item_id, kind="regular")
        supplementary = await bus.tasks(policy.item_id, kind="supplementary")
        assert len(supplementary) == 2
        by_event = {str(t.opinion_event_id): t for t in supplementary}
        a, b = by_event[larger.data["event_id"]], by_event[major.data["event_id"]]
        assert a.due_at == larger.occurred_at + dt.timedelta(hours=48) and a.due_hours == 48
        assert b.due_at == major.occurred_at + dt.timedelta(hours=24) and b.due_hours == 24
        assert a.due_on == china_date_of(a.due_at) and a.due_working_days is None
        for task in (a, b):
            # The policy's drafting department and its 第一解读人, like the regular task (谁起草、谁解读).
            assert task.organization_id == regular.organization_id == policy.organization_id
            assert (task.head_name, task.head_title) == ("王局长", "局长")
            assert task.status.value == "assigned" and task.policy_body == BODY
            # What was misread, for the drafter.
            assert task.opinion_event is not None
            assert task.opinion_event["title"] == "网传临时救助新规“外地户口一律不能申请”"
            assert task.opinion_event["keywords"] == ["临时救助", "外地户口", "新规"]
            assert "外地户口" in task.opinion_event["summary"] and "重大政策误读误解" in task.opinion_event["summary"]
        assert b.opinion_event is not None and b.opinion_event["risk_level_label"] == "重大"

        # Announced through NATS with its kind; old consumers still find every v1 field.
        announced: dict[str, dict] = {}
        while set(announced) != {str(a.id), str(b.id)}:
            data = json.loads((await created.next_msg(timeout=15)).data)["data"]
            if data["policy_item_id"] == str(policy.item_id) and data["kind"] == "supplementary":
                announced[data["task_id"]] = data
        first = announced[str(a.id)]
        assert first["kind_label"] == "补充解读" and first["opinion_event_id"] == larger.data["event_id"]
        assert dt.datetime.fromisoformat(first["due_at"]) == a.due_at and first["head_name"] == "王局长"
        assert first["due_on"] == a.due_on.isoformat() and first["published_on"] == policy.published_on.isoformat()
    finally:
        await created.unsubscribe()


async def test_redelivery_and_further_escalations_never_open_a_second_task(bus: Bus) -> None:
    """Idempotent under redelivery (inbox) and under repeated escalations (one task per (policy, event)); a
    higher level brings the deadline forward when its own 24 hours end sooner (61号), never later."""
    policy = await published_policy(bus)
    event_id = uuid.uuid4()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = await bus.send(escalated(opinion(policy.item_id, level=1, event_id=event_id, previous=0), at=t0))
    await bus.processed(first)
    # The same message again (a redelivery JetStream does not deduplicate: another message id).
    await bus.send(first, msg_id=f"again-{uuid.uuid4()}")
    # 重大 an hour later: 24 hours from then end before the first 48 hours.
    to_major = await bus.send(
        escalated(opinion(policy.item_id, level=2, event_id=event_id, previous=1), at=t0 + dt.timedelta(hours=1))
    )
    # The same event as "detected" at 重大, and 特别重大 30 hours in (its 24 hours end later: no change).
    detected = await bus.send(
        escalated(
            opinion(policy.item_id, level=2, event_id=event_id), at=t0 + dt.timedelta(hours=2), kind=EVENT_DETECTED_V1
        )
    )
    to_highest = await bus.send(
        escalated(opinion(policy.item_id, level=3, event_id=event_id, previous=2), at=t0 + dt.timedelta(hours=30))
    )
    # Handled in order by the escalated consumer: once this one is in, the redelivery was seen before it.
    sentinel = await bus.send(escalated(opinion(policy.item_id, level=1)))
    await bus.processed(to_major, detected, to_highest, sentinel)

    [task] = await bus.tasks(policy.item_id, opinion_event_id=event_id)
    assert task.due_at == t0 + dt.timedelta(hours=25) and task.due_hours == 24
    assert task.opinion_event is not None and task.opinion_event["risk_level_label"] == "特别重大"
    assert task.opinion_event["escalated_at"] == t0.isoformat()  # first escalation
    assert len(await bus.tasks(policy.item_id, kind="regular")) == 1
    assert len(await bus.outbox("interpretation.task.created.v1", opinion_event_id=str(event_id))) == 1
    async with bus.maker() as session:
        history = (
            await session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.at))
        ).all()
    # The escalated and detected consumers run side by side: the 重大 "detected" may come before or after the
    # 重大 escalation (two or three "escalated" entries), but the deadline ends at the earliest 24 hours.
    actions = [h.action for h in history]
    assert actions[0] == "assigned" and set(actions[1:]) == {"escalated"} and 3 <= len(actions) <= 4
    final = (t0 + dt.timedelta(hours=25)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    assert any(f"提前至{final}" in (h.opinion or "") for h in history)
    assert any("舆情升级为特别重大" in (h.opinion or "") for h in history)
    for consumer in CONSUMERS:
        assert await list_dead_letters(bus.js, bus.ns, consumer=consumer) == []


# --------------------------------------------------------------------------------------------
# An event about a policy not here (yet), without a policy, or below the level
# --------------------------------------------------------------------------------------------


async def test_an_event_about_a_policy_not_here_yet_waits_and_opens_its_task_when_the_policy_arrives(
    bus: Bus,
) -> None:
    """Acknowledged, not dead-lettered: kept until catalog.policy.published arrives (its own stream, possibly
    later, or replayed from the dead letters); the deadline still counts from the escalation. Events without a
    policy, below 较大, or older than ``supplementary_max_age_hours`` (7 days) are acknowledged and open nothing."""
    org = uuid.uuid4()
    policy = policy_event(org)
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    early = await bus.send(escalated(opinion(policy.item_id, level=2, previous=1), at=two_hours_ago))
    no_policy = await bus.send(escalated(opinion(None, level=3, previous=2)))
    too_small = await bus.send(escalated(opinion(policy.item_id, level=0), kind=EVENT_DETECTED_V1))
    # Eight days old when it arrives (history replayed to a new consumer): its 24 hours are long past.
    stale = await bus.send(
        escalated(opinion(policy.item_id, level=2, previous=1), at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    )
    await bus.processed(early, no_policy, too_small, stale)
    assert await bus.tasks(policy.item_id) == []
    async with bus.maker() as session:
        pending = await session.get(PendingSupplementary, uuid.UUID(early.data["event_id"]))
        assert pending is not None and pending.policy_item_id == policy.item_id
        others = [uuid.UUID(e.data["event_id"]) for e in (no_policy, too_small, stale)]
        waiting_for_nothing = await session.scalar(
            select(func.count())
            .select_from(PendingSupplementary)
            .where(PendingSupplementary.opinion_event_id.in_(others))
        )
    assert waiting_for_nothing == 0  # nothing to interpret: acknowledged and forgotten
    for consumer in CONSUMERS:
        assert await list_dead_letters(bus.js, bus.ns, consumer=consumer) == []

    arrived = await bus.send(new_envelope(POLICY_PUBLISHED_V1, policy))
    await bus.processed(arrived)
    [regular] = await bus.tasks(policy.item_id, kind="regular")
    [task] = await bus.tasks(policy.item_id, kind="supplementary")  # not for the stale or the 一般 event
    assert str(task.opinion_event_id) == early.data["event_id"]
    assert task.due_at == two_hours_ago + dt.timedelta(hours=24)  # 重大: 24 hours from the escalation
    assert regular.organization_id == task.organization_id == org
    async with bus.maker() as session:
        assert await session.get(PendingSupplementary, uuid.UUID(early.data["event_id"])) is None
    [announced] = await bus.outbox("interpretation.task.created.v1", opinion_event_id=early.data["event_id"])
    assert announced["kind"] == "supplementary"


# --------------------------------------------------------------------------------------------
# Sweeps by the hour
# --------------------------------------------------------------------------------------------


async def test_worker_sweep_announces_due_soon_and_overdue_supplementary_tasks_by_the_hour(bus: Bus) -> None:
    """An escalation 49 hours old (较大: 48 hours, 61号) is overdue; one 44 hours old is due within the next 6
    hours (``supplementary_due_soon_hours``). Each is announced once, with its hour deadline."""
    overdue_sub = await bus.js.subscribe(
        bus.ns.subject("interpretation.task.overdue"), stream=bus.ns.stream("interpretation")
    )
    try:
        policy = await published_policy(bus)
        now = dt.datetime.now(dt.UTC)
        late = await bus.send(escalated(opinion(policy.item_id, level=1), at=now - dt.timedelta(hours=49)))
        soon = await bus.send(escalated(opinion(policy.item_id, level=1), at=now - dt.timedelta(hours=44)))
        await bus.processed(late, soon)
        [late_task] = await bus.tasks(policy.item_id, opinion_event_id=uuid.UUID(late.data["event_id"]))
        [soon_task] = await bus.tasks(policy.item_id, opinion_event_id=uuid.UUID(soon.data["event_id"]))

        data: dict = {}
        while data.get("task_id") != str(late_task.id):
            data = json.loads((await overdue_sub.next_msg(timeout=20)).data)["data"]
        assert data["kind"] == "supplementary" and data["opinion_event_id"] == late.data["event_id"]
        assert dt.datetime.fromisoformat(data["due_at"]) == late_task.due_at and data["status"] == "assigned"

        async def due_soon_announced() -> bool:
            return bool(await bus.outbox("interpretation.task.due_soon.v1", task_id=str(soon_task.id)))

        await eventually(due_soon_announced, what="due soon of the task due in 4 hours")
        await asyncio.sleep(2.5)  # two more sweeps
        assert len(await bus.outbox("interpretation.task.overdue.v1", task_id=str(late_task.id))) == 1
        assert len(await bus.outbox("interpretation.task.due_soon.v1", task_id=str(soon_task.id))) == 1
        assert await bus.outbox("interpretation.task.overdue.v1", task_id=str(soon_task.id)) == []
        # The regular task of the policy is due in working days and is neither.
        [regular] = await bus.tasks(policy.item_id, kind="regular")
        assert await bus.outbox("interpretation.task.overdue.v1", task_id=str(regular.id)) == []
    finally:
        await overdue_sub.unsubscribe()


# --------------------------------------------------------------------------------------------
# Workflow to publication, the catalog's second 政策解读 item, the API and the figures
# --------------------------------------------------------------------------------------------


async def _write_and_publish(bus: Bus, task_id: str, org: uuid.UUID, title: str) -> dict:
    staff = bus.auth(Role.staff, department=org, name="起草人")
    reviewer = bus.auth(Role.reviewer, department=org, name="审核人")
    content = {
        "title": title,
        "text": GOOD_TEXT,
        "forms": [{"form": "graphic", "title": "一图读懂", "url": "https://example.gov.cn/tujie/2.html"}],
        "qa_pairs": [{"question": "外地户口能申请临时救助吗？", "answer": "可以，在经常居住地的街道直接申请。"}],
    }
    resp = await bus.api.put(f"/tasks/{task_id}/content", json=content, headers=staff)
    assert resp.status_code == 200 and resp.json()["status"] == "drafting", resp.text
    resp = await bus.api.post(f"/tasks/{task_id}/submit", json={"opinion": "请审核"}, headers=staff)
    assert resp.status_code == 200 and resp.json()["status"] == "review", resp.text
    resp = await bus.api.post(f"/tasks/{task_id}/publish", json={"opinion": "同意发布"}, headers=reviewer)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "published"
    return resp.json()


async def test_supplementary_interpretation_is_published_through_the_workflow_and_the_catalog_links_both(
    bus: Bus, client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """A policy published in the catalog reaches the worker; an opinion event misreads it; its regular and its
    supplementary interpretation are both published (same workflow), and the catalog publishes two 政策解读
    items linked both ways with the policy (双向关联, domain.md §4). Figures count the policy once."""
    org, actors = await org_with_actors(client, head_name="李局长", head_title="局长")
    policy = await publish_through_review(client, await draft(client, org, actors.drafter, body=BODY), actors)
    from_catalog = [
        Envelope.model_validate(e)
        for e in (
            await outbox_events(db, "catalog.organization.created.v1", organization_id=org["id"])
            + await outbox_events(db, "catalog.policy.published.v1", item_id=policy["id"])
        )
    ]
    assert len(from_catalog) == 2
    for envelope in from_catalog:
        await bus.send(envelope)
    await bus.processed(*from_catalog)
    policy_id, org_id = uuid.UUID(policy["id"]), uuid.UUID(org["id"])
    event = await bus.send(escalated(opinion(policy_id, level=2, previous=1)))
    await bus.processed(event)

    staff = bus.auth(Role.staff, department=org_id)
    # The API: kind and the opinion event on the task; filter by kind; a wrong kind names the query field.
    listed = await bus.api.get("/tasks", params={"policy_item_id": policy["id"]}, headers=staff)
    assert sorted(t["kind"] for t in listed.json()["items"]) == ["regular", "supplementary"]
    [supplementary] = (
        await bus.api.get("/tasks", params={"policy_item_id": policy["id"], "kind": "supplementary"}, headers=staff)
    ).json()["items"]
    assert supplementary["kind_label"] == "补充解读" and supplementary["head_name"] == "李局长"
    assert supplementary["opinion_event_id"] == event.data["event_id"]
    assert supplementary["opinion_event"]["keywords"] == ["临时救助", "外地户口", "新规"]
    assert supplementary["due_hours"] == 24 and supplementary["due_working_days"] is None
    [regular] = (
        await bus.api.get("/tasks", params={"policy_item_id": policy["id"], "kind": "regular"}, headers=staff)
    ).json()["items"]
    assert regular["kind_label"] == "政策解读" and regular["opinion_event"] is None and regular["due_at"] is None
    got = (await bus.api.get(f"/tasks/{supplementary['id']}", headers=staff)).json()
    assert got["kind"] == "supplementary" and got["opinion_event"]["title"] == supplementary["opinion_event"]["title"]
    bad = await bus.api.get("/tasks", params={"kind": "urgent"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.kind"

    await _write_and_publish(bus, regular["id"], org_id, "一图读懂临时救助办法")
    await _write_and_publish(bus, supplementary["id"], org_id, "关于“外地户口不能申请临时救助”的补充解读")
    published = await bus.outbox("interpretation.interpretation.published.v1", policy_item_id=policy["id"])
    by_kind = {p["kind"]: p for p in published}
    assert set(by_kind) == {"regular", "supplementary"}
    assert by_kind["supplementary"]["opinion_event_id"] == event.data["event_id"]
    assert by_kind["supplementary"]["on_time"] is True  # well within its 24 hours
    assert by_kind["supplementary"]["interpretation_id"] != by_kind["regular"]["interpretation_id"]

    # The catalog's consumer accepts both: two 政策解读 items, each linked both ways with the policy.
    for data in published:
        async with db() as session, session.begin():
            await catalog_service.on_interpretation_published(
                session, new_envelope("interpretation.interpretation.published.v1", data)
            )
    links = (await client.get(f"/items/{policy['id']}")).json()["links"]
    assert sorted(link["relation"] for link in links) == ["interpreted_by", "interpreted_by"]
    titles, summaries = set(), {}
    for link in links:
        item = (await client.get(f"/items/{link['item_id']}")).json()
        assert item["status"] == "published" and item["kind"] == "interpretation"
        assert [(x["relation"], x["item_id"]) for x in item["links"]] == [("interprets", policy["id"])]
        titles.add(item["title"])
        summaries[item["title"]] = item["summary"]
    assert titles == {"一图读懂临时救助办法", "关于“外地户口不能申请临时救助”的补充解读"}
    # The catalog says which one answers public concern (国办发〔2016〕61号).
    assert summaries["关于“外地户口不能申请临时救助”的补充解读"].endswith("的补充解读（回应社会关切）")
    assert summaries["一图读懂临时救助办法"].endswith("的解读")

    # Figures: the policy is interpreted once (its regular interpretation); the supplementary one on its own.
    today = china_today().isoformat()
    figures = await bus.api.get(
        "/figures", params={"start": today, "end": today, "organization_id": org["id"]}, headers=staff
    )
    assert figures.status_code == 200, figures.text
    [row] = figures.json()["rows"]
    assert (row["policies"], row["interpreted"], row["on_time"]) == (1, 1, 1)
    [extra] = figures.json()["supplementary"]["rows"]
    assert (extra["opened"], extra["published"], extra["on_time"], extra["on_time_rate"]) == (1, 1, 1, 1.0)
