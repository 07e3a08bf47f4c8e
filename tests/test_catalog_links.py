"""The catalog wired together (issue 3 points 8-10; issue 5 point 6), on the real catalog app and database.

- Search follows every change of an item: the search row is written in the transaction of the change, so
  a draft is found by its department's staff only (条例 art. 17 先审查后公开) and, once published, by the
  public (条例 art. 24 检索) and in its organization's Atom feed.
- A published interpretation (``interpretation.interpretation.published``) becomes a published 政策解读 item
  linked both ways with its policy (双向关联, domain.md §4), with its own 索引号 and the history entry
  "由政策解读系统发布"; a redelivered event publishes nothing twice; an interpretation of a policy the catalog
  does not hold is dead-lettered with the reason; one that leaks an ID number waits for a reviewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from gongkai_catalog import service, worker
from gongkai_catalog.models import Item, ItemLink
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.auth import Role
from gongkai_shared.contracts.catalog import ITEM_PUBLISHED_V1
from gongkai_shared.contracts.interpretation import (
    INTERPRETATION_PUBLISHED_V1,
    InterpretationFormV1,
    InterpretationPublishedV1,
    QAPairV1,
)
from gongkai_shared.contracts.sentiment import RESPONSE_PUBLISHED_V1, ResponsePublishedV1
from gongkai_shared.events import Envelope, Namespace, ensure_stream, new_envelope
from gongkai_shared.events.consumer import PermanentError
from gongkai_shared.events.deadletter import list_dead_letters
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_catalog_support import (
    Actors,
    client,
    db,
    draft,
    org_with_actors,
    outbox_events,
    publish_through_review,
    resident_id,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures

ATOM = "{http://www.w3.org/2005/Atom}"


def marker() -> str:
    """A word no other test's item holds (letters and digits stay one search token)."""
    return "gk" + uuid.uuid4().hex[:10]


async def found(client: httpx.AsyncClient, q: str, headers: dict[str, str] | None = None, **params: Any) -> list[dict]:
    resp = await client.get("/search", params={"q": q, "limit": 50, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


async def feed_ids(client: httpx.AsyncClient, organization: str) -> list[str]:
    resp = await client.get("/feeds/atom", params={"organization": organization})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(resp.content)
    return [e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")]


# --------------------------------------------------------------------------------------------
# Search follows every change
# --------------------------------------------------------------------------------------------


async def test_a_draft_is_found_by_its_department_only_and_by_everyone_once_published(
    client: httpx.AsyncClient,
) -> None:
    """条例 art. 17 先审查后公开 and art. 24 检索: drafts are searchable by their department's staff, not by the
    public or another department; after publication the public finds the item and its organization's feed
    lists it. Every step (edit, attachment, review, publication, repeal) changes what search shows."""
    org, actors = await org_with_actors(client)
    other_staff = token({Role.staff}, uuid.uuid4())
    first, second, in_attachment = marker(), marker(), marker()
    item = await draft(client, org, actors.drafter, title=f"示范市住房保障办法 {first}")

    mine = await found(client, first, actors.drafter)
    assert [(h["id"], h["status"]) for h in mine] == [(item["id"], "draft")]
    assert await found(client, first) == []  # the public
    assert await found(client, first, other_staff) == []  # another department

    # An edit replaces the indexed text.
    edited = await client.patch(
        f"/items/{item['id']}", json={"title": f"示范市住房保障办法 {second}"}, headers=actors.drafter
    )
    assert edited.status_code == 200, edited.text
    assert [h["id"] for h in await found(client, second, actors.drafter)] == [item["id"]]
    assert await found(client, first, actors.drafter) == []

    # A text attachment is searchable while attached, and no longer once removed.
    added = await client.post(
        f"/items/{item['id']}/attachments",
        params={"filename": "说明.txt"},
        content=f"附件说明：{in_attachment} 保障房申请条件。".encode(),
        headers={**actors.drafter, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert added.status_code == 201, added.text
    assert [h["id"] for h in await found(client, in_attachment, actors.drafter)] == [item["id"]]
    removed = await client.delete(f"/items/{item['id']}/attachments/{added.json()['id']}", headers=actors.drafter)
    assert removed.status_code == 204
    assert await found(client, in_attachment, actors.drafter) == []

    # Review steps show in the staff's search; the public still sees nothing.
    assert (await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)).status_code == 200
    assert [h["status"] for h in await found(client, second, actors.drafter)] == ["in_review"]
    for _ in range(4):
        assert (await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)).status_code == 200
    assert [h["status"] for h in await found(client, second, actors.drafter)] == ["approved"]
    assert await found(client, second) == []
    assert f"urn:uuid:{item['id']}" not in await feed_ids(client, org["id"])

    published = await client.post(f"/items/{item['id']}/publish", headers=actors.drafter)
    assert published.status_code == 200, published.text
    public = await found(client, second)
    assert [(h["id"], h["status"], h["published_on"]) for h in public] == [
        (item["id"], "published", china_today().isoformat())
    ]
    assert f"urn:uuid:{item['id']}" in await feed_ids(client, org["id"])
    assert [h["id"] for h in await found(client, second, year=china_today().year)] == [item["id"]]

    # A repeal (废止) shows in the validity filter and facet.
    repealed = await client.post(
        f"/items/{item['id']}/repeal",
        json={"repealed_on": china_today().isoformat(), "reason": "已被新政策取代"},
        headers=actors.reviewer,
    )
    assert repealed.status_code == 200, repealed.text
    assert [h["id"] for h in await found(client, second, validity="repealed")] == [item["id"]]
    assert await found(client, second, validity="effective") == []
    facets = (await client.get("/search", params={"q": second})).json()["facets"]
    assert [(f["value"], f["count"]) for f in facets["validity"]] == [("repealed", 1)]


async def test_supersede_and_expiry_change_the_old_versions_search_row(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """立、改、废: a revision makes its predecessor 失效 in search at once; an end date passing (expiry sweep) too."""
    org, actors = await org_with_actors(client)
    word = marker()
    old = await publish_through_review(client, await draft(client, org, actors.drafter, body=f"旧版 {word}"), actors)
    new = await draft(client, org, actors.drafter, body=f"新版 {word}", supersedes_id=old["id"])
    await publish_through_review(client, new, actors)
    validity = {h["id"]: h["validity"] for h in await found(client, word)}
    assert validity == {old["id"]: "expired", new["id"]: "effective"}

    ending = marker()
    yesterday = china_today() - dt.timedelta(days=1)
    limited = await publish_through_review(
        client,
        await draft(client, org, actors.drafter, body=f"阶段性措施 {ending}", abolish_on=yesterday.isoformat()),
        actors,
    )
    assert [h["validity"] for h in await found(client, ending)] == ["effective"]
    async with db() as session, session.begin():
        await service.expiry_sweep(session)
    assert [(h["id"], h["validity"]) for h in await found(client, ending)] == [(limited["id"], "expired")]


# --------------------------------------------------------------------------------------------
# 政策解读 from the interpretation service
# --------------------------------------------------------------------------------------------


def interpretation_event(policy: dict[str, Any], **overrides: Any) -> InterpretationPublishedV1:
    values: dict[str, Any] = {
        "interpretation_id": uuid.uuid4(),
        "task_id": uuid.uuid4(),
        "policy_item_id": uuid.UUID(policy["id"]),
        "policy_title": policy["title"],
        "policy_document_number": policy.get("document_number"),
        "organization_id": uuid.UUID(policy["organization_id"]),
        "head_name": "王局长",
        "title": f"一图读懂《{policy['title']}》",
        "text": "为什么要出台这一办法？为了回应群众对政府信息公开的期待，明确公开的范围、方式和时限。",
        "forms": [
            InterpretationFormV1(
                form="graphic", form_label="图解", title="一图读懂", url="https://example.gov.cn/tujie/1.html"
            )
        ],
        "qa_pairs": [QAPairV1(question="办法何时施行？", answer="自发布之日起施行。")],
        "published_on": china_today(),
        "due_on": china_today(),
        "on_time": True,
        "quality_score": 82,
    }
    values.update(overrides)
    return InterpretationPublishedV1(**values)


async def deliver(db: async_sessionmaker[AsyncSession], envelope: Envelope) -> None:
    """Handle the event as the worker does: in its own transaction."""
    async with db() as session, session.begin():
        await service.on_interpretation_published(session, envelope)


async def published_policy(client: httpx.AsyncClient, **fields: Any) -> tuple[dict, Actors, dict]:
    org, actors = await org_with_actors(client)
    policy = await draft(client, org, actors.drafter, document_number="示范政发〔2026〕12号", **fields)
    return org, actors, await publish_through_review(client, policy, actors)


async def test_a_published_interpretation_becomes_a_linked_policy_interpretation_item(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Issue 3 point 8 / issue 5 point 6 (双向关联, domain.md §4): the policy shows its interpretation and the
    interpretation its policy, on the public views; the item gets its own 索引号 and is announced."""
    org, actors, policy = await published_policy(client)
    event = interpretation_event(policy)
    await deliver(db, new_envelope(INTERPRETATION_PUBLISHED_V1, event))

    policy_view = (await client.get(f"/items/{policy['id']}")).json()  # anonymous: the public view
    [link] = policy_view["links"]
    assert (link["relation"], link["relation_label"], link["kind"]) == ("interpreted_by", "政策解读", "interpretation")
    item = (await client.get(f"/items/{link['item_id']}")).json()
    assert item["status"] == "published" and item["kind"] == "interpretation" and item["kind_label"] == "政策解读"
    assert item["organization_id"] == org["id"] and item["publisher"] == org["name"]
    assert item["title"] == event.title
    assert (item["origin"], item["origin_id"]) == ("interpretation", str(event.interpretation_id))
    [back] = item["links"]
    assert (back["relation"], back["relation_label"], back["item_id"]) == ("interprets", "所解读的政策", policy["id"])
    assert back["title"] == policy["title"] and back["document_number"] == "示范政发〔2026〕12号"
    # Its text, its forms (with their links) and its Q&A are the body.
    assert event.text in item["body"]
    assert "【图解】一图读懂：https://example.gov.cn/tujie/1.html" in item["body"]
    assert "问：办法何时施行？\n答：自发布之日起施行。" in item["body"]
    # Its own 索引号 under the organization's code, after the policy's.
    assert re.fullmatch(rf"{org['code']}/{china_today().year}-\d{{5}}", item["index_number"])
    assert item["index_number"] > policy["index_number"]
    assert item["published_on"] == china_today().isoformat()

    history = (await client.get(f"/items/{item['id']}/history", headers=actors.drafter)).json()
    [published] = [h for h in history if h["action"] == "published"]
    assert published["opinion"] == "由政策解读系统发布"
    assert published["actor"] == "system:interpretation" and published["actor_name"] == "政策解读系统"
    assert published["details"]["interpretation_id"] == str(event.interpretation_id)
    policy_history = (await client.get(f"/items/{policy['id']}/history", headers=actors.drafter)).json()
    assert any(h["action"] == "interpretation_linked" for h in policy_history)

    [announced] = await outbox_events(db, ITEM_PUBLISHED_V1, item_id=item["id"])
    assert announced["data"]["kind"] == "interpretation" and announced["data"]["is_policy"] is False
    assert announced["data"]["interprets_item_id"] == policy["id"]
    assert announced["data"]["origin_id"] == str(event.interpretation_id)
    # The public finds it, and the organization's feed lists it.
    assert item["id"] in [h["id"] for h in await found(client, "一图读懂", organization_id=org["id"])]
    assert f"urn:uuid:{item['id']}" in await feed_ids(client, org["id"])


async def test_a_redelivered_interpretation_publishes_one_item(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Idempotent under redelivery: the same event twice, and the same interpretation in a fresh envelope (a
    replay past the inbox), leave one item, one link and one catalog.item.published."""
    _, _, policy = await published_policy(client)
    event = interpretation_event(policy)
    envelope = new_envelope(INTERPRETATION_PUBLISHED_V1, event)
    await deliver(db, envelope)
    await deliver(db, envelope)
    await deliver(db, new_envelope(INTERPRETATION_PUBLISHED_V1, event))
    async with db() as session:
        items = (await session.scalars(select(Item).where(Item.origin_id == event.interpretation_id))).all()
        links = await session.scalar(select(func.count()).where(ItemLink.target_id == uuid.UUID(policy["id"])))
    assert len(items) == 1 and links == 1
    assert len(await outbox_events(db, ITEM_PUBLISHED_V1, item_id=items[0].id)) == 1
    assert len((await client.get(f"/items/{policy['id']}")).json()["links"]) == 1


async def test_an_interpretation_of_an_unknown_policy_is_a_permanent_error_and_changes_nothing(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    _, _, policy = await published_policy(client)
    event = interpretation_event(policy, policy_item_id=uuid.uuid4())
    with pytest.raises(PermanentError, match=str(event.policy_item_id)) as raised:
        await deliver(db, new_envelope(INTERPRETATION_PUBLISHED_V1, event))
    assert "政策文件不在目录中" in str(raised.value)
    async with db() as session:
        assert await session.scalar(select(Item.id).where(Item.origin_id == event.interpretation_id)) is None


async def test_an_interpretation_that_leaks_an_id_number_waits_for_a_reviewer(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Issue 3 point 5: findings block publication unless a reviewer overrides, whoever reviewed the text
    before. The 政策解读 item waits in 保密审查, invisible to the public and unannounced, until a catalog reviewer
    takes it through review and lets the finding pass with a reason."""
    _, actors, policy = await published_policy(client)
    number = resident_id(seq=777)
    event = interpretation_event(policy, text=f"典型案例：申请人张某（身份证号{number}）已获补助。")
    await deliver(db, new_envelope(INTERPRETATION_PUBLISHED_V1, event))
    async with db() as session:
        item_id = await session.scalar(select(Item.id).where(Item.origin_id == event.interpretation_id))
    assert item_id is not None
    assert (await client.get(f"/items/{item_id}")).status_code == 404  # not public
    assert (await client.get(f"/items/{policy['id']}")).json()["links"] == []  # the public sees no link yet
    held = (await client.get(f"/items/{item_id}", headers=actors.drafter)).json()
    assert (held["status"], held["review_stage_name"]) == ("in_review", "保密审查")
    assert held["links"][0]["item_id"] == policy["id"]
    assert await outbox_events(db, ITEM_PUBLISHED_V1, item_id=item_id) == []
    history = (await client.get(f"/items/{item_id}/history", headers=actors.drafter)).json()
    assert history[-1]["action"] == "submitted" and "敏感内容" in history[-1]["opinion"]
    assert number not in json.dumps(history, ensure_ascii=False)  # masked

    for _ in range(4):
        assert (await client.post(f"/items/{item_id}/approve", headers=actors.reviewer)).status_code == 200
    blocked = await client.post(f"/items/{item_id}/publish", headers=actors.drafter)
    assert blocked.status_code == 422 and blocked.json()["code"] == "sensitive_content"
    reason = "案例经当事人书面同意公开，身份证号按规定遮盖后发布"
    ok = await client.post(f"/items/{item_id}/publish", json={"override_reason": reason}, headers=actors.reviewer)
    assert ok.status_code == 200, ok.text
    assert (await client.get(f"/items/{policy['id']}")).json()["links"][0]["item_id"] == str(item_id)


# --------------------------------------------------------------------------------------------
# 回应关切 from the sentiment service
# --------------------------------------------------------------------------------------------


def response_event(policy: dict[str, Any], **overrides: Any) -> ResponsePublishedV1:
    values: dict[str, Any] = {
        "response_task_id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "department_id": uuid.UUID(policy["organization_id"]),
        "kind": "authoritative_release",
        "kind_label": "权威发布",
        "title": "关于网传“门诊报销比例下调”的情况说明",
        "content": "网传门诊报销比例下调不实。新办法施行后，门诊报销比例保持不变，慢特病病种有所增加。",
        "url": "https://example.gov.cn/hygz/1.html",
        "event_title": "网传门诊报销比例下调",
        "topic": "医疗保障",
        "policy_item_id": uuid.UUID(policy["id"]),
        "published_at": dt.datetime.now(dt.UTC),
        "on_time": True,
    }
    values.update(overrides)
    return ResponsePublishedV1(**values)


async def respond(db: async_sessionmaker[AsyncSession], envelope: Envelope) -> None:
    async with db() as session, session.begin():
        await service.on_response_published(session, envelope)


async def test_a_published_response_becomes_a_response_item_linked_to_its_policy(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Issue 3 point 8 (国办发〔2016〕61号 回应关切): the department's response is published in the catalog as a
    回应关切 item with its 索引号, shown on the policy it answers; redelivered, it stays one item."""
    org, actors, policy = await published_policy(client)
    event = response_event(policy)
    envelope = new_envelope(RESPONSE_PUBLISHED_V1, event)
    await respond(db, envelope)
    await respond(db, envelope)
    await respond(db, new_envelope(RESPONSE_PUBLISHED_V1, event))

    [link] = (await client.get(f"/items/{policy['id']}")).json()["links"]
    assert (link["relation"], link["relation_label"], link["kind"]) == ("responded_by", "回应关切", "response")
    item = (await client.get(f"/items/{link['item_id']}")).json()
    assert (item["status"], item["kind_label"], item["organization_id"]) == ("published", "回应关切", org["id"])
    assert re.fullmatch(rf"{org['code']}/{china_today().year}-\d{{5}}", item["index_number"])
    assert event.content in item["body"] and "原文链接：https://example.gov.cn/hygz/1.html" in item["body"]
    assert [(x["relation"], x["item_id"]) for x in item["links"]] == [("responds_to", policy["id"])]
    history = (await client.get(f"/items/{item['id']}/history", headers=actors.drafter)).json()
    assert [h["opinion"] for h in history if h["action"] == "published"] == ["由舆情回应系统发布"]
    assert len(await outbox_events(db, ITEM_PUBLISHED_V1, item_id=item["id"])) == 1
    # A second response of the same task (a press conference after the release) is a second item.
    await respond(db, new_envelope(RESPONSE_PUBLISHED_V1, event.model_copy(update={"kind": "press_conference"})))
    assert len((await client.get(f"/items/{policy['id']}")).json()["links"]) == 2


async def test_a_response_without_a_known_department_is_a_permanent_error(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    _, _, policy = await published_policy(client)
    nobody = response_event(policy, department_id=None, policy_item_id=None)
    with pytest.raises(PermanentError, match="责任部门"):
        await respond(db, new_envelope(RESPONSE_PUBLISHED_V1, nobody))
    stranger = response_event(policy, department_id=uuid.uuid4(), policy_item_id=None)
    with pytest.raises(PermanentError, match=str(stranger.department_id)):
        await respond(db, new_envelope(RESPONSE_PUBLISHED_V1, stranger))
    async with db() as session:
        found_ids = [service.response_origin_id(e) for e in (nobody, stranger)]
        assert await session.scalar(select(func.count()).where(Item.origin_id.in_(found_ids))) == 0


# --------------------------------------------------------------------------------------------
# Through the real worker and NATS
# --------------------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_the_worker_links_a_known_policy_and_dead_letters_an_unknown_one(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: CatalogSettings,
    nc: nats.NATS,
    namespace: str,
) -> None:
    """The catalog worker consumes interpretation.interpretation.published from JetStream: a known policy gets its
    政策解读 item; an unknown policy goes to the dead letters at once, with the reason (never silently dropped)."""
    _, _, policy = await published_policy(client)
    good = interpretation_event(policy)
    unknown = interpretation_event(policy, policy_item_id=uuid.uuid4())
    ns = Namespace(namespace)
    js = nc.jetstream()
    await ensure_stream(js, ns, "interpretation")
    stop = asyncio.Event()
    running = asyncio.create_task(
        worker.main(settings.model_copy(update={"consumer_backoff_seconds": [0.2], "sweep_seconds": 3600}), stop)
    )
    try:
        for event in (unknown, good):
            envelope = new_envelope(INTERPRETATION_PUBLISHED_V1, event)
            await js.publish(
                ns.subject(envelope.subject),
                envelope.model_dump_json().encode(),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )

        async def linked() -> bool:
            return len((await client.get(f"/items/{policy['id']}")).json()["links"]) == 1

        await eventually(linked, what="the 政策解读 item linked to its policy")

        async def letters() -> list:
            return [
                x
                for x in await list_dead_letters(js, ns, consumer="catalog-interpretation-published")
                if json.loads(x.data)["data"]["interpretation_id"] == str(unknown.interpretation_id)
            ]

        async def dead_lettered() -> bool:
            return bool(await letters())

        await eventually(dead_lettered, what="the dead letter of the unknown policy")
        [letter] = await letters()
        assert "PermanentError" in letter.error and str(unknown.policy_item_id) in letter.error
        assert letter.deliveries == 1, "a permanent error is not retried"
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=15)
