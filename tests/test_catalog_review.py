"""Review before publication (条例 art. 17 先审查后公开): draft → 保密审查 → 初审/复审/终审 → approved →
published; return with an opinion; nobody approves their own draft; every step in the history."""

from __future__ import annotations

import re
import uuid

import httpx
from gongkai_catalog.models import Item
from gongkai_shared.auth import Role
from gongkai_shared.contracts.catalog import ITEM_PUBLISHED_V1, POLICY_PUBLISHED_V1
from sqlalchemy import select
from test_catalog_support import (
    assert_problem,
    client,
    db,
    draft,
    org_with_actors,
    outbox_events,
    publish_through_review,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures


async def test_review_flow_end_to_end_with_history(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    """条例 art. 17: 保密审查 then the content stages (default 初审/复审/终审), a return with an opinion,
    then publication; the history shows who, when, which stage, which decision and which opinion."""
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, document_number="示范政发[2026]7号")
    assert item["status"] == "draft" and item["document_number"] == "示范政发〔2026〕7号"

    # Publishing a draft is refused: review comes first.
    assert_problem(await client.post(f"/items/{item['id']}/publish", headers=actors.drafter), 409, "review_required")

    submitted = await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_review" and submitted.json()["review_stage_name"] == "保密审查"

    # 保密审查 passes; 初审 sends it back with an opinion.
    ok = await client.post(f"/items/{item['id']}/approve", json={"opinion": "不涉密"}, headers=actors.reviewer)
    assert ok.json()["review_stage_name"] == "初审"
    back = await client.post(
        f"/items/{item['id']}/return", json={"opinion": "请补充内容概述"}, headers=actors.reviewer2
    )
    assert back.status_code == 200 and back.json()["status"] == "draft"
    # An opinion is required to send back.
    assert_problem(await client.post(f"/items/{item['id']}/return", json={}, headers=actors.reviewer), 422)

    fixed = await client.patch(
        f"/items/{item['id']}", json={"summary": "规范本市政府信息公开工作。"}, headers=actors.drafter
    )
    assert fixed.status_code == 200 and fixed.json()["summary"] == "规范本市政府信息公开工作。"

    stages = []
    await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    for reviewer in (actors.reviewer, actors.reviewer2, actors.reviewer, actors.reviewer2):
        current = (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()
        stages.append(current["review_stage_name"])
        resp = await client.post(f"/items/{item['id']}/approve", json={"opinion": "同意"}, headers=reviewer)
        assert resp.status_code == 200, resp.text
    assert stages == ["保密审查", "初审", "复审", "终审"]
    assert resp.json()["status"] == "approved"
    # Under review the text cannot change.
    assert_problem(
        await client.patch(f"/items/{item['id']}", json={"title": "改"}, headers=actors.drafter), 409, "not_draft"
    )

    published = await client.post(f"/items/{item['id']}/publish", headers=actors.drafter)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["published_on"]

    history = await client.get(f"/items/{item['id']}/history", headers=actors.drafter)
    assert history.status_code == 200
    steps = [(h["action"], h["stage"], h["decision"], h["opinion"]) for h in history.json()]
    assert steps[0][0] == "created"
    assert ("approved", "保密审查", "通过", "不涉密") in steps
    assert ("returned", "初审", "退回", "请补充内容概述") in steps
    assert [s[1] for s in steps if s[0] == "approved"] == ["保密审查", "保密审查", "初审", "复审", "终审"]
    assert steps[-1][0] == "published"
    assert all(h["actor"] and h["at"] for h in history.json())
    # The public cannot read the history (it names reviewers).
    assert_problem(await client.get(f"/items/{item['id']}/history"), 401)

    # Publishing twice is a conflict and changes nothing.
    again = assert_problem(await client.post(f"/items/{item['id']}/publish", headers=actors.drafter), 409)
    assert again["code"] == "already_published"
    assert len(await outbox_events(db, ITEM_PUBLISHED_V1, item_id=item["id"])) == 1
    assert len(await outbox_events(db, POLICY_PUBLISHED_V1, item_id=item["id"])) == 1


async def test_nobody_approves_their_own_draft(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    """条例 art. 17 先审查后公开: review is by someone other than the drafter, at every stage."""
    org, actors = await org_with_actors(client)
    reviewer_who_drafts = token({Role.reviewer, Role.staff}, actors.department, name="既起草又审核")
    item = await draft(client, org, reviewer_who_drafts)
    await client.post(f"/items/{item['id']}/submit", headers=reviewer_who_drafts)
    problem = assert_problem(
        await client.post(f"/items/{item['id']}/approve", headers=reviewer_who_drafts), 403, "own_draft_approval"
    )
    assert "本人起草" in problem["detail"] and "第十七条" in problem["detail"]
    async with db() as session:
        stored = await session.scalar(select(Item).where(Item.id == uuid.UUID(item["id"])))
    assert stored is not None and stored.status == "in_review" and stored.review_stage == 0
    # Someone else may.
    ok = await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)
    assert ok.status_code == 200 and ok.json()["review_stage_name"] == "初审"


async def test_reviewing_needs_the_reviewer_role_of_the_department(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter)
    await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    colleague = token({Role.staff}, actors.department)
    assert_problem(await client.post(f"/items/{item['id']}/approve", headers=colleague), 403, "reviewer_role_required")
    # A reviewer of another department does not even see the draft.
    assert_problem(await client.post(f"/items/{item['id']}/approve", headers=actors.other_department_reviewer), 404)
    assert_problem(await client.post(f"/items/{item['id']}/approve"), 401)
    current = (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()
    assert current["status"] == "in_review" and current["review_stage"] == 0


async def test_the_public_sees_published_items_only_and_staff_their_drafts(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    hidden = await draft(client, org, actors.drafter, title="内部草稿不公开")
    shown = await publish_through_review(client, await draft(client, org, actors.drafter), actors)

    assert_problem(await client.get(f"/items/{hidden['id']}"), 404)
    assert (await client.get(f"/items/{shown['id']}")).status_code == 200
    public = (await client.get("/items", params={"organization_id": org["id"]})).json()["items"]
    assert [i["id"] for i in public] == [shown["id"]]
    assert public[0]["validity_label"] == "有效" and "body" not in public[0]

    staff = (await client.get("/items", params={"organization_id": org["id"]}, headers=actors.drafter)).json()
    assert {i["id"] for i in staff["items"]} == {hidden["id"], shown["id"]}
    outsider = token({Role.staff}, uuid.uuid4())
    seen = (await client.get("/items", params={"organization_id": org["id"]}, headers=outsider)).json()["items"]
    assert [i["id"] for i in seen] == [shown["id"]]
    assert_problem(await client.get(f"/items/{hidden['id']}", headers=outsider), 404)


async def test_index_number_has_the_statutory_form(client: httpx.AsyncClient) -> None:
    """domain.md §1: 索引号 ``<agency code>/<YYYY>-<5-digit serial>``, assigned at publication."""
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter)
    assert item["index_number"] is None
    published = await publish_through_review(client, item, actors)
    match = re.fullmatch(r"(?P<code>[0-9A-Z]{18})/(?P<year>\d{4})-(?P<serial>\d{5})", published["index_number"])
    assert match and match["code"] == org["code"]
    assert match["year"] == published["published_on"][:4] and match["serial"] == "00001"
    second = await publish_through_review(client, await draft(client, org, actors.drafter), actors)
    assert second["index_number"].endswith("-00002")
    found = (await client.get("/items", params={"index_number": published["index_number"]})).json()["items"]
    assert [i["id"] for i in found] == [published["id"]]
    bad = assert_problem(await client.get("/items", params={"index_number": "12345/2026-1"}), 422)
    assert bad["errors"][0]["field"] == "query.index_number"


async def test_an_organization_without_a_code_cannot_publish(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client, code=None)
    item = await draft(client, org, actors.drafter)
    await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    for _ in range(4):
        await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)
    problem = assert_problem(
        await client.post(f"/items/{item['id']}/publish", headers=actors.drafter), 409, "organization_code_missing"
    )
    assert "索引号" in problem["detail"]
    assert (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()["status"] == "approved"
