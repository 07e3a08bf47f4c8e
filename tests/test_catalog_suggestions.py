"""依申请转主动 (domain.md §2 "Repeat applications"): many applicants asking for the same information is a
signal to publish it proactively; ``requests.topic.repeated`` becomes a suggestion in the office's queue."""

from __future__ import annotations

import uuid

import httpx
from gongkai_catalog import service, worker
from gongkai_shared.auth import Role
from gongkai_shared.contracts.requests import TOPIC_REPEATED_V1, TopicRepeatedV1
from gongkai_shared.events import new_envelope
from test_catalog_support import (
    assert_problem,
    catalog_settings,
    client,
    db,
    draft,
    fields,
    org_with_actors,
    settings,
    token,
)

__all__ = ["client", "db", "settings"]  # fixtures


async def test_repeated_topics_become_one_suggestion_the_office_decides(client: httpx.AsyncClient, db) -> None:  # type: ignore[no-untyped-def]
    org, actors = await org_with_actors(client)
    department = uuid.UUID(org["id"])
    handler = next(h for h in worker.handlers(catalog_settings()) if h.subject == "requests.topic.repeated")
    assert handler.handle is service.on_topic_repeated

    first = TopicRepeatedV1(
        department_id=department,
        application_ids=[uuid.uuid4(), uuid.uuid4()],
        applicant_count=2,
        suggested_title="示范区2026年老旧小区改造项目清单",
    )
    envelope = new_envelope(TOPIC_REPEATED_V1, first)
    for _ in range(2):  # the same event twice (a redelivery) makes one suggestion
        async with db() as session, session.begin():
            await handler.handle(session, envelope)
    more = first.model_copy(update={"application_ids": [*first.application_ids, uuid.uuid4()], "applicant_count": 3})
    async with db() as session, session.begin():
        await handler.handle(session, new_envelope(TOPIC_REPEATED_V1, more))

    queue = (await client.get("/suggestions", params={"status": "open"}, headers=actors.drafter)).json()
    (suggestion,) = queue
    assert suggestion["title"] == "示范区2026年老旧小区改造项目清单"
    assert suggestion["applicant_count"] == 3 and len(suggestion["application_ids"]) == 3
    assert suggestion["status_label"] == "待处理"
    # Another department does not see it; the public not at all.
    assert (await client.get("/suggestions", headers=token({Role.staff}, uuid.uuid4()))).json() == []
    assert_problem(await client.get("/suggestions"), 401)

    url = f"/suggestions/{suggestion['id']}/decision"
    assert_problem(await client.post(url, json={"decision": "accept"}, headers=actors.drafter), 403)
    assert fields(assert_problem(await client.post(url, json={"decision": "dismiss"}, headers=actors.office), 422)) == {
        "body.note"
    }
    item = await draft(client, org, actors.drafter, title="示范区2026年老旧小区改造项目清单", kind="other")
    accepted = await client.post(
        url, json={"decision": "accept", "note": "转为主动公开", "item_id": item["id"]}, headers=actors.office
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["item_id"] == item["id"]
    assert_problem(await client.post(url, json={"decision": "dismiss", "note": "x"}, headers=actors.office), 409)
