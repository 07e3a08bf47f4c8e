"""The annual report (政府信息公开工作年度报告; 条例 art. 49-50; 国办公开办函〔2021〕30号; issue 8 point 1).

The requests API is served by uvicorn in this process on a free port (as tests/test_catalog_e2e.py serves its
services), on its real migrated database, and the catalog asks it for tables 三 and 四 over real HTTP; the
catalog runs in-process on its own migrated database. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import migrate
from docx import Document
from fastapi import FastAPI
from gongkai_catalog import annual_report as ar
from gongkai_catalog.annual_report import AnnualReport
from gongkai_catalog.app import create_app as create_catalog_app
from gongkai_catalog.models import OrganizationType
from gongkai_catalog.settings import CatalogSettings
from gongkai_requests.app import create_app as create_requests_app
from gongkai_requests.settings import RequestsSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.db import create_engine, make_sessionmaker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_catalog_support import Actors, assert_problem, fields, outbox_events, uscc

D = dt.date
YEAR = dt.date.today().year - 1  # the report's default year: the previous calendar year (条例 art. 49)


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port of this process; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def catalog_client(settings: CatalogSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_catalog_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test", timeout=60) as c:
            yield c


@dataclass
class World:
    catalog: httpx.AsyncClient
    requests: httpx.AsyncClient
    requests_app: FastAPI
    settings: CatalogSettings
    db: async_sessionmaker[AsyncSession]
    signer: TokenSigner

    def token(self, *roles: Role, department: uuid.UUID | None = None, name: str = "") -> dict[str, str]:
        subject = f"user-{uuid.uuid4().hex[:8]}"
        principal = Principal(subject=subject, name=name or subject, roles=frozenset(roles), department_id=department)
        return {"Authorization": f"Bearer {self.signer.issue(principal, ttl=dt.timedelta(hours=2))}"}

    def today(self, day: dt.date) -> None:
        """The requests service's "today" (its ledger refuses dates in the future)."""
        self.requests_app.state.today = lambda: day


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    requests_url_db = await asyncio.to_thread(migrate, "requests")
    catalog_db = await asyncio.to_thread(migrate, "catalog")
    requests_app = create_requests_app(RequestsSettings(database_url=requests_url_db))
    async with contextlib.AsyncExitStack() as stack:
        requests_url = await stack.enter_async_context(serve(requests_app))
        settings = CatalogSettings(database_url=catalog_db, requests_url=requests_url, requests_timeout_seconds=5)
        catalog = await stack.enter_async_context(catalog_client(settings))
        requests = await stack.enter_async_context(httpx.AsyncClient(base_url=requests_url, timeout=30))
        engine = create_engine(catalog_db)
        stack.push_async_callback(engine.dispose)
        yield World(
            catalog,
            requests,
            requests_app,
            settings,
            make_sessionmaker(engine),
            TokenSigner(os.environ["GK_JWT_SECRET"]),
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


async def new_org(w: World, *, kind: str = "department", name: str | None = None) -> tuple[dict, Actors]:
    """An organization in the catalog, known to requests under the same id (as its organization events do)."""
    office = w.token(Role.office, name="政务公开办")
    name = name or f"示范市年报测试局{uuid.uuid4().hex[:6]}"
    resp = await w.catalog.post("/organizations", json={"name": name, "code": uscc(), "type": kind}, headers=office)
    assert resp.status_code == 201, resp.text
    org = resp.json()
    resp = await w.requests.put(f"/organizations/{org['id']}", json={"name": name}, headers=office)
    assert resp.status_code == 200, resp.text
    return org, Actors(uuid.UUID(org["id"]))


def _applicant(company: bool) -> dict[str, Any]:
    if company:
        return {
            "type": "legal_person",
            "kind": "commercial",
            "name": "示范科技有限公司",
            "organization_code": "11441700007280420Y",
            "phone": "13800138000",
            "email": "office@example.com",
            "address": "示范市人民路1号",
            "postal_code": "100000",
        }
    return {
        "type": "natural_person",
        "name": "张三",
        "id_type": "resident_id",
        "id_number": "11010519491231002X",
        "phone": "13800138000",
        "email": "zhangsan@example.com",
        "address": "示范市人民路1号",
        "postal_code": "100000",
    }


async def application(
    w: World,
    department: str,
    received: dt.date,
    *,
    outcome: str | None = None,
    replied: dt.date | None = None,
    company: bool = False,
) -> str:
    """Staff register an application handed in at the counter (条例 art. 31(1)) and, if given, answer it."""
    staff = w.token(Role.staff, department=uuid.UUID(department))
    w.today(received)
    body = {
        "department_id": department,
        "applicant": _applicant(company),
        "title": "示范市国有土地上房屋征收补偿方案",
        "description": "申请公开示范市人民路片区国有土地上房屋征收补偿方案及其批准文件",
        "wanted_form": "paper",
        "delivery_method": "post",
        "channel": "in_person",
        "submitted_on": received.isoformat(),
    }
    resp = await w.requests.post("/staff/applications", json=body, headers=staff)
    assert resp.status_code == 201, resp.text
    app_id = resp.json()["id"]
    if outcome is not None:
        assert replied is not None
        w.today(replied)
        details = (
            {"access_route": "随函提供"} if outcome == "disclosed" else {"refusal_reason": "经保密审查属于国家秘密"}
        )
        resp = await w.requests.post(
            f"/applications/{app_id}/outcome", json={"outcome": outcome, "details": details}, headers=staff
        )
        assert resp.status_code == 200, resp.text
        resp = await w.requests.post(
            f"/applications/{app_id}/ledger", json={"kind": "reply_sent", "on": replied.isoformat()}, headers=staff
        )
        assert resp.status_code == 201, resp.text
    return app_id


async def remedy(w: World, department: str, app_id: str, **body: Any) -> None:
    w.today(D(YEAR, 12, 31))
    resp = await w.requests.post(
        f"/applications/{app_id}/remedies", json=body, headers=w.token(Role.staff, department=uuid.UUID(department))
    )
    assert resp.status_code == 201, resp.text


async def compose(w: World, org: dict, actors: Actors, year: int | None = None) -> dict:
    body = {"year": year} if year is not None else None
    resp = await w.catalog.post(f"/organizations/{org['id']}/annual-reports", json=body, headers=actors.drafter)
    assert resp.status_code == 201, resp.text
    return resp.json()


def url(org: dict, year: int = YEAR, tail: str = "") -> str:
    return f"/organizations/{org['id']}/annual-reports/{year}{tail}"


async def patch(w: World, org: dict, actors: Actors, body: dict, year: int = YEAR) -> httpx.Response:
    return await w.catalog.patch(url(org, year), json=body, headers=actors.drafter)


ZERO_TABLE2 = {"licensing_decisions": 0, "penalty_decisions": 0, "enforcement_decisions": 0, "fee_amount": "0"}


async def publish(w: World, report: dict, actors: Actors) -> dict:
    """The catalog's ordinary review: 保密审查, 初审, 复审, 终审 by a reviewer who did not draft it, then publish."""
    for _ in range(4):
        resp = await w.catalog.post(
            f"/items/{report['item_id']}/approve", json={"opinion": "同意"}, headers=actors.reviewer
        )
        assert resp.status_code == 200, resp.text
    resp = await w.catalog.post(f"/items/{report['item_id']}/publish", headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    return resp.json()


def codes(problem_or_report: dict, severity: str | None = None) -> set[str]:
    if "errors" in problem_or_report and problem_or_report.get("errors") is not None:
        return {e["type"] for e in problem_or_report["errors"]}
    return {c["code"] for c in problem_or_report["checks"] if severity is None or c["severity"] == severity}


# --------------------------------------------------------------------------------------------
# The whole path: composition, prefilled sections, checks, review, publication
# --------------------------------------------------------------------------------------------


async def test_report_is_composed_prefilled_checked_reviewed_and_published(world: World) -> None:
    """条例 art. 49-50 and 国办公开办函〔2021〕30号: table 二 from the catalog, tables 三/四 from requests over HTTP,
    sections 一/五/六 built from the figures; published through the catalog's review (art. 17) in the
    政府信息公开年报 column with the HTML as body and the Word document as attachment."""
    w = world
    org, actors = await new_org(w)
    dept = org["id"]
    # Last year: one application (the sentences compare with it).
    await application(w, dept, D(YEAR - 1, 4, 1), outcome="disclosed", replied=D(YEAR - 1, 4, 20))
    # This year: disclosed; withheld (a company); one still open on 31 December (carried forward).
    await application(w, dept, D(YEAR, 3, 2), outcome="disclosed", replied=D(YEAR, 3, 20))
    withheld = await application(
        w, dept, D(YEAR, 6, 1), outcome="withheld_state_secret", replied=D(YEAR, 6, 19), company=True
    )
    await application(w, dept, D(YEAR, 12, 22))
    await remedy(
        w, dept, withheld, kind="review", filed_on=f"{YEAR}-07-01", result="corrected", concluded_on=f"{YEAR}-08-03"
    )
    figures = {"licensing_decisions": 120, "penalty_decisions": 5, "enforcement_decisions": 0, "fee_amount": "1.5"}
    resp = await w.catalog.put(
        f"/organizations/{dept}/annual-report/{YEAR}/figures", json=figures, headers=actors.office
    )
    assert resp.status_code == 200, resp.text

    report = await compose(w, org, actors)  # no year: the previous calendar year
    assert report["year"] == YEAR and report["status"] == "draft"
    assert report["statistics_fetched_at"] is not None
    rows = {r["key"]: r["values"] for r in report["table3"]["rows"] if r["values"] is not None}
    assert rows["new"] == [2, 1, 0, 0, 0, 0, 3] and rows["carried_forward"] == [1, 0, 0, 0, 0, 0, 1]
    assert rows["disclosed"][-1] == 1 and rows["withheld_state_secret"] == [0, 1, 0, 0, 0, 0, 1]
    assert report["table2"]["licensing_decisions"] == 120 and report["table2"]["fee_amount"] == "1.5000"
    # 条例 art. 49: a department's report is due by 31 January of the next year.
    assert report["due_on"] == f"{YEAR + 1}-01-31" and "第四十九条" in report["due_basis"]

    overview = report["sections"]["overview"]
    assert "全年新收政府信息公开申请3件，比上年增加2件（增加200.0%）" in overview
    assert "上年结转0件" in overview and "结转下年度继续办理1件" in overview
    assert "予以公开1件" in overview and "不予公开1件" in overview
    assert "行政许可决定120件" in overview and "行政处罚决定5件" in overview
    assert "行政复议1件、行政诉讼0件，其中结果被纠正1件" in overview
    assert "1件政府信息公开行政复议、行政诉讼案件结果被纠正" in report["sections"]["problems"]
    assert "1件政府信息公开申请结转下年度继续办理" in report["sections"]["problems"]

    # Section 六 (国办公开办函〔2021〕30号): the 信息处理费 collected (国办函〔2020〕109号) come from requests, the
    # payments dated in the year; none were made here.
    assert report["fees_source"] == "requests" and Decimal(report["fees_collected"]) == 0
    assert codes(report, "error") == set()
    assert report["sections"]["other"].startswith("本年度未收取信息处理费。")

    # Staff may correct them (a fee collected outside the system).
    resp = await patch(w, org, actors, {"fees_collected": "300"})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["fees_source"] == "staff" and report["checks"] == []
    assert "收取信息处理费300元" in report["sections"]["other"]
    # Staff edit section 一; a figure change later regenerates only what they did not edit.
    mine = "本机关坚持以公开为常态、不公开为例外。"
    report = (await patch(w, org, actors, {"sections": {"overview": mine}})).json()
    assert report["sections"]["overview"] == mine and report["edited_sections"] == ["overview"]
    report = (await patch(w, org, actors, {"fees_collected": "0"})).json()
    assert report["sections"]["overview"] == mine
    assert report["sections"]["other"].startswith("本年度未收取信息处理费。")

    submitted = await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter)
    assert submitted.status_code == 200, submitted.text
    report = submitted.json()
    assert report["status"] == "in_review" and report["item_id"]
    item = (await w.catalog.get(f"/items/{report['item_id']}", headers=actors.drafter)).json()
    assert item["kind"] == "annual_report" and item["title"] == f"{org['name']}{YEAR}年政府信息公开工作年度报告"
    assert "<table" in item["body"] and "法人或其他组织" in item["body"] and mine in item["body"]
    tree = (await w.catalog.get("/categories")).json()
    assert next(c for c in tree if c["id"] == item["category_id"])["name"] == "政府信息公开年报"
    # Under review the report cannot change.
    assert_problem(await patch(w, org, actors, {"fees_collected": "1"}), 409, "annual_report_not_editable")

    published = await publish(w, report, actors)
    assert published["status"] == "published" and published["index_number"]
    report = (await w.catalog.get(url(org), headers=actors.drafter)).json()
    assert report["status"] == "published" and report["status_label"] == "已发布"
    # Anyone reads it, and downloads the Word document.
    public = await w.catalog.get(f"/items/{report['item_id']}")
    assert public.status_code == 200 and public.json()["kind"] == "annual_report"
    attachments = public.json()["attachments"]
    assert [a["filename"] for a in attachments] == [f"{org['name']}{YEAR}年政府信息公开工作年度报告.docx"]
    download = await w.catalog.get(f"/items/{report['item_id']}/attachments/{attachments[0]['id']}")
    assert download.status_code == 200
    document = Document(io.BytesIO(download.content))
    assert any(p.text == f"{org['name']}{YEAR}年政府信息公开工作年度报告" for p in document.paragraphs)
    # The draft endpoints stay with staff.
    assert_problem(await w.catalog.get(url(org)), 401)
    assert_problem(await w.catalog.get(url(org), headers=w.token(Role.staff, department=uuid.uuid4())), 404)


# --------------------------------------------------------------------------------------------
# The format's consistency checks
# --------------------------------------------------------------------------------------------


async def test_an_inconsistent_report_is_refused_naming_each_check(world: World) -> None:
    """国办公开办函〔2021〕30号 table 三: 一 + 二 = （七）总计 + 四 in every column, （七） = the sum of the 21 leaf
    rows, the 总计 column = the sum of the six; table 四: each 总计 = its four results. A corrected figure that
    breaks one of them stops submission, each failed check named; nothing is submitted."""
    w = world
    org, actors = await new_org(w)
    report = await compose(w, org, actors)
    assert (
        len(
            [r for r in report["table3"]["rows"] if r["level"] == 2 or r["key"] in ("disclosed", "partially_disclosed")]
        )
        == 21
    )
    resp = await patch(w, org, actors, {"fees_collected": "0", "table2": ZERO_TABLE2})
    assert resp.status_code == 200 and resp.json()["checks"] == [], resp.text

    # One more 自然人 application received, nothing else changed: the 总计 column and the balance break.
    broken = (await patch(w, org, actors, {"table3_cells": [{"row": "new", "column": "自然人", "value": 1}]})).json()
    assert codes(broken, "error") == {"table3_total_column", "table3_balance"}
    refused = assert_problem(await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter), 422)
    assert refused["code"] == "annual_report_inconsistent" and refused["title"] == "年度报告未通过格式校验"
    assert codes(refused) == {"table3_total_column", "table3_balance"}
    messages = " ".join(e["message"] for e in refused["errors"])
    assert "一、本年新收政府信息公开申请数量：总计列 0 ≠ 自然人与法人或其他组织六列之和 1" in messages
    assert "自然人：一、本年新收 1 + 二、上年结转 0 = 1，≠ （七）总计 0 + 四、结转下年度继续办理 0 = 0" in messages

    # Fix the 总计 column; record the application as disclosed in its leaf row but not in （七）总计.
    cells = [
        {"row": "new", "column": "总计", "value": 1},
        {"row": "disclosed", "column": "自然人", "value": 1},
        {"row": "disclosed", "column": "总计", "value": 1},
    ]
    broken = (await patch(w, org, actors, {"table3_cells": cells})).json()
    assert codes(broken, "error") == {"table3_results_total", "table3_balance"}
    assert any(c["message"] == "自然人：（七）总计 0 ≠ 各项办理结果（21项）之和 1" for c in broken["checks"])
    # Table 四: a 行政复议 result without its 总计.
    broken = (
        await patch(w, org, actors, {"table4_cells": [{"block": "行政复议", "column": "结果维持", "value": 1}]})
    ).json()
    assert "table4_total" in codes(broken, "error")
    refused = assert_problem(await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter), 422)
    assert {"table3_results_total", "table3_balance", "table4_total"} <= codes(refused)
    assert "report.table4.行政复议" in fields(refused)
    after = (await w.catalog.get(url(org), headers=actors.drafter)).json()
    assert after["item_id"] is None and after["status"] == "draft" and after["submitted_at"] is None
    assert "一、本年新收政府信息公开申请数量·自然人" in [c["cell"] for c in after["corrections"]]

    # Refreshing takes the figures from their sources again: the corrections go, the checks pass.
    refreshed = await w.catalog.post(url(org, tail="/refresh"), headers=actors.drafter)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["corrections"] == [] and codes(refreshed.json(), "error") == {"table2_missing"}
    await patch(w, org, actors, {"table2": ZERO_TABLE2})
    ok = await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter)
    assert ok.status_code == 200, ok.text


async def test_bad_corrections_name_the_field_and_change_nothing(world: World) -> None:
    w = world
    org, actors = await new_org(w)
    await compose(w, org, actors)
    before = (await w.catalog.get(url(org), headers=actors.drafter)).json()
    cases = [
        ({"table3_cells": [{"row": "no_such_row", "column": "自然人", "value": 1}]}, "body.table3_cells.0.row"),
        ({"table3_cells": [{"row": "new", "column": "个体户", "value": 1}]}, "body.table3_cells.0.column"),
        ({"table3_cells": [{"row": "new", "column": "自然人", "value": -1}]}, "body.table3_cells.0.value"),
        ({"table4_cells": [{"block": "行政复议", "column": "结果改变", "value": 1}]}, "body.table4_cells.0"),
        ({"table2": {"licensing_decisions": -3}}, "body.table2.licensing_decisions"),
        ({"fees_collected": "-1"}, "body.fees_collected"),
        ({"sections": {"overview": ""}}, "body.sections.overview"),
    ]
    for body, field in cases:
        problem = assert_problem(await patch(w, org, actors, body), 422)
        assert field in fields(problem), (body, problem)
    after = (await w.catalog.get(url(org), headers=actors.drafter)).json()
    assert after == before
    # Other departments' staff and reviewers of other departments cannot touch it.
    other = w.token(Role.staff, department=uuid.uuid4())
    assert_problem(await w.catalog.patch(url(org), json={"fees_collected": "1"}, headers=other), 404)
    assert_problem(await w.catalog.post(f"/organizations/{org['id']}/annual-reports", json={}, headers=other), 403)
    assert_problem(
        await w.catalog.post(f"/organizations/{org['id']}/annual-reports", json={}, headers=actors.drafter),
        409,
        "annual_report_exists",
    )
    future = {"year": dt.date.today().year}
    problem = assert_problem(
        await w.catalog.post(f"/organizations/{org['id']}/annual-reports", json=future, headers=actors.drafter), 422
    )
    assert fields(problem) == {"body.year"}


async def test_in_force_count_is_checked_against_last_years_report_as_a_warning(world: World) -> None:
    """Table 二: last year's 现行有效 + 本年制发 − 本年废止 = this year's 现行有效. A warning, not an error:
    a document that 失效 (superseded or expired) leaves 现行有效 without a column of its own in table 二."""
    w = world
    org, actors = await new_org(w)
    await compose(w, org, actors, year=YEAR - 1)
    last = {"table2": {**ZERO_TABLE2, "normative_documents": {"in_force": 5}}, "fees_collected": "0"}
    assert (await patch(w, org, actors, last, year=YEAR - 1)).status_code == 200
    report = await compose(w, org, actors)
    body = {"table2": {**ZERO_TABLE2, "normative_documents": {"issued": 2, "repealed": 1, "in_force": 5}}}
    body["fees_collected"] = "0"
    report = (await patch(w, org, actors, body)).json()
    warnings = [c for c in report["checks"] if c["severity"] == "warning"]
    assert [c["code"] for c in warnings] == ["table2_in_force_continuity"]
    assert "上年报告现行有效 5 + 本年制发 2 − 本年废止 1 = 6，与本年现行有效 5 不一致" in warnings[0]["message"]
    assert codes(report, "error") == set()
    # Consistent: no warning; either way the report may be submitted.
    body["table2"]["normative_documents"]["in_force"] = 6
    report = (await patch(w, org, actors, body)).json()
    assert report["checks"] == []
    resp = await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    # Last year's report is what this year compares with (section 一).
    assert "行政规范性文件2件，比上年增加2件" in report["sections"]["overview"]


async def test_a_returned_report_is_edited_and_resubmitted_as_the_same_item(world: World) -> None:
    """条例 art. 17 先审查后公开: a reviewer returns the report; staff edit it and submit again; the same catalog
    item carries the new text and one fresh Word document."""
    w = world
    org, actors = await new_org(w)
    await compose(w, org, actors)
    await patch(w, org, actors, {"table2": ZERO_TABLE2, "fees_collected": "0"})
    first = (await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter)).json()
    returned = await w.catalog.post(
        f"/items/{first['item_id']}/return", json={"opinion": "请补充存在的问题"}, headers=actors.reviewer
    )
    assert returned.status_code == 200, returned.text
    assert (await w.catalog.get(url(org), headers=actors.drafter)).json()["status"] == "draft"
    text = "部分栏目更新不够及时，下一步将建立信息发布提醒机制。"
    assert (await patch(w, org, actors, {"sections": {"problems": text}})).status_code == 200
    again = await w.catalog.post(url(org, tail="/submit"), headers=actors.drafter)
    assert again.status_code == 200, again.text
    assert again.json()["item_id"] == first["item_id"] and again.json()["status"] == "in_review"
    item = (await w.catalog.get(f"/items/{first['item_id']}", headers=actors.drafter)).json()
    assert text in item["body"] and len(item["attachments"]) == 1
    document = await w.catalog.get(
        f"/items/{item['id']}/attachments/{item['attachments'][0]['id']}", headers=actors.drafter
    )
    assert any(p.text == text for p in Document(io.BytesIO(document.content)).paragraphs)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _span(cell: Any) -> int:
    return cell._tc.grid_span


def _cell_with(table: Any, text: str) -> Any:
    for row in table.rows:
        for cell in row.cells:
            if cell.text == text:
                return cell
    raise AssertionError(f"no cell {text!r}")


async def test_word_document_reproduces_the_format_tables(world: World) -> None:
    """国办公开办函〔2021〕30号 layout: 申请人情况 over 7 columns, 法人或其他组织 over five, 自然人 and 总计 two
    rows high, 三、本年度办理结果 down the side of its 22 rows, （三）不予公开 over its 8 sub-rows; table 四's
    行政诉讼 over ten columns; the row labels exactly as the format writes them."""
    w = world
    org, actors = await new_org(w)
    await application(w, org["id"], D(YEAR, 5, 6), outcome="disclosed", replied=D(YEAR, 5, 20))
    report = await compose(w, org, actors)
    resp = await w.catalog.get(url(org, tail="/docx"), headers=actors.drafter)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == ar.DOCX
    document = Document(io.BytesIO(resp.content))
    assert [
        p.text for p in document.paragraphs if p.text.startswith(("一、", "二、", "三、", "四、", "五、", "六、"))
    ] == [
        "一、总体情况",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ]
    table2, table3, table4 = document.tables
    # Table 二: the format's wording.
    assert _span(_cell_with(table2, "第二十条第（一）项")) == 4
    assert _span(_cell_with(table2, "本年收费金额（单位：万元）")) == 3
    texts2 = [c.text for row in table2.rows for c in row.cells]
    for label in ("规章", "行政规范性文件", "行政许可", "行政处罚", "行政强制", "行政事业性收费", "现行有效件数"):
        assert label in texts2
    # Table 三.
    assert len(table3.columns) == 10
    assert _span(_cell_with(table3, "申请人情况")) == 7
    assert _span(_cell_with(table3, "法人或其他组织")) == 5
    header = [c.text for c in table3.rows[2].cells]
    assert header[3:] == ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    assert table3.cell(1, 3)._tc is table3.cell(2, 3)._tc  # 自然人 two rows high
    labels = [row.cells[0].text for row in table3.rows]
    first_result = labels.index("三、本年度办理结果")
    assert labels.count("三、本年度办理结果") == 22  # the merged side cell, seen from each of its rows
    assert labels[first_result + 22] == "四、结转下年度继续办理"
    side = [row.cells[1].text for row in table3.rows]
    assert side.count("（三）不予公开") == 8 and side.count("（五）不予处理") == 5
    assert "（二）部分公开（区分处理的，只计这一情形，不计其他情形）" in side and "（七）总计" in side
    leaves = [row.cells[2].text for row in table3.rows]
    payload_labels = {r["label"] for r in report["table3"]["rows"]}
    for label in ("1.属于国家秘密", "3.补正后申请内容仍不明确", "5.要求行政机关确认或重新出具已获取信息"):
        assert label in payload_labels and label in leaves
    disclosed = next(row for row in table3.rows if row.cells[1].text == "（一）予以公开")
    assert [c.text for c in disclosed.cells][3:] == ["1", "0", "0", "0", "0", "0", "1"]
    # Table 四.
    assert _span(_cell_with(table4, "行政复议")) == 5
    assert _span(_cell_with(table4, "行政诉讼")) == 10
    assert _span(_cell_with(table4, "未经复议直接起诉")) == 5 and _span(_cell_with(table4, "复议后起诉")) == 5
    assert [c.text for c in table4.rows[3].cells] == ["0"] * 15

    page = await w.catalog.get(url(org, tail="/html"), headers=actors.drafter)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<th colspan="5">法人或其他组织</th>' in page.text and '<th colspan="10">行政诉讼</th>' in page.text
    assert '<th rowspan="22">三、本年度办理结果</th>' in page.text


# --------------------------------------------------------------------------------------------
# Requests unreachable
# --------------------------------------------------------------------------------------------


async def test_requests_unreachable_is_a_clear_503_and_the_draft_keeps_its_figures(world: World) -> None:
    w = world
    org, actors = await new_org(w)
    report = await compose(w, org, actors)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening
    settings = CatalogSettings(
        database_url=w.settings.database_url,
        requests_url=f"http://127.0.0.1:{dead.getsockname()[1]}",
        requests_timeout_seconds=2,
    )
    try:
        async with catalog_client(settings) as cut_off:
            problem = assert_problem(await cut_off.post(url(org, tail="/refresh"), headers=actors.drafter), 503)
            assert problem["code"] == "requests_unavailable" and "上次取得的数据" in problem["detail"]
            other, other_actors = await new_org(w)
            problem = assert_problem(
                await cut_off.post(f"/organizations/{other['id']}/annual-reports", headers=other_actors.drafter), 503
            )
    finally:
        dead.close()
    kept = (await w.catalog.get(url(org), headers=actors.drafter)).json()
    assert kept["statistics_fetched_at"] == report["statistics_fetched_at"]
    assert kept["table3"] == report["table3"] and kept["table4"] == report["table4"]
    assert_problem(await w.catalog.get(url(other), headers=other_actors.drafter), 404)


async def test_an_answer_that_is_not_the_statistics_is_a_502(world: World) -> None:
    """A requests URL that answers something else (here: the real requests service under a wrong path, 404) is a
    bad gateway naming the upstream's answer, not a crash; nothing is created."""
    w = world
    org, actors = await new_org(w)
    settings = CatalogSettings(
        database_url=w.settings.database_url, requests_url=f"{str(w.requests.base_url).rstrip('/')}/v0"
    )
    async with catalog_client(settings) as misdirected:
        problem = assert_problem(
            await misdirected.post(f"/organizations/{org['id']}/annual-reports", headers=actors.drafter), 502
        )
    assert problem["code"] == "requests_bad_answer" and "HTTP 404" in problem["detail"]
    assert_problem(await w.catalog.get(url(org), headers=actors.drafter), 404)
    with pytest.raises(ar.UpstreamUnavailable) as info:
        ar.parse_statistics({"table3_columns": ["自然人"], "table3": [], "table4": []})
    assert info.value.instance_code == "requests_bad_answer" and "7 列" in str(info.value)


# --------------------------------------------------------------------------------------------
# Due dates (条例 art. 49)
# --------------------------------------------------------------------------------------------


def test_due_dates_follow_article_49() -> None:
    """条例 art. 49: 县级以上人民政府部门 by 31 January; 县级以上地方人民政府 by 31 March; for the previous year."""
    assert ar.due_date(OrganizationType.department, 2026) == D(2027, 1, 31)
    assert ar.due_date(OrganizationType.government, 2026) == D(2027, 3, 31)
    assert ar.due_date(OrganizationType.district, 2026) == D(2027, 3, 31)
    assert ar.due_date(OrganizationType.township, 2026) == D(2027, 1, 31)
    assert ar.default_year(D(2027, 1, 5)) == 2026


async def _sweep(w: World, today: dt.date) -> None:
    async with w.db() as session, session.begin():
        await ar.deadline_sweep(session, settings=w.settings, today=today)


async def _sent(w: World, org: dict, year: int) -> list[str]:
    events = []
    for kind in (ar.ANNUAL_REPORT_DUE_SOON_V1, ar.ANNUAL_REPORT_OVERDUE_V1):
        events += [kind.split(".")[2] for e in await outbox_events(w.db, kind, organization_id=org["id"], year=year)]
    return sorted(events)


async def test_due_soon_and_overdue_once_each_department_31_january_government_31_march_art_49(world: World) -> None:
    """条例 art. 49: a department's report for the year is due by 31 January, a government's by 31 March; due-soon
    (10 days before by default) and overdue go out once each from the sweep."""
    w = world
    dept, _ = await new_org(w, kind="department")
    gov, _ = await new_org(w, kind="government", name=f"示范市人民政府{uuid.uuid4().hex[:4]}")
    year = dt.date.today().year  # this year's reports, due next year: the sweeps run "next year"
    await _sweep(w, D(year + 1, 1, 20))
    assert await _sent(w, dept, year) == [] and await _sent(w, gov, year) == []
    await _sweep(w, D(year + 1, 1, 21))  # 10 days before 31 January
    await _sweep(w, D(year + 1, 1, 25))
    assert await _sent(w, dept, year) == ["due_soon"] and await _sent(w, gov, year) == []
    await _sweep(w, D(year + 1, 1, 31))  # the last day is still in time
    assert await _sent(w, dept, year) == ["due_soon"]
    await _sweep(w, D(year + 1, 2, 1))
    await _sweep(w, D(year + 1, 2, 2))
    assert await _sent(w, dept, year) == ["due_soon", "overdue"] and await _sent(w, gov, year) == []
    await _sweep(w, D(year + 1, 3, 21))
    assert await _sent(w, gov, year) == ["due_soon"]
    await _sweep(w, D(year + 1, 4, 1))
    await _sweep(w, D(year + 1, 4, 2))
    assert await _sent(w, gov, year) == ["due_soon", "overdue"]
    [event] = await outbox_events(w.db, ar.ANNUAL_REPORT_OVERDUE_V1, organization_id=gov["id"], year=year)
    assert event["data"]["due_on"] == f"{year + 1}-03-31" and "3月31日前" in event["data"]["basis"]
    assert event["data"]["report_status"] == "not_started"
    listed = await w.catalog.get("/annual-report-deadlines", params={"year": year}, headers=w.token(Role.office))
    due = {d["organization_id"]: d for d in listed.json()}
    assert due[dept["id"]]["due_on"] == f"{year + 1}-01-31" and due[gov["id"]]["due_on"] == f"{year + 1}-03-31"
    assert "第四十九条" in due[dept["id"]]["basis"]


async def test_a_published_report_stops_the_reminders(world: World) -> None:
    w = world
    done, done_actors = await new_org(w)
    late, late_actors = await new_org(w)
    for org, actors in ((done, done_actors), (late, late_actors)):
        await compose(w, org, actors)
        resp = await patch(w, org, actors, {"table2": ZERO_TABLE2, "fees_collected": "0"})
        assert resp.status_code == 200, resp.text
    submitted = (await w.catalog.post(url(done, tail="/submit"), headers=done_actors.drafter)).json()
    await publish(w, submitted, done_actors)
    await _sweep(w, D(YEAR + 1, 1, 25))
    assert await _sent(w, done, YEAR) == [] and await _sent(w, late, YEAR) == ["due_soon"]
    [event] = await outbox_events(w.db, ar.ANNUAL_REPORT_DUE_SOON_V1, organization_id=late["id"], year=YEAR)
    assert event["data"]["report_status"] == "draft" and event["data"]["report_id"]
    async with w.db() as session:
        stored = await session.scalar(select(AnnualReport).where(AnnualReport.organization_id == uuid.UUID(done["id"])))
        assert stored is not None and stored.submitted_at is not None
