"""立、改、废 (domain.md §1 "Lifecycle"): a revised document supersedes its predecessor (both stay public,
linked both ways, ``catalog.policy.superseded``); repeal marks 废止 with its date; a document whose 废止日期
has come expires (失效) by the worker's sweep. The public list shows validity."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import httpx
import nats
from gongkai_catalog import service, worker
from gongkai_catalog.models import Item
from gongkai_shared.contracts.catalog import ITEM_VALIDITY_CHANGED_V1, POLICY_PUBLISHED_V1, POLICY_SUPERSEDED_V1
from gongkai_shared.events import Namespace
from gongkai_shared.timeutil import china_today
from test_catalog_support import (
    assert_problem,
    client,
    db,
    draft,
    fields,
    org_with_actors,
    outbox_events,
    publish_through_review,
    settings,
)

__all__ = ["client", "db", "settings"]  # fixtures


async def test_a_revision_supersedes_its_predecessor_both_ways_and_announces_it(
    client: httpx.AsyncClient,
    db,
    settings,
    nc: nats.aio.client.Client,
    namespace: str,  # type: ignore[no-untyped-def]
) -> None:
    org, actors = await org_with_actors(client)
    old = await publish_through_review(
        client, await draft(client, org, actors.drafter, document_number="示范政发〔2024〕3号"), actors
    )
    new_draft = await draft(
        client,
        org,
        actors.drafter,
        document_number="示范政发〔2026〕9号",
        supersedes_id=old["id"],
        title="修订后的办法",
    )

    sub = await nc.subscribe(Namespace(namespace).subject("catalog.policy.superseded"))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.main(settings.model_copy(update={"sweep_seconds": 3600}), stop=stop))
    try:
        new = await publish_through_review(client, new_draft, actors)
        # The event reaches NATS through the outbox relay of the real worker.
        message = await asyncio.wait_for(sub.next_msg(timeout=30), timeout=35)
    finally:
        stop.set()
        await running
        await sub.unsubscribe()
    envelope = json.loads(message.data)
    assert envelope["type"] == POLICY_SUPERSEDED_V1
    data = envelope["data"]
    assert data["item_id"] == old["id"] and data["superseded_by_item_id"] == new["id"]
    assert (
        data["document_number"] == "示范政发〔2024〕3号"
        and data["superseded_by_document_number"] == "示范政发〔2026〕9号"
    )

    # Linked both ways; both stay public; the old one is no longer in force.
    old_now = (await client.get(f"/items/{old['id']}")).json()
    new_now = (await client.get(f"/items/{new['id']}")).json()
    assert old_now["superseded_by_id"] == new["id"] and new_now["supersedes_id"] == old["id"]
    assert old_now["status"] == "published" and old_now["validity"] == "expired" and old_now["validity_label"] == "失效"
    assert new_now["validity_label"] == "有效"
    listed = (await client.get("/items", params={"organization_id": org["id"]})).json()["items"]
    assert {i["id"]: i["validity_label"] for i in listed} == {old["id"]: "失效", new["id"]: "有效"}
    # The interpretation service learns which document the new policy replaces.
    (published,) = await outbox_events(db, POLICY_PUBLISHED_V1, item_id=new["id"])
    assert published["data"]["supersedes_item_id"] == old["id"]
    assert published["data"]["index_number"] == new["index_number"]
    history = (await client.get(f"/items/{old['id']}/history", headers=actors.drafter)).json()
    assert history[-1]["action"] == "superseded"

    # A document can be superseded once.
    third = await client.post(
        "/items",
        json={
            "organization_id": org["id"],
            "title": "再修订",
            "kind": "normative_document",
            "body": "正文",
            "supersedes_id": old["id"],
        },
        headers=actors.drafter,
    )
    assert fields(assert_problem(third, 422)) == {"body.supersedes_id"}


async def test_a_revision_taking_effect_later_leaves_the_old_in_force_until_then(
    client: httpx.AsyncClient,
    db,  # type: ignore[no-untyped-def]
) -> None:
    org, actors = await org_with_actors(client)
    old = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    starts = china_today() + dt.timedelta(days=30)
    await publish_through_review(
        client,
        await draft(client, org, actors.drafter, supersedes_id=old["id"], effective_on=starts.isoformat()),
        actors,
    )
    old_now = (await client.get(f"/items/{old['id']}")).json()
    assert old_now["validity"] == "effective"
    assert old_now["abolish_on"] == (starts - dt.timedelta(days=1)).isoformat()
    # The day before the new one takes effect, the expiry sweep ends the old one.
    async with db() as session, session.begin():
        await service.expiry_sweep(session, today=starts - dt.timedelta(days=1))
    assert (await client.get(f"/items/{old['id']}")).json()["validity"] == "expired"


async def test_repeal_marks_the_item_repealed_with_its_date(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    item = await publish_through_review(
        client, await draft(client, org, actors.drafter, effective_on="2026-01-01"), actors
    )
    # Staff may not repeal; the date may not precede the 实施日期, nor lie in the future; nothing changes.
    assert_problem(
        await client.post(
            f"/items/{item['id']}/repeal", json={"repealed_on": "2026-06-01", "reason": "x"}, headers=actors.drafter
        ),
        403,
    )
    early = await client.post(
        f"/items/{item['id']}/repeal",
        json={"repealed_on": "2025-12-31", "reason": "上位法修改"},
        headers=actors.reviewer,
    )
    assert fields(assert_problem(early, 422)) == {"body.repealed_on"}
    future = (china_today() + dt.timedelta(days=2)).isoformat()
    later = await client.post(
        f"/items/{item['id']}/repeal", json={"repealed_on": future, "reason": "x"}, headers=actors.reviewer
    )
    assert fields(assert_problem(later, 422)) == {"body.repealed_on"}
    assert (await client.get(f"/items/{item['id']}")).json()["validity"] == "effective"

    repealed = await client.post(
        f"/items/{item['id']}/repeal",
        json={"repealed_on": "2026-06-01", "reason": "依据示范政发〔2026〕20号决定废止"},
        headers=actors.reviewer,
    )
    assert repealed.status_code == 200, repealed.text
    shown = (await client.get(f"/items/{item['id']}")).json()
    assert shown["validity"] == "repealed" and shown["validity_label"] == "废止"
    assert shown["validity_changed_on"] == "2026-06-01" and shown["status"] == "published"
    (event,) = await outbox_events(db, ITEM_VALIDITY_CHANGED_V1, item_id=item["id"])
    assert event["data"]["validity"] == "repealed" and event["data"]["changed_on"] == "2026-06-01"
    again = await client.post(
        f"/items/{item['id']}/repeal", json={"repealed_on": "2026-06-01", "reason": "x"}, headers=actors.reviewer
    )
    assert_problem(again, 409, "already_repealed")
    repealed_list = (await client.get("/items", params={"organization_id": org["id"], "validity": "repealed"})).json()
    assert [i["id"] for i in repealed_list["items"]] == [item["id"]]
    # A draft cannot be repealed.
    unpublished = await draft(client, org, actors.drafter)
    assert_problem(
        await client.post(
            f"/items/{unpublished['id']}/repeal",
            json={"repealed_on": "2026-06-01", "reason": "x"},
            headers=actors.reviewer,
        ),
        409,
        "not_published",
    )


async def test_items_whose_end_date_has_come_expire_by_the_sweep(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    temporary = await publish_through_review(
        client,
        await draft(
            client, org, actors.drafter, title="临时管理措施", effective_on="2026-01-01", abolish_on="2027-06-30"
        ),
        actors,
    )
    lasting = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    async with db() as session, session.begin():
        await service.expiry_sweep(session, today=dt.date(2027, 6, 29))
    assert (await client.get(f"/items/{temporary['id']}")).json()["validity"] == "effective"
    async with db() as session, session.begin():
        await service.expiry_sweep(session, today=dt.date(2027, 6, 30))
    expired = (await client.get(f"/items/{temporary['id']}")).json()
    assert expired["validity"] == "expired" and expired["validity_changed_on"] == "2027-06-30"
    assert (await client.get(f"/items/{lasting['id']}")).json()["validity"] == "effective"
    # Once: a second sweep changes nothing more and announces nothing more.
    async with db() as session, session.begin():
        await service.expiry_sweep(session, today=dt.date(2027, 7, 1))
    events = await outbox_events(db, ITEM_VALIDITY_CHANGED_V1, item_id=temporary["id"])
    assert [e["data"]["validity"] for e in events] == ["expired"]
    async with db() as session:
        stored = await session.get(Item, uuid.UUID(temporary["id"]))
    assert stored is not None and stored.validity == "expired"
