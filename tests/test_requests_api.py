"""The requests service through its HTTP API, on the real PostgreSQL built by its migrations.

Intake (条例 art. 29, 31), the public follow view, the ledger and its deadlines (art. 30-35), outcomes
(art. 36-39), notices, delivery, fees (国办函〔2020〕109号), remedies, transfers, privacy. Dates are real 2026
dates; the service's "today" is fixed per test through ``app.state.today``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import migrate
from fastapi import FastAPI
from gongkai_requests.app import create_app
from gongkai_requests.models import AccessLog, Application, FeeRecord, event_tables
from gongkai_requests.settings import RequestsSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.validators import resident_id_check_char
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

D = dt.date
ID_NUMBER = "11010519491231002X"


def resident_id(serial: int) -> str:
    first17 = f"11010519800101{serial:03d}"
    return first17 + resident_id_check_char(first17)


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    settings: RequestsSettings
    maker: async_sessionmaker[AsyncSession]
    clock: dict[str, dt.date]
    signer: TokenSigner

    def token(self, *roles: Role, department: uuid.UUID | None = None, scopes: frozenset[str] = frozenset()) -> dict:
        principal = Principal(
            subject=f"user-{'-'.join(sorted(r.value for r in roles))}-{department}",
            roles=frozenset(roles),
            department_id=department,
            scopes=scopes,
        )
        return {"Authorization": f"Bearer {self.signer.issue(principal)}"}

    def today(self, day: dt.date) -> None:
        self.clock["today"] = day


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[Api]:
    url = await asyncio.to_thread(migrate, "requests")
    settings = RequestsSettings(database_url=url)
    app = create_app(settings)
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    app.state.engine = engine  # the lifespan does this in a server; ASGITransport does not run it
    app.state.sessionmaker = maker
    clock = {"today": D(2026, 11, 20)}
    app.state.today = lambda: clock["today"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://requests") as client:
        yield Api(client, app, settings, maker, clock, TokenSigner(settings.jwt_secret.get_secret_value()))
    await engine.dispose()


@pytest.fixture
async def dept(api: Api) -> uuid.UUID:
    api.today(D(2026, 11, 20))
    department = uuid.uuid4()
    resp = await api.client.put(
        f"/organizations/{department}",
        json={"name": f"示范市自然资源局{department.hex[:4]}"},
        headers=api.token(Role.office),
    )
    assert resp.status_code == 200, resp.text
    return department


def applicant(**over: Any) -> dict[str, Any]:
    base = {
        "type": "natural_person",
        "name": "张三",
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "phone": "13800138000",
        "email": "zhangsan@example.com",
        "address": "示范市人民路1号",
        "postal_code": "100000",
    }
    base.update(over)
    return base


def application(department: uuid.UUID, **over: Any) -> dict[str, Any]:
    body = {
        "department_id": str(department),
        "applicant": applicant(),
        "title": "2025年示范市国有土地上房屋征收补偿方案",
        "description": "申请公开2025年示范市人民路片区国有土地上房屋征收补偿方案及其批准文件",
        "wanted_form": "paper",
        "delivery_method": "post",
    }
    body.update(over)
    return body


async def register(api: Api, department: uuid.UUID, on: dt.date, **over: Any) -> dict[str, Any]:
    """Staff register an application handed in at the counter on ``on`` (条例 art. 31(1))."""
    body = application(department, channel="in_person", submitted_on=on.isoformat(), **over)
    resp = await api.client.post("/staff/applications", json=body, headers=api.token(Role.staff, department=department))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def add(api: Api, department: uuid.UUID, app_id: str, **entry: Any) -> httpx.Response:
    headers = api.token(Role.staff, department=department)
    if entry.get("kind") == "extension_approved":
        headers = api.token(Role.office)
    return await api.client.post(f"/applications/{app_id}/ledger", json=entry, headers=headers)


async def explain(api: Api, department: uuid.UUID, app_id: str) -> dict[str, dict]:
    resp = await api.client.get(
        f"/applications/{app_id}/deadlines/explain", headers=api.token(Role.staff, department=department)
    )
    assert resp.status_code == 200, resp.text
    return {d["key"].split(":")[0]: d for d in resp.json()["deadlines"]}


async def ledger(api: Api, department: uuid.UUID, app_id: str) -> list[dict]:
    resp = await api.client.get(f"/applications/{app_id}/ledger", headers=api.token(Role.staff, department=department))
    assert resp.status_code == 200
    return resp.json()


async def stored(api: Api, app_id: str) -> Application:
    async with api.maker() as session:
        app = await session.get(Application, uuid.UUID(app_id))
        assert app is not None
        return app


async def outbox_types(api: Api, app_id: str) -> list[str]:
    async with api.maker() as session:
        rows = (await session.execute(select(event_tables.outbox.c.envelope))).scalars().all()
    return [r["type"] for r in rows if r["data"].get("application_id") == app_id]


def assert_problem(resp: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code, body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# -- intake ---------------------------------------------------------------------------------------


async def test_online_submission_returns_code_and_secret_once_and_a_retry_is_the_same_application(
    api: Api, dept: uuid.UUID
) -> None:
    """Issue 4 point 1: an idempotency key makes a retried submission one application."""
    key = f"retry-{uuid.uuid4()}"
    body = application(dept)
    first = await api.client.post("/applications", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = await api.client.post("/applications", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 200, again.text
    a, b = first.json(), again.json()
    assert a["id"] == b["id"] and a["tracking_code"] == b["tracking_code"]
    assert len(a["tracking_code"]) == 10 and a["secret"] and b["secret"]
    async with api.maker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Application).where(Application.idempotency_key == key)
        )
        stored_app = await session.get(Application, uuid.UUID(a["id"]))
    assert count == 1
    assert (
        stored_app is not None
        and a["secret"] not in stored_app.secret_hash
        and stored_app.secret_hash.startswith("scrypt$")
    )
    # The retry's secret replaced the lost one: it opens the follow view.
    follow = await api.client.post("/follow", json={"tracking_code": b["tracking_code"], "secret": b["secret"]})
    assert follow.status_code == 200
    # The same key with another body is refused and creates nothing.
    other = await api.client.post(
        "/applications",
        json=application(dept, description="另一份完全不同的申请内容"),
        headers={"Idempotency-Key": key},
    )
    assert_problem(other, 409, "idempotency_key_reused")
    assert ["requests.application.received.v1"] == await outbox_types(api, a["id"])


async def test_online_submission_on_a_saturday_is_received_the_next_working_day_art_31(
    api: Api, dept: uuid.UUID
) -> None:
    """条例 art. 31 and domain.md §2: online on Saturday 2026-11-21 → received Monday 2026-11-23 (a setting);
    the 20 working days then end 2026-12-21 (11-24..27 = 1-4, 11-30..12-4 = 5-9, 12-7..11 = 10-14,
    12-14..18 = 15-19, 12-21 = 20)."""
    api.today(D(2026, 11, 21))
    resp = await api.client.post("/applications", json=application(dept))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["received_on"] == "2026-11-23"
    assert body["reply_due_on"] == "2026-12-21"  # 20 working days after Monday 11-23
    assert "休息日" in body["receipt_note"]


async def test_the_public_follow_view_shows_progress_and_no_personal_data(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 9, 24))
    resp = await api.client.post(
        "/follow", json={"tracking_code": created["tracking_code"], "secret": created["secret"]}
    )
    assert resp.status_code == 200, resp.text
    view = resp.json()
    assert view["status"] == "processing" and view["received_on"] == "2026-09-24"
    assert {"label": "答复期限", "due_on": "2026-10-29", "provisional": False, "status": "overdue"} in view["deadlines"]
    text = resp.text
    for personal in ("张三", ID_NUMBER, "13800138000", "zhangsan@example.com", "人民路1号", "100000"):
        assert personal not in text
    wrong = await api.client.post(
        "/follow", json={"tracking_code": created["tracking_code"], "secret": "not-the-secret"}
    )
    assert_problem(wrong, 404, "not_found")


async def test_a_malformed_resident_id_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, dept: uuid.UUID
) -> None:
    """条例 art. 29: identity proof; a resident ID number with a wrong check character is refused."""
    async with api.maker() as session:
        before = await session.scalar(select(func.count()).select_from(Application))
    bad = application(dept, applicant=applicant(id_number="110105194912310021"))
    resp = await api.client.post("/applications", json=bad)
    body = assert_problem(resp, 422, "validation_error", "body.applicant.id_number")
    assert any(e["type"] == "resident_id_invalid" for e in body["errors"])
    legal = application(dept, applicant=applicant(type="legal_person", id_type=None, id_number=None, name="示范公司"))
    resp = await api.client.post("/applications", json=legal)
    fields = {e["field"] for e in assert_problem(resp, 422, "validation_error")["errors"]}
    assert {"body.applicant.kind", "body.applicant.organization_code"} <= fields
    async with api.maker() as session:
        assert await session.scalar(select(func.count()).select_from(Application)) == before


async def test_a_receipt_date_in_the_future_is_refused_art_31(api: Api, dept: uuid.UUID) -> None:
    async with api.maker() as session:
        before = await session.scalar(select(func.count()).select_from(Application))
    body = application(dept, channel="letter_signed", signed_on="2026-11-23")
    resp = await api.client.post("/staff/applications", json=body, headers=api.token(Role.staff, department=dept))
    problem = assert_problem(resp, 422, "receipt_date_in_future", "body.signed_on")
    assert problem["rule"] == "条例第三十一条"
    async with api.maker() as session:
        assert await session.scalar(select(func.count()).select_from(Application)) == before


async def test_online_submission_to_an_unknown_department_is_refused(api: Api) -> None:
    resp = await api.client.post("/applications", json=application(uuid.uuid4()))
    assert_problem(resp, 422, "validation_error", "body.department_id")


async def test_staff_registration_per_channel_sets_the_receipt_date_art_31(api: Api, dept: uuid.UUID) -> None:
    staff = api.token(Role.staff, department=dept)
    signed = await api.client.post(
        "/staff/applications",
        json=application(
            dept, channel="letter_signed", signed_on="2026-11-02", postal_tracking_number="EMS1234567890CN"
        ),
        headers=staff,
    )
    assert signed.status_code == 201 and signed.json()["received_on"] == "2026-11-02"
    letters = await api.client.get(f"/applications/{signed.json()['id']}/correspondence", headers=staff)
    assert letters.json()[0]["tracking_number"] == "EMS1234567890CN" and letters.json()[0]["direction"] == "incoming"
    ordinary = await api.client.post(
        "/staff/applications",
        json=application(dept, channel="letter_ordinary", confirmed_on="2026-11-03"),
        headers=staff,
    )
    assert ordinary.json()["received_on"] == "2026-11-03"
    oral = await api.client.post(
        "/staff/applications", json=application(dept, channel="oral", submitted_on="2026-11-04"), headers=staff
    )
    assert_problem(oral, 422, "oral_requires_difficulty", "body.oral_difficulty")
    oral = await api.client.post(
        "/staff/applications",
        json=application(
            dept, channel="oral", submitted_on="2026-11-04", oral_difficulty="申请人年逾八旬，视力不佳，书写困难"
        ),
        headers=staff,
    )
    assert oral.status_code == 201 and oral.json()["received_on"] == "2026-11-04"
    other_dept = await api.client.post(
        "/staff/applications",
        json=application(dept, channel="in_person", submitted_on="2026-11-04"),
        headers=api.token(Role.staff, department=uuid.uuid4()),
    )
    assert_problem(other_dept, 403, "forbidden")


# -- the ledger -------------------------------------------------------------------------------------


async def test_reply_deadline_explained_day_by_day_around_national_day_art_33(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 33: received 2026-09-24 → 20 working days end 2026-10-29; the explanation names the skipped
    holidays (中秋节, 国庆节) and the worked Saturday 10-10 as day 6."""
    created = await register(api, dept, D(2026, 9, 24))
    assert created["reply_due_on"] == "2026-10-29"
    reply = (await explain(api, dept, created["id"]))["reply"]
    assert reply["due_on"] == "2026-10-29" and reply["article"] == "条例第三十三条"
    count = reply["steps"][-1]
    assert count["event"] == "received" and count["working_days"] == 20
    assert count["counted"][5] == "2026-10-10"
    reasons = {s["day"]: s["skipped"] for s in count["skipped"]}
    assert reasons["2026-09-25"] == "中秋节" and reasons["2026-10-01"] == "国庆节" and reasons["2026-10-17"] == "周末"


async def test_correction_restarts_the_reply_clock_art_30(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 30: corrected application received 2026-10-12 → reply due 2026-11-09 (20 working days)."""
    created = await register(api, dept, D(2026, 9, 24))
    app_id = created["id"]
    resp = await add(api, dept, app_id, kind="correction_requested", on="2026-09-28", working_days=10)
    assert resp.status_code == 201, resp.text
    assert (await stored(api, app_id)).status.value == "awaiting_correction"
    assert (await explain(api, dept, app_id))["reply"]["status"] == "suspended"
    resp = await add(api, dept, app_id, kind="corrected_received", on="2026-10-12")
    assert resp.status_code == 201, resp.text
    app = await stored(api, app_id)
    assert app.reply_due_on == D(2026, 11, 9) and app.status.value == "processing"
    assert "requests.application.correction_requested.v1" in await outbox_types(api, app_id)


async def test_third_party_consultation_pauses_the_clock_art_32(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 32: consulted 9-28, answered 10-9 → 4 working days not counted → due 2026-11-04."""
    created = await register(api, dept, D(2026, 9, 24))
    app_id = created["id"]
    sent = await add(api, dept, app_id, kind="third_party_consulted", on="2026-09-28")
    assert sent.status_code == 201
    answer = await add(api, dept, app_id, kind="third_party_answered", on="2026-10-09", ref=sent.json()["id"])
    assert answer.status_code == 201, answer.text
    assert (await stored(api, app_id)).reply_due_on == D(2026, 11, 4)
    explained = await explain(api, dept, app_id)
    assert explained["third_party"]["due_on"] == "2026-10-23"
    assert [p["day"] for p in explained["reply"]["steps"][-1]["paused"]] == [
        "2026-09-29",
        "2026-09-30",
        "2026-10-08",
        "2026-10-09",
    ]


async def test_extension_needs_the_approver_adds_at_most_20_and_only_once_art_33(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 33 第二款: approved by the head of the disclosure office, once, ≤ 20 working days."""
    created = await register(api, dept, D(2026, 9, 24))
    app_id = created["id"]
    by_clerk = await api.client.post(
        f"/applications/{app_id}/ledger",
        json={"kind": "extension_approved", "on": "2026-10-20", "working_days": 20},
        headers=api.token(Role.staff, department=dept),
    )
    assert_problem(by_clerk, 403, "extension_approver_required")
    over = await add(api, dept, app_id, kind="extension_approved", on="2026-10-20", working_days=21)
    body = assert_problem(over, 422, "extension_over_limit", "body.working_days")
    assert body["rule"] == "条例第三十三条第二款"
    assert len(await ledger(api, dept, app_id)) == 1  # nothing changed
    ok = await add(api, dept, app_id, kind="extension_approved", on="2026-10-20", working_days=20)
    assert ok.status_code == 201, ok.text
    assert (await stored(api, app_id)).reply_due_on == D(2026, 11, 26)
    before = await ledger(api, dept, app_id)
    second = await add(api, dept, app_id, kind="extension_approved", on="2026-10-21", working_days=5)
    assert_problem(second, 409, "extension_once")
    assert await ledger(api, dept, app_id) == before
    assert (await stored(api, app_id)).reply_due_on == D(2026, 11, 26)
    # A department head holding the approval scope may approve too.
    other = await register(api, dept, D(2026, 11, 2))
    head = api.token(Role.staff, department=dept, scopes=frozenset({"requests.extension.approve"}))
    resp = await api.client.post(
        f"/applications/{other['id']}/ledger",
        json={"kind": "extension_approved", "on": "2026-11-20", "working_days": 5},
        headers=head,
    )
    assert resp.status_code == 201, resp.text


async def test_a_december_receipt_is_provisional_until_2027_is_loaded(api: Api, dept: uuid.UUID) -> None:
    """domain.md §6: received 2026-12-10 → 2027-01-08, provisional (2027 not loaded)."""
    api.today(D(2026, 12, 10))
    created = await register(api, dept, D(2026, 12, 10))
    assert created["reply_due_on"] == "2027-01-08" and created["reply_due_provisional"] is True
    reply = (await explain(api, dept, created["id"]))["reply"]
    assert reply["provisional"] is True and reply["unknown_years"] == [2027]


async def test_a_reply_without_an_outcome_is_refused_and_nothing_changes_art_36(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    resp = await add(api, dept, created["id"], kind="reply_sent", on="2026-11-20")
    body = assert_problem(resp, 409, "reply_without_outcome", "body.kind")
    assert "第三十六条" in body["rule"]
    assert len(await ledger(api, dept, created["id"])) == 1
    assert (await stored(api, created["id"])).replied_on is None


async def test_bad_entry_dates_are_refused(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    future = await add(api, dept, created["id"], kind="third_party_consulted", on="2026-11-21")
    assert_problem(future, 422, "date_in_future", "body.on")
    early = await add(api, dept, created["id"], kind="third_party_consulted", on="2026-10-30")
    assert_problem(early, 422, "date_before_receipt", "body.on")
    received = await add(api, dept, created["id"], kind="received", on="2026-11-02")
    assert_problem(received, 422, "validation_error", "body.kind")


# -- outcomes, notices, delivery ------------------------------------------------------------------------------


async def test_partial_disclosure_with_notice_delivery_and_close_art_37(api: Api, dept: uuid.UUID) -> None:
    """条例 art. 37: part provided, each withheld part with its reason; the 告知书 as HTML and Word; the reply is
    delivered (送达) before the application can be closed."""
    created = await register(api, dept, D(2026, 11, 2))
    app_id = created["id"]
    staff = api.token(Role.staff, department=dept)
    missing = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "partially_disclosed", "details": {"access_route": "随本告知书提供"}},
        headers=staff,
    )
    assert_problem(missing, 422, "outcome_detail_missing", "body.details.withheld_parts")
    decided = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={
            "outcome": "partially_disclosed",
            "details": {
                "access_route": "随本告知书提供补偿方案（纸质）",
                "withheld_parts": [
                    {"part": "被征收人姓名及补偿金额明细", "reason": "涉及个人隐私", "article": "条例第十五条"}
                ],
            },
        },
        headers=staff,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided"
    page = await api.client.get(f"/applications/{app_id}/notice.html", headers=staff)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "被征收人姓名及补偿金额明细" in page.text and "第三十七条" in page.text and "张三" in page.text
    doc = await api.client.get(f"/applications/{app_id}/notice.docx", headers=staff)
    assert doc.status_code == 200
    assert doc.headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert doc.content[:2] == b"PK"  # a .docx is a zip package
    replied = await add(api, dept, app_id, kind="reply_sent", on="2026-11-20")
    assert replied.status_code == 201, replied.text
    no_delivery = await api.client.post(f"/applications/{app_id}/close", json={"on": "2026-11-20"}, headers=staff)
    assert_problem(no_delivery, 409, "close_without_delivery", "body.reason")
    letter = await api.client.post(
        f"/applications/{app_id}/correspondence",
        json={
            "direction": "outgoing",
            "channel": "post_signed",
            "purpose": "reply",
            "tracking_number": "EMS9876543210CN",
            "sent_on": "2026-11-20",
        },
        headers=staff,
    )
    assert letter.status_code == 201, letter.text
    delivered = await api.client.post(
        f"/applications/{app_id}/correspondence/{letter.json()['id']}/delivered",
        json={"delivered_on": "2026-11-20"},
        headers=staff,
    )
    assert delivered.status_code == 200, delivered.text
    closed = await api.client.post(f"/applications/{app_id}/close", json={"on": "2026-11-20"}, headers=staff)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    types = await outbox_types(api, app_id)
    assert types == [
        "requests.application.received.v1",
        "requests.application.replied.v1",
        "requests.application.closed.v1",
    ]
    async with api.maker() as session:
        rows = (await session.execute(select(event_tables.outbox.c.envelope))).scalars().all()
    payloads = str([r for r in rows if r["data"].get("application_id") == app_id])
    for personal in ("张三", ID_NUMBER, "13800138000", "zhangsan@example.com"):
        assert personal not in payloads  # events carry no personal data
    follow = await api.client.post(
        "/follow", json={"tracking_code": created["tracking_code"], "secret": created["secret"]}
    )
    assert follow.json()["replies"][0]["outcome_label"].startswith("（二）部分公开")
    after = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "disclosed", "details": {"access_route": "x"}},
        headers=staff,
    )
    assert_problem(after, 409, "application_closed", "body.outcome")


async def test_outcomes_that_do_not_fit_the_state_are_refused_naming_the_rule(api: Api, dept: uuid.UUID) -> None:
    """其他处理 1 needs a lapsed correction window (条例 art. 30); 无法提供 3 a corrected application; while the
    applicant may still correct, no decision on the merits."""
    created = await register(api, dept, D(2026, 11, 2))
    app_id = created["id"]
    staff = api.token(Role.staff, department=dept)
    lapsed = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "other_correction_lapsed", "details": {"correction_notice": "无"}},
        headers=staff,
    )
    assert assert_problem(lapsed, 409, "correction_window_not_lapsed")["rule"] == "条例第三十条"
    unclear = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "unavailable_still_unclear", "details": {"correction_notice": "无"}},
        headers=staff,
    )
    assert_problem(unclear, 409, "correction_not_received")
    fee = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "other_fee_unpaid", "details": {"fee_notice": "无"}},
        headers=staff,
    )
    assert_problem(fee, 409, "fee_window_not_lapsed")
    assert (
        await add(api, dept, app_id, kind="correction_requested", on="2026-11-04", working_days=15)
    ).status_code == 201
    waiting = await api.client.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "disclosed", "details": {"access_route": "x"}},
        headers=staff,
    )
    assert_problem(waiting, 409, "awaiting_correction")
    app = await stored(api, app_id)
    assert app.outcome is None and app.status.value == "awaiting_correction"


async def test_not_held_names_the_agency_that_holds_it_art_36_5(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    staff = api.token(Role.staff, department=dept)
    resp = await api.client.post(
        f"/applications/{created['id']}/outcome",
        json={
            "outcome": "unavailable_not_held",
            "details": {
                "explanation": "经检索，本机关未制作或获取该信息",
                "holding_agency": {"name": "示范市住房和城乡建设局", "contact": "0000-12345678"},
            },
        },
        headers=staff,
    )
    assert resp.status_code == 200, resp.text
    page = await api.client.get(f"/applications/{created['id']}/notice.html", headers=staff)
    assert "示范市住房和城乡建设局" in page.text


# -- fees --------------------------------------------------------------------------------------------------


async def test_a_fee_under_both_methods_is_refused_and_nothing_changes_109(api: Api, dept: uuid.UUID) -> None:
    """国办函〔2020〕109号第三条: one method per application, never both."""
    created = await register(api, dept, D(2026, 11, 2))
    staff = api.token(Role.staff, department=dept)
    both = await api.client.post(
        f"/applications/{created['id']}/fee-notice",
        json={"fee_method": "piece", "pages": 250, "on": "2026-11-05"},
        headers=staff,
    )
    assert_problem(both, 422, "fee_methods_combined", "body.fee_method")
    assert len(await ledger(api, dept, created["id"])) == 1
    async with api.maker() as session:
        assert (
            await session.scalar(select(FeeRecord.id).where(FeeRecord.application_id == uuid.UUID(created["id"])))
            is None
        )
    volume = await api.client.post(
        f"/applications/{created['id']}/fee-notice",
        json={"fee_method": "volume", "pages": 250, "on": "2026-11-05", "delivered_on": "2026-11-05"},
        headers=staff,
    )
    assert volume.status_code == 201, volume.text
    assert volume.json()["amount"] in ("4700.00", 4700, "4700")  # 700 + 2,000 + 2,000 (domain.md example)
    app = await stored(api, created["id"])
    assert app.status.value == "awaiting_fee"
    paid = await api.client.post(
        f"/applications/{created['id']}/fee-payment", json={"on": "2026-11-10", "amount": "4700"}, headers=staff
    )
    assert paid.status_code == 200, paid.text
    # Paused 11-6..11-10 (3 working days): received 11-2 → 11-30 + 3 → 2026-12-03.
    assert (await stored(api, created["id"])).reply_due_on == D(2026, 12, 3)


async def test_fees_collected_in_the_year_reach_the_annual_statistics_109(api: Api, dept: uuid.UUID) -> None:
    """The annual report's section 六 (国办公开办函〔2021〕30号) states the 信息处理费 actually collected
    (国办函〔2020〕109号): the statistics carry the payments dated in the year; a fee only noticed is not
    collected, and a payment counts in the year it was made."""
    staff = api.token(Role.staff, department=dept)
    before = (await api.client.get(f"/statistics/{dept}/2026", headers=staff)).json()["fees_collected"]
    paid_app = await register(api, dept, D(2026, 11, 2))
    unpaid_app = await register(api, dept, D(2026, 11, 2))
    for created in (paid_app, unpaid_app):
        notice = await api.client.post(
            f"/applications/{created['id']}/fee-notice",
            json={"fee_method": "volume", "pages": 250, "on": "2026-11-05", "delivered_on": "2026-11-05"},
            headers=staff,
        )
        assert notice.status_code == 201, notice.text
    paid = await api.client.post(
        f"/applications/{paid_app['id']}/fee-payment", json={"on": "2026-11-10", "amount": "4700"}, headers=staff
    )
    assert paid.status_code == 200, paid.text
    y2026 = (await api.client.get(f"/statistics/{dept}/2026", headers=staff)).json()
    assert Decimal(y2026["fees_collected"]) - Decimal(before) == Decimal("4700.00")
    y2027 = (await api.client.get(f"/statistics/{dept}/2027", headers=staff)).json()
    assert Decimal(y2027["fees_collected"]) == 0


async def test_piece_fee_counts_the_applicants_applications_in_the_calendar_month_109(
    api: Api, dept: uuid.UUID
) -> None:
    """按件: the 11th application of one applicant (same identity hash) in a calendar month costs 100 元."""
    person = applicant(id_number=resident_id(7), name="李四")
    ids = []
    for _ in range(11):
        ids.append((await register(api, dept, D(2026, 10, 12), applicant=person))["id"])
    staff = api.token(Role.staff, department=dept)
    first = await api.client.post(
        f"/applications/{ids[0]}/fee-notice", json={"fee_method": "piece", "on": "2026-10-13"}, headers=staff
    )
    assert_problem(first, 422, "fee_not_due")  # 1-10 free
    eleventh = await api.client.post(
        f"/applications/{ids[10]}/fee-notice", json={"fee_method": "piece", "on": "2026-10-13"}, headers=staff
    )
    assert eleventh.status_code == 201, eleventh.text
    assert float(eleventh.json()["amount"]) == 100.0
    async with api.maker() as session:
        hashes = set(
            (
                await session.scalars(
                    select(Application.identity_hash).where(Application.id.in_([uuid.UUID(i) for i in ids]))
                )
            ).all()
        )
    assert len(hashes) == 1 and resident_id(7) not in next(iter(hashes))


# -- privacy, transfers, remedies ------------------------------------------------------------------------------


async def test_other_departments_get_404_and_personal_data_is_masked_and_reads_are_logged(
    api: Api, dept: uuid.UUID
) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    app_id = created["id"]
    stranger = await api.client.get(f"/applications/{app_id}", headers=api.token(Role.staff, department=uuid.uuid4()))
    assert_problem(stranger, 404, "not_found")
    own = await api.client.get(f"/applications/{app_id}", headers=api.token(Role.staff, department=dept))
    assert own.json()["applicant"]["id_number"] == ID_NUMBER and own.json()["applicant"]["masked"] is False
    reviewer = await api.client.get(f"/applications/{app_id}", headers=api.token(Role.reviewer, department=dept))
    masked = reviewer.json()["applicant"]
    assert masked["masked"] is True and masked["id_number"] != ID_NUMBER and masked["name"] == "张*"
    assert masked["phone"] != "13800138000"
    async with api.maker() as session:
        logs = (await session.scalars(select(AccessLog).where(AccessLog.application_id == uuid.UUID(app_id)))).all()
    assert len(logs) == 1 and logs[0].purpose == "view_application"  # the masked read is not a personal-data read


async def test_transfer_keeps_history_and_moves_the_work(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    other = uuid.uuid4()
    await api.client.put(
        f"/organizations/{other}", json={"name": "示范市住房和城乡建设局"}, headers=api.token(Role.office)
    )
    staff = api.token(Role.staff, department=dept)
    resp = await api.client.post(
        f"/applications/{created['id']}/transfers",
        json={"to_department_id": str(other), "reason": "属住建局职责"},
        headers=staff,
    )
    assert resp.status_code == 201, resp.text
    assert (await api.client.get(f"/applications/{created['id']}", headers=staff)).status_code == 404
    theirs = api.token(Role.staff, department=other)
    history = await api.client.get(f"/applications/{created['id']}/transfers", headers=theirs)
    assert history.json()[0]["from_department_id"] == str(dept) and history.json()[0]["reason"] == "属住建局职责"


async def test_remedies_record_review_and_suits_with_results(api: Api, dept: uuid.UUID) -> None:
    created = await register(api, dept, D(2026, 11, 2))
    staff = api.token(Role.staff, department=dept)
    review = await api.client.post(
        f"/applications/{created['id']}/remedies", json={"kind": "review", "filed_on": "2026-11-10"}, headers=staff
    )
    assert review.status_code == 201 and review.json()["result"] == "pending"
    bad = await api.client.patch(
        f"/applications/{created['id']}/remedies/{review.json()['id']}", json={"result": "upheld"}, headers=staff
    )
    assert_problem(bad, 422, "validation_error", "body.concluded_on")
    done = await api.client.patch(
        f"/applications/{created['id']}/remedies/{review.json()['id']}",
        json={"result": "upheld", "concluded_on": "2026-11-19"},
        headers=staff,
    )
    assert done.status_code == 200 and done.json()["result"] == "upheld"
