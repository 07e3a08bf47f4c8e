"""Requests beyond one application: work lists, sweeps (其他处理 1 and 2, due soon, overdue), the annual
statistics (tables 三 and 四 with their checks), calendar recomputation, repeats and repeated topics, and the
events through the real worker and NATS (no personal data in any payload)."""

# ruff: noqa: F811 - the fixtures ``api`` and ``dept`` are imported from test_requests_api and used as parameters

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import nats
from gongkai_requests import service, worker
from gongkai_requests.models import Application, Organization, PublishedItem, calendar_table, event_tables
from gongkai_requests.settings import RequestsSettings
from gongkai_shared.auth import Role
from gongkai_shared.calendar import WorkingDayCalendar, YearArrangement
from gongkai_shared.calendar_store import calendar_updated_handler, load_calendar
from gongkai_shared.contracts.catalog import ITEM_PUBLISHED_V1, ORGANIZATION_CREATED_V1, ItemPublishedV1, OrganizationV1
from gongkai_shared.contracts.gateway import CALENDAR_UPDATED_V1, CalendarUpdatedV1
from gongkai_shared.events import Namespace, ensure_stream, new_envelope
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from test_requests_api import (  # noqa: F401 - api and dept are fixtures
    ID_NUMBER,
    Api,
    add,
    api,
    applicant,
    application,
    assert_problem,
    dept,
    outbox_types,
    register,
    resident_id,
    stored,
)

D = dt.date


async def _new_dept(api: Api, name: str) -> uuid.UUID:
    department = uuid.uuid4()
    resp = await api.client.put(f"/organizations/{department}", json={"name": name}, headers=api.token(Role.office))
    assert resp.status_code == 200
    return department


# -- work list ----------------------------------------------------------------------------------------------


async def test_work_list_is_per_department_sorted_by_reply_deadline_with_keyset_pages(
    api: Api, dept: uuid.UUID
) -> None:
    other = await _new_dept(api, "示范市教育局")
    late = await register(api, dept, D(2026, 11, 10))
    early = await register(api, dept, D(2026, 10, 12))
    middle = await register(
        api,
        dept,
        D(2026, 11, 2),
        applicant=applicant(
            type="legal_person",
            kind="commercial",
            name="示范科技有限公司",
            id_type=None,
            id_number=None,
            organization_code="11441700007280420Y",
        ),
    )
    await register(api, other, D(2026, 10, 12))
    staff = api.token(Role.staff, department=dept)
    page1 = await api.client.get("/applications", params={"limit": 2}, headers=staff)
    assert page1.status_code == 200, page1.text
    body = page1.json()
    assert [i["id"] for i in body["items"]] == [early["id"], middle["id"]]
    assert body["items"][0]["applicant_name"] == "张*"  # masked in lists
    page2 = await api.client.get("/applications", params={"limit": 2, "cursor": body["next_cursor"]}, headers=staff)
    assert [i["id"] for i in page2.json()["items"]] == [late["id"]] and page2.json()["next_cursor"] is None
    legal = await api.client.get("/applications", params={"applicant_type": "legal_person"}, headers=staff)
    assert [i["id"] for i in legal.json()["items"]] == [middle["id"]]
    ranged = await api.client.get(
        "/applications",
        params={"due_from": "2026-11-30", "due_to": "2026-12-31", "status": ["processing"]},
        headers=staff,
    )
    assert [i["id"] for i in ranged.json()["items"]] == [middle["id"], late["id"]]
    office = await api.client.get("/applications", params={"department_id": str(other)}, headers=api.token(Role.office))
    assert len(office.json()["items"]) == 1 and office.json()["items"][0]["department_id"] == str(other)
    bad = await api.client.get("/applications", params={"cursor": "not-a-cursor"}, headers=staff)
    assert_problem(bad, 422, "validation_error", "query.cursor")


async def test_the_work_list_query_is_served_by_its_index(api: Api) -> None:
    """The department + status filter sorted by deadline reads ix_applications_worklist (keyset, no sort)."""
    async with api.maker() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = (
            (
                await session.execute(
                    text(
                        "EXPLAIN SELECT id FROM applications WHERE department_id = :d AND status = 'processing' "
                        "AND (sort_due_on, id) > ('2026-01-01', '00000000-0000-0000-0000-000000000000') "
                        "ORDER BY sort_due_on, id LIMIT 50"
                    ),
                    {"d": uuid.uuid4()},
                )
            )
            .scalars()
            .all()
        )
    assert "ix_applications_worklist" in "\n".join(plan)


# -- sweeps -------------------------------------------------------------------------------------------------


async def test_a_missed_correction_period_closes_the_application_as_other_1_art_30(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 30: no correction within the period → treated as abandoned, 其他处理 1; once only."""
    created = await register(api, dept, D(2026, 10, 12))
    api.today(D(2026, 10, 13))
    assert (
        await add(api, dept, created["id"], kind="correction_requested", on="2026-10-13", working_days=5)
    ).status_code == 201
    # 10-14..10-16, 10-19, 10-20: the period ends 2026-10-20.
    async with api.maker() as session, session.begin():
        await service.sweep_lapsed(session, settings=api.settings, today=D(2026, 10, 20))
    app = await stored(api, created["id"])
    assert app.closed_on is None  # still within the period on 10-20
    async with api.maker() as session, session.begin():
        await service.sweep_lapsed(session, settings=api.settings, today=D(2026, 10, 21))
    app = await stored(api, created["id"])
    assert app.closed_on == D(2026, 10, 21) and app.outcome == "other_correction_lapsed"
    assert app.status.value == "closed" and "条例第三十条" in (app.close_reason or "")
    async with api.maker() as session, session.begin():
        await service.sweep_lapsed(session, settings=api.settings, today=D(2026, 10, 22))
    assert (await outbox_types(api, created["id"])).count("requests.application.closed.v1") == 1


async def test_a_missed_payment_closes_the_application_as_other_2_109(api: Api, dept: uuid.UUID) -> None:
    """国办函〔2020〕109号: unpaid within 20 working days of receiving the notice → 其他处理 2."""
    created = await register(api, dept, D(2026, 9, 24))
    api.today(D(2026, 10, 12))
    notice = await api.client.post(
        f"/applications/{created['id']}/fee-notice",
        json={"fee_method": "volume", "pages": 40, "on": "2026-10-12", "delivered_on": "2026-10-12"},
        headers=api.token(Role.staff, department=dept),
    )
    assert notice.status_code == 201, notice.text
    async with api.maker() as session, session.begin():
        await service.sweep_lapsed(session, settings=api.settings, today=D(2026, 11, 9))  # the last day to pay
    assert (await stored(api, created["id"])).closed_on is None
    async with api.maker() as session, session.begin():
        await service.sweep_lapsed(session, settings=api.settings, today=D(2026, 11, 10))
    app = await stored(api, created["id"])
    assert app.outcome == "other_fee_unpaid" and app.closed_on == D(2026, 11, 10)


async def test_due_soon_and_overdue_events_once_per_deadline(api: Api, dept: uuid.UUID) -> None:
    """Due soon 3 working days before (a setting), overdue the day after; each only once."""
    created = await register(api, dept, D(2026, 10, 12))  # reply due 2026-11-09
    for day in (D(2026, 11, 3), D(2026, 11, 4), D(2026, 11, 5)):
        async with api.maker() as session, session.begin():
            await service.sweep_signals(session, settings=api.settings, today=day)
    types = await outbox_types(api, created["id"])
    assert types.count("requests.application.due_soon.v1") == 1  # 11-04 + 3 working days = 11-09
    assert "requests.application.overdue.v1" not in types
    for day in (D(2026, 11, 10), D(2026, 11, 11)):
        async with api.maker() as session, session.begin():
            await service.sweep_signals(session, settings=api.settings, today=day)
    types = await outbox_types(api, created["id"])
    assert types.count("requests.application.overdue.v1") == 1
    async with api.maker() as session:
        rows = (await session.execute(select(event_tables.outbox.c.envelope))).scalars().all()
    overdue = [
        r["data"]
        for r in rows
        if r["type"] == "requests.application.overdue.v1" and r["data"]["application_id"] == created["id"]
    ]
    assert overdue[0]["deadline"] == "reply" and overdue[0]["due_on"] == "2026-11-09"


# -- calendar ------------------------------------------------------------------------------------------------


async def test_loading_2027_recomputes_stored_provisional_deadlines(api: Api, dept: uuid.UUID) -> None:
    """domain.md §6: a December 2026 receipt is provisional; loading 2027 recomputes it in the handler's
    transaction. Test data (not the official arrangement): 2027-01-01..01-04 off → 2027-01-11."""
    api.today(D(2026, 12, 10))
    created = await register(api, dept, D(2026, 12, 10))
    assert created["reply_due_on"] == "2027-01-08" and created["reply_due_provisional"] is True
    arrangement = YearArrangement.model_validate(
        {
            "year": 2027,
            "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"}],
            "workdays": [],
            "source": "test data (not the official arrangement)",
        }
    )
    handler = worker.handlers(api.settings)[0]
    assert handler.subject == "gateway.calendar.updated"
    event = CalendarUpdatedV1(
        year=2027, arrangement=arrangement.model_dump(mode="json"), loaded_at=dt.datetime.now(dt.UTC)
    )
    try:
        async with api.maker() as session, session.begin():
            await handler.handle(session, new_envelope(CALENDAR_UPDATED_V1, event))
        app = await stored(api, created["id"])
        assert app.reply_due_on == D(2027, 1, 11) and app.reply_due_provisional is False
    finally:
        async with api.maker() as session, session.begin():
            await session.execute(calendar_table.delete().where(calendar_table.c.year == 2027))
            await service.recompute_open(
                session, await load_calendar(session, calendar_table), settings=api.settings, today=D(2026, 12, 10)
            )


def _calendar_event(arrangement: YearArrangement) -> CalendarUpdatedV1:
    return CalendarUpdatedV1(
        year=arrangement.year, arrangement=arrangement.model_dump(mode="json"), loaded_at=dt.datetime.now(dt.UTC)
    )


async def _mark_reply_due(api: Api, app_id: str, marker: dt.date) -> None:
    """Overwrite a stored reply deadline: a recompute would put it right, so a surviving marker proves that the
    application was not recomputed."""
    async with api.maker() as session, session.begin():
        await session.execute(
            update(Application).where(Application.id == uuid.UUID(app_id)).values(reply_due_on=marker)
        )


async def test_loading_a_year_recomputes_only_the_applications_whose_deadlines_reach_into_it(
    api: Api, dept: uuid.UUID
) -> None:
    """domain.md §6: when a year's arrangement is loaded, the open applications received in or before that year
    whose stored deadlines reach its 1 January (provisional ones included) are recomputed; one whose deadlines
    all lie before it, or received after it, cannot move and is not touched (the worker's handler passes the
    year to ``recompute_year``). Test data (not the official arrangement): 2027-01-01..01-04 off."""
    api.today(D(2026, 12, 10))
    late = await register(api, dept, D(2026, 12, 10))  # 条例 art. 33: 20 working days → 2027, provisional
    early = await register(api, dept, D(2026, 10, 12))  # reply due 2026-11-09: wholly before 2027
    assert late["reply_due_on"] == "2027-01-08" and late["reply_due_provisional"] is True
    assert (await stored(api, early["id"])).deadlines_through == D(2026, 11, 9)
    await _mark_reply_due(api, early["id"], D(2026, 11, 6))
    arrangement = YearArrangement.model_validate(
        {
            "year": 2027,
            "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"}],
            "workdays": [],
            "source": "test data (not the official arrangement)",
        }
    )
    handler = worker.handlers(api.settings)[0]
    try:
        async with api.maker() as session, session.begin():
            await handler.handle(session, new_envelope(CALENDAR_UPDATED_V1, _calendar_event(arrangement)))
        moved = await stored(api, late["id"])
        assert moved.reply_due_on == D(2027, 1, 11) and moved.reply_due_provisional is False
        assert moved.deadlines_through == D(2027, 1, 11)
        assert (await stored(api, early["id"])).reply_due_on == D(2026, 11, 6)  # not touched
        # A year before both receipts but after early's deadlines: neither is touched.
        await _mark_reply_due(api, late["id"], D(2027, 1, 7))
        async with api.maker() as session, session.begin():
            calendar = await load_calendar(session, calendar_table)
            await service.recompute_year(session, calendar, 2025, settings=api.settings, today=D(2026, 12, 10))
        assert (await stored(api, late["id"])).reply_due_on == D(2027, 1, 7)
        assert (await stored(api, early["id"])).reply_due_on == D(2026, 11, 6)
        # 2026 reaches both: both are recomputed (the markers are put right).
        async with api.maker() as session, session.begin():
            calendar = await load_calendar(session, calendar_table)
            await service.recompute_year(session, calendar, 2026, settings=api.settings, today=D(2026, 12, 10))
        assert (await stored(api, late["id"])).reply_due_on == D(2027, 1, 11)
        assert (await stored(api, early["id"])).reply_due_on == D(2026, 11, 9)
    finally:
        async with api.maker() as session, session.begin():
            await session.execute(calendar_table.delete().where(calendar_table.c.year == 2027))
            await service.recompute_open(
                session, await load_calendar(session, calendar_table), settings=api.settings, today=D(2026, 12, 10)
            )


async def test_a_recompute_callback_without_the_year_still_receives_every_calendar_change(api: Api) -> None:
    """Backward compatibility of ``calendar_updated_handler``: a service that passes ``recompute(session,
    calendar)`` (catalog, interpretation) is called as before, with the calendar that includes the loaded year."""
    seen: list[tuple[int, ...]] = []

    async def recompute(session: AsyncSession, calendar: WorkingDayCalendar) -> int:
        seen.append(calendar.known_years)
        return 0

    handler = calendar_updated_handler(name="test-calendar", table=calendar_table, recompute=recompute)
    arrangement = YearArrangement.model_validate(
        {"year": 2031, "holidays": [], "workdays": [], "source": "test data (not an arrangement)"}
    )
    try:
        async with api.maker() as session, session.begin():
            await handler.handle(session, new_envelope(CALENDAR_UPDATED_V1, _calendar_event(arrangement)))
        assert len(seen) == 1 and 2031 in seen[0]
    finally:
        async with api.maker() as session, session.begin():
            await session.execute(calendar_table.delete().where(calendar_table.c.year == 2031))


# -- statistics ----------------------------------------------------------------------------------------------


async def test_annual_statistics_add_up_in_every_column(api: Api) -> None:
    """国办公开办函〔2021〕30号 tables 三 and 四: 一 + 二 = （七） + 四 in every column; the 总计 column is the sum;
    each table 四 总计 is the sum of its four results; last year's 四 is this year's 二."""
    department = await _new_dept(api, "示范市统计测试局")
    staff = api.token(Role.staff, department=department)
    api.today(D(2026, 1, 10))
    a = await register(api, department, D(2025, 12, 22))  # carried over into 2026
    resp = await api.client.post(
        f"/applications/{a['id']}/outcome",
        json={"outcome": "disclosed", "details": {"access_route": "政府网站"}},
        headers=staff,
    )
    assert resp.status_code == 200, resp.text
    assert (await add(api, department, a["id"], kind="reply_sent", on="2026-01-09")).status_code == 201
    api.today(D(2026, 3, 20))
    company = applicant(
        type="legal_person",
        kind="commercial",
        name="示范公司",
        id_type=None,
        id_number=None,
        organization_code="11441700007280420Y",
    )
    b = await register(api, department, D(2026, 3, 2), applicant=company)
    resp = await api.client.post(
        f"/applications/{b['id']}/outcome",
        json={"outcome": "withheld_state_secret", "details": {"refusal_reason": "经保密审查属于国家秘密"}},
        headers=staff,
    )
    assert resp.status_code == 200, resp.text
    assert (await add(api, department, b["id"], kind="reply_sent", on="2026-03-20")).status_code == 201
    api.today(D(2026, 11, 20))
    await register(api, department, D(2026, 11, 2))  # still open at year end: carried forward
    review = await api.client.post(
        f"/applications/{b['id']}/remedies",
        json={"kind": "review", "filed_on": "2026-04-01", "result": "upheld", "concluded_on": "2026-05-01"},
        headers=staff,
    )
    assert review.status_code == 201
    suit = await api.client.post(
        f"/applications/{b['id']}/remedies", json={"kind": "suit_after_review", "filed_on": "2026-06-01"}, headers=staff
    )
    assert suit.status_code == 201

    y2026 = (await api.client.get(f"/statistics/{department}/2026", headers=staff)).json()
    y2025 = (await api.client.get(f"/statistics/{department}/2025", headers=staff)).json()
    assert y2026["checks"] == [] and y2025["checks"] == []
    rows = {r["key"]: r["values"] for r in y2026["table3"]}
    #              自然人 商业 科研 公益 法律 其他 总计
    assert rows["new"] == [1, 1, 0, 0, 0, 0, 2]
    assert rows["carried_over"] == [1, 0, 0, 0, 0, 0, 1]
    assert rows["disclosed"] == [1, 0, 0, 0, 0, 0, 1]
    assert rows["withheld_state_secret"] == [0, 1, 0, 0, 0, 0, 1]
    assert rows["carried_forward"] == [1, 0, 0, 0, 0, 0, 1]
    last = {r["key"]: r["values"] for r in y2025["table3"]}
    assert last["carried_forward"] == rows["carried_over"]
    cells = {(c["block"], c["column"]): c["value"] for c in y2026["table4"]}
    assert cells[("行政复议", "结果维持")] == 1 and cells[("行政复议", "总计")] == 1
    assert cells[("行政诉讼·复议后起诉", "尚未审结")] == 1 and len(cells) == 15
    stranger = await api.client.get(
        f"/statistics/{department}/2026", headers=api.token(Role.staff, department=uuid.uuid4())
    )
    assert_problem(stranger, 404, "not_found")
    # The catalog composing the annual report reads with a system token scoped to requests and the organization.
    system = api.token(Role.system, scopes=frozenset({"requests:read", f"org:{department}"}))
    assert (await api.client.get(f"/statistics/{department}/2026", headers=system)).json()["table3"] == y2026["table3"]
    unscoped = api.token(Role.system, scopes=frozenset({"catalog:read", f"org:{department}"}))
    assert (await api.client.get(f"/statistics/{department}/2026", headers=unscoped)).status_code == 403
    elsewhere = api.token(Role.system, scopes=frozenset({"requests:read", f"org:{uuid.uuid4()}"}))
    assert_problem(await api.client.get(f"/statistics/{department}/2026", headers=elsewhere), 404, "not_found")


# -- repeats and topics ---------------------------------------------------------------------------------------


async def test_the_same_applicant_asking_again_is_flagged_as_a_repeat_art_36_6(api: Api, dept: uuid.UUID) -> None:
    person = applicant(id_number=resident_id(21), name="王五")
    first = await register(api, dept, D(2026, 10, 12), applicant=person)
    staff = api.token(Role.staff, department=dept)
    resp = await api.client.post(
        f"/applications/{first['id']}/outcome",
        json={"outcome": "disclosed", "details": {"access_route": "随函提供"}},
        headers=staff,
    )
    assert resp.status_code == 200
    assert (await add(api, dept, first["id"], kind="reply_sent", on="2026-10-20")).status_code == 201
    again = await register(
        api,
        dept,
        D(2026, 11, 2),
        applicant=person,
        title=None,
        description="请提供人民路片区国有土地上房屋征收补偿方案及批准文件",
    )
    assert (await stored(api, again["id"])).repeat_of_id == uuid.UUID(first["id"])
    someone_else = await register(api, dept, D(2026, 11, 2), applicant=applicant(id_number=resident_id(22)))
    assert (await stored(api, someone_else["id"])).repeat_of_id is None


async def test_several_applicants_asking_similar_things_raise_topic_repeated(api: Api) -> None:
    department = await _new_dept(api, "示范市住建局")
    texts = [
        "申请公开人民路片区国有土地上房屋征收补偿方案及其批准文件",
        "请提供人民路片区房屋征收补偿方案，以及该方案的批准文件",
        "我想要人民路片区国有土地上房屋征收的补偿安置方案",
    ]
    ids = []
    for i, description in enumerate(texts):
        created = await register(
            api,
            department,
            D(2026, 11, 2),
            applicant=applicant(id_number=resident_id(40 + i)),
            title=None,
            description=description,
        )
        ids.append(created["id"])
    await register(
        api,
        department,
        D(2026, 11, 2),
        applicant=applicant(id_number=resident_id(49)),
        title=None,
        description="申请公开示范市2025年财政预算执行情况报告",
    )
    async with api.maker() as session:
        rows = (await session.execute(select(event_tables.outbox.c.envelope))).scalars().all()
    topics = [
        r["data"]
        for r in rows
        if r["type"] == "requests.topic.repeated.v1" and r["data"]["department_id"] == str(department)
    ]
    assert len(topics) == 1
    assert sorted(topics[0]["application_ids"]) == sorted(ids) and topics[0]["applicant_count"] == 3
    assert "人民路片区" in topics[0]["suggested_title"]
    assert "张三" not in json.dumps(topics[0], ensure_ascii=False)


async def test_an_application_for_already_published_information_is_matched_and_staff_see_it_art_36_1(
    api: Api,
) -> None:
    """条例 art. 36(1): information already published is answered by telling the applicant where to find it.
    The catalog's ``catalog.item.published`` (through the worker's handler, delivered twice) is remembered; an
    application naming the same 文号, or a title close to the item's, carries the match, which staff see on the
    application; an unrelated request has none."""
    department = await _new_dept(api, "示范市住房和城乡建设局")
    handler = next(h for h in worker.handlers(api.settings) if h.subject == "catalog.item.published")
    item_id = uuid.uuid4()
    item = ItemPublishedV1(
        item_id=item_id,
        index_number="11330100MB0000001X/2026-00012",
        title="示范市2026年城镇老旧小区改造计划",
        document_number="示建发〔2026〕12号",
        kind="normative_document",
        kind_label="行政规范性文件",
        is_policy=True,
        organization_id=department,
        published_on=D(2026, 3, 2),
    )
    envelope = new_envelope(ITEM_PUBLISHED_V1, item)
    for _ in range(2):  # redelivery: still one remembered item
        async with api.maker() as session, session.begin():
            await handler.handle(session, envelope)
    async with api.maker() as session:
        assert await session.scalar(select(func.count()).where(PublishedItem.item_id == item_id)) == 1
    staff = api.token(Role.staff, department=department)

    by_number = await register(
        api,
        department,
        D(2026, 11, 2),
        title="老旧小区改造文件",
        document_number="示建发〔2026〕12号",
        description="申请公开示建发〔2026〕12号文件全文",
    )
    by_title = await register(
        api,
        department,
        D(2026, 11, 2),
        applicant=applicant(id_number=resident_id(31), name="李四"),
        title="2026年城镇老旧小区改造计划",
        description="申请公开本市2026年城镇老旧小区改造计划",
    )
    unrelated = await register(
        api,
        department,
        D(2026, 11, 2),
        applicant=applicant(id_number=resident_id(32), name="赵六"),
        title="人民路12号违法建设处罚决定书",
        description="申请公开人民路12号违法建设的行政处罚决定书",
    )
    seen = {}
    for created in (by_number, by_title, unrelated):
        resp = await api.client.get(f"/applications/{created['id']}", headers=staff)
        assert resp.status_code == 200, resp.text
        seen[created["id"]] = resp.json()["published_match"]
    assert seen[by_number["id"]]["item_id"] == str(item_id) and seen[by_number["id"]]["why"] == "文号相同"
    assert seen[by_number["id"]]["index_number"] == "11330100MB0000001X/2026-00012"
    assert seen[by_title["id"]]["item_id"] == str(item_id) and seen[by_title["id"]]["why"] == "标题相近"
    assert seen[unrelated["id"]] is None


# -- the worker with NATS --------------------------------------------------------------------------------------


async def test_worker_publishes_events_without_personal_data_and_keeps_catalog_organizations(
    api: Api, dept: uuid.UUID, namespace: str
) -> None:
    """Outbox → relay → JetStream: ``requests.application.received`` arrives with ids, department and dates only;
    ``catalog.organization.created`` from the catalog's stream lands in the local organizations table."""
    ns = Namespace(namespace)
    settings = RequestsSettings(database_url=api.settings.database_url, sweep_every_seconds=3600)
    nc = await nats.connect(api.settings.nats_url)
    received: asyncio.Queue = asyncio.Queue()
    sub = await nc.subscribe(ns.subject("requests.application.received"), cb=received.put)
    js = nc.jetstream()
    await ensure_stream(js, ns, "catalog")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.main(settings, stop))
    try:
        created = await register(api, dept, D(2026, 11, 2))
        payload = None
        deadline = asyncio.get_running_loop().time() + 30
        while payload is None:
            msg = await asyncio.wait_for(received.get(), timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
            envelope = json.loads(msg.data)
            if envelope["data"]["application_id"] == created["id"]:
                payload = envelope["data"]
        assert payload["department_id"] == str(dept) and payload["received_on"] == "2026-11-02"
        for personal in ("张三", ID_NUMBER, "13800138000", "zhangsan@example.com", "人民路1号"):
            assert personal not in msg.data.decode()
        org_id = uuid.uuid4()
        env = new_envelope(
            ORGANIZATION_CREATED_V1,
            OrganizationV1(organization_id=org_id, name="示范市卫生健康委员会", type="department", type_label="部门"),
        )
        await js.publish(
            ns.subject("catalog.organization.created"),
            env.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(env.id)},
        )
        for _ in range(150):
            async with api.maker() as session:
                org = await session.get(Organization, org_id)
            if org is not None:
                break
            await asyncio.sleep(0.2)
        assert org is not None and org.name == "示范市卫生健康委员会" and org.source == "catalog"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        await sub.unsubscribe()
        await nc.close()


async def test_application_by_applicant_type_counts_are_ignored_for_other_departments(api: Api) -> None:
    """Statistics are per department: another department's applications never leak into the table."""
    empty = await _new_dept(api, "示范市空白局")
    resp = await api.client.get(f"/statistics/{empty}/2026", headers=api.token(Role.office))
    rows = {r["key"]: r["values"] for r in resp.json()["table3"]}
    assert rows["new"] == [0] * 7 and rows["results_total"] == [0] * 7
    async with api.maker() as session:
        assert await session.scalar(select(Application.id).where(Application.department_id == empty)) is None
