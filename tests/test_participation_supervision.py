"""Column freshness and rectification lists (issue 9 points 2-4), on the real catalog app and database.

- 国办秘函〔2019〕19号 (website inspection, single-veto items): 动态类 columns silent more than 2 weeks, 通知公告、
  政策文件类 columns silent more than 6 months, and empty columns fail. Rhythms are settings (14 days, 6 months).
- 问题整改清单, 销号管理 (seeds 000, 002): a finding goes from the office to a department and back to 销号; an
  overdue one is flagged once; lists export to xlsx and become a 通报 through the catalog's review (条例 art. 17).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import httpx
from gongkai_catalog import freshness, rectification
from gongkai_catalog.participation_models import RectificationFinding
from gongkai_catalog.seeds import seed_id
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.auth import Role
from gongkai_shared.contracts.catalog import COLUMN_STALE_V1, FINDING_OVERDUE_V1
from gongkai_shared.timeutil import china_today
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_catalog_support import (
    Actors,
    assert_problem,
    client,
    db,
    draft,
    fields,
    org_with_actors,
    outbox_events,
    publish_through_review,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures

NOTICE_COLUMN = seed_id("art20.7")  # 财政预决算: a notice/policy-type column
GUIDE_COLUMN = seed_id("column.guide")  # 政府信息公开指南: no rhythm, checked for emptiness only
TOWNSHIP_COLUMN = seed_id("art21.township.4")  # 宅基地使用情况审核: townships only (条例 art. 21)


# --------------------------------------------------------------------------------------------
# Freshness
# --------------------------------------------------------------------------------------------


def test_six_months_later_is_the_same_day_or_the_months_last_day() -> None:
    """The 6-month rhythm lands on the same day 6 months later, or the month's last day when there is none."""
    assert freshness.add_months(dt.date(2026, 1, 31), 6) == dt.date(2026, 7, 31)
    assert freshness.add_months(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)
    assert freshness.add_months(dt.date(2023, 8, 31), 6) == dt.date(2024, 2, 29)
    assert freshness.add_months(dt.date(2026, 9, 15), 6) == dt.date(2027, 3, 15)


async def news_column(client: httpx.AsyncClient) -> str:
    office = token({Role.office}, name="政务公开办")
    resp = await client.post(
        "/categories", json={"name": f"工作动态{uuid.uuid4().hex[:6]}", "basis": "本机关"}, headers=office
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


async def publish_in(client: httpx.AsyncClient, org: dict, actors: Actors, category_id: str) -> dict[str, Any]:
    item = await draft(client, org, actors.drafter, kind="work_news", category_id=category_id)
    return await publish_through_review(client, item, actors)


async def columns(
    client: httpx.AsyncClient, org: dict, who: dict[str, str], as_of: dt.date
) -> dict[str, dict[str, Any]]:
    resp = await client.get(
        "/columns/freshness", params={"organization_id": org["id"], "as_of": as_of.isoformat()}, headers=who
    )
    assert resp.status_code == 200, resp.text
    return {c["category_id"]: c for c in resp.json()}


async def test_a_news_column_is_stale_after_14_days_and_a_notice_column_after_6_months(
    client: httpx.AsyncClient,
) -> None:
    """国办秘函〔2019〕19号: a 动态 column published today is fresh through today + 14 and stale from today + 15; a
    通知公告/政策文件 column through the same day 6 months later, stale the day after. Columns without
    publications are empty; the guide has no rhythm; art. 21 township columns are not a department's."""
    org, actors = await org_with_actors(client)
    news = await news_column(client)
    await publish_in(client, org, actors, news)
    await publish_in(client, org, actors, str(NOTICE_COLUMN))
    today = china_today()

    now = await columns(client, org, actors.drafter, today)
    assert now[news]["rhythm"] == "news" and now[news]["state"] == "fresh"
    assert now[news]["last_published_on"] == today.isoformat() and now[news]["published_count"] == 1
    assert now[str(NOTICE_COLUMN)]["rhythm"] == "notice" and now[str(NOTICE_COLUMN)]["state"] == "fresh"
    assert now[str(GUIDE_COLUMN)]["state"] == "empty" and now[str(GUIDE_COLUMN)]["rhythm"] == "none"
    assert str(TOWNSHIP_COLUMN) not in now  # a department has no township columns (条例 art. 21)
    assert str(seed_id("column.statutory")) not in now  # a parent node is not a column of its own
    assert now[str(seed_id("art20.1"))]["state"] == "empty"

    day14 = await columns(client, org, actors.drafter, today + dt.timedelta(days=14))
    assert day14[news]["state"] == "fresh" and day14[news]["days_silent"] == 14
    day15 = await columns(client, org, actors.drafter, today + dt.timedelta(days=15))
    assert day15[news]["state"] == "stale" and day15[news]["state_label"] == "超期未更新"
    assert day15[news]["stale_since"] == (today + dt.timedelta(days=15)).isoformat()
    assert day15[str(NOTICE_COLUMN)]["state"] == "fresh"

    six_months = freshness.add_months(today, 6)
    edge = await columns(client, org, actors.drafter, six_months)
    assert edge[str(NOTICE_COLUMN)]["state"] == "fresh" and edge[str(NOTICE_COLUMN)]["fresh_until"] == str(six_months)
    after = await columns(client, org, actors.drafter, six_months + dt.timedelta(days=1))
    assert after[str(NOTICE_COLUMN)]["state"] == "stale"
    # The guide, once it has content, never goes stale (no rhythm).
    # A township sees its art. 21 columns.
    township, township_actors = await org_with_actors(client, type="township")
    assert (await columns(client, township, township_actors.drafter, today))[str(TOWNSHIP_COLUMN)]["state"] == "empty"
    # Only the office sees every organization; staff see their own.
    assert_problem(await client.get("/columns/freshness", headers=actors.drafter), 422)
    resp = await client.get("/columns/freshness", params={"organization_id": township["id"]}, headers=actors.drafter)
    assert_problem(resp, 403)


async def test_a_stale_column_is_announced_once_per_staleness(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: CatalogSettings
) -> None:
    """catalog.column.stale is written when a column turns stale, not again while it stays stale; the notice
    column turning stale 6 months on is its own event."""
    org, actors = await org_with_actors(client)
    news = await news_column(client)
    await publish_in(client, org, actors, news)
    await publish_in(client, org, actors, str(NOTICE_COLUMN))
    today = china_today()

    async def sweep(day: dt.date) -> None:
        async with db() as session, session.begin():
            await freshness.freshness_sweep(session, settings=settings, today=day)

    async def events() -> list[dict[str, Any]]:
        return await outbox_events(db, COLUMN_STALE_V1, organization_id=org["id"])

    await sweep(today + dt.timedelta(days=14))
    assert await events() == []
    await sweep(today + dt.timedelta(days=15))
    [event] = await events()
    assert event["data"]["category_id"] == news and event["data"]["rhythm"] == "news"
    assert event["data"]["last_published_on"] == today.isoformat() and event["data"]["days_silent"] == 15
    await sweep(today + dt.timedelta(days=15))
    await sweep(today + dt.timedelta(days=40))
    assert len(await events()) == 1
    await sweep(freshness.add_months(today, 6) + dt.timedelta(days=1))
    assert [e["data"]["category_id"] for e in await events()] == [news, str(NOTICE_COLUMN)]

    figures = await client.get(
        "/participation/figures",
        params={
            "organization_id": org["id"],
            "from": today.replace(month=1, day=1).isoformat(),
            "to": today.isoformat(),
        },
        headers=actors.drafter,
    )
    f = figures.json()
    assert f["columns_stale"] == 0 and f["columns_empty"] == f["columns"] - 2


# --------------------------------------------------------------------------------------------
# Rectification lists
# --------------------------------------------------------------------------------------------


async def finding_count(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(RectificationFinding)) or 0


def finding_body(department: str, **extra: Any) -> dict[str, Any]:
    return {
        "department_id": department,
        "source": "superior_notice",
        "source_reference": "示公开办〔2026〕3号",
        "problem": "政策解读栏目未与政策文件双向关联",
        "requirement": "逐一补充关联链接",
        "deadline": (china_today() + dt.timedelta(days=20)).isoformat(),
        **extra,
    }


async def test_a_finding_goes_to_the_department_and_back_to_closing(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Issue 9 "Done when": the office records a finding; closing it before the department answers is refused
    (nothing changes); the department answers with evidence; the office sends it back, the department answers
    again, the office closes it (销号), on time. Unknown departments and deadlines before the finding are refused
    naming the field, and nothing is stored."""
    org, actors = await org_with_actors(client)
    office = actors.office
    before = await finding_count(db)
    unknown = await client.post("/rectification/findings", json=finding_body(str(uuid.uuid4())), headers=office)
    assert fields(assert_problem(unknown, 422)) == {"body.department_id"}
    early = finding_body(org["id"], deadline=(china_today() - dt.timedelta(days=1)).isoformat())
    assert fields(assert_problem(await client.post("/rectification/findings", json=early, headers=office), 422)) == {
        "body.deadline"
    }
    # Only the office records findings.
    assert_problem(
        await client.post("/rectification/findings", json=finding_body(org["id"]), headers=actors.drafter), 403
    )
    assert await finding_count(db) == before

    resp = await client.post("/rectification/findings", json=finding_body(org["id"]), headers=office)
    assert resp.status_code == 201, resp.text
    finding = resp.json()
    assert finding["status"] == "assigned" and finding["source_label"] == "上级通报"
    url = f"/rectification/findings/{finding['id']}"

    closing = await client.post(f"{url}/close", json={"note": "同意"}, headers=office)
    assert_problem(closing, 409, "finding_not_answered")
    assert (await client.get(url, headers=office)).json()["status"] == "assigned"

    # Another department neither sees nor answers it.
    other = token({Role.staff}, uuid.uuid4())
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.post(f"{url}/answer", json={"answer": "x"}, headers=other)).status_code == 404
    assert fields(
        assert_problem(await client.post(f"{url}/answer", json={"answer": ""}, headers=actors.drafter), 422)
    ) == {"body.answer"}

    answer = {"answer": "已补充12篇政策解读的关联链接", "evidence": ["item:1f0c…", "https://example.gov.cn/zcjd/"]}
    resp = await client.post(f"{url}/answer", json=answer, headers=actors.drafter)
    assert resp.status_code == 200 and resp.json()["status"] == "answered"
    resp = await client.post(f"{url}/return", json={"reason": "仍有3篇未关联"}, headers=office)
    assert resp.json()["status"] == "returned" and resp.json()["return_reason"] == "仍有3篇未关联"
    assert_problem(await client.post(f"{url}/close", headers=office), 409, "finding_not_answered")
    resp = await client.post(f"{url}/answer", json={**answer, "answer": "已全部关联"}, headers=actors.drafter)
    assert resp.json()["status"] == "answered"
    resp = await client.post(f"{url}/close", json={"note": "核查属实，予以销号"}, headers=office)
    assert resp.status_code == 200, resp.text
    closed = resp.json()
    assert closed["status"] == "closed" and closed["status_label"] == "已销号"
    assert closed["closed_on"] == china_today().isoformat() and closed["overdue"] is False
    assert [h["action"] for h in closed["history"]] == ["交办", "反馈整改情况", "退回重新整改", "反馈整改情况", "销号"]
    assert_problem(await client.post(f"{url}/close", headers=office), 409, "finding_closed")

    mine = await client.get("/rectification/findings", headers=actors.drafter)
    assert [f["id"] for f in mine.json()] == [finding["id"]]


async def test_an_overdue_finding_is_flagged_once_and_counted(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """A finding still open after its deadline is flagged once (catalog.finding.overdue); a closed one is not;
    the figures count open, closed on time and overdue findings."""
    org, actors = await org_with_actors(client)
    today = china_today()
    late = finding_body(
        org["id"],
        problem="机构职能信息未更新",
        found_on=(today - dt.timedelta(days=30)).isoformat(),
        deadline=(today - dt.timedelta(days=1)).isoformat(),
    )
    overdue = (await client.post("/rectification/findings", json=late, headers=actors.office)).json()
    assert overdue["overdue"] is True
    done = (await client.post("/rectification/findings", json=finding_body(org["id"]), headers=actors.office)).json()
    await client.post(f"/rectification/findings/{done['id']}/answer", json={"answer": "已整改"}, headers=actors.drafter)
    await client.post(f"/rectification/findings/{done['id']}/close", headers=actors.office)
    pending = (await client.post("/rectification/findings", json=finding_body(org["id"]), headers=actors.office)).json()

    async def sweep(day: dt.date) -> None:
        async with db() as session, session.begin():
            await rectification.overdue_sweep(session, today=day)

    await sweep(today)
    await sweep(today)
    [event] = await outbox_events(db, FINDING_OVERDUE_V1, department_id=org["id"])
    assert event["data"]["finding_id"] == overdue["id"] and event["data"]["status"] == "assigned"
    # Past every deadline, the closed one is still not flagged; the pending one now is, once.
    await sweep(today + dt.timedelta(days=30))
    await sweep(today + dt.timedelta(days=31))
    flagged = [e["data"]["finding_id"] for e in await outbox_events(db, FINDING_OVERDUE_V1, department_id=org["id"])]
    assert flagged == [overdue["id"], pending["id"]]

    figures = await client.get(
        "/participation/figures",
        params={
            "organization_id": org["id"],
            "from": (today - dt.timedelta(days=60)).isoformat(),
            "to": today.isoformat(),
        },
        headers=actors.office,
    )
    f = figures.json()
    assert (f["findings"], f["findings_open"], f["findings_closed_on_time"], f["findings_overdue"]) == (3, 2, 1, 1)
    assert f["consultations_held"] == 0 and f["adoption_rate"] is None


async def test_a_list_exports_to_xlsx_and_becomes_a_notice_through_review(client: httpx.AsyncClient) -> None:
    """The list of a department and period exports as xlsx (one row per finding, with its state) and is drafted
    as a 通报 item that goes to review (条例 art. 17), never published directly."""
    org, actors = await org_with_actors(client)
    government, government_actors = await org_with_actors(client, type="government")
    today = china_today()
    for problem in ("政府信息公开指南未更新", "年报未按期公开"):
        resp = await client.post(
            "/rectification/findings", json=finding_body(org["id"], problem=problem), headers=actors.office
        )
        assert resp.status_code == 201
    params = {"department_id": org["id"], "from": today.isoformat(), "to": today.isoformat()}
    resp = await client.get("/rectification/findings/export", params=params, headers=actors.office)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    sheet = load_workbook(io.BytesIO(resp.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert org["name"] in rows[0][0] and "整改清单" in rows[0][0]
    assert rows[1][:4] == ("序号", "责任部门", "问题来源", "问题描述")
    assert [(r[0], r[1], r[3], r[9]) for r in rows[2:]] == [
        (1, org["name"], "政府信息公开指南未更新", "待整改"),
        (2, org["name"], "年报未按期公开", "待整改"),
    ]
    assert rows[2][2] == "上级通报（示公开办〔2026〕3号）"

    notice = {
        "organization_id": government["id"],
        "department_id": org["id"],
        "start": today.isoformat(),
        "end": today.isoformat(),
    }
    bad = await client.post(
        "/rectification/notices", json={**notice, "department_id": str(uuid.uuid4())}, headers=actors.office
    )
    assert fields(assert_problem(bad, 422)) == {"body.department_id"}
    resp = await client.post("/rectification/notices", json=notice, headers=actors.office)
    assert resp.status_code == 201, resp.text
    item = (await client.get(f"/items/{resp.json()['item_id']}", headers=actors.office)).json()
    assert item["status"] == "in_review" and item["organization_id"] == government["id"]
    assert "共交办整改问题2个" in item["body"] and "年报未按期公开" in item["body"]
    assert (await client.get(f"/items/{item['id']}")).status_code == 404  # not public before review
    assert_problem(
        await client.post("/rectification/notices", json=notice, headers=actors.office), 409, "notice_exists"
    )
    del government_actors
