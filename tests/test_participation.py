"""Consultations on draft major decisions (意见征集; issue 9 point 1 and its "Done when"), on the real catalog app,
database and (for the feedback report's event) the real worker and JetStream.

- 《重大行政决策程序暂行条例》(国务院令第713号) art. 15: the period is usually at least 30 days; a shorter one must
  say why. The day of opening is not counted (民法典 art. 201, domain.md §6).
- The seeds (004): 征集意见的主要观点、采纳意见数量、未采纳意见理由 are published: the feedback report goes through
  the catalog's review (条例 art. 17) and is linked to the draft.
- The public comments without an account; their name and contact never appear publicly or in events.

Time passing is simulated by moving a consultation's dates back (the rules read dates, not the wall clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import nats
from gongkai_catalog import participation, worker
from gongkai_catalog.participation_models import Consultation, ConsultationComment
from gongkai_catalog.settings import CatalogSettings
from gongkai_shared.contracts.catalog import (
    CONSULTATION_CLOSED_V1,
    CONSULTATION_OPENED_V1,
    CONSULTATION_REPORT_OVERDUE_V1,
    CONSULTATION_REPORT_PUBLISHED_V1,
    ITEM_PUBLISHED_V1,
)
from gongkai_shared.events import Envelope
from gongkai_shared.timeutil import china_today
from sqlalchemy import func, select, update
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
    resident_id,
    settings,
)

__all__ = ["client", "db", "settings"]  # fixtures

CONTACT = "13812345678"
NAME = "张某某"


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def published_draft(client: httpx.AsyncClient) -> tuple[dict, Actors, dict]:
    org, actors = await org_with_actors(client)
    item = await draft(
        client,
        org,
        actors.drafter,
        title=f"示范市生活垃圾分类管理办法（征求意见稿）{uuid.uuid4().hex[:4]}",
        kind="other_document",
        body="第一条 为了推进生活垃圾分类……第三条 居民应当按照分类标准投放生活垃圾。",
    )
    return org, actors, await publish_through_review(client, item, actors)


async def new_consultation(
    client: httpx.AsyncClient, org: dict, actors: Actors, draft_item: dict, **extra: Any
) -> dict[str, Any]:
    body = {
        "organization_id": org["id"],
        "title": "示范市生活垃圾分类管理办法",
        "draft_item_id": draft_item["id"],
        "basis": "《中华人民共和国固体废物污染环境防治法》第四十三条、第四十九条",
        "channels": "信函：示范市城市管理局法规科",
        "period_days": 30,
        **extra,
    }
    resp = await client.post("/consultations", json=body, headers=actors.drafter)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def open_(client: httpx.AsyncClient, consultation: dict, actors: Actors) -> dict[str, Any]:
    resp = await client.post(f"/consultations/{consultation['id']}/open", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def comment(client: httpx.AsyncClient, consultation: dict, content: str, **extra: Any) -> httpx.Response:
    return await client.post(f"/consultations/{consultation['id']}/comments", json={"content": content, **extra})


async def age(db: async_sessionmaker[AsyncSession], consultation_id: str, days: int) -> None:
    """Time passes: move the consultation's dates ``days`` into the past."""
    shift = dt.timedelta(days=days)
    async with db() as session, session.begin():
        await session.execute(
            update(Consultation)
            .where(Consultation.id == uuid.UUID(consultation_id))
            .values(
                opened_on=Consultation.opened_on - shift,
                closes_on=Consultation.closes_on - shift,
                report_due_on=Consultation.report_due_on - shift,
            )
        )


async def comment_rows(db: async_sessionmaker[AsyncSession], consultation_id: str) -> int:
    async with db() as session:
        return (
            await session.scalar(
                select(func.count()).where(ConsultationComment.consultation_id == uuid.UUID(consultation_id))
            )
            or 0
        )


# --------------------------------------------------------------------------------------------
# The period (art. 15) and opening
# --------------------------------------------------------------------------------------------


async def test_a_period_under_30_days_needs_its_reason_and_the_draft_must_be_public(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """《重大行政决策程序暂行条例》art. 15: 公开征求意见的期限一般不少于30日; 因情况紧急等原因需要缩短期限的，应当予以
    说明. A 10-day period without a reason is refused naming body.shortened_reason and nothing is created; with the
    reason it is accepted. A draft still in review cannot be opened for comment (条例 art. 17 先审查后公开)."""
    org, actors, published = await published_draft(client)
    before = await client.get("/consultations", params={"organization_id": org["id"]}, headers=actors.drafter)
    resp = await client.post(
        "/consultations",
        json={
            "organization_id": org["id"],
            "title": "示范市停车收费调整方案",
            "draft_item_id": published["id"],
            "basis": "《价格法》第二十三条",
            "period_days": 10,
        },
        headers=actors.drafter,
    )
    problem = assert_problem(resp, 422)
    assert fields(problem) == {"body.shortened_reason"}
    assert "30" in problem["errors"][0]["message"]
    after = await client.get("/consultations", params={"organization_id": org["id"]}, headers=actors.drafter)
    assert after.json() == before.json() == []

    urgent = await new_consultation(
        client, org, actors, published, period_days=10, shortened_reason="汛期临近，需在主汛期前出台"
    )
    assert urgent["period_days"] == 10 and urgent["shortened_reason"] == "汛期临近，需在主汛期前出台"

    # A draft decision that is not yet published: the consultation is registered, but cannot open.
    unpublished = await draft(client, org, actors.drafter, kind="other_document")
    pending = await new_consultation(client, org, actors, unpublished)
    resp = await client.post(f"/consultations/{pending['id']}/open", headers=actors.drafter)
    assert_problem(resp, 409, "draft_not_published")
    assert (await client.get(f"/consultations/{pending['id']}", headers=actors.drafter)).json()["status"] == "draft"
    # Nobody outside the department sees an unopened consultation, nor may comment on it.
    assert (await client.get(f"/consultations/{pending['id']}")).status_code == 404
    assert (await comment(client, pending, "支持")).status_code == 404

    # A draft of another organization is refused naming the field.
    other_org, other_actors, other_draft = await published_draft(client)
    resp = await client.post(
        "/consultations",
        json={
            "organization_id": org["id"],
            "title": "x",
            "draft_item_id": other_draft["id"],
            "basis": "y",
            "period_days": 30,
        },
        headers=actors.drafter,
    )
    assert fields(assert_problem(resp, 422)) == {"body.draft_item_id"}
    del other_org, other_actors


async def test_opening_counts_the_period_from_the_next_day_and_announces_it(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """The day of opening is not counted (民法典 art. 201, domain.md §6): a 30-day period opened today accepts
    comments until the end of today + 30; ``catalog.consultation.opened`` is written with the opening."""
    org, actors, published = await published_draft(client)
    c = await new_consultation(client, org, actors, published)
    opened = await open_(client, c, actors)
    today = china_today()
    assert opened["status"] == "open" and opened["accepting_comments"] is True
    assert opened["opened_on"] == today.isoformat()
    assert opened["closes_on"] == (today + dt.timedelta(days=30)).isoformat()
    assert opened["draft"]["id"] == published["id"] and opened["draft"]["index_number"] == published["index_number"]
    [event] = await outbox_events(db, CONSULTATION_OPENED_V1, consultation_id=c["id"])
    assert event["data"]["closes_on"] == opened["closes_on"]
    assert_problem(await client.post(f"/consultations/{c['id']}/open", headers=actors.drafter), 409)

    # On the last day comments are still taken; the day after, they are refused and nothing is stored.
    await age(db, c["id"], 30)
    last_day = await client.get(f"/consultations/{c['id']}")
    assert last_day.json()["closes_on"] == today.isoformat() and last_day.json()["accepting_comments"] is True
    assert (await comment(client, c, "最后一天提交的意见")).status_code == 201
    await age(db, c["id"], 1)
    rows = await comment_rows(db, c["id"])
    late = assert_problem(await comment(client, c, "截止后提交的意见"), 409, "consultation_closed")
    assert (today - dt.timedelta(days=1)).isoformat() in late["detail"]
    assert await comment_rows(db, c["id"]) == rows
    view = (await client.get(f"/consultations/{c['id']}")).json()
    assert view["status"] == "closed" and view["accepting_comments"] is False


# --------------------------------------------------------------------------------------------
# Bad input on comments
# --------------------------------------------------------------------------------------------


async def test_empty_and_oversized_comments_are_refused_naming_the_field(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: CatalogSettings
) -> None:
    """Empty (or blank) and oversized comments: 422 problem+json naming body.content; nothing stored."""
    org, actors, published = await published_draft(client)
    c = await open_(client, await new_consultation(client, org, actors, published), actors)
    for content in ("", "   \n\t "):
        problem = assert_problem(await comment(client, c, content), 422)
        assert fields(problem) == {"body.content"}
    too_long = "很" * (settings.consultation_comment_max_chars + 1)
    problem = assert_problem(await comment(client, c, too_long), 422)
    assert fields(problem) == {"body.content"} and problem["errors"][0]["type"] == "too_long"
    assert_problem(await client.post(f"/consultations/{c['id']}/comments", json={}), 422)
    assert await comment_rows(db, c["id"]) == 0
    exactly = "好" * settings.consultation_comment_max_chars
    assert (await comment(client, c, exactly)).status_code == 201
    assert await comment_rows(db, c["id"]) == 1


async def test_comments_with_personal_data_are_held_and_contacts_never_shown_publicly(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """A comment naming an ID number is held (sensitive.scan finds it); the commenter's name and contact are kept
    for staff and never appear on the public consultation, in the receipt or in an event."""
    org, actors, published = await published_draft(client)
    c = await open_(client, await new_consultation(client, org, actors, published), actors)
    ok = await comment(client, c, "建议增加厨余垃圾投放点。", author_name=NAME, contact=CONTACT, clause="第三条")
    assert ok.status_code == 201, ok.text
    assert CONTACT not in ok.text and NAME not in ok.text
    number = resident_id()
    held = await comment(client, c, f"我的身份证号{number}，小区没有分类垃圾桶。")
    assert held.status_code == 201

    staff_view = (await client.get(f"/consultations/{c['id']}/comments", headers=actors.drafter)).json()
    by_id = {x["id"]: x for x in staff_view}
    assert by_id[ok.json()["id"]]["status"] == "pending" and by_id[ok.json()["id"]]["contact"] == CONTACT
    flagged = by_id[held.json()["id"]]
    assert flagged["status"] == "held" and flagged["status_label"] == "含敏感内容待审核"
    assert [f["kind"] for f in flagged["findings"]] == ["resident_id"]
    assert number not in str(flagged["findings"])

    public = await client.get(f"/consultations/{c['id']}")
    assert public.json()["comments_received"] == 2
    for text in (public.text, (await client.get("/consultations", params={"organization_id": org["id"]})).text):
        assert CONTACT not in text and NAME not in text and number not in text
    assert (await client.get(f"/consultations/{c['id']}/comments")).status_code == 401
    assert (
        await client.get(f"/consultations/{c['id']}/comments", headers=actors.other_department_reviewer)
    ).status_code == 404

    # Accepting a held comment needs the staff's reason; refusing it names why.
    resp = await client.post(
        f"/consultations/{c['id']}/comments/{held.json()['id']}/moderate",
        json={"decision": "accept"},
        headers=actors.drafter,
    )
    assert fields(assert_problem(resp, 422)) == {"body.note"}
    resp = await client.post(
        f"/consultations/{c['id']}/comments/{held.json()['id']}/moderate",
        json={"decision": "reject"},
        headers=actors.drafter,
    )
    assert fields(assert_problem(resp, 422)) == {"body.reason"}
    resp = await client.post(
        f"/consultations/{c['id']}/comments/{held.json()['id']}/moderate",
        json={"decision": "reject", "reason": "personal_data"},
        headers=actors.drafter,
    )
    assert resp.status_code == 200 and resp.json()["rejection_label"] == "含个人信息"


# --------------------------------------------------------------------------------------------
# Done when: comments → points → feedback report published through review, linked to the draft
# --------------------------------------------------------------------------------------------


async def test_done_when_comments_become_a_feedback_report_published_and_linked_to_the_draft(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: CatalogSettings,
    nc: nats.NATS,
) -> None:
    """Issue 9 "Done when": the public comments, staff moderate and group them into points with adoption and
    reasons; a report before the period ends is refused (nothing changes); after it the feedback report (主要观点、
    采纳意见数量、未采纳意见理由, seed 004) goes through the catalog's review (条例 art. 17), is published with its
    索引号 and shown on the consultation beside the draft; the worker hears catalog.item.published and announces
    catalog.consultation.report_published once. The figures count it."""
    org, actors, published = await published_draft(client)
    c = await open_(client, await new_consultation(client, org, actors, published), actors)
    ids = []
    for text in ("建议在小区增设厨余垃圾投放点。", "厨余垃圾投放点太少，应当增加。", "建议取消定时定点投放。"):
        resp = await comment(client, c, text, contact=CONTACT)
        assert resp.status_code == 201
        ids.append(resp.json()["id"])
    spam = (await comment(client, c, "优惠代开发票，加微信")).json()["id"]

    async def moderate(cid: str, **body: Any) -> None:
        resp = await client.post(f"/consultations/{c['id']}/comments/{cid}/moderate", json=body, headers=actors.drafter)
        assert resp.status_code == 200, resp.text

    # Before the period ends the report is refused, and nothing is created.
    early = await client.post(f"/consultations/{c['id']}/feedback-report", headers=actors.drafter)
    assert_problem(early, 409, "consultation_period_not_ended")
    assert (await client.get(f"/consultations/{c['id']}", headers=actors.drafter)).json()["report"] is None

    for cid in ids:
        await moderate(cid, decision="accept")
    await moderate(spam, decision="reject", reason="spam")
    points_url = f"/consultations/{c['id']}/points"
    resp = await client.post(
        points_url,
        json={
            "summary": "增设厨余垃圾投放点",
            "comment_ids": ids[:2],
            "adopted": True,
            "response": "第十二条增加投放点设置标准",
        },
        headers=actors.drafter,
    )
    assert resp.status_code == 201, resp.text
    # Not adopted without a reason: refused naming the field, no point created.
    resp = await client.post(
        points_url,
        json={"summary": "取消定时定点投放", "comment_ids": [ids[2]], "adopted": False},
        headers=actors.drafter,
    )
    assert fields(assert_problem(resp, 422)) == {"body.response"}
    # A refused comment cannot be counted in a point.
    resp = await client.post(points_url, json={"summary": "x", "comment_ids": [spam]}, headers=actors.drafter)
    assert fields(assert_problem(resp, 422)) == {"body.comment_ids.0"}
    assert len((await client.get(points_url, headers=actors.drafter)).json()) == 1
    resp = await client.post(
        points_url,
        json={
            "summary": "取消定时定点投放",
            "comment_ids": [ids[2]],
            "adopted": False,
            "response": "定时定点投放是分类质量的保证，试点小区分类准确率提高明显",
        },
        headers=actors.drafter,
    )
    assert [(p["adopted"], p["comments"]) for p in resp.json()] == [(True, 2), (False, 1)]

    await age(db, c["id"], 31)  # the period is over
    resp = await client.post(f"/consultations/{c['id']}/feedback-report", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    view = resp.json()
    assert view["status"] == "closed"
    report = view["report"]
    assert report["status"] == "in_review" and report["index_number"] is None
    [closed] = await outbox_events(db, CONSULTATION_CLOSED_V1, consultation_id=c["id"])
    assert closed["data"]["comments_received"] == 4 and closed["data"]["comments_valid"] == 3
    item = (await client.get(f"/items/{report['id']}", headers=actors.drafter)).json()
    assert "共收到意见4条，其中有效意见3条，不予受理1条" in item["body"]
    assert "采纳意见2条" in item["body"]
    assert "1. 增设厨余垃圾投放点（意见2条）。采纳情况：第十二条增加投放点设置标准" in item["body"]
    assert "未采纳理由：定时定点投放是分类质量的保证" in item["body"]
    assert published["index_number"] in item["body"]
    assert CONTACT not in item["body"]
    # Not public while in review.
    assert (await client.get(f"/consultations/{c['id']}")).json()["report"] is None
    assert (await client.get(f"/items/{report['id']}")).status_code == 404

    for _ in range(4):
        resp = await client.post(f"/items/{report['id']}/approve", json={"opinion": "同意"}, headers=actors.reviewer)
        assert resp.status_code == 200, resp.text
    resp = await client.post(f"/items/{report['id']}/publish", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    index_number = resp.json()["index_number"]

    # The worker consumes catalog.item.published from JetStream and announces the report, once.
    stop = asyncio.Event()
    running = asyncio.create_task(
        worker.main(settings.model_copy(update={"consumer_backoff_seconds": [0.2], "sweep_seconds": 3600}), stop)
    )
    try:

        async def announced() -> bool:
            return bool(await outbox_events(db, CONSULTATION_REPORT_PUBLISHED_V1, consultation_id=c["id"]))

        await eventually(announced, what="catalog.consultation.report_published")
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=15)
    # Redelivery of the same catalog.item.published changes nothing (and the inbox would stop it first).
    [published_event] = await outbox_events(db, ITEM_PUBLISHED_V1, item_id=report["id"])
    async with db() as session, session.begin():
        await participation.on_item_published(session, Envelope.model_validate(published_event))
    [event] = await outbox_events(db, CONSULTATION_REPORT_PUBLISHED_V1, consultation_id=c["id"])
    assert event["data"]["report_index_number"] == index_number
    assert event["data"]["comments_adopted"] == 2
    assert CONTACT not in str(event)

    public = (await client.get(f"/consultations/{c['id']}")).json()
    assert public["report"]["id"] == report["id"] and public["report"]["index_number"] == index_number
    assert public["draft"]["id"] == published["id"]
    assert (public["comments_received"], public["comments_valid"], public["comments_adopted"]) == (4, 3, 2)
    assert (await client.get(f"/items/{report['id']}")).json()["status"] == "published"

    today = china_today()
    figures = await client.get(
        "/participation/figures",
        params={
            "organization_id": org["id"],
            "from": (today - dt.timedelta(days=60)).isoformat(),
            "to": today.isoformat(),
        },
        headers=actors.drafter,
    )
    assert figures.status_code == 200, figures.text
    f = figures.json()
    assert (f["consultations_held"], f["comments_received"], f["comments_valid"], f["comments_adopted"]) == (1, 4, 3, 2)
    assert f["adoption_rate"] == round(2 / 3, 4)
    assert (f["reports_due"], f["reports_on_time"], f["reports_late_or_missing"]) == (1, 1, 0)
    # A second report for the same consultation is refused.
    assert_problem(await client.post(f"/consultations/{c['id']}/feedback-report", headers=actors.drafter), 409)


async def test_the_report_waits_for_moderation_grouping_and_decisions(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """After the period a report is still refused while a comment awaits moderation, a valid comment is in no
    point, or a point has no adoption decision: each a 409 naming what is missing; nothing is created."""
    org, actors, published = await published_draft(client)
    c = await open_(client, await new_consultation(client, org, actors, published), actors)
    cid = (await comment(client, c, "建议延长试行期。")).json()["id"]
    await age(db, c["id"], 31)
    url = f"/consultations/{c['id']}/feedback-report"
    assert_problem(await client.post(url, headers=actors.drafter), 409, "comments_unmoderated")
    await client.post(
        f"/consultations/{c['id']}/comments/{cid}/moderate", json={"decision": "accept"}, headers=actors.drafter
    )
    assert_problem(await client.post(url, headers=actors.drafter), 409, "comments_ungrouped")
    point = await client.post(
        f"/consultations/{c['id']}/points", json={"summary": "延长试行期", "comment_ids": [cid]}, headers=actors.drafter
    )
    assert_problem(await client.post(url, headers=actors.drafter), 409, "points_undecided")
    assert (await client.get(f"/consultations/{c['id']}", headers=actors.drafter)).json()["report"] is None
    resp = await client.patch(
        f"/consultations/{c['id']}/points/{point.json()[0]['id']}",
        json={"adopted": False, "response": "试行期已满两年，不再延长"},
        headers=actors.drafter,
    )
    assert resp.status_code == 200, resp.text
    resp = await client.post(url, headers=actors.drafter)
    assert resp.status_code == 200 and resp.json()["report"]["status"] == "in_review"
    # Another department's staff cannot act on it.
    assert (await client.post(url, headers=actors.other_department_reviewer)).status_code == 404


async def test_the_sweep_closes_ended_periods_and_flags_an_overdue_report_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: CatalogSettings
) -> None:
    """The sweep closes a consultation the day after its last day (catalog.consultation.closed) and flags a
    feedback report not published ``consultation_report_due_days`` after the period (report_overdue), once."""
    org, actors, published = await published_draft(client)
    c = await open_(client, await new_consultation(client, org, actors, published), actors)
    today = china_today()
    closes_on = today + dt.timedelta(days=30)
    due_on = closes_on + dt.timedelta(days=settings.consultation_report_due_days)
    assert c["report_due_on"] == due_on.isoformat()

    async def sweep(day: dt.date) -> tuple[int, int]:
        async with db() as session, session.begin():
            return await participation.consultation_sweep(session, today=day)

    await sweep(closes_on)
    assert await outbox_events(db, CONSULTATION_CLOSED_V1, consultation_id=c["id"]) == []
    await sweep(closes_on + dt.timedelta(days=1))
    await sweep(closes_on + dt.timedelta(days=2))
    assert len(await outbox_events(db, CONSULTATION_CLOSED_V1, consultation_id=c["id"])) == 1
    await sweep(due_on)
    assert await outbox_events(db, CONSULTATION_REPORT_OVERDUE_V1, consultation_id=c["id"]) == []
    await sweep(due_on + dt.timedelta(days=1))
    await sweep(due_on + dt.timedelta(days=5))
    [overdue] = await outbox_events(db, CONSULTATION_REPORT_OVERDUE_V1, consultation_id=c["id"])
    assert overdue["data"]["report_due_on"] == due_on.isoformat() and overdue["data"]["status"] == "closed"
