"""The assessment (考核评估; issue 8 point 2): indicators, weighted score, ranking, trend, xlsx and SVG charts.

The requests, interpretation and sentiment APIs are served by uvicorn in this process on free ports, each on its
real migrated database; the catalog runs in-process on its own and asks them for their figures over real HTTP.
The interpretation and sentiment services learn the catalog's organizations and policies from the catalog's
own outbox envelopes, handed to their event handlers (what their workers do with the NATS messages). Nothing is
mocked. Two departments are seeded so that A is better on some indicators and B on another, so that the weights
decide the ranking.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_catalog.app import create_app as create_catalog_app
from gongkai_catalog.models import event_tables as catalog_events
from gongkai_catalog.settings import CatalogSettings
from gongkai_interpretation import service as interpretation_service
from gongkai_interpretation.app import create_app as create_interpretation_app
from gongkai_interpretation.models import InterpretationTask
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_requests.app import create_app as create_requests_app
from gongkai_requests.settings import RequestsSettings
from gongkai_sentiment import service as sentiment_service
from gongkai_sentiment.app import create_app as create_sentiment_app
from gongkai_sentiment.settings import SentimentSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.contracts.catalog import ORGANIZATION_CREATED_V1, POLICY_PUBLISHED_V1
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import Envelope
from gongkai_shared.timeutil import china_today
from openpyxl import load_workbook
from sqlalchemy import select
from test_annual_report import _applicant, serve
from test_catalog_support import Actors, assert_problem, fields, publish_through_review, uscc
from test_interpretation_service import GOOD_TEXT

TODAY = china_today()
START = TODAY - dt.timedelta(days=120)
PERIOD = f"{START.isoformat()}..{TODAY.isoformat()}"
SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclass
class World:
    catalog: httpx.AsyncClient
    requests: httpx.AsyncClient
    interpretation: httpx.AsyncClient
    sentiment: httpx.AsyncClient
    requests_app: Any
    settings: CatalogSettings
    signer: TokenSigner
    urls: dict[str, str]
    dbs: dict[str, str]
    a: dict | None = None
    b: dict | None = None

    def token(self, *roles: Role, department: uuid.UUID | str | None = None) -> dict[str, str]:
        dept = uuid.UUID(str(department)) if department else None
        principal = Principal(
            subject=f"u-{uuid.uuid4().hex[:6]}", name="测试", roles=frozenset(roles), department_id=dept
        )
        return {"Authorization": f"Bearer {self.signer.issue(principal, ttl=dt.timedelta(hours=2))}"}

    @property
    def office(self) -> dict[str, str]:
        return self.token(Role.office)


@contextlib.asynccontextmanager
async def catalog_client(settings: CatalogSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_catalog_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test", timeout=60) as c:
            yield c


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    dbs = {}
    for name in ("requests", "interpretation", "sentiment", "catalog"):
        dbs[name] = await asyncio.to_thread(migrate, name)
    requests_app = create_requests_app(RequestsSettings(database_url=dbs["requests"]))
    interpretation_app = create_interpretation_app(InterpretationSettings(database_url=dbs["interpretation"]))
    sentiment_app = create_sentiment_app(SentimentSettings(database_url=dbs["sentiment"]))
    async with contextlib.AsyncExitStack() as stack:
        urls = {
            "requests": await stack.enter_async_context(serve(requests_app)),
            "interpretation": await stack.enter_async_context(serve(interpretation_app)),
            "sentiment": await stack.enter_async_context(serve(sentiment_app)),
        }
        settings = CatalogSettings(
            database_url=dbs["catalog"],
            requests_url=urls["requests"],
            interpretation_url=urls["interpretation"],
            sentiment_url=urls["sentiment"],
            assessment_timeout_seconds=5,
        )
        clients = {}
        for name, url in urls.items():
            clients[name] = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        catalog = await stack.enter_async_context(catalog_client(settings))
        w = World(
            catalog,
            clients["requests"],
            clients["interpretation"],
            clients["sentiment"],
            requests_app,
            settings,
            TokenSigner(os.environ["GK_JWT_SECRET"]),
            urls,
            dbs,
        )
        await seed(w)
        yield w


# --------------------------------------------------------------------------------------------
# Seed: two departments, A better on publication, replies, remedies and interpretation; B on its accounts
# --------------------------------------------------------------------------------------------


async def deliver_catalog_events(w: World) -> None:
    """The catalog's organization and policy events, handed to the interpretation and sentiment handlers."""
    catalog_engine = create_engine(w.dbs["catalog"])
    o = catalog_events.outbox
    async with make_sessionmaker(catalog_engine)() as session:
        envelopes = [Envelope.model_validate(e) for e in (await session.scalars(select(o.c.envelope))).all()]
    await catalog_engine.dispose()
    for name in ("interpretation", "sentiment"):
        engine = create_engine(w.dbs[name])
        maker = make_sessionmaker(engine)
        for env in envelopes:
            async with maker() as session, session.begin():
                if env.type == ORGANIZATION_CREATED_V1:
                    svc = interpretation_service if name == "interpretation" else sentiment_service
                    await svc.on_organization(session, env)
                elif env.type == POLICY_PUBLISHED_V1 and name == "interpretation":
                    with contextlib.suppress(Exception):  # policies of other test modules' runs
                        await interpretation_service.on_policy_published(session, env, due_working_days=3)
        await engine.dispose()


async def task_id(w: World, policy_item_id: str) -> uuid.UUID:
    engine = create_engine(w.dbs["interpretation"])
    async with make_sessionmaker(engine)() as session:
        found = await session.scalar(
            select(InterpretationTask.id).where(InterpretationTask.policy_item_id == uuid.UUID(policy_item_id))
        )
    await engine.dispose()
    assert found is not None
    return found


async def application(w: World, dept: str, received: dt.date, replied: dt.date) -> str:
    staff = w.token(Role.staff, department=dept)
    w.requests_app.state.today = lambda: received
    body = {
        "department_id": dept,
        "applicant": _applicant(False),
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
    w.requests_app.state.today = lambda: replied
    resp = await w.requests.post(
        f"/applications/{app_id}/outcome",
        json={"outcome": "disclosed", "details": {"access_route": "随函提供"}},
        headers=staff,
    )
    assert resp.status_code == 200, resp.text
    resp = await w.requests.post(
        f"/applications/{app_id}/ledger", json={"kind": "reply_sent", "on": replied.isoformat()}, headers=staff
    )
    assert resp.status_code == 201, resp.text
    return app_id


async def seed(w: World) -> None:
    orgs = []
    for name in (f"示范市考核甲局{uuid.uuid4().hex[:4]}", f"示范市考核乙局{uuid.uuid4().hex[:4]}"):
        resp = await w.catalog.post(
            "/organizations", json={"name": name, "code": uscc(), "type": "department"}, headers=w.office
        )
        assert resp.status_code == 201, resp.text
        org = resp.json()
        resp = await w.requests.put(f"/organizations/{org['id']}", json={"name": name}, headers=w.office)
        assert resp.status_code == 200, resp.text
        orgs.append(org)
    w.a, w.b = orgs
    a_actors, b_actors = Actors(uuid.UUID(w.a["id"])), Actors(uuid.UUID(w.b["id"]))

    # 条例 art. 26: A publishes a policy formed today (on time); B one formed 100 days ago (late).
    policies = {}
    for org, actors, formed in ((w.a, a_actors, TODAY), (w.b, b_actors, TODAY - dt.timedelta(days=100))):
        resp = await w.catalog.post(
            "/items",
            json={
                "organization_id": org["id"],
                "title": f"{org['name']}关于印发临时救助办法的通知",
                "kind": "normative_document",
                "body": "第一条 为了规范临时救助工作，保障困难群众基本生活，制定本办法。第二条 本办法适用于本市。",
                "formed_on": formed.isoformat(),
            },
            headers=actors.drafter,
        )
        assert resp.status_code == 201, resp.text
        published = await publish_through_review(w.catalog, resp.json(), actors)
        assert published["published_late"] is (org is w.b)
        policies[org["id"]] = published["id"]

    await deliver_catalog_events(w)

    # 政策解读: A interprets its policy with a chart (non-text); B does not.
    task = await task_id(w, policies[w.a["id"]])
    staff, reviewer = w.token(Role.staff, department=w.a["id"]), w.token(Role.reviewer, department=w.a["id"])
    content = {"text": GOOD_TEXT, "forms": [{"form": "graphic", "attachment_id": "a1"}]}
    assert (await w.interpretation.put(f"/tasks/{task}/content", json=content, headers=staff)).status_code == 200
    assert (await w.interpretation.post(f"/tasks/{task}/submit", headers=staff)).status_code == 200
    resp = await w.interpretation.post(
        f"/tasks/{task}/publish", json={"opinion": "同意", "override_reason": "测试发布"}, headers=reviewer
    )
    assert resp.status_code == 200, resp.text

    # 条例 art. 33: A replies after 5 days (on time), B after 80 days (late: more than 20 working days).
    received = TODAY - dt.timedelta(days=90)
    a_app = await application(w, w.a["id"], received, received + dt.timedelta(days=5))
    b_app = await application(w, w.b["id"], received, received + dt.timedelta(days=80))
    # Table 四: A's 复议 upheld (维持), B's corrected (纠正).
    w.requests_app.state.today = lambda: TODAY
    for dept, app_id, result in ((w.a["id"], a_app, "upheld"), (w.b["id"], b_app, "corrected")):
        resp = await w.requests.post(
            f"/applications/{app_id}/remedies",
            json={
                "kind": "review",
                "filed_on": (TODAY - dt.timedelta(days=5)).isoformat(),
                "result": result,
                "concluded_on": (TODAY - dt.timedelta(days=1)).isoformat(),
            },
            headers=w.token(Role.staff, department=dept),
        )
        assert resp.status_code == 201, resp.text
    w.requests_app.state.today = china_today

    # 政务新媒体: A's account silent for 30 days, B's updated today (国办秘函〔2019〕19号: no gap over 14 days).
    now = dt.datetime.now(dt.UTC)
    for org, last in ((w.a, now - dt.timedelta(days=30)), (w.b, now - dt.timedelta(hours=1))):
        staff = w.token(Role.staff, department=org["id"])
        resp = await w.sentiment.post(
            "/accounts",
            json={"organization_id": org["id"], "platform": "weibo", "handle": f"@{org['id']}", "name": org["name"]},
            headers=staff,
        )
        assert resp.status_code == 201, resp.text
        resp = await w.sentiment.put(
            f"/accounts/{resp.json()['id']}/last-update", json={"at": last.isoformat()}, headers=staff
        )
        assert resp.status_code == 200, resp.text


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


async def assessment(w: World, client: httpx.AsyncClient | None = None, **params: Any) -> dict:
    resp = await (client or w.catalog).get("/assessment", params={"period": PERIOD, **params}, headers=w.office)
    assert resp.status_code == 200, resp.text
    return resp.json()


def dept(body: dict, org: dict) -> dict:
    [row] = [d for d in body["departments"] if d["organization_id"] == org["id"]]
    return row


def ind(row: dict, key: str) -> dict:
    [found] = [i for i in row["indicators"] if i["key"] == key]
    return found


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


async def test_indicators_come_from_each_services_figures(world: World) -> None:
    """条例 art. 26 (20 working days to publish), art. 33 (reply deadline), table 四 纠正, 国办发〔2016〕80号
    (interpretation rate, non-text share), 国办秘函〔2019〕19号 (accounts silent over 14 days)."""
    body = await assessment(world)
    assert body["complete"] is True
    assert {s["service"] for s in body["sources"]} == {"catalog", "requests", "interpretation", "sentiment"}
    a, b = dept(body, world.a), dept(body, world.b)
    expected = {
        "publication_on_time": (1.0, 0.0),
        "replies_on_time": (1.0, 0.0),
        "remedies_not_corrected": (1.0, 0.0),
        "interpretation_rate": (1.0, 0.0),
        "non_text_share": (1.0, None),
        "accounts_updated": (0.0, 1.0),
    }
    for key, (va, vb) in expected.items():
        assert ind(a, key)["value"] == va, (key, ind(a, key))
        assert ind(b, key)["value"] == vb, (key, ind(b, key))
    # B interpreted nothing: the non-text share has nothing to measure and says why.
    assert ind(b, "non_text_share")["status"] == "not_applicable" and ind(b, "non_text_share")["reason"]
    assert "超期答复 1 件" in ind(b, "replies_on_time")["detail"]
    assert "结果纠正 1 件" in ind(b, "remedies_not_corrected")["detail"]
    # No response task was raised for either: 舆情按时回应 is not applicable, not a zero.
    assert ind(a, "opinion_on_time")["status"] == "not_applicable"


async def test_scores_and_ranking_follow_the_weights(world: World) -> None:
    """The score is the weighted mean of the indicators with a rate; the weights decide who ranks first."""
    body = await assessment(world, weights=json.dumps({"replies_on_time": 3, "accounts_updated": 1}))
    a, b = dept(body, world.a), dept(body, world.b)
    assert (a["score"], b["score"]) == (75.0, 25.0)
    assert a["rank"] < b["rank"]
    body = await assessment(world, weights=json.dumps({"accounts_updated": 1}))
    a, b = dept(body, world.a), dept(body, world.b)
    assert (a["score"], b["score"]) == (0.0, 100.0)
    assert b["rank"] < a["rank"]
    # Ranks are in score order over every department, ties share a rank.
    scored = [d for d in body["departments"] if d["score"] is not None]
    assert [d["score"] for d in scored] == sorted((d["score"] for d in scored), reverse=True)
    for d in scored:
        assert d["rank"] == 1 + sum(o["score"] > d["score"] for o in scored)

    # The default weights come from the settings; the score is recomputed here from the rates it shows.
    body = await assessment(world)
    weights = {i["key"]: i["weight"] for i in body["indicators"]}
    assert weights == world.settings.assessment_weights
    for row in (dept(body, world.a), dept(body, world.b)):
        rated = [i for i in row["indicators"] if i["status"] == "ok" and weights[i["key"]] > 0]
        total = sum(weights[i["key"]] for i in rated)
        assert row["score"] == pytest.approx(100 * sum(weights[i["key"]] * i["value"] for i in rated) / total, abs=0.01)
        assert row["scored_weight"] == total and row["total_weight"] == sum(weights.values())
        assert "未计分" in row["note"]  # 舆情按时回应 had nothing to measure
    assert dept(body, world.a)["rank"] < dept(body, world.b)["rank"]


async def test_a_service_that_does_not_answer_marks_its_indicators_unavailable(world: World) -> None:
    """The sentiment service is down: its indicators are unavailable with the reason, never a 500, and the
    score is computed over the others (and says so)."""
    closed = "http://127.0.0.1:9"  # discard port: nothing listens there
    settings = world.settings.model_copy(update={"sentiment_url": closed, "assessment_timeout_seconds": 2})
    async with catalog_client(settings) as catalog:
        body = await assessment(world, catalog, weights=json.dumps({"replies_on_time": 1, "accounts_updated": 1}))
    assert body["complete"] is False
    [sentiment] = [s for s in body["sources"] if s["service"] == "sentiment"]
    assert sentiment["available"] is False and "舆情服务" in sentiment["reason"]
    a = dept(body, world.a)
    for key in ("opinion_on_time", "accounts_updated"):
        assert ind(a, key)["status"] == "unavailable" and ind(a, key)["value"] is None
        assert ind(a, key)["reason"] == sentiment["reason"]
    assert ind(a, "replies_on_time")["status"] == "ok"
    assert (a["score"], a["scored_weight"], a["total_weight"]) == (100.0, 1.0, 2.0)
    assert "政务新媒体更新合格率" in a["note"]
    # The xlsx and the chart still come out, marking the missing figures.
    async with catalog_client(settings) as catalog:
        resp = await catalog.get("/assessment/export.xlsx", params={"period": PERIOD}, headers=world.office)
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.content))["考核评估"]
    header = [c.value for c in ws[2]]
    row = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[1] == world.a["name"])
    assert row[header.index("政务新媒体更新合格率")] == "数据不可用"


async def test_xlsx_has_one_row_per_department(world: World) -> None:
    body = await assessment(world)
    resp = await world.catalog.get("/assessment/export.xlsx", params={"period": PERIOD}, headers=world.office)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    wb = load_workbook(io.BytesIO(resp.content))
    ws = wb["考核评估"]
    header = [c.value for c in ws[2]]
    assert header[:3] == ["排名", "部门", "得分"]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if any(v is not None for v in r)]
    assert [r[1] for r in rows] == [d["name"] for d in body["departments"]]
    assert len({r[1] for r in rows}) == len(rows)
    a_row = next(r for r in rows if r[1] == world.a["name"])
    assert a_row[2] == dept(body, world.a)["score"]
    assert a_row[header.index("依申请按期答复率")] == 100.0
    assert {r[0] for r in wb["指标与数据来源"].iter_rows(min_row=2, values_only=True)} == {
        i["key"] for i in body["indicators"]
    }


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG_NS}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]


async def test_charts_are_valid_svg_naming_each_department(world: World) -> None:
    body = await assessment(world)
    resp = await world.catalog.get("/assessment/chart.svg", params={"period": PERIOD}, headers=world.office)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("image/svg+xml")
    texts = svg_texts(resp.text)
    for d in body["departments"]:
        assert d["name"] in texts
    assert any("考核得分" in t for t in texts)

    resp = await world.catalog.get(
        "/assessment/trend.svg", params={"period": PERIOD, "periods": 3}, headers=world.office
    )
    assert resp.status_code == 200
    texts = svg_texts(resp.text)
    assert world.a["name"] in texts and world.b["name"] in texts
    assert f"{START.isoformat()}至{TODAY.isoformat()}" in texts


def test_svg_escapes_labels() -> None:
    """A department name with markup characters stays text (the SVG still parses)."""
    from gongkai_catalog.assessment_charts import bar_chart, line_chart

    name = '示范市<规划>&"建设"局'
    assert name in svg_texts(bar_chart("得分", [(name, 80.0), ("示范市民政局", None)]))
    assert name in svg_texts(line_chart("趋势", ["2024年", "2025年"], [(name, [70.0, None])]))


async def test_trend_over_the_previous_periods(world: World) -> None:
    resp = await world.catalog.get("/assessment/trend", params={"period": PERIOD, "periods": 3}, headers=world.office)
    assert resp.status_code == 200, resp.text
    trend = resp.json()
    assert len(trend["periods"]) == 3
    assert trend["periods"][-1]["start"] == START.isoformat() and trend["periods"][-1]["end"] == TODAY.isoformat()
    # Periods of the same length, back to back, oldest first.
    for earlier, later in zip(trend["periods"], trend["periods"][1:], strict=False):
        assert dt.date.fromisoformat(earlier["end"]) + dt.timedelta(days=1) == dt.date.fromisoformat(later["start"])
    now = await assessment(world)
    [a] = [d for d in trend["departments"] if d["organization_id"] == world.a["id"]]
    assert a["scores"][-1] == dept(now, world.a)["score"]
    # Nothing of A's happened in the earlier periods but its (empty) columns: those scores are lower or none.
    assert all(s is None or s < a["scores"][-1] for s in a["scores"][:-1])

    resp = await world.catalog.get("/assessment/trend", params={"period": "2025"}, headers=world.office)
    assert resp.status_code == 200
    assert [p["key"] for p in resp.json()["periods"]] == [str(y) for y in range(2021, 2026)]


async def test_bad_period_or_weights_are_refused_naming_the_field_and_staff_may_not_look(world: World) -> None:
    for period in ("2025-13", "去年", "2025-06-30..2025-01-01"):
        problem = assert_problem(
            await world.catalog.get("/assessment", params={"period": period}, headers=world.office), 422
        )
        assert fields(problem) == {"query.period"}
    for weights in ("{", '{"no_such_indicator": 1}', '{"replies_on_time": -1}', '{"replies_on_time": 0}'):
        problem = assert_problem(
            await world.catalog.get("/assessment", params={"period": PERIOD, "weights": weights}, headers=world.office),
            422,
        )
        assert fields(problem) == {"query.weights"}
    staff = world.token(Role.staff, department=world.a["id"])
    assert_problem(await world.catalog.get("/assessment", params={"period": PERIOD}, headers=staff), 403)
    assert_problem(await world.catalog.get("/assessment", params={"period": PERIOD}), 401)


async def test_requests_and_sentiment_figures_admit_a_scoped_system_token_only(world: World) -> None:
    """The new figures endpoints: counts per department, no applicant data; a system key needs the read scope."""
    params = {"from": START.isoformat(), "to": TODAY.isoformat()}
    bare = Principal(subject="system:x", roles=frozenset({Role.system}), scopes=frozenset({"org:*"}))
    headers = {"Authorization": f"Bearer {world.signer.issue(bare)}"}
    assert_problem(await world.requests.get("/figures", params=params, headers=headers), 403)
    assert_problem(await world.sentiment.get("/figures", params=params, headers=headers), 403)
    resp = await world.requests.get("/figures", params=params, headers=world.office)
    assert resp.status_code == 200, resp.text
    [b] = [r for r in resp.json()["rows"] if r["department_id"] == world.b["id"]]
    assert (b["replies"], b["replies_on_time"], b["replies_late"], b["remedies_corrected"]) == (1, 0, 1, 1)
    assert "张三" not in resp.text and "13800138000" not in resp.text
    # Staff see their own department only.
    resp = await world.requests.get(
        "/figures", params=params, headers=world.token(Role.staff, department=world.a["id"])
    )
    assert [r["department_id"] for r in resp.json()["rows"]] == [world.a["id"]]
    problem = assert_problem(
        await world.sentiment.get("/figures", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=world.office),
        422,
    )
    assert fields(problem) == {"query.to"}


def test_response_on_time_means_every_deadline_met_by_its_due_time() -> None:
    """domain.md §5 (国办发〔2016〕61号 48 hours; 80号 5 hours / 24 hours): a task is on time when each deadline
    was met by its due time, late when one was met after it, overdue when one is still open past it."""
    from gongkai_sentiment.figures_api import _task_result
    from gongkai_sentiment.models import ResponseTask

    t0 = dt.datetime(2026, 5, 6, 9, tzinfo=dt.UTC)

    def task(*deadlines: tuple[int, int | None]) -> ResponseTask:
        return ResponseTask(
            deadlines=[
                {
                    "due_at": (t0 + dt.timedelta(hours=due)).isoformat(),
                    "met_at": None if met is None else (t0 + dt.timedelta(hours=met)).isoformat(),
                }
                for due, met in deadlines
            ]
        )

    later = t0 + dt.timedelta(days=10)
    assert _task_result(task((5, 4), (24, 20)), later) == "on_time"
    assert _task_result(task((5, 6), (24, 20)), later) == "late"
    assert _task_result(task((48, None)), later) == "overdue"
    assert _task_result(task((48, None)), t0 + dt.timedelta(hours=47)) == "open"
    # Met after the moment asked about: not yet met then.
    assert _task_result(task((10, 30)), t0 + dt.timedelta(hours=20)) == "overdue"
    assert _task_result(task((10, 30)), later) == "late"
