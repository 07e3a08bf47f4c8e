"""存量信息导入: an office moving onto Gongkai brings the items it published on its former platform, with their
own 发布日期 and 索引号, so that past years' catalogues, table 二 of the annual reports (国办公开办函〔2021〕30号)
and the assessments are whole. Only the 政务公开办 imports; the sensitive-content check still applies (条例
art. 17 先审查后公开 was done when the item was first published); art. 26 lateness comes from its 生成日期; and no
interpretation falls due for an old policy (三同步 binds policies published now: the events say ``archived``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from gongkai_catalog.models import IndexCounter, Item
from gongkai_shared.auth import Role
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select
from test_catalog_support import (
    assert_problem,
    client,
    db,
    draft,
    fields,
    org_with_actors,
    outbox_events,
    publish_through_review,
    resident_id,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures

BODY = "第一条 为了规范行政规范性文件管理，根据有关规定，制定本办法。第二条 本办法自发布之日起施行。"


def archived(org: dict, **extra: Any) -> dict[str, Any]:
    return {
        "organization_id": org["id"],
        "title": f"示范市行政规范性文件管理办法（{uuid.uuid4().hex[:4]}）",
        "kind": "normative_document",
        "body": BODY,
        **extra,
    }


async def test_an_imported_item_keeps_its_date_and_number_and_counts_in_its_year(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    number = f"{org['code']}/2025-00042"
    resp = await client.post(
        "/items/archived",
        json=archived(org, written_on="2024-12-20", published_on="2025-01-08", index_number=number),
        headers=actors.office,
    )
    assert resp.status_code == 201, resp.text
    item = resp.json()
    assert (item["status"], item["published_on"], item["index_number"]) == ("published", "2025-01-08", number)
    assert item["published_late"] is False  # 成文 2024-12-20, published within 20 working days (art. 26)

    listed = await client.get("/items", params={"organization_id": org["id"], "year": 2025})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]  # the public finds it in its own year
    history = (await client.get(f"/items/{item['id']}/history", headers=actors.office)).json()
    imported = [h for h in history if h["action"] == "archived"]
    assert [(h["stage"], h["decision"]) for h in imported] == [("存量导入", "导入")]

    # Table 二: issued in the year of its 成文日期, in force from its 发布日期 on.
    t2024 = (await client.get(f"/organizations/{org['id']}/annual-report/2024/table2")).json()
    t2025 = (await client.get(f"/organizations/{org['id']}/annual-report/2025/table2")).json()
    assert t2024["normative_documents"] == {"issued": 1, "repealed": 0, "in_force": 0}
    assert t2025["normative_documents"]["in_force"] == 1

    # The events say it is archived: no interpretation falls due for it (三同步 binds new policies).
    [policy] = await outbox_events(db, "catalog.policy.published.v1", item_id=item["id"])
    assert policy["data"]["archived"] is True and policy["data"]["published_on"] == "2025-01-08"
    [announced] = await outbox_events(db, "catalog.item.published.v1", item_id=item["id"])
    assert announced["data"]["archived"] is True and announced["data"]["index_number"] == number

    # A new publication is not archived.
    new = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    [fresh] = await outbox_events(db, "catalog.policy.published.v1", item_id=new["id"])
    assert fresh["data"]["archived"] is False


async def test_numbers_follow_the_date_and_the_counter_never_gives_a_hand_given_one(
    client: httpx.AsyncClient, db
) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    year = china_today().year
    numbered = await client.post(
        "/items/archived", json=archived(org, published_on="2023-05-04"), headers=actors.office
    )
    assert numbered.status_code == 201, numbered.text
    assert numbered.json()["index_number"] == f"{org['code']}/2023-00001"  # numbered in its own year

    today = china_today().isoformat()
    given = await client.post(
        "/items/archived",
        json=archived(org, published_on=today, index_number=f"{org['code']}/{year}-00007"),
        headers=actors.office,
    )
    assert given.status_code == 201, given.text
    published = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    assert published["index_number"] == f"{org['code']}/{year}-00008"
    async with db() as session:
        counter = await session.get(IndexCounter, (org["code"], year))
    assert counter is not None and counter.last_serial == 8


async def test_only_the_office_imports_and_bad_input_changes_nothing(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    first = await client.post(
        "/items/archived",
        json=archived(org, published_on="2022-06-01", index_number=f"{org['code']}/2022-00003"),
        headers=actors.office,
    )
    assert first.status_code == 201, first.text

    async def count() -> int:
        async with db() as session:
            return await session.scalar(
                select(func.count()).select_from(Item).where(Item.organization_id == uuid.UUID(org["id"]))
            )

    before = await count()
    for who in (actors.drafter, actors.reviewer):
        resp = await client.post("/items/archived", json=archived(org, published_on="2022-06-01"), headers=who)
        assert_problem(resp, 403)
    tomorrow = (china_today() + dt.timedelta(days=1)).isoformat()
    cases = [
        (archived(org, published_on=tomorrow), 422, "body.published_on"),
        (archived(org, published_on="1900-01-01"), 422, "body.published_on"),
        (archived(org, published_on="2022-06-01", written_on="2022-07-01"), 422, "body.written_on"),
        (archived(org, published_on="2022-06-01", index_number="2022-00001"), 422, "body.index_number"),
        (archived(org, published_on="2022-06-01", index_number=f"{org['code']}/2022-00003"), 409, None),
        ({**archived(org), "organization_id": org["id"]}, 422, "body.published_on"),  # the date is required
    ]
    for body, status, field in cases:
        resp = await client.post("/items/archived", json=body, headers=actors.office)
        problem = assert_problem(resp, status, "index_number_taken" if status == 409 else None)
        if field:
            assert field in fields(problem), (body, problem)
    assert await count() == before  # nothing was written


async def test_the_sensitive_check_still_applies_and_late_publication_is_recorded(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    leaking = archived(org, published_on="2024-03-01", body=f"{BODY}联系人身份证号{resident_id()}。")
    blocked = await client.post("/items/archived", json=leaking, headers=actors.office)
    assert_problem(blocked, 422, "sensitive_content")
    office_reviewer = token({Role.office, Role.reviewer}, name="公开办审核人")
    passed = await client.post(
        "/items/archived", json={**leaking, "override_reason": "原平台已公开的法定公示内容"}, headers=office_reviewer
    )
    assert passed.status_code == 201, passed.text

    # 生成 2024-01-02, published 2024-03-29: far beyond 20 working days (条例 art. 26).
    late = await client.post(
        "/items/archived", json=archived(org, formed_on="2024-01-02", published_on="2024-03-29"), headers=actors.office
    )
    assert late.status_code == 201, late.text
    assert late.json()["published_late"] is True


async def test_an_imported_interpretation_is_linked_both_ways_with_its_imported_policy(
    client: httpx.AsyncClient, db
) -> None:  # type: ignore[no-untyped-def]
    """国办发〔2016〕80号 (domain.md §4): a policy and its interpretation link to each other, old ones too."""
    org, actors = await org_with_actors(client)
    policy = (
        await client.post("/items/archived", json=archived(org, published_on="2021-03-15"), headers=actors.office)
    ).json()
    reading = archived(
        org, kind="interpretation", title="《示范市行政规范性文件管理办法》政策解读", published_on="2021-03-17",
        interprets_item_id=policy["id"],
    )  # fmt: skip
    resp = await client.post("/items/archived", json=reading, headers=actors.office)
    assert resp.status_code == 201, resp.text
    interpretation = resp.json()
    assert [link["item_id"] for link in interpretation["links"]] == [policy["id"]]
    shown = (await client.get(f"/items/{policy['id']}")).json()
    assert [link["item_id"] for link in shown["links"]] == [interpretation["id"]]
    [announced] = await outbox_events(db, "catalog.item.published.v1", item_id=interpretation["id"])
    assert announced["data"]["interprets_item_id"] == policy["id"] and announced["data"]["archived"] is True

    for bad in (
        {**reading, "interprets_item_id": str(uuid.uuid4())},  # no such policy
        {**reading, "kind": "work_news"},  # only an interpretation interprets
    ):
        assert "body.interprets_item_id" in fields(
            assert_problem(await client.post("/items/archived", json=bad, headers=actors.office), 422)
        )
