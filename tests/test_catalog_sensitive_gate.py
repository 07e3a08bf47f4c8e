"""The sensitive-content check on submit and again before publication (条例 art. 14-17; 负面清单):
findings block unless a reviewer overrides with a reason, which the history records. Findings are shown
masked: the full number never appears in an answer."""

from __future__ import annotations

import json
import uuid

import httpx
from gongkai_shared.auth import Role
from test_catalog_support import (
    assert_problem,
    client,
    db,
    draft,
    org_with_actors,
    resident_id,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures


async def test_an_id_number_in_the_body_blocks_submission_until_a_reviewer_overrides(
    client: httpx.AsyncClient,
) -> None:
    org, actors = await org_with_actors(client)
    number = resident_id()
    body = f"经审核，以下人员符合低保条件：张某，身份证号{number}，家住示范市。"
    item = await draft(client, org, actors.drafter, body=body, kind="other")

    blocked = assert_problem(await client.post(f"/items/{item['id']}/submit", headers=actors.drafter), 422)
    assert blocked["code"] == "sensitive_content"
    (finding,) = blocked["findings"]
    assert finding["kind"] == "resident_id" and finding["field"] == "body"
    assert body[finding["start"] : finding["end"]] == number
    assert number not in json.dumps(blocked, ensure_ascii=False)  # masked, never the full number
    assert "item.body" in {e["field"] for e in blocked["errors"]}
    assert (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()["status"] == "draft"

    # The drafter cannot wave it through; a reviewer can, with a reason.
    denied = await client.post(
        f"/items/{item['id']}/submit", json={"override_reason": "本人认为可以公开"}, headers=actors.drafter
    )
    assert_problem(denied, 403, "override_requires_reviewer")
    reason = "低保公示依《社会救助暂行办法》须公示，身份证号将在发布前按规定遮盖"
    passed = await client.post(f"/items/{item['id']}/submit", json={"override_reason": reason}, headers=actors.reviewer)
    assert passed.status_code == 200, passed.text
    assert passed.json()["status"] == "in_review"

    # The same findings, already let through, do not stop publication.
    for _ in range(4):
        assert (await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer2)).status_code == 200
    published = await client.post(f"/items/{item['id']}/publish", headers=actors.drafter)
    assert published.status_code == 200, published.text

    history = (await client.get(f"/items/{item['id']}/history", headers=actors.drafter)).json()
    (override,) = [h for h in history if h["action"] == "sensitive_override"]
    assert override["opinion"] == reason and override["decision"] == "放行"
    assert override["details"]["findings"][0]["kind"] == "resident_id"
    assert number not in json.dumps(history, ensure_ascii=False)


async def test_fixing_the_text_lets_it_through_without_override(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, body=f"联系人手机 13812345678，身份证 {resident_id(seq=456)}。")
    blocked = assert_problem(await client.post(f"/items/{item['id']}/submit", headers=actors.drafter), 422)
    assert {f["kind"] for f in blocked["findings"]} == {"mobile", "resident_id"}
    await client.patch(
        f"/items/{item['id']}", json={"body": "联系电话：0755-12345678（办公时间）。"}, headers=actors.drafter
    )
    ok = await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    assert ok.status_code == 200, ok.text


async def test_the_negative_list_is_checked_again_before_publication(client: httpx.AsyncClient) -> None:
    """A term added to the organization's 负面清单 after review still stops publication."""
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, title="关于某专项工作的通报", body="某专项工作的内部研究意见如下。")
    await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    for _ in range(4):
        await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)

    # Only the office keeps the negative list.
    term = {"term": "内部研究", "category": "内部事务信息", "note": "条例第十六条"}
    assert_problem(
        await client.post(f"/organizations/{org['id']}/negative-terms", json=term, headers=actors.drafter), 403
    )
    added = await client.post(f"/organizations/{org['id']}/negative-terms", json=term, headers=actors.office)
    assert added.status_code == 201, added.text
    assert_problem(
        await client.post(f"/organizations/{org['id']}/negative-terms", json=term, headers=actors.office), 409
    )
    listed = (await client.get(f"/organizations/{org['id']}/negative-terms", headers=actors.drafter)).json()
    assert [t["term"] for t in listed] == ["内部研究"]
    assert_problem(await client.get(f"/organizations/{org['id']}/negative-terms"), 401)

    blocked = assert_problem(await client.post(f"/items/{item['id']}/publish", headers=actors.drafter), 422)
    assert blocked["findings"][0]["kind"] == "negative_term"
    current = (await client.get(f"/items/{item['id']}", headers=actors.drafter)).json()
    assert current["status"] == "approved" and current["index_number"] is None

    # Removing the term (or a reviewer's override) lets it go.
    deleted = await client.delete(
        f"/organizations/{org['id']}/negative-terms/{added.json()['id']}", headers=actors.office
    )
    assert deleted.status_code == 204
    assert (await client.post(f"/items/{item['id']}/publish", headers=actors.drafter)).status_code == 200


async def test_a_reviewer_can_override_at_publication(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, body="本次检查发现问题台账见附件。")
    await client.post(f"/items/{item['id']}/submit", headers=actors.drafter)
    for _ in range(4):
        await client.post(f"/items/{item['id']}/approve", headers=actors.reviewer)
    await client.post(f"/organizations/{org['id']}/negative-terms", json={"term": "台账"}, headers=actors.office)
    assert_problem(await client.post(f"/items/{item['id']}/publish", headers=actors.drafter), 422, "sensitive_content")
    ok = await client.post(
        f"/items/{item['id']}/publish",
        json={"override_reason": "台账为公开检查结果，经终审同意公开"},
        headers=actors.reviewer,
    )
    assert ok.status_code == 200, ok.text
    history = (await client.get(f"/items/{item['id']}/history", headers=actors.reviewer)).json()
    assert [h["stage"] for h in history if h["action"] == "sensitive_override"] == ["发布"]


async def test_a_text_attachment_is_scanned_too(client: httpx.AsyncClient) -> None:
    org, actors = await org_with_actors(client)
    item = await draft(client, org, actors.drafter, body="名单见附件。")
    listing = f"序号,姓名,身份证号\n1,李某,{resident_id(seq=789)}\n".encode()
    uploaded = await client.post(
        f"/items/{item['id']}/attachments",
        params={"filename": "名单.csv"},
        content=listing,
        headers={**actors.drafter, "Content-Type": "text/csv; charset=utf-8"},
    )
    assert uploaded.status_code == 201, uploaded.text
    blocked = assert_problem(await client.post(f"/items/{item['id']}/submit", headers=actors.drafter), 422)
    assert blocked["findings"][0]["field"] == "attachments.名单.csv"


async def test_staff_of_another_department_cannot_manage_the_list(client: httpx.AsyncClient) -> None:
    org, _ = await org_with_actors(client)
    outsider = token({Role.staff}, uuid.uuid4())
    assert_problem(await client.get(f"/organizations/{org['id']}/negative-terms", headers=outsider), 403)
