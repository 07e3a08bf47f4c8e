"""Issue 3's "Done when", end to end through the gateway (with issue 5 point 6 at the end).

The gateway, the catalog and the interpretation APIs are served by uvicorn in this process on free ports;
the catalog and interpretation workers (outbox relay, consumers) run here too, on the real NATS JetStream;
every database is built by the migrations. People sign in at the gateway and call
``/api/v1/<service>/…`` as a client would. Nothing is mocked.

The story: staff draft an item with a resident ID number in it and the sensitive check stops it (issue 3
point 5); they fix it; it goes through 保密审查 and 初审/复审/终审 (条例 art. 17 先审查后公开); publication
gives it its 索引号 and it appears in search (条例 art. 24), the Atom feed and the public list; a revised
version supersedes it (立、改、废: both public, linked both ways, the old one 失效); the interpretation
service receives the policy event (its task appears, 三同步); the interpretation, published through the
interpretation API, comes back as a 政策解读 item linked both ways with the policy (双向关联).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import migrate
from gongkai_catalog import worker as catalog_worker
from gongkai_catalog.app import create_app as create_catalog_app
from gongkai_catalog.settings import CatalogSettings
from gongkai_gateway.app import create_app as create_gateway_app
from gongkai_gateway.settings import GatewaySettings
from gongkai_interpretation import worker as interpretation_worker
from gongkai_interpretation.app import create_app as create_interpretation_app
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_shared.timeutil import china_today
from gongkai_shared.validators import org_code_check_char, uscc_check_char

ADMIN = ("e2e-admin", "correct-horse-battery-staple-e2e")
PASSWORD = "a-long-enough-password"
ATOM = "{http://www.w3.org/2005/Atom}"
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id() -> str:
    """A checksum-valid 18-digit resident ID (GB 11643), computed here."""
    first17 = "11010519850615" + "123"
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def agency_code() -> str:
    """A valid 统一社会信用代码 of a government body, unique per call (the 索引号 is built from it)."""
    body = uuid.uuid4().int % 10**8
    first8 = f"{body:08d}"
    first17 = "11440300" + first8 + org_code_check_char(first8)
    return first17 + uscc_check_char(first17)


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
async def worker(main: Callable[..., Awaitable[None]], settings: Any) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(main(settings, stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    urls = {s: await asyncio.to_thread(migrate, s) for s in ("gateway", "catalog", "interpretation")}
    catalog = CatalogSettings(database_url=urls["catalog"], consumer_backoff_seconds=[0.2], sweep_seconds=3600)
    interpretation = InterpretationSettings(
        database_url=urls["interpretation"], consumer_backoff_seconds=[0.2], deadline_sweep_seconds=3600
    )
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: requests and sentiment are not part of this story
    nowhere = f"http://127.0.0.1:{dead.getsockname()[1]}"
    async with contextlib.AsyncExitStack() as stack:
        catalog_url = await stack.enter_async_context(serve(create_catalog_app(catalog)))
        interpretation_url = await stack.enter_async_context(serve(create_interpretation_app(interpretation)))
        await stack.enter_async_context(worker(catalog_worker.main, catalog))
        await stack.enter_async_context(worker(interpretation_worker.main, interpretation))
        gateway_url = await stack.enter_async_context(
            serve(
                create_gateway_app(
                    GatewaySettings(
                        database_url=urls["gateway"],
                        catalog_url=catalog_url,
                        interpretation_url=interpretation_url,
                        requests_url=nowhere,
                        sentiment_url=nowhere,
                        upstream_timeout_seconds=20,
                        admin_username=ADMIN[0],
                        admin_password=ADMIN[1],
                    )
                )
            )
        )
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway_url, timeout=30))
        yield client
    dead.close()


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    resp = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


async def new_user(client: httpx.AsyncClient, admin: dict[str, str], role: str, department: str) -> dict[str, str]:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "roles": [role], "department_id": department}
    resp = await client.post("/api/v1/users", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return await sign_in(client, username, PASSWORD)


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def until(check: Callable[[], Awaitable[Any]], *, what: str, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


async def take_through_review(
    gw: httpx.AsyncClient, item_id: str, staff: dict[str, str], reviewer: dict[str, str]
) -> dict[str, Any]:
    """保密审查, then 初审/复审/终审 by a reviewer who is not the drafter (条例 art. 17); the drafter publishes."""
    ok(await gw.post(f"/api/v1/catalog/items/{item_id}/submit", headers=staff))
    stages = []
    for _ in range(4):
        item = ok(await gw.post(f"/api/v1/catalog/items/{item_id}/approve", json={"opinion": "同意"}, headers=reviewer))
        stages.append(item["review_stage_name"])
    assert stages == ["初审", "复审", "终审", None] and item["status"] == "approved"
    return ok(await gw.post(f"/api/v1/catalog/items/{item_id}/publish", headers=staff))


async def test_done_when_of_issue_3_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    gw = gateway
    admin = await sign_in(gw, *ADMIN)
    code = agency_code()
    org = ok(
        await gw.post(
            "/api/v1/catalog/organizations",
            json={"name": f"示范市医疗保障局{uuid.uuid4().hex[:4]}", "code": code, "head_name": "李局长"},
            headers=admin,
        ),
        201,
    )
    staff = await new_user(gw, admin, "staff", org["id"])
    reviewer = await new_user(gw, admin, "reviewer", org["id"])
    word = "医保" + uuid.uuid4().hex[:8]  # this run's word: search must find exactly our items
    number = resident_id()

    # 1. Staff draft an item with an ID number in it; the check stops it (issue 3 point 5).
    leaked = f"第一条 为了规范{word}门诊慢特病待遇认定，根据有关规定，制定本办法。经办人：张某，身份证号{number}。"
    item = ok(
        await gw.post(
            "/api/v1/catalog/items",
            json={
                "organization_id": org["id"],
                "title": f"示范市{word}门诊慢特病管理办法",
                "kind": "normative_document",
                "document_number": "示范医保发〔2026〕3号",
                "summary": "明确门诊慢特病病种、认定程序和待遇标准。",
                "body": leaked,
            },
            headers=staff,
        ),
        201,
    )
    stopped = await gw.post(f"/api/v1/catalog/items/{item['id']}/submit", headers=staff)
    assert stopped.status_code == 422 and stopped.headers["content-type"].startswith("application/problem+json")
    problem = stopped.json()
    assert problem["code"] == "sensitive_content"
    assert [(f["kind"], f["field"]) for f in problem["findings"]] == [("resident_id", "body")]
    assert number not in stopped.text  # shown masked
    assert ok(await gw.get(f"/api/v1/catalog/items/{item['id']}", headers=staff))["status"] == "draft"

    # 2. They fix it.
    fixed = leaked.replace(f"经办人：张某，身份证号{number}。", "本办法自发布之日起施行。")
    ok(await gw.patch(f"/api/v1/catalog/items/{item['id']}", json={"body": fixed}, headers=staff))

    # 3. Review, publication, 索引号.
    published = await take_through_review(gw, item["id"], staff, reviewer)
    assert published["status"] == "published"
    assert re.fullmatch(rf"{code}/{china_today().year}-\d{{5}}", published["index_number"])

    # 4. Search, the feed and the public list (anonymous).
    hits = ok(await gw.get("/api/v1/catalog/search", params={"q": word}))["items"]
    assert [(h["id"], h["status"]) for h in hits] == [(item["id"], "published")]
    feed = await gw.get("/api/v1/catalog/feeds/atom", params={"organization": org["id"]})
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(feed.content).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [f"urn:uuid:{item['id']}"]
    assert published["index_number"] in (entries[0].findtext(f"{ATOM}summary") or "")
    public = ok(await gw.get("/api/v1/catalog/items", params={"organization_id": org["id"]}))["items"]
    assert [(i["id"], i["index_number"], i["validity_label"]) for i in public] == [
        (item["id"], published["index_number"], "有效")
    ]

    # 5. A revised version supersedes it: both public, linked both ways, the old one marked 失效.
    revised = ok(
        await gw.post(
            "/api/v1/catalog/items",
            json={
                "organization_id": org["id"],
                "title": f"示范市{word}门诊慢特病管理办法（2026年修订）",
                "kind": "normative_document",
                "document_number": "示范医保发〔2026〕9号",
                "body": fixed.replace("制定本办法", "修订本办法") + "第二条 新增门诊慢特病病种五种。",
                "supersedes_id": item["id"],
            },
            headers=staff,
        ),
        201,
    )
    new = await take_through_review(gw, revised["id"], staff, reviewer)
    old = ok(await gw.get(f"/api/v1/catalog/items/{item['id']}"))
    assert (new["supersedes_id"], old["superseded_by_id"]) == (item["id"], revised["id"])
    assert (old["status"], old["validity"], old["validity_label"]) == ("published", "expired", "失效")
    public = ok(await gw.get("/api/v1/catalog/items", params={"organization_id": org["id"]}))["items"]
    assert {i["id"]: i["validity_label"] for i in public} == {item["id"]: "失效", revised["id"]: "有效"}
    hits = ok(await gw.get("/api/v1/catalog/search", params={"q": word}))["items"]
    assert {h["id"]: h["validity"] for h in hits} == {item["id"]: "expired", revised["id"]: "effective"}

    # 6. The interpretation service received the policy events: one task per policy (三同步).
    async def task_of(policy_id: str) -> dict | None:
        resp = await gw.get("/api/v1/interpretation/tasks", params={"policy_item_id": policy_id}, headers=staff)
        items = resp.json()["items"] if resp.status_code == 200 else []
        return items[0] if items else None

    first_task = await until(lambda: task_of(item["id"]), what="the first version's interpretation task")
    task = await until(lambda: task_of(revised["id"]), what="the revised version's interpretation task")
    assert first_task["organization_id"] == task["organization_id"] == org["id"]  # 谁起草、谁解读
    assert task["supersedes_item_id"] == item["id"] and task["status"] == "assigned"

    # 7. The interpretation, written and published through the interpretation API, comes back as a 政策解读 item.
    content = {
        "title": f"一图读懂{word}门诊慢特病新政",
        "text": (
            "背景依据：群众反映门诊慢特病认定难、跑腿多。目标任务：让慢病患者就近认定、按时享受待遇。"
            "主要内容：新增五个病种，认定改为线上办理。适用范围：本市参保人员。注意事项：材料不全的可补交。"
            "惠民利民举措：认定结果全市互认。新旧政策差异：病种由二十个增加到二十五个。"
        ),
        "forms": [{"form": "graphic", "title": "一图读懂", "url": "https://example.gov.cn/tujie/mxb.html"}],
        "qa_pairs": [{"question": "新增了哪些病种？", "answer": "新增五个病种，详见附表。"}],
    }
    ok(await gw.put(f"/api/v1/interpretation/tasks/{task['id']}/content", json=content, headers=staff))
    ok(await gw.post(f"/api/v1/interpretation/tasks/{task['id']}/submit", headers=staff))
    done = ok(
        await gw.post(
            f"/api/v1/interpretation/tasks/{task['id']}/publish",
            json={"opinion": "同意发布", "override_reason": "解读由业务处室撰写，已经审核"},
            headers=reviewer,
        )
    )
    assert done["status"] == "published"

    async def interpretation_link() -> dict | None:
        links = ok(await gw.get(f"/api/v1/catalog/items/{revised['id']}"))["links"]
        return next((x for x in links if x["relation"] == "interpreted_by"), None)

    link = await until(interpretation_link, what="the 政策解读 item linked to the revised policy")
    assert link["relation_label"] == "政策解读" and link["kind"] == "interpretation"
    reading = ok(await gw.get(f"/api/v1/catalog/items/{link['item_id']}"))  # anonymous: public
    assert (reading["status"], reading["kind_label"], reading["title"]) == ("published", "政策解读", content["title"])
    assert reading["origin_id"] == task["id"]  # the interpretation id is the task id
    assert re.fullmatch(rf"{code}/{china_today().year}-\d{{5}}", reading["index_number"])
    assert [(x["relation"], x["item_id"]) for x in reading["links"]] == [("interprets", revised["id"])]
    assert "【图解】一图读懂：https://example.gov.cn/tujie/mxb.html" in reading["body"]
    assert "问：新增了哪些病种？" in reading["body"]
    history = ok(await gw.get(f"/api/v1/catalog/items/{link['item_id']}/history", headers=staff))
    assert [h["opinion"] for h in history if h["action"] == "published"] == ["由政策解读系统发布"]
    hits = ok(await gw.get("/api/v1/catalog/search", params={"q": word, "kind": "interpretation"}))["items"]
    assert [h["id"] for h in hits] == [link["item_id"]]
