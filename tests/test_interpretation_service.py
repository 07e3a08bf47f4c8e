"""The interpretation service (issue 5) against the real PostgreSQL, through its ASGI app and its handlers.

Rules from domain.md §4 (国办发〔2016〕80号《关于全面推进政务公开工作的意见》实施细则 and local rules):
三同步 (interpretation at the latest N working days after the policy, default 3, 0 = same day);
谁起草、谁解读, the department head as 第一解读人; the content elements; the forms; no 文件要点摘抄 or
文件压缩; 双向关联 of policy and interpretation. Working days: domain.md §6.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import migrate
from gongkai_interpretation import service
from gongkai_interpretation.app import create_app
from gongkai_interpretation.models import InterpretationTask, event_tables
from gongkai_interpretation.settings import InterpretationSettings
from gongkai_shared.auth import Principal, Role, TokenSigner
from gongkai_shared.contracts.catalog import (
    ORGANIZATION_CREATED_V1,
    ORGANIZATION_UPDATED_V1,
    POLICY_PUBLISHED_V1,
    POLICY_SUPERSEDED_V1,
    OrganizationV1,
    PolicyPublishedV1,
    PolicySupersededV1,
)
from gongkai_shared.db import create_engine, make_sessionmaker
from gongkai_shared.events import new_envelope
from gongkai_shared.events.consumer import PermanentError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

DATA = Path(__file__).parent / "data"
POLICY_2024 = (DATA / "interpretation_policy_2024.txt").read_text(encoding="utf-8")
POLICY_2026 = (DATA / "interpretation_policy_2026.txt").read_text(encoding="utf-8")
TITLE = "示范市城乡居民临时救助管理办法"

# An interpretation in the drafter's own words: what a reviewer wants to publish.
GOOD_TEXT = """一、为什么要修订这个办法？
近年来群众遇到突发困难时求助渠道不够畅通，市里在总结两年来实践经验的基础上修订了办法，出台目的是让困难群众更快拿到救助，依据是国家社会救助的相关规定。
二、目标任务是什么？
力争到2027年把平均办理时间压缩到一周左右，让符合条件的困难群众基本都能得到帮助。
三、主要内容有哪些？
办法共五章，主要包括救助对象怎么认定、救助标准怎么定、申请审批怎么办、资金怎么管四个方面。
四、哪些人可以申请？
本市城乡居民遇到火灾、车祸、大病等突发状况、日子一时过不下去的，都在适用范围内；没有本市户口的务工人员也可以就近求助。
五、补助标准和办理时限有哪些变化？
生活补助从每月500元提高到800元，重病救助上限提高到3万元；街道审核压缩为3个工作日，区里审批压缩为5个工作日。
六、需要注意什么？
救助金专款专用，弄虚作假骗取救助的要退回资金，三年内不再受理申请。
七、关键词：什么叫“临时救助”？
简单说，就是家里突然遇到难处时政府给的应急帮扶，是一种过渡性的帮助。
八、惠民举措：困难家庭还能得到免费的心理疏导服务。"""


@dataclass
class World:
    maker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    signer: TokenSigner

    def auth(self, *roles: Role, department: uuid.UUID | None = None, name: str = "测试用户") -> dict[str, str]:
        principal = Principal(
            subject=f"u-{uuid.uuid4().hex[:6]}", name=name, roles=frozenset(roles), department_id=department
        )
        return {"Authorization": f"Bearer {self.signer.issue(principal)}"}

    async def deliver(self, event_type: str, payload: Any, **kwargs: Any) -> None:
        envelope = new_envelope(event_type, payload)
        async with self.maker() as session, session.begin():
            if event_type == POLICY_PUBLISHED_V1:
                await service.on_policy_published(session, envelope, due_working_days=kwargs.get("due", 3))
            elif event_type == POLICY_SUPERSEDED_V1:
                await service.on_policy_superseded(session, envelope)
            else:
                await service.on_organization(session, envelope)

    async def task_of(self, policy_id: uuid.UUID) -> InterpretationTask | None:
        async with self.maker() as session:
            return await session.scalar(
                select(InterpretationTask).where(InterpretationTask.policy_item_id == policy_id)
            )

    async def events(self, event_type: str, **match: str) -> list[dict]:
        o = event_tables.outbox
        async with self.maker() as session:
            rows = (await session.execute(select(o.c.envelope).where(o.c.envelope["type"].astext == event_type))).all()
        out = [r[0]["data"] for r in rows]
        return [d for d in out if all(d.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    url = await asyncio.to_thread(migrate, "interpretation")
    engine = create_engine(url)
    app = create_app(InterpretationSettings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://interpretation.test") as client:
            yield World(make_sessionmaker(engine), client, TokenSigner(os.environ["GK_JWT_SECRET"]))
    await engine.dispose()


def policy(
    *,
    org: uuid.UUID,
    body: str = POLICY_2026,
    published_on: dt.date = dt.date(2026, 4, 30),
    document_number: str | None = None,
    supersedes: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    head_name: str | None = None,
) -> PolicyPublishedV1:
    return PolicyPublishedV1(
        item_id=item_id or uuid.uuid4(),
        title=TITLE,
        document_number=document_number,
        kind="normative_document",
        organization_id=org,
        body=body,
        published_on=published_on,
        supersedes_item_id=supersedes,
        head_name=head_name,
    )


def organization(org: uuid.UUID, head: str | None) -> OrganizationV1:
    return OrganizationV1(
        organization_id=org,
        name="示范市民政局",
        type="department",
        type_label="部门",
        head_name=head,
        head_title="局长",
    )


def problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


# --------------------------------------------------------------------------------------------
# 1. Tasks
# --------------------------------------------------------------------------------------------


async def test_policy_gets_one_task_for_its_drafting_department_and_head_due_in_three_working_days(
    world: World,
) -> None:
    """domain.md §4: 谁起草、谁解读, the head is 第一解读人; due 3 working days after publication (§6 counting)."""
    org = uuid.uuid4()
    await world.deliver(ORGANIZATION_CREATED_V1, organization(org, "王局长"))
    p = policy(org=org)  # Thursday 2026-04-30; 劳动节 2026-05-01..05-05 off (2026 arrangement)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    assert task.organization_id == org and task.head_name == "王局长" and task.head_title == "局长"
    # 05-06 is day 1, 05-07 day 2, 05-08 day 3.
    assert task.due_on == dt.date(2026, 5, 8) and task.due_provisional is False
    assert task.status.value == "assigned"
    [created] = await world.events("interpretation.task.created.v1", task_id=str(task.id))
    assert created["head_name"] == "王局长" and created["due_on"] == "2026-05-08"

    # The same policy announced again under a new event id: no second task, no second announcement.
    await world.deliver(POLICY_PUBLISHED_V1, p)
    async with world.maker() as session:
        count = await session.scalar(
            select(func.count()).select_from(InterpretationTask).where(InterpretationTask.policy_item_id == p.item_id)
        )
    assert count == 1
    assert len(await world.events("interpretation.task.created.v1", policy_item_id=str(p.item_id))) == 1


async def test_an_archived_policy_brings_no_interpretation_task(world: World) -> None:
    """三同步 (domain.md §4) binds a policy published now: one imported from the former platform with its
    old 发布日期 (存量导入, ``archived``) gets no task, while the same department's new policy does."""
    org = uuid.uuid4()
    await world.deliver(ORGANIZATION_CREATED_V1, organization(org, "王局长"))
    old = policy(org=org, published_on=dt.date(2021, 3, 15)).model_copy(update={"archived": True})
    await world.deliver(POLICY_PUBLISHED_V1, old)
    assert await world.task_of(old.item_id) is None
    new = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, new)
    assert await world.task_of(new.item_id) is not None


async def test_due_setting_zero_means_the_same_day(world: World) -> None:
    """domain.md §4: the setting may be 0, meaning the interpretation is due the day the policy is published."""
    p = policy(org=uuid.uuid4(), published_on=dt.date(2026, 6, 3))
    await world.deliver(POLICY_PUBLISHED_V1, p, due=0)
    task = await world.task_of(p.item_id)
    assert task is not None and task.due_on == dt.date(2026, 6, 3) and task.due_working_days == 0


async def test_head_changes_from_the_catalog_reach_open_tasks_but_not_a_head_staff_set(world: World) -> None:
    org = uuid.uuid4()
    p1, p2 = policy(org=org), policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, p1)
    await world.deliver(POLICY_PUBLISHED_V1, p2)
    t2 = await world.task_of(p2.item_id)
    assert t2 is not None and t2.head_name is None  # the catalog has not told us yet
    staff = world.auth(Role.staff, department=org)
    resp = await world.client.patch(f"/tasks/{t2.id}/assignment", json={"head_name": "李副局长"}, headers=staff)
    assert resp.status_code == 200, resp.text
    await world.deliver(ORGANIZATION_UPDATED_V1, organization(org, "赵局长"))
    t1, t2 = await world.task_of(p1.item_id), await world.task_of(p2.item_id)
    assert t1 is not None and t1.head_name == "赵局长"
    assert t2 is not None and t2.head_name == "李副局长"


async def test_policy_event_without_text_is_a_permanent_error_and_changes_nothing(world: World) -> None:
    """Issue 5, bad input: a policy event without text is never silently dropped (dead letter with the reason)."""
    p = policy(org=uuid.uuid4(), body="   ")
    with pytest.raises(PermanentError, match="body"):
        await world.deliver(POLICY_PUBLISHED_V1, p)
    assert await world.task_of(p.item_id) is None
    assert await world.events("interpretation.task.created.v1", policy_item_id=str(p.item_id)) == []


# --------------------------------------------------------------------------------------------
# 2. Workflow; 三同步 registration before the policy
# --------------------------------------------------------------------------------------------


async def test_interpretation_registered_before_the_policy_is_linked_when_it_is_published(world: World) -> None:
    """三同步 (domain.md §4: 同步组织、同步审签、同步部署): registered early, matched by 文号 on publication."""
    org = uuid.uuid4()
    number = f"示范民发[2026]{uuid.uuid4().int % 10000}号"
    staff = world.auth(Role.staff, department=org, name="起草人甲")
    resp = await world.client.post(
        "/tasks",
        json={
            "organization_id": str(org),
            "policy_title": TITLE,
            "policy_document_number": number,
            "drafter": "起草人甲",
        },
        headers=staff,
    )
    assert resp.status_code == 201, resp.text
    early = resp.json()
    assert early["policy_item_id"] is None and early["registered_early"] is True and early["due_on"] is None

    # Registering it twice makes no second task.
    again = await world.client.post(
        "/tasks",
        json={"organization_id": str(org), "policy_title": TITLE, "policy_document_number": number},
        headers=staff,
    )
    assert problem(again, 409)["code"] == "task_exists"

    # The catalog writes the 文号 with 〔〕: still the same policy.
    p = policy(org=org, document_number=number.replace("[", "〔").replace("]", "〕"))
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None and str(task.id) == early["id"]
    assert task.due_on == dt.date(2026, 5, 8) and task.policy_body == POLICY_2026
    [created] = await world.events("interpretation.task.created.v1", policy_item_id=str(p.item_id))
    assert created["registered_early"] is True
    history = (await world.client.get(f"/tasks/{early['id']}/history", headers=staff)).json()
    assert [h["action"] for h in history] == ["registered", "linked"]


async def test_workflow_assigned_drafting_review_published_with_opinions_and_history(world: World) -> None:
    org = uuid.uuid4()
    p = policy(org=org)
    await world.deliver(ORGANIZATION_CREATED_V1, organization(org, "王局长"))
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    staff = world.auth(Role.staff, department=org, name="起草人乙")
    reviewer = world.auth(Role.reviewer, department=org, name="审核人丙")
    outsider = world.auth(Role.staff, department=uuid.uuid4())

    assert problem(await world.client.get(f"/tasks/{task.id}", headers=outsider), 404)["code"] == "not_found"
    content = {
        "title": "图解+问答：临时救助办法修订了什么",
        "text": GOOD_TEXT,
        "forms": [
            {"form": "text"},
            {"form": "graphic", "title": "一图读懂", "attachment_id": "att-001"},
            {"form": "video", "url": "https://example.gov.cn/video/1"},
        ],
        "qa_pairs": [{"question": "没有本市户口能申请吗？", "answer": "可以，在经常居住地或求助地的街道直接申请。"}],
    }
    resp = await world.client.put(f"/tasks/{task.id}/content", json=content, headers=staff)
    assert resp.status_code == 200 and resp.json()["status"] == "drafting", resp.text
    resp = await world.client.post(f"/tasks/{task.id}/submit", json={"opinion": "请审核"}, headers=staff)
    assert resp.json()["status"] == "review"
    # Only a reviewer publishes.
    assert problem(await world.client.post(f"/tasks/{task.id}/publish", headers=staff), 403)["code"] == "forbidden"
    # A return needs its opinion.
    assert (
        problem(await world.client.post(f"/tasks/{task.id}/return", json={}, headers=reviewer), 422)["errors"][0][
            "field"
        ]
        == "body.opinion"
    )
    resp = await world.client.post(f"/tasks/{task.id}/return", json={"opinion": "补充办理流程图"}, headers=reviewer)
    assert resp.json()["status"] == "drafting"
    resp = await world.client.post(f"/tasks/{task.id}/submit", headers=staff)
    assert resp.json()["status"] == "review"

    quality = (await world.client.get(f"/tasks/{task.id}/quality", headers=reviewer)).json()
    assert quality["passed"] is True and quality["copied_share"] < 0.2, quality
    resp = await world.client.post(f"/tasks/{task.id}/publish", json={"opinion": "同意发布"}, headers=reviewer)
    assert resp.status_code == 200, resp.text
    published = resp.json()
    assert published["status"] == "published" and published["quality_score"] == quality["score"]
    assert published["override_reason"] is None

    history = (await world.client.get(f"/tasks/{task.id}/history", headers=staff)).json()
    assert [(h["action"], h["to_status"]) for h in history] == [
        ("assigned", "assigned"),
        ("content", "drafting"),
        ("submitted", "review"),
        ("returned", "drafting"),
        ("submitted", "review"),
        ("published", "published"),
    ]
    assert history[3]["actor"] == "审核人丙" and history[3]["opinion"] == "补充办理流程图"
    assert history[5]["opinion"] == "同意发布"

    # What the catalog needs to publish a linked 政策解读 item (双向关联).
    [event] = await world.events("interpretation.interpretation.published.v1", task_id=str(task.id))
    assert event["policy_item_id"] == str(p.item_id) and event["organization_id"] == str(org)
    assert event["organization_name"] == "示范市民政局" and event["head_name"] == "王局长"
    assert event["title"] == content["title"] and event["text"] == GOOD_TEXT
    assert [f["form_label"] for f in event["forms"]] == ["文字", "图解", "音视频"]
    assert event["qa_pairs"][0]["question"] == "没有本市户口能申请吗？"
    assert event["quality_score"] == quality["score"]

    # Published is final.
    again = await world.client.put(f"/tasks/{task.id}/content", json=content, headers=staff)
    assert problem(again, 409)["code"] == "not_editable"


# --------------------------------------------------------------------------------------------
# 3. Content: bad input names the field and changes nothing
# --------------------------------------------------------------------------------------------


async def test_non_text_form_without_attachment_or_link_is_refused_naming_the_field(world: World) -> None:
    org = uuid.uuid4()
    p = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    staff = world.auth(Role.staff, department=org)
    body = {"text": "解读", "forms": [{"form": "text"}, {"form": "animation", "title": "动漫解读"}]}
    err = problem(await world.client.put(f"/tasks/{task.id}/content", json=body, headers=staff), 422)
    assert err["errors"][0]["field"] == "body.forms.1.url" and "动漫" in err["errors"][0]["message"]
    err = problem(
        await world.client.put(f"/tasks/{task.id}/content", json={"forms": [{"form": "podcast"}]}, headers=staff), 422
    )
    assert err["errors"][0]["field"] == "body.forms.0.form"
    after = await world.task_of(p.item_id)
    assert after is not None and after.text == "" and after.forms == [] and after.status.value == "assigned"

    # Registering early needs a way to find the policy later.
    err = problem(
        await world.client.post("/tasks", json={"organization_id": str(org), "policy_title": TITLE}, headers=staff), 422
    )
    assert err["errors"][0]["field"] == "body.policy_document_number"


async def test_submitting_or_publishing_without_content_is_refused(world: World) -> None:
    """Issue 5, bad input: publishing without content."""
    org = uuid.uuid4()
    p = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    staff = world.auth(Role.staff, department=org)
    assert problem(await world.client.post(f"/tasks/{task.id}/submit", headers=staff), 409)["code"] == "no_content"
    after = await world.task_of(p.item_id)
    assert after is not None and after.status.value == "assigned"


# --------------------------------------------------------------------------------------------
# 4-6. Draft, differences, quality, publication
# --------------------------------------------------------------------------------------------


async def test_revised_policy_task_carries_the_clause_differences_and_its_draft_points_to_the_policy(
    world: World,
) -> None:
    """domain.md §4 新旧政策差异: the new policy's task shows the differences clause by clause."""
    org = uuid.uuid4()
    old = policy(org=org, body=POLICY_2024, published_on=dt.date(2024, 2, 1))
    await world.deliver(POLICY_PUBLISHED_V1, old)
    new = policy(org=org, supersedes=old.item_id)
    await world.deliver(POLICY_PUBLISHED_V1, new)
    task = await world.task_of(new.item_id)
    assert task is not None and task.differences is not None and task.differences["available"] is True
    changes = {(c["change"], (c["new"] or c["old"])["label"]): c for c in task.differences["changes"]}
    assert ("added", "第十一条") in changes and ("removed", "第十六条") in changes
    assert [(f["old"], f["new"]) for f in changes[("changed", "第九条")]["figures"]] == [("500元", "800元")]
    assert changes[("changed", "第十四条")]["old"]["label"] == "第十三条"  # renumbered, and changed

    staff = world.auth(Role.staff, department=org)
    resp = await world.client.post(f"/tasks/{task.id}/draft", headers=staff)
    assert resp.status_code == 200, resp.text
    draft = resp.json()
    by_key = {e["key"]: e for e in draft["elements"]}
    assert any("500元调整为800元" in s["text"] for s in by_key["changes"]["sentences"])
    for element in draft["elements"]:
        for sentence in element["sentences"]:
            for start, end in sentence["spans"]:
                assert POLICY_2026[start:end].strip(), "every span is text of the policy"
    scope = by_key["scope"]["sentences"][0]
    start, end = scope["spans"][0]
    assert "适用于" in POLICY_2026[start:end]
    assert (await world.task_of(new.item_id)).status.value == "drafting"  # type: ignore[union-attr]


async def test_superseded_event_attaches_differences_when_the_new_policy_did_not_name_the_old(world: World) -> None:
    org = uuid.uuid4()
    old = policy(org=org, body=POLICY_2024, published_on=dt.date(2024, 2, 1))
    new = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, old)
    await world.deliver(POLICY_PUBLISHED_V1, new)
    assert (await world.task_of(new.item_id)).differences is None  # type: ignore[union-attr]
    await world.deliver(
        POLICY_SUPERSEDED_V1,
        PolicySupersededV1(
            item_id=old.item_id,
            title=TITLE,
            organization_id=org,
            superseded_by_item_id=new.item_id,
            superseded_by_title=TITLE,
            superseded_on=new.published_on,
        ),
    )
    task = await world.task_of(new.item_id)
    assert task is not None and task.supersedes_item_id == old.item_id
    assert task.differences is not None and task.differences["counts"]["added"] == 1


async def test_copied_out_interpretation_scores_low_and_publishes_only_with_a_reviewers_reason(world: World) -> None:
    """domain.md §4: an interpretation that merely excerpts or compresses the document is forbidden."""
    org = uuid.uuid4()
    p = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    staff, reviewer = world.auth(Role.staff, department=org), world.auth(Role.reviewer, department=org, name="审核人丁")
    excerpt = "\n".join(line for line in POLICY_2026.splitlines() if "第" in line and "条" in line)[:900]
    resp = await world.client.put(f"/tasks/{task.id}/content", json={"text": excerpt}, headers=staff)
    assert resp.status_code == 200
    quality = (await world.client.get(f"/tasks/{task.id}/quality", headers=staff)).json()
    assert quality["score"] < 40 and quality["passed"] is False and quality["copied_share"] > 0.9
    copied = next(r for r in quality["reasons"] if r["code"] == "copied")
    assert copied["points"] == 0 and "文件要点摘抄" in copied["detail"]

    await world.client.post(f"/tasks/{task.id}/submit", headers=staff)
    err = problem(await world.client.post(f"/tasks/{task.id}/publish", json={}, headers=reviewer), 422)
    assert err["errors"][0]["field"] == "body.override_reason" and err["quality"]["score"] == quality["score"]
    assert (await world.task_of(p.item_id)).status.value == "review"  # type: ignore[union-attr]
    assert await world.events("interpretation.interpretation.published.v1", task_id=str(task.id)) == []

    resp = await world.client.post(
        f"/tasks/{task.id}/publish", json={"override_reason": "紧急发布，次日补充图解"}, headers=reviewer
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["override_reason"] == "紧急发布，次日补充图解"
    after = await world.task_of(p.item_id)
    assert after is not None and after.override_by == "审核人丁"


async def test_an_interpretation_cannot_be_published_before_its_policy(world: World) -> None:
    """三同步: released together; the interpretation waits for its policy and is linked to it (双向关联)."""
    org = uuid.uuid4()
    staff, reviewer = world.auth(Role.staff, department=org), world.auth(Role.reviewer, department=org)
    early = (
        await world.client.post(
            "/tasks",
            json={
                "organization_id": str(org),
                "policy_title": TITLE,
                "policy_document_number": f"示范民发〔2027〕{uuid.uuid4().int % 999}号",
            },
            headers=staff,
        )
    ).json()
    await world.client.put(f"/tasks/{early['id']}/content", json={"text": GOOD_TEXT}, headers=staff)
    await world.client.post(f"/tasks/{early['id']}/submit", headers=staff)
    err = problem(await world.client.post(f"/tasks/{early['id']}/publish", json={}, headers=reviewer), 409)
    assert err["code"] == "policy_not_published"
    # Its draft needs the policy's text too.
    assert (
        problem(await world.client.post(f"/tasks/{early['id']}/draft", headers=staff), 409)["code"]
        == "policy_not_published"
    )


async def test_llm_backend_is_off_by_default_and_never_called(world: World) -> None:
    org = uuid.uuid4()
    p = policy(org=org)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None
    settings = InterpretationSettings()
    assert settings.llm_url is None
    calls: list[Any] = []

    async def llm(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return "模型起草"

    office = Principal(subject="office", roles=frozenset({Role.office}))
    async with world.maker() as session, session.begin():
        draft = await service.make_task_draft(session, task_id=task.id, principal=office, settings=settings, llm=llm)
    assert draft["backend"] == "deterministic" and "llm_text" not in draft
    staff = world.auth(Role.staff, department=org)
    err = problem(await world.client.post(f"/tasks/{task.id}/draft", json={"backend": "llm"}, headers=staff), 422)
    assert err["errors"][0]["field"] == "body.backend"
    assert calls == []


# --------------------------------------------------------------------------------------------
# Sweeps and figures
# --------------------------------------------------------------------------------------------


async def test_due_soon_and_overdue_are_announced_once_each(world: World) -> None:
    p = policy(org=uuid.uuid4(), published_on=dt.date(2026, 4, 30))  # due 2026-05-08 (Friday)
    await world.deliver(POLICY_PUBLISHED_V1, p)
    task = await world.task_of(p.item_id)
    assert task is not None

    async def sweep(today: dt.date) -> None:
        async with world.maker() as session, session.begin():
            await service.sweep_deadlines(session, due_soon_working_days=1, today=today)

    await sweep(dt.date(2026, 5, 6))  # two working days before: nothing yet
    assert await world.events("interpretation.task.due_soon.v1", task_id=str(task.id)) == []
    await sweep(dt.date(2026, 5, 7))  # the day before
    await sweep(dt.date(2026, 5, 8))
    [soon] = await world.events("interpretation.task.due_soon.v1", task_id=str(task.id))
    assert soon["due_on"] == "2026-05-08" and soon["status"] == "assigned"
    assert await world.events("interpretation.task.overdue.v1", task_id=str(task.id)) == []
    await sweep(dt.date(2026, 5, 11))
    await sweep(dt.date(2026, 5, 12))
    assert len(await world.events("interpretation.task.overdue.v1", task_id=str(task.id))) == 1
    assert len(await world.events("interpretation.task.due_soon.v1", task_id=str(task.id))) == 1


async def test_figures_per_department(world: World) -> None:
    """domain.md §4: evaluations count the interpretation rate, timeliness and the share of non-text forms."""
    org = uuid.uuid4()
    await world.deliver(ORGANIZATION_CREATED_V1, organization(org, "王局长"))
    staff, reviewer = world.auth(Role.staff, department=org), world.auth(Role.reviewer, department=org)
    policies = [policy(org=org, published_on=dt.date(2026, 3, 2)) for _ in range(3)]
    for p in policies:
        await world.deliver(POLICY_PUBLISHED_V1, p)
    first = await world.task_of(policies[0].item_id)
    assert first is not None
    content = {"text": GOOD_TEXT, "forms": [{"form": "graphic", "attachment_id": "a1"}]}
    await world.client.put(f"/tasks/{first.id}/content", json=content, headers=staff)
    await world.client.post(f"/tasks/{first.id}/submit", headers=staff)
    resp = await world.client.post(f"/tasks/{first.id}/publish", headers=reviewer)
    assert resp.status_code == 200, resp.text
    score = resp.json()["quality_score"]

    resp = await world.client.get(
        "/figures", params={"start": "2026-03-01", "end": "2026-03-31", "organization_id": str(org)}, headers=staff
    )
    assert resp.status_code == 200, resp.text
    [row] = resp.json()["rows"]
    assert row["organization_name"] == "示范市民政局"
    assert (row["policies"], row["interpreted"]) == (3, 1)
    assert row["interpretation_rate"] == pytest.approx(1 / 3, abs=1e-3)
    # Published today (after 2026-03-05, the due date): late.
    assert row["on_time"] == 0 and row["on_time_rate"] == 0
    assert row["non_text_share"] == 1.0 and row["average_quality"] == score
    # Another department's figures are not theirs to see; a reversed period names the field.
    assert problem(
        await world.client.get(
            "/figures",
            params={"start": "2026-03-01", "end": "2026-03-31", "organization_id": str(uuid.uuid4())},
            headers=staff,
        ),
        403,
    )
    err = problem(
        await world.client.get("/figures", params={"start": "2026-03-31", "end": "2026-03-01"}, headers=staff), 422
    )
    assert err["errors"][0]["field"] == "query.end"

    # Another service (the catalog's assessment) reads every department with a scoped system token;
    # a system token without the read scope, or limited to another organization, sees nothing.
    def system(*scopes: str) -> dict[str, str]:
        p = Principal(subject="system:test", roles=frozenset({Role.system}), scopes=frozenset(scopes))
        return {"Authorization": f"Bearer {world.signer.issue(p)}"}

    period = {"start": "2026-03-01", "end": "2026-03-31"}
    rows = (await world.client.get("/figures", params=period, headers=system("interpretation:read", "org:*"))).json()
    assert org in {uuid.UUID(r["organization_id"]) for r in rows["rows"]}
    assert problem(await world.client.get("/figures", params=period, headers=system("catalog:read", "org:*")), 403)
    other = f"org:{uuid.uuid4()}"
    assert problem(
        await world.client.get(
            "/figures", params={**period, "organization_id": str(org)}, headers=system("interpretation:read", other)
        ),
        403,
    )
