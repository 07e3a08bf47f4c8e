"""The sentiment service (issue 6) against the real PostgreSQL, through its ASGI app and its handlers.

Rules (domain.md §5): 收集 → 会商 → 研判 → 回应 → 评估 (国办发〔2016〕80号); must respond (国办发〔2016〕61号);
deadlines: 特别重大/重大 authoritative information within 5 hours (80号) and a press conference within 24 hours
(61号, 80号), other opinion a response within 48 hours (61号); 政务新媒体 silent over 2 weeks fail inspection
(国办发〔2018〕123号, 国办秘函〔2019〕19号).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_sentiment import service
from gongkai_sentiment.app import create_app
from gongkai_sentiment.models import Account, Alert, OpinionEvent, Post, event_tables
from gongkai_sentiment.settings import SentimentSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.contracts.catalog import (
    ORGANIZATION_CREATED_V1,
    POLICY_PUBLISHED_V1,
    OrganizationV1,
    PolicyPublishedV1,
)
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import new_envelope
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

WEBHOOK_SECRET = "hotline-shared-secret-for-tests"
CN = dt.timezone(dt.timedelta(hours=8))


@dataclass
class World:
    maker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    signer: TokenSigner
    settings: SentimentSettings

    def auth(self, *roles: Role, department: uuid.UUID | None = None) -> dict[str, str]:
        principal = Principal(
            subject=f"u-{uuid.uuid4().hex[:6]}", name="舆情专员", roles=frozenset(roles), department_id=department
        )
        return {"Authorization": f"Bearer {self.signer.issue(principal)}"}

    @property
    def office(self) -> dict[str, str]:
        return self.auth(Role.office)

    async def deliver(self, event_type: str, payload: Any) -> None:
        envelope = new_envelope(event_type, payload)
        async with self.maker() as session, session.begin():
            if event_type.startswith("catalog.organization"):
                await service.on_organization(session, envelope)
            else:
                await service.on_item_published(session, envelope)

    async def events(self, event_type: str, **match: str) -> list[dict]:
        o = event_tables.outbox
        async with self.maker() as session:
            rows = (await session.execute(select(o.c.envelope).where(o.c.envelope["type"].astext == event_type))).all()
        out = [r[0]["data"] for r in rows]
        return [d for d in out if all(d.get(k) == v for k, v in match.items())]

    async def count(self, model: Any, *where: Any) -> int:
        async with self.maker() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    url = await asyncio.to_thread(migrate, "sentiment")
    engine = create_engine(url)
    settings = SentimentSettings(webhook_secret=WEBHOOK_SECRET, alert_cooldown_seconds=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sentiment.test", timeout=60) as client:
            yield World(make_sessionmaker(engine), client, TokenSigner(os.environ["GK_JWT_SECRET"]), settings)
    await engine.dispose()


def problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


def post(channel: str, text: str, *, pid: str | None = None, at: dt.datetime | None = None, **kw: Any) -> dict:
    return {
        "channel": channel,
        "channel_post_id": pid or uuid.uuid4().hex,
        "text": text,
        "posted_at": (at or dt.datetime.now(CN)).isoformat(),
        **kw,
    }


async def organization(world: World, name: str) -> uuid.UUID:
    org = uuid.uuid4()
    await world.deliver(
        ORGANIZATION_CREATED_V1,
        OrganizationV1(organization_id=org, name=name, type="department", type_label="部门"),
    )
    return org


# --------------------------------------------------------------------------------------------
# The burst: one local matter across channels becomes one event with an alert and a response task
# --------------------------------------------------------------------------------------------

SMELL = [
    ("weibo", "青山区宏达化工厂晚上又在偷偷排气，整个小区都是刺鼻的臭味，孩子咳嗽好几天了，投诉多次没人管！"),
    ("hotline", "我是青山区翠湖小区居民，宏达化工厂每天夜里排放臭气，熏得睡不着觉，请环保部门尽快查处。"),
    ("board", "反映青山区宏达化工厂废气污染问题，刺鼻臭味持续一个多月，多次投诉没有结果，要求彻查。"),
    ("weibo", "宏达化工厂的臭味又来了，青山区这边晚上根本不敢开窗，到底有没有人管？"),
    ("douyin", "拍给大家看看，青山区宏达化工厂半夜冒黄烟，臭气熏天，居民投诉无门。"),
    ("hotline", "再次反映青山区宏达化工厂夜间排放刺鼻气体，上次投诉后没有任何回复，太不负责了。"),
    ("wechat", "青山区宏达化工厂排放的臭气让整个片区的居民苦不堪言，老人孩子都出现不适，强烈要求停产整改。"),
    ("board", "青山区翠湖路一带每晚都能闻到宏达化工厂的化学臭味，环保局接到投诉后迟迟不处理。"),
]


async def test_a_burst_about_one_factory_smell_becomes_one_negative_event_with_department_risk_and_one_alert(
    world: World,
) -> None:
    """Issue 6 "Done when": posts about one local matter across 微博/12345/留言板 (some reposted) become one event
    with topic 环境污染, the department in charge (谁主管谁负责, domain.md §5), negative sentiment, a risk level,
    and exactly one alert with its response task."""
    env_bureau = await organization(world, "示范市青山区生态环境分局")
    await organization(world, "示范市青山区教育局")
    base = dt.datetime.now(CN) - dt.timedelta(minutes=30)
    posts = [
        post(ch, text, at=base + dt.timedelta(minutes=3 * i), likes=40, shares=25, comments=30, place="青山区")
        for i, (ch, text) in enumerate(SMELL)
    ]
    # Reposts: the first Weibo post copied with a prefix, twice.
    reposts = [
        post("weibo", "转发：" + SMELL[0][1], at=base + dt.timedelta(minutes=25), shares=5),
        post("douyin", SMELL[0][1] + "【扩散】", at=base + dt.timedelta(minutes=26)),
    ]
    resp = await world.client.post("/posts/batch", json={"posts": posts + reposts}, headers=world.office)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["stored"] == 10 and out["near_duplicates"] == 2
    assert len(out["event_ids"]) == 1, out
    [event_id] = out["event_ids"]

    # The same posts delivered again: stored once.
    again = await world.client.post("/posts/batch", json={"posts": posts[:3]}, headers=world.office)
    assert again.status_code == 200 and again.json()["stored"] == 0 and again.json()["already_stored"] == 3
    assert await world.count(Post, Post.event_id == uuid.UUID(event_id)) == 10

    event = (await world.client.get(f"/events/{event_id}", headers=world.office)).json()
    assert event["topic"] == "环境污染"
    assert event["department_id"] == str(env_bureau)
    assert event["post_count"] == 8 and event["repost_count"] == 2
    assert set(event["channel_counts"]) == {"weibo", "hotline", "board", "douyin", "wechat"}
    assert event["negative_count"] >= 8  # of 10
    assert event["risk_level"] >= 1 and event["risk_level_label"] in ("较大", "重大", "特别重大")
    assert "宏达化工厂" in event["keywords"] or "化工厂" in event["keywords"]

    original = await world.client.get("/posts", params={"event_id": event_id}, headers=world.office)
    firsts = [p for p in original.json()["items"] if p["duplicate_count"]]
    assert len(firsts) == 1 and firsts[0]["duplicate_count"] == 2 and firsts[0]["channel_label"] == "微博"
    # The classifier is measured, not assumed (bench/sentiment.py): most, not necessarily all, read as negative.
    polarities = [p["polarity"] for p in original.json()["items"]]
    assert polarities.count("negative") >= 8

    [detected] = await world.events("sentiment.event.detected.v1", event_id=event_id)
    assert detected["topic"] == "环境污染"
    alerts = await world.events("sentiment.alert.raised.v1", event_id=event_id)
    assert len(alerts) == 1 and alerts[0]["department_id"] == str(env_bureau)

    # Nothing new at the same level: no second alert (once per level).
    more = [post("hotline", "青山区宏达化工厂的臭味今天还在，投诉了还是没人管。", place="青山区")]
    await world.client.post("/posts/batch", json={"posts": more}, headers=world.office)
    levels = [a["level"] for a in await world.events("sentiment.alert.raised.v1", event_id=event_id)]
    assert len(levels) == len(set(levels))

    # Staff acknowledge the alert.
    alert_id = alerts[0]["alert_id"]
    ack = await world.client.post(
        f"/alerts/{alert_id}/acknowledge", headers=world.auth(Role.staff, department=env_bureau)
    )
    assert ack.status_code == 200 and ack.json()["acknowledged_at"]
    other = await world.client.post(
        f"/alerts/{alert_id}/acknowledge", headers=world.auth(Role.staff, department=uuid.uuid4())
    )
    problem(other, 403)


async def test_an_unrelated_matter_of_the_same_topic_is_another_event(world: World) -> None:
    a = [post("hotline", "城南区幸福里垃圾中转站臭得没法开窗，苍蝇满天飞，投诉半年没人管。") for _ in range(1)]
    b = [post("weibo", "北湖公园湖水蓝藻爆发两周了，绿得发臭，治理资金用到哪里去了？")]
    ra = (await world.client.post("/posts/batch", json={"posts": a}, headers=world.office)).json()
    rb = (await world.client.post("/posts/batch", json={"posts": b}, headers=world.office)).json()
    assert ra["event_ids"] and rb["event_ids"] and ra["event_ids"] != rb["event_ids"]


# --------------------------------------------------------------------------------------------
# Bad input: problem+json naming the field, nothing stored from a rejected batch
# --------------------------------------------------------------------------------------------


async def test_a_batch_with_bad_posts_names_each_by_index_and_field_and_stores_nothing(world: World) -> None:
    marker = uuid.uuid4().hex
    good = post("weibo", f"好的帖文{marker}：请问公租房怎么申请？", pid=f"{marker}-ok")
    bad = [
        good,
        post("twitter", "未知渠道", pid=f"{marker}-1"),
        post("hotline", "   ", pid=f"{marker}-2"),
        post("board", "长" * (world.settings.max_text_chars + 1), pid=f"{marker}-3"),
    ]
    body = problem(await world.client.post("/posts/batch", json={"posts": bad}, headers=world.office), 422)
    fields = {e["field"]: e["type"] for e in body["errors"]}
    assert fields == {
        "body.posts.1.channel": "unknown_channel",
        "body.posts.2.text": "empty",
        "body.posts.3.text": "too_long",
    }
    assert body["bad_indexes"] == [1, 2, 3]
    assert await world.count(Post, Post.channel_post_id.like(f"{marker}%")) == 0  # not even the good one

    over = [post("weibo", f"第{i}条") for i in range(world.settings.batch_limit + 1)]
    body = problem(await world.client.post("/posts/batch", json={"posts": over}, headers=world.office), 422)
    assert body["errors"][0]["field"] == "body.posts" and body["errors"][0]["type"] == "too_many"

    missing = problem(
        await world.client.post(
            "/posts/batch", json={"posts": [{"channel": "weibo", "text": "x"}]}, headers=world.office
        ),
        422,
    )
    assert {e["field"] for e in missing["errors"]} >= {"body.posts.0.channel_post_id", "body.posts.0.posted_at"}

    problem(await world.client.post("/posts/batch", json={"posts": [good]}), 401)


async def test_text_is_normalised_full_width_and_traditional_to_simplified_and_the_author_is_a_pseudonym(
    world: World,
) -> None:
    pid = uuid.uuid4().hex
    p = post("board", "這個路口紅綠燈壞了一週沒人修，ＡＢＣ小區門口天天堵車！", pid=pid, author="张三@weibo")
    assert (await world.client.post("/posts/batch", json={"posts": [p]}, headers=world.office)).status_code == 200
    async with world.maker() as session:
        stored = await session.scalar(select(Post).where(Post.channel_post_id == pid))
    assert stored is not None
    assert stored.text == "这个路口红绿灯坏了一周没人修,abc小区门口天天堵车!"
    assert stored.topic == "交通" and stored.polarity == "negative"
    assert stored.author_hash and "张三" not in stored.author_hash and len(stored.author_hash) == 64


# --------------------------------------------------------------------------------------------
# The hotline webhook
# --------------------------------------------------------------------------------------------


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    sig = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Gongkai-Timestamp": stamp, "X-Gongkai-Signature": f"sha256={sig}", "Content-Type": "application/json"}


async def test_the_hotline_webhook_takes_signed_calls_only(world: World) -> None:
    pid = uuid.uuid4().hex
    body = json.dumps(
        {"posts": [post("hotline", "请问居住证办理需要哪些材料？", pid=pid)]}, ensure_ascii=False
    ).encode()
    for headers, code in (
        ({"Content-Type": "application/json"}, "signature_missing"),
        (signed(body, secret="wrong-secret"), "signature_invalid"),
        (signed(body, at=int(time.time()) - 3600), "signature_expired"),
    ):
        resp = await world.client.post("/webhooks/hotline", content=body, headers=headers)
        assert problem(resp, 401)["code"] == code
    assert await world.count(Post, Post.channel_post_id == pid) == 0
    tampered = body.replace("居住证".encode(), "护照".encode())
    assert tampered != body
    problem(await world.client.post("/webhooks/hotline", content=tampered, headers=signed(body)), 401)

    ok = await world.client.post("/webhooks/hotline", content=body, headers=signed(body))
    assert ok.status_code == 200 and ok.json()["stored"] == 1
    assert await world.count(Post, Post.channel_post_id == pid) == 1


# --------------------------------------------------------------------------------------------
# Response tasks, deadlines and the ledger
# --------------------------------------------------------------------------------------------


def test_deadlines_by_level_follow_61_and_80() -> None:
    """domain.md §5: 特别重大/重大 → authoritative information within 5 h (国办发〔2016〕80号) and a press conference
    within 24 h (61号, 80号); other opinion → a response within 48 h (61号). Hours, not working days."""
    settings = SentimentSettings()
    at = dt.datetime(2026, 10, 1, 9, 0, tzinfo=CN)  # a holiday: hours still count
    major = service.deadlines_for(2, at, settings)
    assert [(d["kind"], dt.datetime.fromisoformat(d["due_at"]) - at) for d in major] == [
        ("authoritative_release", dt.timedelta(hours=5)),
        ("press_conference", dt.timedelta(hours=24)),
    ]
    assert "80号" in major[0]["basis"] and "61号" in major[1]["basis"] and "80号" in major[1]["basis"]
    assert service.deadlines_for(3, at, settings)[0]["kind"] == "authoritative_release"
    [other] = service.deadlines_for(1, at, settings)
    assert other["kind"] == "response" and dt.datetime.fromisoformat(other["due_at"]) - at == dt.timedelta(hours=48)
    assert "61号" in other["basis"]
    custom = service.deadlines_for(2, at, SentimentSettings(authoritative_hours=3))
    assert dt.datetime.fromisoformat(custom[0]["due_at"]) - at == dt.timedelta(hours=3)


async def test_an_emergency_is_major_its_task_runs_consult_assess_respond_evaluate_and_the_ledger_exports(
    world: World,
) -> None:
    """61号 must respond to emergencies; 重大 → 5 h / 24 h deadlines; 会商 → 研判 → 回应 → 评估 (80号); a published
    response is announced for the catalog (回应关切); the ledger exports to xlsx."""
    safety = await organization(world, "示范市应急管理局")
    texts = [
        ("weibo", "刚才江北区长丰路一家仓库发生爆炸，浓烟滚滚，听说有人员伤亡，现场很混乱。"),
        ("news", "江北区长丰路一仓库发生爆炸事故，造成人员伤亡，事故原因正在调查。"),
        ("hotline", "江北区长丰路仓库爆炸，附近居民楼玻璃都震碎了，请问需不需要疏散？"),
    ]
    resp = await world.client.post(
        "/posts/batch", json={"posts": [post(c, t, place="江北区") for c, t in texts]}, headers=world.office
    )
    [event_id] = resp.json()["event_ids"]
    event = (await world.client.get(f"/events/{event_id}", headers=world.office)).json()
    assert event["topic"] == "安全生产" and event["department_id"] == str(safety)
    assert event["risk_level"] >= 2 and event["must_respond"].get("emergency", 0) >= 2
    [alert] = await world.events("sentiment.alert.raised.v1", event_id=event_id)
    task_id = alert["response_task_id"]
    assert [d["kind"] for d in alert["deadlines"]] == ["authoritative_release", "press_conference"]

    dept = world.auth(Role.staff, department=safety)
    task = (await world.client.get(f"/responses/{task_id}", headers=dept)).json()
    assert task["stage_label"] == "会商" and task["status"] in ("open", "due_soon")
    early = await world.client.post(
        f"/responses/{task_id}/respond",
        json={"kind": "authoritative_release", "title": "情况通报", "content": "……"},
        headers=dept,
    )
    assert problem(early, 409)["code"] == "wrong_stage"
    assert (
        await world.client.post(f"/responses/{task_id}/consult", json={"note": "与宣传部、网信办会商"}, headers=dept)
    ).json()["stage_label"] == "研判"
    await world.client.post(
        f"/responses/{task_id}/assess", json={"note": "重大突发事件，立即发布权威信息"}, headers=dept
    )
    bad_kind = await world.client.post(
        f"/responses/{task_id}/respond", json={"kind": "tweet", "title": "x", "content": "y"}, headers=dept
    )
    assert problem(bad_kind, 422)["errors"][0]["field"] == "body.kind"
    r = await world.client.post(
        f"/responses/{task_id}/respond",
        json={
            "kind": "authoritative_release",
            "title": "关于江北区长丰路仓库爆炸事故的情况通报",
            "content": "经初步调查……",
        },
        headers=dept,
    )
    body = r.json()
    met = {d["kind"]: d["met_at"] for d in body["deadlines"]}
    assert met["authoritative_release"] and not met["press_conference"]
    [published] = await world.events("sentiment.response.published.v1", response_task_id=task_id)
    assert published["kind_label"] == "权威发布" and published["on_time"] is True
    done = await world.client.post(
        f"/responses/{task_id}/evaluate", json={"reported": True, "note": "已报送"}, headers=dept
    )
    assert done.json()["stage_label"] == "办结" and done.json()["reported"] is True

    xlsx = await world.client.get("/ledger.xlsx", headers=world.office)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "事件" and rows[0][6] == "期限"
    [row] = [r for r in rows[1:] if r[0] == event["title"]]
    assert row[2] in ("重大", "特别重大") and "80号" in row[6] and row[5] == "办结" and "权威发布" in row[7]
    assert row[4] == "示范市应急管理局"


async def test_an_overdue_response_is_announced_once(world: World) -> None:
    """61号: other opinion is answered within 48 hours; the sweep announces due-soon and overdue once each."""
    org = await organization(world, "示范市交通运输局")
    texts = [
        "滨江区滨江大道公交线路突然撤销，连个公示都没有，老人出门只能打车。",
        "滨江区滨江大道的公交线路说撤就撤，我们小区老人出行太难了，投诉没人管。",
        "滨江区滨江大道撤销公交线路不合理，要求恢复，交通局给个说法。",
    ]
    resp = await world.client.post(
        "/posts/batch",
        json={"posts": [post("board", t, place="滨江区", likes=300, shares=200) for t in texts]},
        headers=world.office,
    )
    [event_id] = resp.json()["event_ids"]
    alerts = await world.events("sentiment.alert.raised.v1", event_id=event_id)
    if not alerts:  # the heat stayed 一般: the office flags it as ordered answered from above (61号)
        flagged = await world.client.post(
            f"/events/{event_id}/flags", json={"category": "ordered"}, headers=world.office
        )
        assert flagged.json()["risk_level"] >= 1
        alerts = await world.events("sentiment.alert.raised.v1", event_id=event_id)
    [alert] = alerts
    assert alert["department_id"] == str(org) and alert["deadlines"][0]["kind"] == "response"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=49)
    for _ in range(2):
        async with world.maker() as session, session.begin():
            await service.sweep_responses(session, settings=world.settings, now=later)
    overdue = await world.events("sentiment.response.overdue.v1", response_task_id=alert["response_task_id"])
    assert len(overdue) == 1 and "61号" in overdue[0]["deadline"]["basis"]


async def test_a_post_naming_a_policy_by_document_number_links_the_event_to_it(world: World) -> None:
    item = uuid.uuid4()
    await world.deliver(
        POLICY_PUBLISHED_V1,
        PolicyPublishedV1(
            item_id=item,
            title="示范市城区停车收费管理办法",
            document_number="示政发〔2026〕12号",
            kind="normative_document",
            organization_id=uuid.uuid4(),
            body="第一条 为了规范停车收费……",
            published_on=dt.date(2026, 11, 1),
        ),
    )
    resp = await world.client.post(
        "/posts/batch",
        json={"posts": [post("weibo", "示政发〔2026〕12号说停车费要涨三倍？这是误读还是真的？有没有人解释一下。")]},
        headers=world.office,
    )
    [event_id] = resp.json()["event_ids"]
    async with world.maker() as session:
        event = await session.get(OpinionEvent, uuid.UUID(event_id))
    assert event is not None and event.policy_item_id == item


# --------------------------------------------------------------------------------------------
# 政务新媒体 accounts
# --------------------------------------------------------------------------------------------


async def test_accounts_unknown_organization_stale_once_per_silence_and_duplicates(world: World) -> None:
    """国办发〔2018〕123号, 国办秘函〔2019〕19号: no update for 2 weeks fails inspection (flagged once per silence);
    one account per body per platform (duplicates listed)."""
    unknown = await world.client.post(
        "/accounts",
        json={"organization_id": str(uuid.uuid4()), "platform": "weibo", "handle": "@nobody", "name": "无主账号"},
        headers=world.office,
    )
    assert problem(unknown, 422)["errors"][0]["field"] == "body.organization_id"
    bad_platform = await world.client.post(
        "/accounts",
        json={"organization_id": str(uuid.uuid4()), "platform": "myspace", "handle": "@x", "name": "x"},
        headers=world.office,
    )
    assert problem(bad_platform, 422)["errors"][0]["field"] == "body.platform"

    org = await organization(world, f"示范市文旅局{uuid.uuid4().hex[:4]}")
    handle = f"@wenlv{uuid.uuid4().hex[:6]}"
    created = await world.client.post(
        "/accounts",
        json={"organization_id": str(org), "platform": "weibo", "handle": handle, "name": "示范文旅"},
        headers=world.office,
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    # The account posts (ingested like any post): that is its last update.
    long_ago = dt.datetime.now(CN) - dt.timedelta(days=20)
    await world.client.post(
        "/posts/batch",
        json={"posts": [post("weibo", "周末文旅活动预告", author=handle, at=long_ago)]},
        headers=world.office,
    )
    async with world.maker() as session:
        account = await session.get(Account, uuid.UUID(account_id))
    assert account is not None and account.last_update_at is not None and account.last_update_source == "posts"

    for _ in range(2):
        async with world.maker() as session, session.begin():
            await service.sweep_accounts(session, settings=world.settings)
    assert len(await world.events("sentiment.account.stale.v1", account_id=account_id)) == 1

    # A new update ends the silence; a later silence is flagged again.
    await world.client.put(
        f"/accounts/{account_id}/last-update", json={"at": dt.datetime.now(CN).isoformat()}, headers=world.office
    )
    async with world.maker() as session, session.begin():
        await service.sweep_accounts(session, settings=world.settings)
    assert len(await world.events("sentiment.account.stale.v1", account_id=account_id)) == 1
    async with world.maker() as session, session.begin():
        await service.sweep_accounts(
            session, settings=world.settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=15)
        )
    assert len(await world.events("sentiment.account.stale.v1", account_id=account_id)) == 2

    second = await world.client.post(
        "/accounts",
        json={"organization_id": str(org), "platform": "weibo", "handle": handle + "2", "name": "示范文旅2"},
        headers=world.office,
    )
    assert second.status_code == 201
    report = (await world.client.get("/accounts/compliance", headers=world.office)).json()
    [dup] = [d for d in report["duplicates"] if d["organization_id"] == str(org)]
    assert dup["platform_label"] == "微博" and len(dup["accounts"]) == 2
    assert not any(s["id"] == account_id for s in report["silent"])  # it just reported an update
    problem(await world.client.get("/accounts/compliance", headers=world.auth(Role.staff, department=org)), 403)


async def test_alert_count_is_one_per_level(world: World) -> None:
    async with world.maker() as session:
        dup = await session.execute(
            select(Alert.event_id, Alert.level, func.count())
            .group_by(Alert.event_id, Alert.level)
            .having(func.count() > 1)
        )
    assert dup.all() == []


async def test_a_rising_event_escalates_and_its_higher_alert_waits_for_the_cool_down(world: World) -> None:
    """Alerts once per level, no floods (issue 6 point 4): a level reached within the cool-down is announced as
    ``sentiment.event.escalated`` at once, and its alert is raised by the sweep when the cool-down has passed."""
    from gongkai_shared.contracts.sentiment import PostInV1

    settings = SentimentSettings(alert_cooldown_seconds=600, risk_thresholds=[20.0, 60.0, 200.0])
    start = dt.datetime.now(dt.UTC)
    tag = uuid.uuid4().hex[:6]

    def batch(n: int, offset: int) -> list[PostInV1]:
        return [
            PostInV1(
                channel="weibo",
                channel_post_id=f"{tag}-{offset + i}",
                text=f"临江区鑫源搅拌站第{offset + i}天半夜施工，噪音震天，投诉没人管，{offset + i}号楼彻夜难眠。",
                posted_at=start,
                likes=50,
                shares=30,
                comments=20,
                place="临江区",
            )
            for i in range(n)
        ]

    async with world.maker() as session, session.begin():
        first = await service.ingest(session, batch(4, 0), settings=settings, now=start)
    [event_id] = first.event_ids
    assert len(first.alerts) == 1
    async with world.maker() as session, session.begin():
        second = await service.ingest(session, batch(40, 100), settings=settings, now=start + dt.timedelta(minutes=1))
    assert second.event_ids == [event_id] and second.alerts == []  # within the cool-down
    escalated = await world.events("sentiment.event.escalated.v1", event_id=str(event_id))
    assert escalated and escalated[-1]["risk_level"] > escalated[-1]["previous_risk_level"]
    async with world.maker() as session, session.begin():
        await service.sweep_responses(session, settings=settings, now=start + dt.timedelta(minutes=5))
    assert len(await world.events("sentiment.alert.raised.v1", event_id=str(event_id))) == 1
    async with world.maker() as session, session.begin():
        await service.sweep_responses(session, settings=settings, now=start + dt.timedelta(minutes=11))
    alerts = await world.events("sentiment.alert.raised.v1", event_id=str(event_id))
    assert len(alerts) == 2 and alerts[1]["level"] > alerts[0]["level"]
